"""Progress bars (tqdm.auto): widgets in a notebook, text bars in a terminal, silent on demand.

The notebook test executes a small generated notebook with nbclient, as tests/test_notebooks.py
runs the teaching notebooks, and reads the outputs a user would see under each cell.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from explorekit._support import progress as _progress

ROOT = Path(__file__).resolve().parent.parent
WIDGET = "application/vnd.jupyter.widget-view+json"

# a collection big enough to quantize, small enough to be quick
_SETUP = (
    "import numpy as np, explorekit as ek\n"
    "col = ek.Collection.from_arrays(np.random.default_rng(0).normal(size=(600, 32)))\n"
)


def _run_script(code: str, mode: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("EXPLOREKIT_PROGRESS", None)
    if mode is not None:
        env["EXPLOREKIT_PROGRESS"] = mode
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_terminal_shows_a_text_bar_on_stderr():
    out = _run_script(_SETUP + "col.quantize({'scalar': {'type': 'int8'}})\nprint('done')", "1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"
    assert "scalar quantization: encoding 600 vectors [00:0" in out.stderr
    steps = _run_script(
        "from explorekit._support.progress import progress\nfor _ in progress(range(3), desc='steps'): pass", "1"
    )
    assert "steps: 100%|" in steps.stderr and "3/3" in steps.stderr


def test_transfers_and_the_report_precompute_show_bars():
    code = _SETUP + (
        "from qdrant_client import QdrantClient\n"
        "from explorekit.backends.qdrant import to_qdrant, from_qdrant\n"
        "remote = to_qdrant(col, QdrantClient(':memory:'), 'bars', batch_size=100)\n"
        "back = from_qdrant(remote.client, 'bars')\n"
        "ek.Report('r').add(ek.plots.map(col, projection='pca'), collection=col, k=3)\n"
    )
    out = _run_script(code, "1")
    assert out.returncode == 0, out.stderr
    assert "upload 'bars': 100%|" in out.stderr and "6/6" in out.stderr
    assert "from_qdrant 'bars': 100%|" in out.stderr and "600/600" in out.stderr
    assert "report: nearest neighbours of 600 points: 100%|" in out.stderr


@pytest.mark.parametrize("mode", ["0", None], ids=["silenced", "quick-work"])
def test_silence_switch_and_quick_work_show_nothing(mode):
    out = _run_script(_SETUP + "col.quantize({'binary': {}})\nprint('done')", mode)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done" and out.stderr == ""


def test_tasks_in_two_threads_get_a_line_each(monkeypatch):
    monkeypatch.setenv("EXPLOREKIT_PROGRESS", "1")
    both_open = threading.Barrier(2)
    positions: dict[str, int] = {}

    def work(name: str) -> None:
        with _progress.task(name) as status:
            both_open.wait(timeout=30)  # both bars exist at once
            positions[name] = status.bar.pos
            both_open.wait(timeout=30)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(positions.values())) == 2, positions


def _execute(cells: list[str]) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    env_path = f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
    nb.cells.insert(0, nbformat.v4.new_code_cell(env_path))
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    return nb


@pytest.mark.slow
def test_notebook_shows_widgets_and_no_stderr_text():
    nb = _execute(
        [
            "import os\nos.environ['EXPLOREKIT_PROGRESS'] = '1'\n" + _SETUP,
            "col.quantize({'product': {'compression': 'x8'}});",
            "col.build_index();",
            "os.environ['EXPLOREKIT_PROGRESS'] = '0'\ncol.quantize({'scalar': {'type': 'int8'}});",
            "del os.environ['EXPLOREKIT_PROGRESS']\ncol.quantize({'binary': {}});",
        ]
    )
    outputs = [cell.outputs for cell in nb.cells]
    stderr = [o for cell in outputs for o in cell if o.output_type == "stream" and o.name == "stderr"]
    assert stderr == []
    widgets = [[o for o in cell if WIDGET in o.get("data", {})] for cell in outputs]
    assert widgets[2] and widgets[3]  # product quantization and the index build show widget bars
    assert outputs[4] == [] and outputs[5] == []  # silenced; quick work under the delay


@pytest.mark.slow
def test_umap_epochs_get_a_bar_and_its_log_stays_off():
    code = (
        _SETUP + "from explorekit.analysis.projection import project\n"
        "project(col, projection='umap', sample=400, seed=0)\nprint('done')"
    )
    out = _run_script(code, "1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"  # verbose=False: no UMAP log on stdout
    assert "UMAP: optimising the layout of 400 points, epochs: 100%|" in out.stderr
    assert "UMAP: placing the other 200 points: 100%|" in out.stderr
    assert "Epochs completed" not in out.stderr  # transforms show no epochs bar of their own
