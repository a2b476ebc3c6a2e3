"""The bundled datasets' shipped 2-D maps (``layout-<vector>-<method>.npz``, made by ``datasets/build.py``).

They are checked like the other dataset files (listed in ``meta.json`` with their SHA-256 and
the SHA-256 of the vectors they were made from), equal what the build computes (seeded), are
what ``project`` returns on a freshly loaded set (no fitting), and are never used once the
collection changed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorekit import datasets
from explorekit._support.errors import PersistenceError
from explorekit.analysis.projection import Projection, place, project
from explorekit.data.store import SavedState

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"
NAMES = ("clusters2d", "digits", "stdlib_docs")
METHODS = ("pca", "umap")


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def builder():
    return _module("_explorekit_datasets_build_layouts", DATASETS / "build.py")


def _meta(name: str) -> dict:
    return json.loads((DATASETS / name / "meta.json").read_text())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shipped(name: str, vname: str, method: str) -> dict[str, np.ndarray]:
    entry = _meta(name)["layouts"][vname][method]
    with np.load(DATASETS / name / entry["file"], allow_pickle=False) as arrays:
        return {key: np.asarray(arrays[key]) for key in arrays.files}


def _assert_same_map(got: np.ndarray, expected: np.ndarray) -> None:
    """Equal up to float32 rounding (the same machine gives the same bits; UMAP elsewhere may drift
    by rounding, which ``Projection`` itself tolerates up to 1e-3 of the map's extent)."""
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3 * max(1.0, float(np.ptp(expected))))


@pytest.mark.parametrize("name", NAMES)
def test_every_vector_ships_pca_and_umap_listed_with_checksums(name):
    meta = _meta(name)
    assert set(meta["layouts"]) == set(meta["vectors"])
    for vname, methods in meta["layouts"].items():
        assert set(methods) == set(METHODS)
        vector_file = DATASETS / name / meta["vectors"][vname]["file"]
        for method, entry in methods.items():
            assert entry["file"] == f"layout-{vname}-{method}.npz"
            assert _sha256(DATASETS / name / entry["file"]) == entry["sha256"], f"{entry['file']} was changed"
            assert entry["vectors_sha256"] == _sha256(vector_file), (
                f"{entry['file']} was made from other vectors; run python datasets/build.py --layouts-only {name}"
            )
            arrays = _shipped(name, vname, method)
            np.testing.assert_array_equal(arrays["ids"], np.arange(meta["rows"]))
            assert arrays["coords"].dtype == np.float32 and arrays["coords"].shape == (meta["rows"], 2)
            assert entry["projection"]["method"] == method and entry["projection"]["params"]["seed"] == 0


def test_no_layout_file_is_left_unlisted():
    for name in NAMES:
        listed = {e["file"] for methods in _meta(name)["layouts"].values() for e in methods.values()}
        assert {p.name for p in (DATASETS / name).glob("layout-*")} == listed


@pytest.mark.parametrize("name", NAMES)
def test_shipped_pca_equals_project_on_the_stored_vectors(name):
    frame, meta = datasets._read_folder(DATASETS / name, name)
    fresh = datasets._as_collection(frame, meta, name)  # no shipped maps: project() fits
    for vname in meta["vectors"]:
        using = vname if len(meta["vectors"]) > 1 else None
        computed = project(fresh, using, projection="pca")[["x", "y"]].to_numpy()
        _assert_same_map(_shipped(name, vname, "pca")["coords"], computed)


def _assert_same_meta(built: dict, shipped: dict) -> None:
    """Equal projection settings; measured numbers (PCA's explained variance) equal to 1e-6, as
    sums in BLAS differ in the last digits with the number of threads."""
    assert built.keys() == shipped.keys()
    for key, value in built.items():
        if isinstance(value, list) and value and isinstance(value[0], float):
            np.testing.assert_allclose(value, shipped[key], rtol=1e-6, err_msg=key)
        else:
            assert value == shipped[key], key


def _assert_build_reproduces(builder, name: str) -> None:
    layouts, ids = builder.compute_layouts(DATASETS / name, name)
    np.testing.assert_array_equal(ids, np.arange(_meta(name)["rows"]))
    for vname, methods in layouts.items():
        for method, (proj_meta, arrays) in methods.items():
            shipped = _shipped(name, vname, method)
            _assert_same_meta(proj_meta, _meta(name)["layouts"][vname][method]["projection"])
            _assert_same_map(shipped["coords"], arrays["coords"])
            np.testing.assert_array_equal(shipped["fit_rows"], arrays["fit_rows"])


def test_build_reproduces_the_shipped_layouts_clusters2d(builder):
    _assert_build_reproduces(builder, "clusters2d")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["digits", "stdlib_docs"])
def test_build_reproduces_the_shipped_layouts(builder, name):
    _assert_build_reproduces(builder, name)


@pytest.mark.parametrize("name", NAMES)
def test_loaded_collection_maps_with_the_shipped_layout_without_fitting(name):
    col = datasets.load(name, as_collection=True)
    meta = _meta(name)
    for vname in meta["vectors"]:
        using = vname if len(meta["vectors"]) > 1 else None
        space = col.space(using)
        for method in METHODS:
            assert isinstance(space.extras[f"projection:{method}"], SavedState)
            frame = project(col, using, projection=method)
            np.testing.assert_array_equal(frame[["x", "y"]].to_numpy(), _shipped(name, vname, method)["coords"])
            proj = space.extras[f"projection:{method}"]
            assert isinstance(proj, Projection) and proj.model is None, "UMAP was fitted instead of read"
            assert frame.attrs["projection"]["seed"] == 0


def test_shipped_pca_places_new_vectors_with_its_basis():
    col = datasets.load("digits", as_collection=True)
    coords = project(col, "pixels", projection="pca")[["x", "y"]].to_numpy()
    vectors = col.vectors(using="pixels")[[3, 8]]
    np.testing.assert_allclose(place(col, vectors, "pixels", projection="pca"), coords[[3, 8]], atol=1e-3)
    np.testing.assert_array_equal(place(col, [3, 8], "pixels", projection="pca"), coords[[3, 8]])


def test_a_fit_with_other_parameters_replaces_the_shipped_map():
    col = datasets.load("clusters2d", as_collection=True)
    shipped = _shipped("clusters2d", "xy", "pca")["coords"]
    sample = project(col, projection="pca", sample=50)
    assert sample.attrs["projection"]["fitted_on"] == 50
    assert not np.array_equal(sample[["x", "y"]].to_numpy(), shipped)


@pytest.mark.parametrize("change", ["upsert_same_ids", "upsert_new_id", "delete"])
def test_a_changed_collection_recomputes_its_map(change):
    col = datasets.load("clusters2d", as_collection=True)
    shipped = _shipped("clusters2d", "xy", "pca")["coords"]
    if change == "upsert_same_ids":  # same number of points: only the vectors changed
        col.upsert([0, 1], [[40.0, 40.0], [-40.0, 35.0]])
    elif change == "upsert_new_id":
        col.upsert([1000], [[40.0, 40.0]])
    else:
        col.delete([0, 1, 2])
    assert "projection:pca" not in col.space(None).extras
    got = project(col, projection="pca")
    expected = project(datasets._as_collection(*_frame_of(col), "clusters2d"), projection="pca")
    np.testing.assert_array_equal(got[["x", "y"]].to_numpy(), expected[["x", "y"]].to_numpy())
    if change != "delete":
        assert not np.allclose(got[["x", "y"]].to_numpy()[: len(shipped)], shipped, atol=1e-2)


def _frame_of(col):
    """The collection's current ids and vectors as a dataset frame and meta (for a fresh fit)."""
    frame = pd.DataFrame({"id": col.ids.to_numpy(), "xy": list(col.vectors())})
    meta = {"id": "id", "vectors": {"xy": {"distance": "euclid"}}}
    return frame, meta


def test_a_damaged_layout_file_is_a_persistence_error(tmp_path):
    folder = tmp_path / "clusters2d"
    shutil.copytree(DATASETS / "clusters2d", folder)
    frame, meta = datasets._read_folder(folder, "clusters2d")
    with np.load(folder / "layout-xy-umap.npz") as arrays:
        kept = {key: np.asarray(arrays[key]) for key in arrays.files}
    np.savez(folder / "layout-xy-umap.npz", **{**kept, "ids": kept["ids"][::-1]})
    col = datasets._as_collection(frame, meta, "clusters2d")
    with pytest.raises(PersistenceError, match=r"layout-xy-umap\.npz.*--layouts-only clusters2d"):
        datasets._attach_layouts(col, folder, meta, "clusters2d")
    (folder / "layout-xy-umap.npz").write_bytes(b"not a zip")
    with pytest.raises(PersistenceError, match="umap layout of 'xy' could not be read"):
        datasets._attach_layouts(col, folder, meta, "clusters2d")
