"""Overlays on a categorical colouring, drawn by plotly.js in headless Chromium (issue 19).

The Explorer's map (coloured by its categorical field by default, results and examples on top,
cluster labels) is written to an offline page; the page's own plotly data must hold the base
traces, dimmed, and the overlays as layout shapes with their dark outlines, drawn in the SVG
layer above the WebGL points; the legend must
lie outside the plotting area and clear of the x-axis title; the cluster labels, measured as
the browser drew them, must not cover one another.
"""

from __future__ import annotations

import pytest
from _chromium import browser, offline_page, screenshot

from explorekit.plots import _base
from explorekit.widgets import Explorer

pytestmark = pytest.mark.browser

PAGE_DATA = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  return gd.data.map((t, i) => ({
    index: i, role: (t.meta || {}).role || null, type: gd._fullData[i].type, visible: gd._fullData[i].visible,
    n: (gd._fullData[i].x || []).length, opacity: (t.marker || {}).opacity, symbol: (t.marker || {}).symbol,
    colour: (t.marker || {}).color, line: (t.marker || {}).line || null,
  }));
}"""

# the layout shapes as the page holds them, and whether plotly drew them in the SVG layer that
# lies above the WebGL canvas of the points (later in the document, so painted over it)
SHAPES = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  const canvas = gd.querySelector('.gl-container canvas');
  const drawn = Array.from(gd.querySelectorAll('.layer-above .shapelayer path'));
  return {
    shapes: (gd.layout.shapes || []).map(s => ({name: s.name, type: s.type, layer: s.layer, line: s.line,
      fill: s.fillcolor})),
    drawn: drawn.length,
    above: drawn.every(p => canvas && (canvas.compareDocumentPosition(p) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0),
    pointer: Array.from(new Set(drawn.map(p => getComputedStyle(p).pointerEvents))),
  };
}"""

BOXES = """() => {
  const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  return {
    plot: box(document.querySelector('.js-plotly-plot .nsewdrag')),
    legend: box(document.querySelector('.js-plotly-plot .legend')),
    xtitle: box(document.querySelector('.js-plotly-plot .xtitle')),
    labels: Array.from(document.querySelectorAll('.js-plotly-plot .annotation-text-g .bg')).map(box),
  };
}"""


def overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_overlays_stay_visible_on_a_categorical_colouring(tmp_path, fruit):
    ex = Explorer(fruit, clusters=True)
    ex.examples = {"positive": [0, 1], "negative": [200]}
    fig = ex.snapshot()["map"]
    path = tmp_path / "map.html"
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    with browser() as chromium, offline_page(chromium, str(path), width=1000, height=800) as (page, log):
        page.wait_for_selector(".js-plotly-plot .main-svg")
        page.wait_for_function("document.querySelector('.js-plotly-plot')._fullLayout !== undefined")
        data = page.evaluate(PAGE_DATA)
        shapes = page.evaluate(SHAPES)
        boxes = page.evaluate(BOXES)
        screenshot(page, "map_overlays_categorical")
        assert log.errors == [] and log.blocked == [], (log.errors, log.blocked)

    base = [t for t in data if t["role"] == "points"]
    assert len(base) == fruit.payload["fruit"].nunique()  # one trace per fruit (d62a2a1: one blue trace)
    assert all(t["opacity"] < 1 and t["visible"] is True for t in base)
    # the overlays are layout shapes, drawn above the WebGL points, letting clicks through
    assert [t["role"] for t in data] == ["points"] * len(base)
    names = [s["name"] for s in shapes["shapes"]]
    assert names == ["results"] * len(ex.result) + ["examples"] * 3, names
    assert shapes["drawn"] == len(names) and shapes["above"] and shapes["pointer"] == ["none"], shapes
    rings = [s for s in shapes["shapes"] if s["name"] == "results"]
    marks = [s for s in shapes["shapes"] if s["name"] == "examples"]
    assert all(s["type"] == "circle" and s["line"]["color"] == _base.OUTLINE and s["line"]["width"] >= 2 for s in rings)
    assert all(s["type"] == "path" and s["line"]["color"] == _base.OUTLINE and s["line"]["width"] >= 2 for s in marks)
    palette = set(_base.CATEGORY_PALETTE)
    assert not ({s["fill"] for s in marks} & palette)

    assert not overlap(boxes["legend"], boxes["plot"]) and not overlap(boxes["legend"], boxes["xtitle"])
    labels = boxes["labels"]
    assert len(labels) == len(ex.clusters.summary) >= 2
    for i in range(len(labels)):
        for j in range(i):
            assert not overlap(labels[i], labels[j]), (labels[i], labels[j])
