"""The score along the path from a negative example to a positive one (analysis.path).

Parity: the path's score at t equals the score the query gives a point stored with the vector
x(t) = n + t (p - n), asked through the collection's own query methods.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import explorekit as ek
from explorekit._support.errors import ExploreError, RequestError
from explorekit.analysis.path import SPAN, score_path
from explorekit.scoring.distances import preprocess
from tests.oracle import Trio

DISTANCES = ["cosine", "dot", "euclid", "manhattan"]
KINDS = {
    "discover": dict(target=0, context=[(1, 2), (3, 4)]),
    "context": dict(context=[(1, 2), (3, 4)]),
    "best_score": dict(positive=[1, 3], negative=[2, 4], strategy="best_score"),
    "sum_scores": dict(positive=[1, 3], negative=[2, 4], strategy="sum_scores"),
    "average_vector": dict(positive=[1, 3], negative=[2, 4], strategy="average_vector"),
}


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(19).normal(size=(40, 6)).astype(np.float32)


def _run(col, kind, **extra):
    kw = dict(KINDS[kind], **extra)
    if "positive" in kw:
        return col.recommend(**kw)
    return col.discover(**kw)


def _score_of_vector(data, distance, kind, vector):
    """The score the query gives a new point stored with ``vector``: asked through the public API."""
    new = len(data)
    col = ek.Collection.from_arrays(np.vstack([data, np.asarray(vector, np.float32)[None]]), distance=distance)
    result = _run(col, kind, filter={"must": [{"has_id": [new]}]}, limit=1, params={"exact": True})
    assert result["id"].tolist() == [new]
    return float(result["score"].iloc[0])


def _along(data, distance, t, negative=2, positive=1):
    """x(t) from the examples as the engine scores them (cosine: unit vectors), computed here."""
    n, p = (preprocess(data[[i]], distance)[0].astype(np.float64) for i in (negative, positive))
    return (n + t * (p - n)).astype(np.float32)


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_path_ends_score_as_the_examples_vectors_do(data, distance, kind):
    col = ek.Collection.from_arrays(data, distance=distance)
    path = score_path(col, _run(col, kind))
    at = path.curve.set_index("t")["score"]
    assert path.curve["t"].min() <= SPAN[0] and path.curve["t"].max() >= SPAN[1]
    # t = 1 is the positive example (id 1), t = 0 the negative (id 2); their raw vectors
    np.testing.assert_allclose(at.loc[1.0], _score_of_vector(data, distance, kind, data[1]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(at.loc[0.0], _score_of_vector(data, distance, kind, data[2]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_points_keep_their_own_scores(data, distance, kind):
    col = ek.Collection.from_arrays(data, distance=distance)
    result = _run(col, kind, limit=7)
    points = score_path(col, result).points
    results = points[points["role"] == "result"]
    assert results["id"].tolist() == result["id"].tolist()
    assert results["result_rank"].tolist() == list(range(7))
    np.testing.assert_allclose(results["score"].astype(float), result["score"], rtol=1e-5, atol=1e-6)
    examples = points[~points["role"].isin(["result", "point"])]
    assert examples.loc[examples["role"] != "average", "id"].tolist().count(1) == 1
    assert set(points["id"].dropna()) == set(range(40))
    assert len(points) == 40 + (1 if kind == "average_vector" else 0)


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("kind", ["discover", "context", "best_score", "average_vector"])
@settings(max_examples=12, deadline=None)
@given(position=st.integers(min_value=0, max_value=10_000))
def test_score_at_any_t_is_a_direct_query(data, distance, kind, position):
    col = ek.Collection.from_arrays(data, distance=distance)
    path = score_path(col, _run(col, kind), steps=41)
    row = path.curve.iloc[position % len(path.curve)]
    vector = _along(data, distance, float(row["t"]))
    np.testing.assert_allclose(row["score"], _score_of_vector(data, distance, kind, vector), rtol=1e-5, atol=1e-6)


@pytest.mark.oracle
@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_path_scores_are_qdrants_scores_of_points_at_x_t(data, distance, kind):
    """Points stored at x(t) in qdrant-client local mode get the path's score at t."""
    ts = [-0.25, 0.0, 0.4, 1.0, 1.25]  # not 0.5: the knife edge of best_score (sim(p) = sim(n))
    extra = np.vstack([_along(data, distance, t) for t in ts])
    trio = Trio(np.vstack([data, extra]), distance=distance, edge=False)
    path = score_path(trio.col, _run(trio.col, kind), span=(-0.25, 1.25), steps=31)
    curve = path.curve.set_index(path.curve["t"].round(9))["score"].astype(float)
    kw = dict(KINDS[kind], limit=len(data) + len(ts))
    qdrant = dict(trio.local("recommend" if "positive" in kw else "discover", **kw))
    got = [qdrant[len(data) + i] for i in range(len(ts))]
    np.testing.assert_allclose(curve.loc[ts], got, rtol=1e-5, atol=2e-6)


def test_other_pairs_and_recommend_examples(data):
    col = ek.Collection.from_arrays(data, distance="euclid")
    path = score_path(col, col.discover(context=[(1, 2), (3, 4)]), pair=1)
    expected = _score_of_vector(data, "euclid", "context", data[3])
    np.testing.assert_allclose(path.curve.set_index("t").loc[1.0, "score"], expected, rtol=1e-5)
    assert (path.negative, path.positive) == ("context[1].negative (id 4)", "context[1].positive (id 3)")
    rec = score_path(col, col.recommend(positive=[1, 3], negative=[2, 4], strategy="sum_scores"), pair=(1, 0))
    assert (rec.negative, rec.positive) == ("negative[0] (id 2)", "positive[1] (id 3)")
    assert rec.kind == "sum_scores" and rec.score_name == "sum_scores score"


def test_t_and_offset_by_hand_euclid():
    vectors = [[0, 0, 0], [2, 0, 0], [1, 1, 0], [3, 0, 4], [-1, 2, 2]]
    col = ek.Collection.from_arrays(vectors, distance="euclid")
    points = score_path(col, col.discover(context=[(1, 0)], limit=1)).points.set_index("id")
    # the path runs from id 0 (0, 0, 0) to id 1 (2, 0, 0): t = x / 2, offset = |(y, z)|
    np.testing.assert_allclose(points.loc[[0, 1, 2, 3, 4], "t"].astype(float), [0, 1, 0.5, 1.5, -0.5])
    np.testing.assert_allclose(points.loc[[0, 1, 2, 3, 4], "offset"].astype(float), [0, 0, 1, 4, np.sqrt(8)])
    assert points.loc[[0, 1], "role"].tolist() == ["negative", "positive"]


def test_t_by_hand_cosine_places_points_by_direction():
    vectors = [[3, 0, 0], [0, 5, 0], [2, 2, 0], [1, 3, 0], [2, 2, 1], [0, 0, 1], [-1, -1, 0]]
    col = ek.Collection.from_arrays(vectors, distance="cosine")
    points = score_path(col, col.recommend(positive=[1], negative=[0], strategy="best_score")).points
    by_id = points.set_index("id")
    # n = (1, 0, 0), p = (0, 1, 0), x(t) = (1 - t, t, 0): direction (1, 1) at t = 1/2, (1, 3) at
    # t = 3/4; (2, 2, 1) projects onto the plane along (1, 1): t = 1/2, and its unit vector is
    # |(2, 2, 1)/3 - (1, 1, 0)/sqrt(2)| from the arc; (0, 0, 1) and (-1, -1, 0) have no place
    t = by_id.loc[[0, 1, 2, 3, 4], "t"].astype(float)
    np.testing.assert_allclose(t, [0, 1, 0.5, 0.75, 0.5], atol=1e-6)
    off = np.linalg.norm(np.array([2, 2, 1]) / 3 - np.array([1, 1, 0]) / np.sqrt(2))
    np.testing.assert_allclose(by_id.loc[[2, 3, 4], "offset"].astype(float), [0, 0, off], atol=1e-6)
    assert by_id.loc[[5, 6], ["t", "offset"]].isna().all().all()


def test_points_on_the_path_land_on_the_curve(data):
    """A point stored at x(t) is drawn at t with the curve's score there (cosine included)."""
    for distance in DISTANCES:
        vectors = np.vstack([data, _along(data, distance, 0.3), _along(data, distance, 0.85)])
        col = ek.Collection.from_arrays(vectors, distance=distance)
        path = score_path(col, col.discover(context=[(1, 2)]), span=(0, 1), steps=21)
        mine = path.points.set_index("id").loc[[40, 41]]
        np.testing.assert_allclose(mine["t"].astype(float), [0.3, 0.85], atol=1e-5)
        np.testing.assert_allclose(mine["offset"].astype(float), [0, 0], atol=1e-5)
        curve = path.curve.set_index(path.curve["t"].round(6))["score"]
        np.testing.assert_allclose(mine["score"].astype(float), curve.loc[[0.3, 0.85]], rtol=1e-5, atol=1e-6)


def test_raw_vector_examples_have_no_id_but_a_place(data):
    col = ek.Collection.from_arrays(data, distance="dot")
    raw = (data[1] * 2).tolist()
    points = score_path(col, col.discover(context=[(raw, 2)])).points
    positive = points[points["role"] == "positive"].iloc[0]
    assert positive["id"] is None and positive["label"] == "context[0].positive"
    assert positive["t"] == pytest.approx(1.0)


def test_the_default_span_widens_to_near_results_only():
    vectors = [[0, 0], [1, 0], [0.5, 0.2], [1.8, 0.0], [40.0, 0.0]]
    col = ek.Collection.from_arrays(vectors, distance="euclid")
    path = score_path(col, col.discover(context=[(1, 0)]))
    assert path.curve["t"].max() == pytest.approx(1.8 + 0.05 * 2.05) and path.curve["t"].min() == -0.25
    fig = ek.plots.path(col, col.discover(context=[(1, 0)]))
    assert list(fig.layout.xaxis.range) == [-0.25, pytest.approx(1.9025)]
    assert "1 beyond t = -0.25 … 1.90 (zoom out)" in _subtitle(fig)


def test_span_and_steps(data):
    col = ek.Collection.from_arrays(data, distance="cosine")
    result = col.discover(context=[(1, 2)])
    curve = score_path(col, result, span=(0.2, 0.8), steps=4).curve
    np.testing.assert_allclose(curve["t"], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    wide = score_path(col, result).curve
    points = score_path(col, result).points
    focus = points.loc[points["role"] != "point", "t"].astype(float)
    assert wide["t"].min() <= min(focus.min(), SPAN[0]) and wide["t"].max() >= max(focus.max(), SPAN[1])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda col: score_path(col, col.search([1, 0, 0, 0, 0, 0])), "one query vector"),
        (lambda col: score_path(col, col.recommend(positive=[1])), "no negative example"),
        (
            lambda col: score_path(col, col.discover(context=[(1, 2)]), pair=3),
            "pair: 3 is out of range; this query has 1 context pair(s)",
        ),
        (
            lambda col: score_path(col, col.recommend(positive=[1], negative=[2]), pair=(3, 0)),
            ": 3 is out of range; this query has 1 positive example(s)",
        ),
        (lambda col: score_path(col, col.discover(context=[(1, 2)]), pair=(0, 0)), "not the number of a context"),
        (lambda col: score_path(col, col.recommend(positive=[1], negative=[2]), pair=1), "pair=(0, 0)"),
        (lambda col: score_path(col, col.discover(context=[(1, 2)]), steps=1), "steps: 1"),
        (lambda col: score_path(col, col.discover(context=[(1, 2)]), span=(1, 0)), "finite t0 < t1"),
        (lambda col: score_path(col, col.discover(context=[(1, [0, 1, 0, 0, 0, 0])]), pair=0), None),
        (lambda col: score_path(col, context=[(1, 1)]), "no length"),
    ],
)
def test_bad_input_says_what_to_do(data, call, message):
    col = ek.Collection.from_arrays(data, distance="dot")
    if message is None:
        call(col)  # a raw-vector negative is fine
        return
    with pytest.raises((ExploreError, RequestError), match=message.replace("(", r"\(").replace(")", r"\)")):
        call(col)


def test_curve_columns_follow_the_kind(data):
    col = ek.Collection.from_arrays(data, distance="cosine")
    discover = score_path(col, col.discover(target=0, context=[(1, 2)])).curve
    assert {"t", "score", "rank", "target", "pair_0"} <= set(discover.columns)
    np.testing.assert_array_equal(np.floor(discover["score"]), discover["rank"])
    context = score_path(col, col.discover(context=[(1, 2)])).curve
    assert {"loss", "zero_loss"} <= set(context.columns)
    assert context.loc[context["t"] == 1.0, "zero_loss"].item()
    assert isinstance(context, pd.DataFrame)


# ---------------------------------------------------------------------------- figures


def _subtitle(fig):
    return fig.layout.title.subtitle.text


@pytest.mark.parametrize("figure, query", [("discovery", dict(target=0)), ("context", {})])
def test_zone_figures_say_the_colours_are_exact_only_at_the_points_in_high_dim(data, figure, query):
    col = ek.Collection.from_arrays(data, distance="cosine")
    result = col.discover(context=[(1, 2)], **query)
    text = _subtitle(getattr(ek.plots, figure)(col, result))
    assert "exact scores of the points, drawn on a PCA projection of 6-D vectors" in text
    assert "plane between points is not scored" in text


@pytest.mark.parametrize("figure, query", [("discovery", dict(target=0)), ("context", {})])
def test_zone_figures_on_the_plane_say_they_are_exact(figure, query):
    plane = np.random.default_rng(5).normal(size=(30, 2)).astype(np.float32)
    col = ek.Collection.from_arrays(plane, distance="euclid")
    text = _subtitle(getattr(ek.plots, figure)(col, col.discover(context=[(1, 2)], **query)))
    assert "Colours are exact: the map is the 2-D vector space itself." in text
    assert "projection" not in text.lower()


def test_a_zone_field_is_never_drawn_on_a_projection():
    plane = np.random.default_rng(5).normal(size=(30, 2)).astype(np.float32) + [5, 0]
    col = ek.Collection.from_arrays(plane, distance="euclid")
    with pytest.raises(RequestError, match="projection='identity'"):
        ek.plots.context(col, col.discover(context=[(1, 2)]), projection="pca", field=True)
    text = _subtitle(ek.plots.context(col, col.discover(context=[(1, 2)]), projection="pca"))
    assert "PCA projection of 2-D vectors" in text


@pytest.mark.parametrize("distance", DISTANCES)
def test_path_figure_draws_the_analysis(data, distance):
    col = ek.Collection.from_arrays(data, distance=distance)
    result = col.discover(target=0, context=[(1, 2), (3, 4)], limit=5)
    fig = ek.plots.path(col, result)
    found = score_path(col, result)
    roles = [t.meta["role"] for t in fig.data]
    assert roles == ["path", "points", "target", "negative", "positive", "results"]
    curve = fig.data[0]
    np.testing.assert_allclose(curve.x, found.curve["t"])
    np.testing.assert_allclose(curve.y, found.curve["score"].astype(float))
    results = fig.data[roles.index("results")]
    assert results.customdata[:, 0].tolist() == result["id"].tolist()
    np.testing.assert_allclose(results.y, result["score"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results.x, found.points.loc[found.points["role"] == "result", "t"].astype(float))
    positive = fig.data[roles.index("positive")]
    assert positive.customdata[:, 0].tolist() == [1, 3] and positive.x[0] == pytest.approx(1.0)
    assert sorted(v.x0 for v in fig.layout.shapes if v.type == "line") == [0.0, 1.0]
    assert "exact score along the path from context[0].negative (id 2) to context[0].positive (id 1)" in (
        fig.layout.title.text
    )
    assert ("x(t) normalised" in _subtitle(fig)) == (distance == "cosine")
    assert fig.layout.yaxis.title.text == "discovery score (rank + target term)"


def test_path_figure_keeps_the_points_closest_to_the_line(data):
    col = ek.Collection.from_arrays(data, distance="euclid")
    result = col.recommend(positive=[1], negative=[2], strategy="best_score", limit=3)
    fig = ek.plots.path(col, result, max_points=5)
    points = score_path(col, result).points
    others = points[points["role"] == "point"]
    drawn = next(t for t in fig.data if t.meta["role"] == "points")
    assert sorted(drawn.customdata[:, 0].tolist()) == sorted(others.nsmallest(5, "offset")["id"].tolist())
    assert "the 5 of 35 other points closest to the line drawn" in _subtitle(fig)
    assert fig.layout.yaxis.title.text == "best_score score"


def test_path_figure_says_which_cosine_points_have_no_place():
    vectors = [[3, 0, 0], [0, 5, 0], [2, 2, 0], [0, 0, 1], [-1, -1, 0]]
    col = ek.Collection.from_arrays(vectors, distance="cosine")
    fig = ek.plots.path(col, col.recommend(positive=[1], negative=[0], strategy="sum_scores", limit=1))
    assert "2 with no place along the line (their direction points away from it)" in _subtitle(fig)
