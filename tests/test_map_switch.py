"""The Explorer's map switch (PCA at once, UMAP on request, swapped in place) and its first screen
(the results table shows the label and category columns first), without a browser.

The swap must move every base point to the UMAP map's position of its id, in the same figure
(same traces, so clicks keep working), and everything drawn after it (overlays, clicks) must use
the new map.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from plotly.callbacks import Points

import explorekit as ek
from explorekit.analysis.projection import cached, project
from explorekit.widgets import Explorer
from explorekit.widgets._shapes import anchors


@pytest.fixture(scope="module")
def digits() -> ek.Collection:
    return ek.datasets.load("digits", as_collection=True)


def positions(ex: Explorer) -> pd.DataFrame:
    """Where the figure draws every base point: id -> (x, y)."""
    rows = [
        (i, x, y)
        for trace, ids in zip(ex.figure.data, ex._base_ids)
        for i, x, y in zip(ids, np.asarray(trace.x), np.asarray(trace.y))
    ]
    return pd.DataFrame(rows, columns=["id", "x", "y"]).set_index("id").sort_index()


def expected(col: ek.Collection, using: str | None, method: str) -> pd.DataFrame:
    return project(col, using, projection=method).set_index("id").sort_index()


def click(ex: Explorer, point_id) -> None:
    for k, ids in enumerate(ex._base_ids):
        inds = [ids.index(point_id)] if point_id in ids else []
        trace = ex.figure.data[k]
        trace._dispatch_on_click(Points(point_inds=inds, xs=[], ys=[], trace_name=trace.name, trace_index=k), None)


def test_a_bundled_set_swaps_to_its_shipped_umap_map_in_the_same_figure(digits):
    ex = Explorer(digits, using="pixels", color="digit")
    first = int(digits.ids[3])
    ex.examples = {"positive": [first]}
    traces = [id(t) for t in ex.figure.data]
    shipped = cached(digits.space("pixels"), "umap")
    assert ex.map_switch.value == "pca" and shipped is not None
    pd.testing.assert_frame_equal(positions(ex), expected(digits, "pixels", "pca"), check_dtype=False)

    ex.map_switch.value = "umap"

    assert ex.method == "umap" and ex.map_switch.value == "umap"
    assert [id(t) for t in ex.figure.data] == traces  # the same traces, moved
    pd.testing.assert_frame_equal(positions(ex), expected(digits, "pixels", "umap"), check_dtype=False)
    assert cached(digits.space("pixels"), "umap") is shipped  # the shipped map, read, not refitted
    layout = ex.figure.layout
    assert layout.uirevision == "explorer-umap" and layout.xaxis.autorange is True
    assert layout.xaxis.title.text == "UMAP 1" and "Map: UMAP" in layout.title.subtitle.text
    umap = expected(digits, "pixels", "umap")
    x, y = anchors(ex.figure.layout.shapes, "examples")
    assert np.allclose([x[0], y[0]], umap.loc[first, ["x", "y"]].to_numpy(float))


def test_clicks_and_result_rings_use_the_new_map(digits):
    ex = Explorer(digits, using="pixels")
    ex.map_switch.value = "umap"
    point = int(digits.ids[40])
    click(ex, point)
    assert ex.examples["positive"] == [point]
    assert ex.result["id"].tolist() == digits.recommend(positive=[point], using="pixels")["id"].tolist()
    umap = expected(digits, "pixels", "umap")
    rings = anchors(ex.figure.layout.shapes, "results")
    assert np.allclose(np.column_stack(rings), umap.loc[ex.result["id"], ["x", "y"]].to_numpy(float))
    ex.map_switch.value = "pca"  # and back
    pca = expected(digits, "pixels", "pca")
    rings = anchors(ex.figure.layout.shapes, "results")
    assert np.allclose(np.column_stack(rings), pca.loc[ex.result["id"], ["x", "y"]].to_numpy(float))
    assert ex.figure.layout.yaxis.scaleanchor == "x"  # PCA keeps equal scales


def test_a_new_collection_starts_with_pca_and_offers_umap_on_request():
    rng = np.random.default_rng(1)
    col = ek.Collection.from_arrays(rng.normal(size=(40, 6)).astype(np.float32))
    ex = Explorer(col)
    assert ex.map_switch.value == "pca" and ex.map_switch.layout.display == "flex"
    assert "computed on request" in ex.map_switch.note.value
    assert cached(col.space(), "umap") is None  # nothing fitted before it is asked for


def test_a_umap_map_that_cannot_be_made_says_why_and_keeps_the_pca_map():
    col = ek.Collection.from_arrays(np.random.default_rng(2).normal(size=(8, 5)).astype(np.float32))
    ex = Explorer(col)
    before = positions(ex)
    ex.map_switch.value = "umap"
    assert ex.map_switch.value == "pca" and ex.method == "auto"
    assert "UMAP needs at least 10" in ex.map_switch.note.value
    pd.testing.assert_frame_equal(positions(ex), before)


def test_two_dimensional_vectors_have_no_switch():
    ex = Explorer(ek.datasets.load("clusters2d", as_collection=True))
    assert ex.map_switch.layout.display == "none" and ex.map_switch.value is None


@pytest.mark.slow
def test_a_new_collection_computes_its_umap_map_and_swaps_it_in():
    rng = np.random.default_rng(3)
    col = ek.Collection.from_arrays(rng.normal(size=(60, 6)).astype(np.float32))
    ex = Explorer(col)
    ex.map_switch.value = "umap"
    assert ex.method == "umap" and ex.map_switch.note.value == ""
    pd.testing.assert_frame_equal(positions(ex), expected(col, None, "umap"), check_dtype=False)


def test_the_results_table_shows_the_label_and_category_first_and_the_rest_on_demand():
    col = ek.datasets.load("stdlib_docs", as_collection=True)
    ex = Explorer(col)
    ex.examples = {"positive": [int(col.ids[5])]}
    head = ex.table.value.split("</thead>")[0]
    assert ex._first_columns == ["name", "kind"]
    assert all(f"<th>{c}</th>" in head for c in ("#", "id", "score", "name", "kind"))
    assert "<th>signature</th>" not in head and "10 more columns" in ex.table.value
    ex.all_columns.value = True
    assert "<th>signature</th>" in ex.table.value.split("</thead>")[0]
