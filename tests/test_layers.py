"""The layer rule: core (numpy/pandas) <- plots (plotly) <- widgets (ipywidgets).

The core never imports plotly, ipywidgets, anywidget, IPython or umap (umap only inside the
function that needs it); widgets hold no scoring logic, so they never import the modules that
compute scores."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import explorekit

PACKAGE = Path(explorekit.__file__).parent
CORE = ["explorekit", "explorekit.collection", "explorekit.engine.pipeline", "explorekit.engine.planner", "explorekit.index",
        "explorekit.quantization", "explorekit.persistence", "explorekit.analysis.rescoring", "explorekit.datasets",
        "explorekit.query.filters", "explorekit.data.payload", "explorekit.analysis.projection", "explorekit.analysis.explain",
        "explorekit.analysis.zones", "explorekit.query.rest", "explorekit.backends"]
UI = {"plotly", "ipywidgets", "anywidget", "IPython", "umap"}


def test_core_imports_no_ui():
    code = (f"import importlib, sys; [importlib.import_module(m) for m in {CORE!r}]; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {UI!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_widgets_hold_no_scoring_logic():
    scoring = ("engine", "scoring", "distances", "planner", "topk", "index", "quantization")
    for path in (PACKAGE / "widgets").glob("*.py"):
        for name in _imports(path):
            parts = name.replace("..", ".").strip(".").split(".")
            assert not any(p in scoring for p in parts), f"{path.name} imports {name}"


def test_plots_do_not_import_widgets():
    for path in (PACKAGE / "plots").glob("*.py"):
        assert not any("widgets" in n or "ipywidgets" in n for n in _imports(path)), path.name
