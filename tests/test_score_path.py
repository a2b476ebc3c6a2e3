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


def test_t_by_hand_cosine_uses_unit_vectors():
    vectors = [[3, 0, 0], [0, 5, 0], [2, 2, 0], [0, 0, 1]]
    col = ek.Collection.from_arrays(vectors, distance="cosine")
    points = score_path(col, col.recommend(positive=[1], negative=[0], strategy="best_score")).points
    by_id = points.set_index("id")
    # n = (1, 0, 0), p = (0, 1, 0): (2, 2, 0) becomes (h, h, 0), h = 1/sqrt(2), half way and
    # 1 - h off the chord; (0, 0, 1) is as far from n as from p: half way too, sqrt(1.5) off
    np.testing.assert_allclose(by_id.loc[[2, 3], "t"].astype(float), [0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(by_id.loc[[2, 3], "offset"].astype(float), [1 - np.sqrt(0.5), np.sqrt(1.5)], atol=1e-6)


def test_raw_vector_examples_have_no_id_but_a_place(data):
    col = ek.Collection.from_arrays(data, distance="dot")
    raw = (data[1] * 2).tolist()
    points = score_path(col, col.discover(context=[(raw, 2)])).points
    positive = points[points["role"] == "positive"].iloc[0]
    assert positive["id"] is None and positive["label"] == "context[0].positive"
    assert positive["t"] == pytest.approx(1.0)


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
        (lambda col: score_path(col, col.discover(context=[(1, 2)]), pair=3), "pair: 3 is out of range"),
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
