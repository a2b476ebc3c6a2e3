"""Figures, checked from their data: what each trace draws equals what the core computes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

import explorekit as ek
from explorekit import plots
from explorekit.analysis import zones
from explorekit.analysis.projection import place, project
from explorekit.analysis.rescoring import recall_by_oversampling, rescoring_effect


def role(fig: go.Figure, name: str) -> list:
    return [t for t in fig.data if (t.meta or {}).get("role") == name]


def ids_of(trace) -> list:
    return [row[0] for row in trace.customdata]


def xy_of(col, ids, using=None, projection="auto") -> np.ndarray:
    frame = project(col, using=using, projection=projection).set_index("id")
    return frame.loc[list(ids), ["x", "y"]].to_numpy(np.float64)


def segments(trace) -> list[tuple[tuple, tuple, list]]:
    """(start, end, customdata) of each segment of a lines trace written x0, x1, None, ..."""
    out = []
    for i in range(0, len(trace.x), 3):
        out.append(
            (
                (trace.x[i], trace.y[i]),
                (trace.x[i + 1], trace.y[i + 1]),
                [trace.customdata[i][0], trace.customdata[i + 1][0]],
            )
        )
    return out


# ------------------------------------------------------------------ the map
def test_map_draws_every_point_once_coloured_by_category(fruit):
    fig = plots.map(fruit, color="fruit")
    points = role(fig, "points")
    assert all(isinstance(t, go.Scattergl) for t in points)
    drawn = [i for t in points for i in ids_of(t)]
    assert sorted(drawn) == sorted(fruit.ids.tolist())
    payload = fruit.payload
    for trace in points:
        assert set(payload.loc[ids_of(trace), "fruit"]) == {trace.name}
        np.testing.assert_allclose(np.column_stack([trace.x, trace.y]), xy_of(fruit, ids_of(trace)))
    assert "id " in points[0].text[0] and "fruit: " in points[0].text[0]
    assert fig.layout.yaxis.scaleanchor == "x"  # the plane: equal scales


def test_map_hover_of_a_column_missing_everywhere():
    vectors = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    col = ek.Collection.from_arrays(vectors, payload=[{"color": None, "k": i} for i in range(6)])
    fig = plots.map(col, projection="pca", hover_data=["color", "k"])  # raised TypeError: 'add' str/object
    (points,) = role(fig, "points")
    assert sorted(points.text) == [f"id {i}<br>color: -<br>k: {i}" for i in range(6)]


def test_map_numeric_colour_missing_values_and_size(fruit):
    fig = plots.map(fruit, color="price", size="sweetness")
    coloured, missing = role(fig, "points")
    payload = fruit.payload
    np.testing.assert_allclose(coloured.marker.color, payload.loc[ids_of(coloured), "price"], rtol=1e-6)
    assert payload.loc[ids_of(missing), "price"].isna().all() and len(ids_of(missing)) == 32
    sweet = payload.loc[ids_of(coloured), "sweetness"].to_numpy()
    order = np.argsort(sweet)
    assert np.all(np.diff(np.asarray(coloured.marker.size)[order]) >= 0)  # bigger = sweeter
    assert coloured.marker.showscale


def test_map_samples_above_max_points_and_says_so(fruit):
    fig = plots.map(fruit, max_points=100, seed=3, color=False)  # one trace (fruit would colour it)
    drawn = ids_of(fig.data[0])
    assert len(drawn) == 100 and len(set(drawn)) == 100
    assert "Showing 100 of 300 points (random sample, seed 3)" in fig.layout.title.subtitle.text
    assert ids_of(plots.map(fruit, max_points=100, seed=3, color=False).data[0]) == drawn
    assert ids_of(plots.map(fruit, max_points=100, seed=4, color=False).data[0]) != drawn
    assert "Showing" not in (plots.map(fruit).layout.title.subtitle.text or "")


def test_map_thumbnails(digits):
    fig = plots.map(digits, using="pixels", color="label", max_thumbnails=25)
    images = fig.layout.images
    assert len(images) == 25
    frame = project(digits, using="pixels").set_index("id")
    thumbs = digits.payload["thumbnail"]
    for image in images:
        hit = frame.index[(np.isclose(frame["x"], image.x)) & (np.isclose(frame["y"], image.y))]
        assert image.source in set(thumbs.loc[hit])
    assert fig.layout.xaxis.title.text.startswith("PC1 (")
    assert len(plots.map(digits, using="pixels", thumbnails=False).layout.images) == 0


# ------------------------------------------------------------------ recommendation
def _sq(a, b):
    return ((np.asarray(a, np.float64)[:, None] - np.asarray(b, np.float64)[None]) ** 2).sum(-1)


@pytest.mark.parametrize("strategy", ["best_score", "sum_scores", "average_vector"])
def test_recommendation_lines_join_each_result_to_its_deciding_example(fruit, strategy):
    xy = fruit.vectors()
    raw = (xy[fruit._ids.row(60)] + [0.5, -0.5]).tolist()
    pos, neg = [10, raw], [130]
    result = fruit.recommend(positive=pos, negative=neg, strategy=strategy, limit=12)
    fig = plots.recommendation(fruit, result)
    results = role(fig, "results")[0]
    assert ids_of(results) == result["id"].tolist()
    assert [row[2] for row in results.customdata] == result["score"].tolist()
    ex = np.vstack([xy[fruit._ids.row(10)], raw, xy[fruit._ids.row(130)]])  # P0, P1, N0
    points = xy[fruit._ids.rows(result["id"].tolist())]
    sims = -_sq(ex, points)  # euclid: -d^2
    if strategy == "best_score":
        want = [int(s[:2].argmax()) if s[:2].max() > s[2] else 2 for s in sims.T]
    elif strategy == "sum_scores":
        want = [int(np.abs(s * [1, 1, -1]).argmax()) for s in sims.T]
    else:
        want = None
    lines = [seg for t in role(fig, "decision") for seg in segments(t)]
    assert len(lines) == len(result)
    for start, end, (rid, label) in lines:
        j = result["id"].tolist().index(rid)
        np.testing.assert_allclose(start, points[j])
        if want is None:  # the averaged query vector, placed on the plane
            q = 2 * (ex[0] + ex[1]) / 2 - ex[2]
            np.testing.assert_allclose(end, q, rtol=1e-5)
            assert label.startswith("average of 2 positives")
        else:
            np.testing.assert_allclose(end, ex[want[j]], rtol=1e-6)
            assert label == ["positive[0] (id 10)", "positive[1]", "negative[0] (id 130)"][want[j]]
    pos_trace = role(fig, "positive")[0]
    np.testing.assert_allclose(np.column_stack([pos_trace.x, pos_trace.y]), ex[:2])
    assert ids_of(pos_trace) == [10, "positive[1]"]


def test_recommendation_on_a_projected_space_places_raw_examples(text):
    vectors = text.vectors()
    raw = (vectors[5] + vectors[6]).tolist()
    result = text.recommend(positive=[1, raw], negative=[2], strategy="best_score", limit=5)
    fig = plots.recommendation(text, result)
    pos = role(fig, "positive")[0]
    np.testing.assert_allclose(np.column_stack([pos.x, pos.y]), place(text, [1, raw]), rtol=1e-5)
    for start, _end, (rid, _label) in (seg for t in role(fig, "decision") for seg in segments(t)):
        np.testing.assert_allclose(start, xy_of(text, [rid])[0])
    avg = plots.recommendation(text, text.recommend(positive=[1, raw], negative=[2], limit=5))
    assert len(role(avg, "average")) == 1
    assert all(seg[2][1].startswith("average of") for seg in segments(role(avg, "decision")[0]))
    search = plots.recommendation(text, text.search(3, limit=4))
    assert ids_of(role(search, "query")[0]) == [3]


# ------------------------------------------------------------------ discovery and context
def test_discovery_colouring_equals_the_core_ranks(fruit):
    query = dict(target=0, context=[(50, 120), (200, 280)])
    result = fruit.discover(limit=10, **query)
    fig = plots.discovery(fruit, result)
    points = role(fig, "points")[0]
    z = zones.points(fruit, **query).set_index("id")
    np.testing.assert_array_equal(points.marker.color, z.loc[ids_of(points), "rank"].to_numpy())
    np.testing.assert_array_equal(np.floor(result["score"]), z.loc[result["id"], "rank"])  # the score's rank
    xy = fruit.vectors()
    signs = sum(
        np.sign(_sq(xy[[fruit._ids.row(n)]], xy)[0] - _sq(xy[[fruit._ids.row(p)]], xy)[0]) for p, n in query["context"]
    )
    np.testing.assert_array_equal(z["rank"].to_numpy(), signs)
    assert points.marker.cmin == -2.5 and points.marker.cmax == 2.5
    field = role(fig, "field")[0]
    grid = zones.grid(fruit, result)
    np.testing.assert_array_equal(np.asarray(field.z), grid["rank"].to_numpy(np.float32).reshape(200, 200))
    assert len(segments(role(fig, "boundary")[0])) == 2 and len(segments(role(fig, "pair")[0])) == 2
    target = role(fig, "target")[0]
    np.testing.assert_allclose([target.x[0], target.y[0]], xy[fruit._ids.row(0)])
    assert ids_of(role(fig, "results")[0]) == result["id"].tolist()


def test_discovery_on_a_high_dimensional_space(text):
    result = text.discover(target=10, context=[(11, 12), (13, 14), (15, 16)], limit=8)
    fig = plots.discovery(text, result, max_points=1000, seed=1)
    points = role(fig, "points")[0]
    assert len(points.x) == 1000 and "Showing 1,000 of 6,041 points" in fig.layout.title.subtitle.text
    z = zones.points(text, result).set_index("id")
    np.testing.assert_array_equal(points.marker.color, z.loc[ids_of(points), "rank"].to_numpy())
    assert not role(fig, "field")  # no zone field away from the plane
    assert ids_of(role(fig, "results")[0]) == result["id"].tolist()  # queries use every point


def test_context_colouring_equals_the_core_losses(fruit):
    result = fruit.discover(context=[(50, 120), (200, 280)], limit=10)
    fig = plots.context(fruit, result)
    z = zones.points(fruit, result).set_index("id")
    below, zero = sorted(role(fig, "points"), key=lambda t: t.meta["zero_loss"])
    np.testing.assert_allclose(below.marker.color, z.loc[ids_of(below), "loss"], rtol=1e-6)
    assert (z.loc[ids_of(below), "loss"] < 0).all()
    assert sorted(ids_of(zero)) == sorted(z.index[z["zero_loss"]].tolist())
    region = np.asarray(role(fig, "zero_loss_region")[0].z, dtype=float)
    grid = zones.grid(fruit, result)
    np.testing.assert_array_equal(np.isfinite(region).ravel(), grid["zero_loss"].to_numpy())
    assert set(result["id"]) <= set(ids_of(zero))  # the best results have zero loss here


@pytest.mark.parametrize(
    "figure, result, match",
    [
        ("discovery", lambda c: c.discover(context=[(1, 2)]), "got a context query"),
        ("context", lambda c: c.discover(target=0, context=[(1, 2)]), "got a discover query"),
        ("recommendation", lambda c: c.discover(target=0, context=[(1, 2)]), "plots.discovery"),
    ],
)
def test_figures_refuse_other_query_kinds(fruit, figure, result, match):
    with pytest.raises(ek.RequestError, match=match):
        getattr(plots, figure)(fruit, result(fruit))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda c: plots.map(c, color="colour"), "Unknown payload column \\(color\\) 'colour'. Did you mean 'colours'"),
        (lambda c: plots.map(c, hover_data=["nope"]), "Unknown payload column \\(hover_data\\)"),
        (lambda c: plots.map(c, max_points=0), "max_points: 0 is not a positive integer"),
        (lambda c: plots.map(c, width=10), "width: 10 is not a size"),
        (lambda c: plots.map(c, thumbnails="fruits"), "Unknown payload column \\(thumbnails\\)"),
        (lambda c: plots.rescoring(pd.DataFrame({"id": [1]})), "at least two of the rank columns"),
        (lambda c: plots.recall_curve(pd.DataFrame({"x": [1]})), "no column\\(s\\) \\['oversampling', 'recall'\\]"),
    ],
)
def test_bad_input(fruit, call, match):
    with pytest.raises(ek.ExploreError, match=match):
        call(fruit)


# ------------------------------------------------------------------ rescoring
@pytest.fixture(scope="module")
def quantized(text):
    col = ek.Collection.from_arrays(text.vectors(), ids=text.ids.tolist(), distance="cosine")
    return col.quantize({"binary": {}})


def test_slope_chart_ranks_equal_the_rescoring_call(quantized, text):
    query = (text.vectors()[17] + text.vectors()[900]).tolist()
    frame = rescoring_effect(quantized, "search", query=query, limit=10, oversampling=3)
    fig = plots.rescoring(frame)
    columns = ["quantized_rank", "rescored_rank", "exact_rank"]
    top = int(frame[columns].max().max()) + 1
    lines = {}
    for trace in role(fig, "kept") + role(fig, "rescued") + role(fig, "lost"):
        for i in range(0, len(trace.x), 4):
            lines[trace.customdata[i][0]] = (trace.meta["role"], trace.y[i : i + 3])
    assert set(lines) == set(frame["id"])
    for row in frame.itertuples():
        kind, ys = lines[row.id]
        assert kind == ("rescued" if row.rescued else "lost" if row.lost else "kept")
        for j, column in enumerate(columns):
            value = getattr(row, column)
            want = None if pd.isna(value) and j == 2 else (top if pd.isna(value) else int(value))
            assert ys[j] == want, (row.id, column)
    assert frame["rescued"].any()
    limit = role(fig, "limit")[0]
    assert limit.y[0] == 9.5


def test_slope_chart_k_is_checked_and_capped(quantized, text):
    frame = rescoring_effect(quantized, "search", query=text.vectors()[17].tolist(), limit=5, oversampling=2)
    with pytest.raises(ek.RequestError, match="k: -1 is below 1"):
        plots.rescoring(frame, k=-1)
    with pytest.raises(ek.RequestError, match="k: True is not an integer"):
        plots.rescoring(frame, k=True)
    whole = plots.rescoring(frame)
    assert plots.rescoring(frame, k=10_000).layout.yaxis.range == whole.layout.yaxis.range


def test_recall_curve_draws_the_measurements(quantized, text):
    frame = recall_by_oversampling(
        quantized, [{"query": v.tolist()} for v in text.vectors()[:8]], oversampling=(1, 2, 4)
    )
    fig = plots.recall_curve(frame)
    for trace in role(fig, "recall"):
        part = frame[frame["rescore"] == (trace.meta["group"] == "rescore=True")].sort_values("oversampling")
        np.testing.assert_allclose(trace.x, part["oversampling"])
        np.testing.assert_allclose(trace.y, part["recall"])
    assert len(role(fig, "recall")) == 2


# ------------------------------------------------------------------ export
def test_every_figure_serialises_to_json_and_static_html(fruit, digits, quantized, text):
    figures = [
        plots.map(fruit, color="fruit"),
        plots.map(digits, using="pixels", color="label"),
        plots.recommendation(fruit, fruit.recommend(positive=[1], negative=[100], strategy="best_score")),
        plots.discovery(fruit, fruit.discover(target=0, context=[(50, 120)])),
        plots.context(fruit, fruit.discover(context=[(50, 120)])),
        plots.rescoring(rescoring_effect(quantized, query=text.vectors()[3].tolist(), limit=5)),
        plots.recall_curve(pd.DataFrame({"oversampling": [1.0, 2.0], "recall": [0.8, 0.9]})),
    ]
    for fig in figures:
        text_json = fig.to_json()
        json.loads(text_json)
        back = pio.from_json(text_json)
        assert len(back.data) == len(fig.data)
        page = fig.to_html(include_plotlyjs=True, full_html=True)
        assert "Plotly.newPlot" in page and len(page) > 3_000_000  # plotly.js inlined
        assert '<script src="http' not in page and '<script charset="utf-8" src=' not in page


@pytest.mark.slow
def test_umap_map_of_the_text_set(text):
    fig = plots.map(text, projection="umap", color="kind")
    assert fig.layout.xaxis.title.text == "UMAP 1" and fig.layout.yaxis.scaleanchor is None
    frame = project(text, projection="umap").set_index("id")
    for trace in role(fig, "points"):
        np.testing.assert_allclose(np.column_stack([trace.x, trace.y]), frame.loc[ids_of(trace), ["x", "y"]])
    result = text.recommend(positive=[1, text.vectors()[2].tolist()], strategy="best_score", limit=5)
    rec = plots.recommendation(text, result, projection="umap")
    pos = role(rec, "positive")[0]
    np.testing.assert_allclose([pos.x[0], pos.y[0]], frame.loc[1, ["x", "y"]].to_numpy(np.float64))
    assert np.isfinite([pos.x[1], pos.y[1]]).all()
