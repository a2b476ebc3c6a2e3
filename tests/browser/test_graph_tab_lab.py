"""The Explorer's graph tab in a real JupyterLab, driven by headless Chromium.

Shows an Explorer with one example chosen from Python, opens the "graph" tab with the mouse (the
graph starts at that example and must draw, although its figure was built in a hidden tab),
clicks a node that was not expanded yet, and checks in the kernel that the graph grew by that
node's neighbours exactly as ``ek.analysis.expand`` gives them. Screenshot:
``tests/artifacts/explorer_lab_graph.png``.
"""

from __future__ import annotations

import re

import pytest
from test_explorer_lab import (
    ARGS,
    ARTIFACTS,
    CHROMIUM,
    FRONT_ENDS,
    dismiss_dialogs,
    jupyter_server,
    kernel_state,
    run_cell,
)

import explorekit as ek

pytestmark = pytest.mark.browser
START = 7
SETUP = f"""\
import explorekit as ek
col = ek.datasets.load("clusters2d", as_collection=True)
explorer = ek.Explorer(col, projection="auto", height=420)
explorer.examples = {{"positive": [{START}]}}
display(explorer)"""
REPORT = """\
import json
g = explorer.graph_tab.graph
print("STATE=" + json.dumps({"nodes": [] if g is None else g.nodes["id"].tolist(),
                             "expanded": [] if g is None else g.nodes.loc[g.nodes["expanded"], "id"].tolist()}))"""
# the graph figure: the plot whose layout carries meta.graph; page position of node k of trace t
NODE = """([t, k]) => {
  const gd = Array.from(document.querySelectorAll('.js-plotly-plot')).find(d => d.layout && d.layout.meta && d.layout.meta.graph);
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis, tr = gd._fullData[t];
  const box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(tr.x[k]), box.top + ya._offset + ya.l2p(tr.y[k])];
}"""
GRAPH_NODES = """() => {
  const gd = Array.from(document.querySelectorAll('.js-plotly-plot')).find(d => d.layout && d.layout.meta && d.layout.meta.graph);
  if (!gd || !gd._fullData) return -1;
  return gd._fullData.filter(t => t.meta && t.meta.role === 'nodes').reduce((n, t) => n + t.x.length, 0);
}"""


def test_graph_tab_draws_and_a_node_click_expands_it(tmp_path):
    import nbformat
    from playwright.sync_api import sync_playwright

    front_end = next(f for f in FRONT_ENDS if f.name == "lab")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(REPORT)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, tmp_path / "graph.ipynb")
    ARTIFACTS.mkdir(exist_ok=True)
    col = ek.datasets.load("clusters2d", as_collection=True)
    first = ek.analysis.neighbour_graph(col, START, limit=3, depth=1)

    with jupyter_server(tmp_path, front_end) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        try:
            page.goto(url + front_end.notebook_path.format(name="graph.ipynb"), timeout=60_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            dismiss_dialogs(page, url)
            run_cell(page, 0)
            tab = page.locator(".widget-tab .lm-TabBar-tab").filter(has_text=re.compile(r"^\s*graph\s*$"))
            tab.first.wait_for(timeout=150_000)  # the Explorer's tab, not the notebook's "graph.ipynb"
            tab.first.click()
            try:
                page.wait_for_function(f"() => ({GRAPH_NODES})() === {len(first.nodes)}", timeout=60_000)
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "explorer_lab_graph_failed.png"), full_page=True)
                plots = page.evaluate(
                    "() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => "
                    "({meta: d.layout && d.layout.meta, traces: d._fullData ? d._fullData.length : -1, "
                    "w: d.getBoundingClientRect().width}))"
                )
                raise AssertionError(f"the graph tab did not draw: plots {plots}, page errors {errors[:5]}") from None
            page.wait_for_timeout(1500)  # plotly's first layout in the newly shown tab
            width = page.evaluate(
                "() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                ".find(d => d.layout && d.layout.meta && d.layout.meta.graph).getBoundingClientRect().width"
            )
            assert width > 300, f"the graph drew {width:.0f} px wide"

            # a 1-hop node (trace "1 hop", after the edge traces), not expanded yet
            traces = page.evaluate(
                "() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                ".find(d => d.layout && d.layout.meta && d.layout.meta.graph)._fullData.map(t => t.meta && t.meta.role)"
            )
            hop = [i for i, role in enumerate(traces) if role == "nodes"][1]
            node = first.nodes["id"].iloc[1]
            x, y = page.evaluate(NODE, [hop, 0])
            page.mouse.move(x - 3, y - 3)
            page.mouse.move(x, y)
            page.mouse.click(x, y)
            grown = ek.analysis.expand(col, first, [node])
            page.wait_for_function(f"() => ({GRAPH_NODES})() === {len(grown.nodes)}", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "explorer_lab_graph.png"), full_page=True)
            state = kernel_state(page, 1)
            assert state["nodes"] == grown.nodes["id"].tolist()
            assert state["expanded"] == [START, node]
            assert errors == [], errors
        finally:
            browser.close()
