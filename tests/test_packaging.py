"""Installing explorekit: what each target needs, the optional annoy, and the package's metadata.

The optional dependencies are blocked in a child process (``sys.modules[name] = None`` makes
``import name`` raise ImportError, as when the package is absent or failed to build), so these
tests run in the full test venv and still see what a core-only install does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

import explorekit as ek
from explorekit import index

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# what a `make demo` venv lacks: the extras annoy, qdrant, lab, test and build-datasets
NOT_IN_CORE = ("annoy", "qdrant_client", "qdrant_edge", "jupyterlab", "notebook", "pytest", "torch")


def _run_without(blocked: tuple[str, ...], code: str, cwd: Path = ROOT) -> str:
    """Run ``code`` in a fresh interpreter where the ``blocked`` top-level modules cannot be
    imported, as where they are not installed (a finder first on ``sys.meta_path`` refuses them;
    ``sys.modules[name] = None`` would leave the name in ``sys.modules``, which libraries such
    as scipy read as "torch is loaded"); returns its stdout (the child's traceback on failure)."""
    prelude = (
        "import sys\n"
        "class _NotInstalled:\n"
        f"    blocked = {blocked!r}\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in self.blocked:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, _NotInstalled())\n"
    )
    out = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, cwd=cwd, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    return out.stdout


# --- annoy is optional -----------------------------------------------------------------------------

NO_ANNOY = """
import json, warnings
import numpy as np
import explorekit as ek
from explorekit import index

index.INDEXING_THRESHOLD_KB = index.FULL_SCAN_THRESHOLD_KB = 0   # let the index answer 3,000 points
vectors = np.random.default_rng(3).normal(size=(3000, 16)).astype(np.float32)
out = {"available": index.annoy_available()}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")          # the once-only rule is explorekit's own, not the filter's
    col = ek.Collection.from_arrays(vectors, distance=DISTANCE)
    col.build_index()                         # a query never builds one (issue 17): asked for here
    requests = [
        dict(query=vectors[5], limit=10),
        dict(query=vectors[9], limit=7, offset=3),
    ]
    out["auto"] = [col.search(**r) for r in requests]
    out["auto"] = [{"path": f.attrs["path"], "reason": f.attrs["reason"]} for f in out["auto"]]
    space_index = col.space(None).index
    out["n_trees"], out["forest"] = space_index.n_trees, space_index.forest is not None
    space_index.method = "sign_codes"
    wide = {"hnsw_ef": 3000}                  # every point a candidate: the exact answer
    out["answers"] = []
    for r in requests:
        got = col.search(**r, params=wide)
        exact = col.search(**r, params={"exact": True})
        out["answers"].append([got["id"].tolist(), exact["id"].tolist(), got["score"].tolist(),
                               exact["score"].tolist(), got.attrs["path"]])
    got = col.recommend(positive=[1, 2], negative=[3], strategy="best_score", limit=5, params=wide)
    exact = col.recommend(positive=[1, 2], negative=[3], strategy="best_score", limit=5, params={"exact": True})
    out["answers"].append([got["id"].tolist(), exact["id"].tolist(), got["score"].tolist(),
                           exact["score"].tolist(), got.attrs["path"]])
    col.build_index()                         # asked for, without trees: sign codes, no second warning
    col.save(SAVED_OWN)
    loaded = ek.Collection.load(SAVED_OWN)
    out["own_reloaded"] = loaded.search(vectors[5], limit=10)["id"].tolist()
    other = ek.Collection.load(SAVED_WITH_FOREST)   # saved where annoy is installed
    out["forest_reloaded"] = [other.space(None).index.forest is not None,
                              other.search(vectors[5], limit=10)["id"].tolist()]
out["warnings"] = [str(w.message) for w in caught if "annoy" in str(w.message)]
errors = []
try:
    col.build_index(n_trees=8)
except ek.ExploreError as err:
    errors.append(str(err))
col.space(None).index.method = "annoy"
try:
    col.search(vectors[5], limit=3)
except ek.ExploreError as err:
    errors.append(str(err))
out["errors"] = errors
print(json.dumps(out))
"""


@pytest.mark.parametrize("distance", ["cosine", "euclid"])
def test_without_annoy_the_index_uses_sign_codes_and_says_so_once(tmp_path, distance, monkeypatch):
    monkeypatch.setattr(index, "INDEXING_THRESHOLD_KB", 0)
    vectors = np.random.default_rng(3).normal(size=(3000, 16)).astype(np.float32)
    with_forest = ek.Collection.from_arrays(vectors, distance=distance).build_index(n_trees=5)
    with_forest.save(tmp_path / "with_forest")
    code = (
        f"DISTANCE, SAVED_OWN, SAVED_WITH_FOREST = {distance!r}, {str(tmp_path / 'own')!r}, "
        f"{str(tmp_path / 'with_forest')!r}\n" + NO_ANNOY
    )
    out = json.loads(_run_without(("annoy",), code).splitlines()[-1])

    assert out["available"] is False
    assert (out["n_trees"], out["forest"]) == (0, False)
    for auto in out["auto"]:
        assert auto["path"] in ("sign_codes", "exact"), auto
        assert "annoy is not installed" in auto["reason"] and "explorekit[annoy]" in auto["reason"], auto
    for got_ids, exact_ids, got_scores, exact_scores, path in out["answers"]:
        assert path == "sign_codes"
        assert got_ids == exact_ids
        assert got_scores == exact_scores  # rescored by the exact path's code: bit-identical
    assert out["own_reloaded"] == out["answers"][0][1]
    assert out["forest_reloaded"] == [False, out["answers"][0][1]]
    assert len(out["warnings"]) == 1, out["warnings"]
    assert "pip install 'explorekit[annoy]'" in out["warnings"][0]
    n_trees_error, method_error = out["errors"]
    assert "build_index(n_trees=8) needs annoy" in n_trees_error and "explorekit[annoy]" in n_trees_error
    assert "index.method='annoy' needs annoy" in method_error and "explorekit[annoy]" in method_error

    # an index saved without a forest opens where annoy is installed, and answers the same
    loaded = ek.Collection.load(tmp_path / "own")
    assert loaded.space(None).index.n_trees == 0
    assert loaded.search(vectors[5], limit=10)["id"].tolist() == out["own_reloaded"]


def test_an_index_file_without_a_forest_must_be_empty(tmp_path, monkeypatch):
    monkeypatch.setattr(index, "INDEXING_THRESHOLD_KB", 0)
    vectors = np.random.default_rng(4).normal(size=(500, 8)).astype(np.float32)
    col = ek.Collection.from_arrays(vectors).build_index(n_trees=3)
    built = col.space(None).index
    built.forest = None
    built.save(tmp_path / "index.ann")
    assert (tmp_path / "index.ann").stat().st_size == 0
    (tmp_path / "index.ann").write_bytes(b"\0" * 64)
    with pytest.raises(ek.PersistenceError, match="n_trees is 0 but the forest file is not empty"):
        index.AnnIndex.load(tmp_path / "index.ann", 8, "cosine")


# --- what `make demo` needs -------------------------------------------------------------------------


def test_the_demo_runs_on_the_core_dependencies_alone(tmp_path):
    """`make demo` installs ``pip install -e .`` only: the demo must not import an extra."""
    code = (
        "from explorekit import demo\n"
        f"assert demo.main(['--out', {str(tmp_path / 'demo.html')!r}, '--projection', 'pca', '--k', '3']) == 0\n"
        f"print(sorted(m for m, v in sys.modules.items() if v is not None and m.split('.')[0] in {NOT_IN_CORE!r}))\n"
    )
    out = _run_without(NOT_IN_CORE, code)
    assert out.splitlines()[-2].endswith("demo.html") and out.splitlines()[-1] == "[]"
    assert (tmp_path / "demo.html").stat().st_size > 1e6


def _make_dry_run(target: str) -> str:
    out = subprocess.run(
        ["make", "-n", target, "VENV=/nonexistent-venv", "PYTHON=python3"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_make_demo_installs_the_core_only_and_make_test_no_build_datasets():
    demo = _make_dry_run("demo")
    assert "pip install --quiet -e .\n" in demo and "[" not in demo.split("pip install", 1)[1].split("\n")[0]
    test = _make_dry_run("test")
    assert "-e '.[test]'" in test and "build-datasets" not in test
    assert "-e '.[build-datasets]'" in _make_dry_run("reproduce")


def test_extras_keep_heavy_and_optional_packages_out_of_the_core():
    project = PYPROJECT["project"]
    names = [dep.split(">")[0].split("=")[0].split("[")[0].strip() for dep in project["dependencies"]]
    for optional in ("annoy", "qdrant-client", "jupyterlab", "torch", "sentence-transformers", "pytest"):
        assert optional not in names
    extras = project["optional-dependencies"]
    assert {"annoy", "lab", "qdrant", "test", "build-datasets"} <= set(extras)
    assert any(dep.startswith("explorekit[") and "annoy" in dep for dep in extras["test"])
    assert not any("build-datasets" in dep or "torch" in dep for dep in extras["test"])


def test_numba_floor_is_one_that_installs_with_numpy_2():
    deps = {d.split(">=")[0].strip(): d for d in PYPROJECT["project"]["dependencies"]}
    assert deps["numpy"].split("#")[0].strip() == "numpy>=2.0"
    floor = tuple(int(x) for x in deps["numba"].split(">=")[1].split()[0].strip('",').split("."))
    assert floor >= (0, 60), "numba 0.59 requires numpy < 2 (0.60 is the first release built for numpy 2)"


# --- metadata -------------------------------------------------------------------------------------


def test_one_version_source():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "explorekit/__init__.py"


@pytest.mark.slow
def test_the_wheel_is_typed_and_carries_the_version(tmp_path):
    pytest.importorskip("hatchling", reason="the test extra installs hatchling to build the wheel here")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            ".",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    (wheel,) = tmp_path.glob("explorekit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "explorekit/py.typed" in names
    assert wheel.name.startswith(f"explorekit-{ek.__version__}-")
    metadata = zipfile.ZipFile(wheel).read(f"explorekit-{ek.__version__}.dist-info/METADATA").decode()
    assert "Typing :: Typed" in metadata and "Requires-Python: >=3.11" in metadata
    assert "Provides-Extra: annoy" in metadata


@pytest.mark.parametrize(
    "path",
    ["notebooks/reports/01_quickstart.html", "build/demo/report.html", "notebooks/01_quickstart.nbconvert.ipynb"],
)
def test_generated_files_are_ignored_by_git(path):
    out = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
    if out.returncode == 128:
        pytest.skip("not a git checkout")
    assert out.returncode == 0, f"{path} is not in .gitignore"
