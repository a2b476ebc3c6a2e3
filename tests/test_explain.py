"""explain(): per result and example, the similarity, the part of the score, and the decider."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import explorekit as ek
from explorekit.analysis.explain import COLUMNS, examples, explain
from tests.oracle import Trio
from tests.oracle import reference_similarity as _sim


def _sig(x):
    return 0.5 * (x / (1 + np.abs(x)) + 1)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    return rng.normal(size=(60, 5)).astype(np.float32)


def _scores_per_rank(why: pd.DataFrame) -> pd.DataFrame:
    return why.groupby("rank", sort=True).agg(
        id=("id", "first"), score=("score", "first"), total=("contribution", lambda s: s.sum(min_count=1))
    )


@settings(max_examples=40, deadline=None)
@given(
    distance=st.sampled_from(["cosine", "dot"]),
    strategy=st.sampled_from(["average_vector", "best_score", "sum_scores"]),
    pos=st.lists(st.integers(0, 59), min_size=1, max_size=3, unique=True),
    neg=st.lists(st.integers(0, 59), max_size=2, unique=True),
    raw=st.booleans(),
)
def test_contributions_add_up_to_the_score(data, distance, strategy, pos, neg, raw):
    neg = [n for n in neg if n not in pos]
    col = ek.Collection.from_arrays(data, distance=distance)
    positive = [data[pos[0]] * 1.5 + 0.1] + pos[1:] if raw else pos
    result = col.recommend(positive=positive, negative=neg, strategy=strategy, limit=6)
    why = explain(col, result)
    assert why.columns.tolist() == COLUMNS
    per = _scores_per_rank(why)
    assert per["id"].tolist() == result["id"].tolist()
    np.testing.assert_allclose(per["score"], result["score"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(per["total"], result["score"], rtol=1e-4, atol=1e-5)
    assert (why.groupby("rank")["decides"].sum() == 1).all()


@pytest.mark.parametrize("distance", ["cosine", "dot", "euclid", "manhattan"])
def test_best_score_is_decided_by_the_closest_example(data, distance):
    col = ek.Collection.from_arrays(data, distance=distance)
    pos, neg = [1, 2], [3, 4]
    result = col.recommend(positive=pos, negative=neg, strategy="best_score", limit=60)
    why = explain(col, result)
    decider = why[why["decides"]].set_index("id")
    sims = _sim(data[pos + neg], data[result["id"].to_numpy()], distance)  # (4, results)
    for j, point in enumerate(result["id"]):
        best_pos, best_neg = sims[:2, j].max(), sims[2:, j].max()
        if best_pos > best_neg:
            want = ("positive", int(sims[:2, j].argmax()))
        else:
            want = ("negative", int(sims[2:, j].argmax()))
        assert (decider.loc[point, "role"], decider.loc[point, "example"]) == want
        assert decider.loc[point, "contribution"] == pytest.approx(result["score"][j], rel=1e-6)
        assert decider.loc[point, "similarity"] == pytest.approx(max(best_pos, best_neg), rel=1e-4, abs=1e-5)
    assert (result["score"] < 0).any() and (result["score"] > 0).any()  # both branches were seen


def test_average_vector_is_decided_by_the_averaged_query(data):
    col = ek.Collection.from_arrays(data, distance="euclid")
    result = col.recommend(positive=[1, data[2].tolist()], negative=[3], limit=5)
    why = explain(col, result)
    avg = why[why["role"] == "average"]
    assert avg["decides"].all() and avg["label"].iloc[0] == "average of 2 positives and 1 negative"
    np.testing.assert_allclose(np.sqrt(-avg["similarity"].to_numpy()), result["score"], rtol=1e-5)
    assert why["contribution"].isna().all()  # no linear split of a euclid distance
    q = 2 * (data[1] + data[2]) / 2 - data[3]
    np.testing.assert_allclose(-avg["similarity"], ((data[result["id"]] - q) ** 2).sum(1), rtol=1e-4)


def test_sum_scores_parts_are_signed_similarities(data):
    col = ek.Collection.from_arrays(data, distance="dot")
    result = col.recommend(positive=[5, 6], negative=[7], strategy="sum_scores", limit=4)
    why = explain(col, result)
    sims = _sim(data[[5, 6, 7]], data[result["id"].to_numpy()], "dot")
    want = (sims * np.array([[1], [1], [-1]])).T.ravel()
    np.testing.assert_allclose(why["contribution"], want, rtol=1e-5)
    top = why[why["decides"]]
    assert (
        top["contribution"].abs().to_numpy()
        == why.groupby("rank")["contribution"].apply(lambda s: s.abs().max()).to_numpy()
    ).all()


@pytest.mark.parametrize("distance", ["cosine", "euclid"])
def test_discover_parts(data, distance):
    col = ek.Collection.from_arrays(data, distance=distance)
    context = [(10, 11), (12, data[13].tolist())]
    result = col.discover(target=9, context=context, limit=20)
    why = explain(col, result)
    per = _scores_per_rank(why)
    np.testing.assert_allclose(per["total"], result["score"], rtol=1e-5)
    X = data[result["id"].to_numpy()]
    target = why[why["role"] == "target"]["contribution"].to_numpy()
    np.testing.assert_allclose(target, _sig(_sim(data[[9]], X, distance)[0]), rtol=1e-4)
    pairs = why[why["pair"].notna()]
    ranks = pairs.groupby("rank")["contribution"].sum().to_numpy()
    want = sum(
        np.sign(_sim(data[[p]], X, distance)[0] - _sim(data[[n]], X, distance)[0]) for p, n in [(10, 11), (12, 13)]
    )
    np.testing.assert_array_equal(ranks, want)
    np.testing.assert_array_equal(np.floor(result["score"]), want)
    assert pairs["label"].iloc[3] == "context[1].negative" and pairs["label"].iloc[0] == "context[0].positive (id 10)"


def test_context_parts_are_pair_losses(data):
    col = ek.Collection.from_arrays(data, distance="cosine")
    result = col.discover(context=[(20, 21), (22, 23)], limit=60)
    why = explain(col, result)
    per = _scores_per_rank(why)
    np.testing.assert_allclose(per["total"], result["score"], rtol=1e-5, atol=1e-7)
    neg = why[why["role"] == "negative"]
    assert (why.loc[why["role"] == "positive", "contribution"] == 0).all()
    assert (neg["decides"] == (neg["contribution"] < 0)).all()
    assert (result["score"] == 0).any() and (result["score"] < 0).any()


def test_search_and_inputs(data):
    col = ek.Collection.from_arrays(data, distance="cosine", name="explain-inputs")
    result = col.search(data[0], limit=3, offset=2)
    why = explain(col, result)
    assert why["rank"].tolist() == [2, 3, 4] and why["role"].tolist() == ["query"] * 3
    np.testing.assert_allclose(why["contribution"], result["score"])
    body = result.attrs["query"]
    pd.testing.assert_frame_equal(explain(col, body), why)  # a REST body runs the query
    pd.testing.assert_frame_equal(explain(col, query=data[0], limit=3, offset=2), why)
    mask = np.zeros(len(col), bool)
    mask[:30] = True
    filtered = col.recommend(positive=[1], strategy="best_score", filter=mask, limit=3)
    assert set(explain(col, filtered)["id"]) <= set(range(30))


def test_lookup_from(data):
    other = ek.Collection.from_arrays(data[:10], distance="cosine", name="explain-other")
    col = ek.Collection.from_arrays(data, distance="cosine")
    result = col.recommend(positive=[1], negative=[2], strategy="best_score", lookup_from=other, limit=4)
    why = explain(col, result)
    assert len(why) == 8 and why["role"].tolist() == ["positive", "negative"] * 4
    pos = why[why["role"] == "positive"]
    np.testing.assert_allclose(pos["similarity"], _sim(data[[1]], data[pos["id"].to_numpy()], "cosine")[0], rtol=1e-5)
    ex = examples(col, result)
    assert ex["local"].tolist() == [False, False] and ex["example_id"].tolist() == [1, 2]
    unnamed = ek.Collection.from_arrays(data[:10], distance="cosine")
    result = col.recommend(positive=[1], strategy="best_score", lookup_from=unnamed, limit=4)
    with pytest.raises(ek.UnknownCollectionError, match="lookup_from=other_collection"):
        explain(col, result)
    assert len(explain(col, result, lookup_from=unnamed)) == 4


@pytest.mark.parametrize(
    "source, error, match",
    [
        (pd.DataFrame({"id": [1]}), ek.RequestError, "has no attrs\\['query'\\]"),
        ({"searches": [{"vector": [0.0] * 5}]}, ek.RequestError, "batch body"),
        (42, ek.RequestError, "is not a result frame"),
    ],
)
def test_bad_sources(data, source, error, match):
    col = ek.Collection.from_arrays(data)
    with pytest.raises(error, match=match):
        explain(col, source)


@pytest.mark.oracle
@pytest.mark.parametrize(
    "kind, kw",
    [
        ("recommend", dict(positive=[1, 2], negative=[3], strategy="best_score")),
        ("recommend", dict(positive=[1], negative=[3, 4], strategy="sum_scores")),
        ("discover", dict(target=5, context=[(6, 7), (8, 9)])),
        ("discover", dict(context=[(6, 7), (8, 9)])),
    ],
)
@pytest.mark.parametrize("distance", ["cosine", "euclid"])
def test_scores_match_qdrant(data, kind, kw, distance):
    trio = Trio(data[:40], distance=distance, edge=False)
    result = trio.ek(kind, limit=8, **kw)
    why = explain(trio.col, result)
    per = _scores_per_rank(why)
    want = trio.local(kind, limit=8, **kw)
    if kind == "discover" and "target" not in kw:  # context search: ties at 0, compare as sets
        assert sorted(per["score"].round(5)) == sorted(round(s, 5) for _, s in want)
    else:
        assert per["id"].tolist() == [i for i, _ in want]
        np.testing.assert_allclose(per["score"], [s for _, s in want], rtol=1e-5, atol=2e-6)
        np.testing.assert_allclose(per["total"], [s for _, s in want], rtol=1e-4, atol=2e-6)
