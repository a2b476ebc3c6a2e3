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


def test_cluster_map_renders_with_its_labels(tmp_path, text):
    found = ek.analysis.clusters(text, sample=600, limit=15, seed=0)
    fig = ek.plots.map(text, clusters=found, projection="pca")
    path = ek.Report("Clusters").add(fig, title="Clusters", collection=text, max_points=300).save(tmp_path / "c.html")
    with browser() as chromium, offline_page(chromium, str(path), width=1300, height=1100) as (page, log):
        page.wait_for_selector("body[data-ek-ready='1']", timeout=60_000)
        status = page.evaluate(PLOT_STATUS, ".ek-plot")
        assert status[0]["svg"] >= 1 and status[0]["traces"] == len(fig.data) + 1, status
        plot = status[0]["id"]
        shown = page.eval_on_selector_all(f"#{plot} .annotation-text", "els => els.map(e => e.textContent)")
        assert shown == [a.text for a in fig.layout.annotations] and len(shown) == len(found.summary)
        legend = page.eval_on_selector_all(f"#{plot} .legendtext", "els => els.map(e => e.textContent)")
        assert legend == [t.name for t in sorted(fig.data, key=lambda t: t.legendrank)]  # clusters first
        # drawn label boxes do not overlap on the page
        boxes = page.eval_on_selector_all(
            f"#{plot} .annotation .bg",
            "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })",
        )
        overlaps = [
            (i, j)
            for i, a in enumerate(boxes)
            for j, b in enumerate(boxes[:i])
            if a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1
        ]
        assert overlaps == [], overlaps
        # a point of the largest cluster away from every label (labels lie over the points)
        spots = np.array([[a.ax, a.ay] for a in fig.layout.annotations])
        largest = next(i for i, t in enumerate(fig.data) if t.meta["cluster"] == 0)
        xy = np.column_stack([fig.data[largest].x, fig.data[largest].y])
        far = int(np.argmax(np.min(np.linalg.norm(xy[:, None] - spots[None], axis=2), axis=1)))
        click_point(page, plot, largest, far, expect="#ek-panel:not([hidden]) .ek-panel-title")
        assert int(page.get_attribute("#ek-panel", "data-id")) in set(text.ids)  # that point or one drawn over it
        screenshot(page, "report_cluster_map")
        assert log.errors == [] and log.blocked == [], (log.errors, log.blocked)
