"""How much an Explorer adds to a saved notebook: the widget state nbclient stores.

Executes a notebook that shows ``ek.Explorer`` on the bundled ``stdlib_docs`` set (6,041 points,
384-d) with nbclient and ``store_widget_state=True`` (what a notebook saved with its widget state
holds), and measures ``metadata.widgets`` as the JSON bytes written to the ``.ipynb``. Two runs:
``shown`` (the Explorer as displayed) and ``used`` (then two examples chosen from Python and the
explanation tab opened). Per run, the bytes by widget model and the largest single value.

Goal (issue 18): under 2 MB of widget state per Explorer on these 6,041 points, and no copy of
plotly's widget bundle (about 5 MB) in it. Asserted (exit code 1 when not met); not timed.

    python benchmarks/bench_widget_state.py          # both runs
    python benchmarks/bench_widget_state.py --small  # the same (the set is small); for CI
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GOAL_BYTES = 2_000_000
BUNDLE_BYTES = 1_000_000  # any single value this large is a JavaScript bundle (plotly's is ~5 MB)
SHOW = """\
import explorekit as ek
col = ek.datasets.load("stdlib_docs", as_collection=True)
explorer = ek.Explorer(col, projection="pca", color="kind", hover=["module", "qualname"])
explorer"""
USE = """\
explorer.examples = {"positive": [0, 1]}
explorer.tabs.selected_index = 1
len(explorer.result)"""


def widget_state(cells: list[str]) -> dict:
    """``metadata.widgets`` of a notebook made of ``cells`` after nbclient executed it."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    env_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    os.environ["PYTHONPATH"] = env_path  # the kernel imports this checkout's explorekit
    os.environ["EXPLOREKIT_PROGRESS"] = "0"
    with tempfile.TemporaryDirectory() as tmp:
        NotebookClient(
            nb, timeout=600, kernel_name="python3", store_widget_state=True, resources={"metadata": {"path": tmp}}
        ).execute()
    return nb.metadata.get("widgets", {})


def sizes(widgets: dict) -> tuple[int, Counter, int, str, int]:
    """(total JSON bytes, bytes per model name, largest single value's bytes, its key, models)."""
    state = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    per_model: Counter = Counter()
    biggest, where = 0, ""
    for model in state.values():
        per_model[model.get("model_name", "?")] += len(json.dumps(model))
        for key, value in model.get("state", {}).items():
            size = len(json.dumps(value))
            if size > biggest:
                biggest, where = size, f"{model.get('model_name')}.{key}"
    return len(json.dumps(widgets)), per_model, biggest, where, len(state)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    rows, ok = [], True
    for label, cells in (("shown", [SHOW]), ("used", [SHOW, USE])):
        total, per_model, biggest, where, models = sizes(widget_state(cells))
        top = ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in per_model.most_common(3))
        rows.append(
            {
                "run": label,
                "widget_state_MB": round(total / 1e6, 3),
                "largest_value_MB": round(biggest / 1e6, 3),
                "largest_value": where,
                "models": models,
                "biggest_models": top,
            }
        )
        ok &= total < GOAL_BYTES and biggest < BUNDLE_BYTES
    meta = {
        "data": "stdlib_docs (6,041 x 384), Explorer(projection='pca', color='kind', hover=[module, qualname])",
        "goal": f"widget state < {GOAL_BYTES / 1e6:.0f} MB and no value >= {BUNDLE_BYTES / 1e6:.0f} MB (a JS bundle)",
    }
    report("widget_state", rows, meta)
    print(f"goal ({meta['goal']}): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
