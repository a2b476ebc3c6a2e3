"""Structure on the maps: colour by the categorical field by default, a light base layer under
outlined overlays in colours not of the palette, the legend outside the plot, and the Explorer's
cluster labels (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest
from plotly.colors import hex_to_rgb, unlabel_rgb

import explorekit as ek
from explorekit.analysis.clusters import layout_clusters, map_clusters
from explorekit.plots import _base
from explorekit.plots._clusters import _overlap, label_boxes, units_per_px
from explorekit.widgets import Explorer
from explorekit.widgets._map import EXAMPLE_SIZE, STYLE
from explorekit.widgets._shapes import marker_path, named


@pytest.fixture(scope="module")
def fruit() -> ek.Collection:
    return ek.datasets.load("clusters2d", as_collection=True)


def rgb(colour: str) -> tuple[int, int, int]:
    """A plotly colour string ("#1a9850", "rgb(1, 2, 3)", "rgba(...)") as an (r, g, b) triple."""
    if colour.startswith("#"):
        return tuple(hex_to_rgb(colour))
    return tuple(int(round(v)) for v in unlabel_rgb(colour.replace("rgba", "rgb"))[:3])


def points_traces(fig):
    return [t for t in fig.data if (t.meta or {}).get("role") == "points"]


# ---------------------------------------------------------------------------- the default colour
def test_the_map_is_coloured_by_the_categorical_field_by_default(fruit):
    fig = ek.plots.map(fruit)  # d62a2a1: one trace "points" in one blue
    names = sorted(t.name for t in points_traces(fig))
    assert names == sorted(fruit.payload["fruit"].unique())
    assert fig.layout.legend.title.text == "fruit"
    by_name = {t.name: t for t in fig.data}
    for name, trace in by_name.items():
        ids = trace.customdata[:, 0].tolist()
        assert set(fruit.payload.loc[ids, "fruit"]) == {name}


def test_color_false_draws_one_colour_and_color_given_wins(fruit):
    (one,) = ek.plots.map(fruit, color=False).data
    assert len(one.customdata) == len(fruit)
    assert sorted(t.name for t in ek.plots.map(fruit, color="family").data) == ["citrus", "pome", "stone"]


def test_no_categorical_field_means_one_colour():
    col = ek.Collection.from_arrays(np.eye(4), payload=[{"price": p} for p in (0.5, 0.7, 0.9, 1.1)])
    assert len(ek.plots.map(col).data) == 1


def test_a_colour_that_is_neither_a_column_nor_false_names_the_fix(fruit):
    with pytest.raises(ek.ExploreError, match="False \\(one colour\\)"):
        ek.plots.map(fruit, color=3)


# ---------------------------------------------------------------------------- overlays stay visible
def test_the_base_layer_is_light_and_dimmed(fruit):
    fig = ek.plots.map(fruit)
    palette = {rgb(c) for c in _base.CATEGORY_PALETTE}
    for trace in points_traces(fig):
        assert trace.marker.opacity < 1  # d62a2a1: opacity unset (1) and D3's strong colours
        assert rgb(trace.marker.color) in palette


def test_overlay_colours_are_not_category_colours():
    palette = {rgb(c) for c in _base.CATEGORY_PALETTE} | {rgb(_base.OTHER_COLOUR)}
    overlay = [style["color"] for style in _base.ROLE_STYLE.values()] + [_base.RING["color"], _base.OUTLINE]
    overlay += [colour for colour, _ in STYLE.values()]
    overlay += ["#d62728", "#fdb863"]  # the report's neighbour rings (report.js), filled results (plots/_query.py)
    assert len(set(_base.CATEGORY_PALETTE)) == 19 and not {rgb(c) for c in overlay} & palette
    for colour in overlay:  # and not close to one: at least 60 apart in RGB
        assert min(np.linalg.norm(np.subtract(rgb(colour), p)) for p in palette) > 60, colour


def test_explorer_overlays_are_outlined_and_drawn_above_the_points(fruit):
    ex = Explorer(fruit, projection="auto")
    ex.examples = {"positive": [0, 1], "negative": [200]}
    fig = ex.snapshot()["map"]
    roles = [(t.meta or {}).get("role") for t in fig.data]
    assert roles == ["points"] * 7  # d62a2a1: one base trace; the overlays are layout shapes now
    shapes = list(fig.layout.shapes)
    names = [s.name for s in shapes]
    assert names == ["results"] * len(ex.result) + ["examples"] * 3  # examples drawn over the rings
    assert {s.layer for s in shapes} == {"above"}  # above the WebGL points (drawn in the browser:
    # tests/browser/test_map_overlays_browser.py)
    rings, marks = named(shapes, "results"), named(shapes, "examples")
    for ring in rings:  # open dark circles
        assert ring.type == "circle" and ring.line.width >= 2 and rgb(ring.line.color) == (17,) * 3
        assert rgb(ring.fillcolor) == (0, 0, 0) and ring.fillcolor.startswith("rgba") and ring.fillcolor.endswith(",0)")
    for mark in marks:
        assert mark.type == "path" and mark.line.width >= 2 and rgb(mark.line.color) == (17,) * 3
    assert [m.path for m in marks] == [
        marker_path(s, EXAMPLE_SIZE) for s in ("triangle-up", "triangle-up", "triangle-down")
    ]
    assert [m.fillcolor for m in marks] == [STYLE["positive"][0]] * 2 + [STYLE["negative"][0]]


def test_the_legend_is_outside_the_plot(fruit):
    for fig in (ek.plots.map(fruit), Explorer(fruit).snapshot()["map"]):
        legend = fig.layout.legend
        # at the bottom of the whole figure (d62a2a1: y=-0.12 of the plot, over the x title of a
        # 520-px map; tests/browser/test_map_overlays_browser.py measures it as drawn)
        assert (legend.yref, legend.y, legend.yanchor, legend.orientation) == ("container", 0, "bottom", "h")


# ---------------------------------------------------------------------------- cluster labels
def test_layout_clusters_find_the_planted_groups_of_the_map(fruit):
    found = layout_clusters(fruit)
    info = found.labels.attrs["clusters"]
    assert info["method"] == "kmeans" and 2 <= info["k"] <= 10
    assert len(found.labels) == len(fruit) and set(found.labels["cluster"]) == set(range(info["k"]))
    assert found.summary["size"].sum() == len(fruit)


def test_map_clusters_falls_back_to_kmeans_and_says_why():
    grid = ek.Collection.from_arrays([[i, j] for i in range(7) for j in range(7)], distance="euclid")
    found = map_clusters(grid)
    assert found.labels.attrs["clusters"]["method"] == "kmeans"
    assert "found 0 clusters" in found.labels.attrs["clusters"]["instead_of"]


def test_explorer_with_clusters_labels_them_apart_and_says_how(fruit):
    ex = Explorer(fruit, clusters=True)  # d62a2a1: TypeError, no clusters keyword
    fig = ex.snapshot()["map"]
    notes = list(fig.layout.annotations)
    assert len(notes) == len(ex.clusters.summary) >= 2
    assert "HDBSCAN of the distance matrix" in fig.layout.title.subtitle.text
    words = [a.text for a in notes]
    spots = [(a.ax, a.ay) for a in notes]  # where each label is written (the arrow's tail)
    span = np.ptp(np.column_stack([ex.index.x, ex.index.y]), axis=0)
    scale = units_per_px(span, equal=True)
    boxes = label_boxes(words, scale)
    for i in range(len(spots)):
        for j in range(i):
            assert not _overlap(spots[i], *boxes[i], (*spots[j], *boxes[j]))
    assert len(points_traces(fig)) == 7  # still coloured by fruit, clicks still reach every point
    ex.examples = {"positive": [0]}
    assert ex.result is not None


def test_explorer_clusters_given_or_off(fruit):
    found = ek.analysis.clusters(fruit, sample=300)
    ex = Explorer(fruit, clusters=found)
    assert ex.clusters is found and len(ex.figure.layout.annotations) == len(found.summary)
    assert Explorer(fruit, clusters=False).clusters is None
    with pytest.raises(ek.ExploreError, match="not a clustering"):
        Explorer(fruit, clusters="yes")


def test_kmeans_labels_say_they_are_of_the_map():
    grid = ek.Collection.from_arrays([[i, j] for i in range(7) for j in range(7)], distance="euclid")
    fig = Explorer(grid, clusters=True).snapshot()["map"]
    assert "k-means (k=" in fig.layout.title.subtitle.text and "on this 2-D map" in fig.layout.title.subtitle.text


def test_plots_map_clusters_true_labels_over_the_colours(fruit):
    fig = ek.plots.map(fruit, clusters=True)  # d62a2a1: "True is not a clustering"
    assert sorted(t.name for t in points_traces(fig)) == sorted(fruit.payload["fruit"].unique())
    assert len(fig.layout.annotations) >= 2
    assert "Cluster labels: HDBSCAN" in fig.layout.title.subtitle.text
    assert fig.layout.legend.title.text == "fruit"


def test_explorer_thumbnails_lie_under_the_overlays():
    digits = ek.datasets.load("digits", as_collection=True)
    fig = Explorer(digits, using="pixels", projection="pca").figure
    assert len(fig.layout.images) > 0
    assert {image.layer for image in fig.layout.images} == {"below"}  # d62a2a1: "above", over the examples
