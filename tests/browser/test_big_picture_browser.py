"""The big-picture figures in a saved report, in headless Chromium with the network off.

A neighbour graph (ek.plots.graph) added with ``collection=`` stays clickable: a click on a node
shows the neighbours its edges lead to, with ``col.search``'s scores, and rings them in the graph.
"""

from __future__ import annotations

import numpy as np
import pytest
from _chromium import PLOT_STATUS, browser, click_point, offline_page, screenshot

import explorekit as ek

pytestmark = pytest.mark.browser
START, LIMIT = 100, 3


def panel_ids(page) -> list[str]:
    return page.eval_on_selector_all("#ek-panel .ek-neighbours li", "els => els.map(e => e.dataset.id)")


@pytest.fixture(scope="module")
def graph_page(tmp_path_factory, text):
    fig = ek.plots.graph(text, start=START, limit=LIMIT, depth=2, label="qualname")
    report = ek.Report("Graph check").add(fig, title="Neighbour graph", collection=text)
    return {"path": report.save(tmp_path_factory.mktemp("graph") / "graph.html"), "fig": fig}


def test_graph_node_click_shows_its_neighbours(graph_page, text):
    fig = graph_page["fig"]
    hop = next(i for i, t in enumerate(fig.data) if t.meta["role"] == "nodes" and t.meta["depth"] == 1)
    node = int(fig.data[hop].customdata[0, 0])
    with browser() as chromium, offline_page(chromium, str(graph_page["path"])) as (page, log):
        page.wait_for_selector("body[data-ek-ready='1']", timeout=60_000)
        status = page.evaluate(PLOT_STATUS, ".ek-plot")
        assert len(status) == 1 and status[0]["svg"] >= 1 and status[0]["traces"] == len(fig.data) + 1, status
        assert "not drawn" not in page.inner_text("figcaption")
        plot = status[0]["id"]
        click_point(page, plot, hop, 0, expect="#ek-panel:not([hidden]) .ek-neighbours li")
        assert page.get_attribute("#ek-panel", "data-id") == str(node)
        expected = text.search(node, limit=LIMIT, params={"exact": True})
        assert panel_ids(page) == [str(i) for i in expected["id"]]
        scores = page.eval_on_selector_all("#ek-panel .ek-score", "els => els.map(e => +e.textContent)")
        np.testing.assert_allclose(scores, expected["score"], atol=1e-4)
        # a 1-hop node was expanded: its neighbours are nodes of the graph, all ringed
        page.wait_for_function(f"document.getElementById('{plot}').data.at(-1).x.length === {LIMIT + 1}")
        screenshot(page, "report_graph_click")
        assert log.errors == [] and log.blocked == [], (log.errors, log.blocked)
