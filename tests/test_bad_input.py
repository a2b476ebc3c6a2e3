"""Bad input: each case raises its ExploreError subclass with a message naming the value and
the fix, and the collection is exactly as it was afterwards."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import explorekit as ek
from explorekit import (
    DimensionError,
    DuplicateIdError,
    ExploreError,
    FilterError,
    NonFiniteError,
    RequestError,
    UnknownCollectionError,
    UnknownIdError,
    UnknownVectorError,
)


def make():
    rng = np.random.default_rng(0)
    payload = pd.DataFrame({"city": ["London", "Paris", "Berlin", "Rome"] * 5, "n": range(20)})
    col = ek.Collection.from_arrays(
        {"image": rng.normal(size=(20, 4)), "text": rng.normal(size=(20, 3))},
        ids=range(1, 21),
        payload=payload,
        distance={"image": "cosine", "text": "euclid"},
    )
    plain = ek.Collection.from_arrays(rng.normal(size=(20, 4)), ids=range(1, 21), payload=payload)
    return col, plain


def snapshot(col):
    return ({k: col.vectors(k).copy() for k in col.vector_names}, col.ids.tolist(), col.payload.copy())


CASES = [
    # (label, call, error, fragments)
    ("dim query", lambda c, p: p.search([1, 2, 3]), DimensionError, ["expected dim: 4, got 3"]),
    ("dim positive", lambda c, p: p.recommend(positive=[[1, 2]]), DimensionError, ["expected dim: 4", "positive[0]"]),
    (
        "dim negative",
        lambda c, p: p.recommend(positive=[1], negative=[[1.0] * 5]),
        DimensionError,
        ["got 5", "negative[0]"],
    ),
    ("dim target", lambda c, p: p.discover(target=[1, 2], context=[(1, 2)]), DimensionError, ["target"]),
    ("dim context", lambda c, p: p.discover(context=[([1, 2, 3, 4], [1, 2])]), DimensionError, ["context[0].negative"]),
    ("dim named", lambda c, p: c.search([1, 2, 3, 4], using="text"), DimensionError, ["expected dim: 3, got 4"]),
    ("nan query", lambda c, p: p.search([1, np.nan, 0, 0]), ExploreError, ["NaN or infinite", "positions [1]"]),
    ("inf positive", lambda c, p: p.recommend(positive=[[np.inf, 0, 0, 0]]), ExploreError, ["NaN or infinite"]),
    ("unknown id query", lambda c, p: p.search(99), UnknownIdError, ["99", "No point with id"]),
    ("unknown id positive", lambda c, p: p.recommend(positive=[1, 77]), UnknownIdError, ["77", "positive[1]"]),
    ("unknown id negative", lambda c, p: p.recommend(positive=[1], negative=["nope"]), UnknownIdError, ["'nope'"]),
    ("unknown id target", lambda c, p: p.discover(target=55, context=[(1, 2)]), UnknownIdError, ["55", "target"]),
    ("unknown id context", lambda c, p: p.discover(context=[(1, 66)]), UnknownIdError, ["66"]),
    ("unknown id retrieve", lambda c, p: p.retrieve([1, 404]), UnknownIdError, ["404"]),
    (
        "unknown vector",
        lambda c, p: c.search([1, 2, 3], using="imgae"),
        UnknownVectorError,
        ["'imgae'", "Did you mean 'image'"],
    ),
    ("missing using", lambda c, p: c.search([1, 2, 3]), UnknownVectorError, ["named vectors", "using="]),
    ("unknown vector plain", lambda c, p: p.search([1, 2, 3, 4], using="text"), UnknownVectorError, ["'text'"]),
    ("vectors() unknown", lambda c, p: c.vectors("txt"), UnknownVectorError, ["'txt'", "'text'"]),
    ("bad strategy", lambda c, p: p.recommend(positive=[1], strategy="best"), RequestError, ["'best'", "best_score"]),
    ("empty recommend", lambda c, p: p.recommend(), RequestError, ["at least one positive or negative"]),
    ("average negatives only", lambda c, p: p.recommend(negative=[1]), RequestError, ["average_vector", "best_score"]),
    ("negative limit", lambda c, p: p.search([1, 2, 3, 4], limit=-1), RequestError, ["limit", "-1"]),
    ("zero limit", lambda c, p: p.search([1, 2, 3, 4], limit=0), RequestError, ["limit", ">= 1"]),
    ("float limit", lambda c, p: p.search([1, 2, 3, 4], limit=2.5), RequestError, ["limit", "2.5"]),
    ("negative offset", lambda c, p: p.search([1, 2, 3, 4], offset=-3), RequestError, ["offset", "-3"]),
    (
        "nan threshold",
        lambda c, p: p.search([1, 2, 3, 4], score_threshold=float("nan")),
        RequestError,
        ["score_threshold"],
    ),
    (
        "oversampling < 1",
        lambda c, p: p.search([1, 2, 3, 4], params={"quantization": {"oversampling": 0.5}}),
        RequestError,
        ["oversampling", "0.5", ">= 1.0"],
    ),
    ("bad params key", lambda c, p: p.search([1, 2, 3, 4], params={"exakt": True}), RequestError, ["'exakt'", "exact"]),
    ("bad exact type", lambda c, p: p.search([1, 2, 3, 4], params={"exact": "yes"}), RequestError, ["exact", "'yes'"]),
    ("bad hnsw_ef", lambda c, p: p.search([1, 2, 3, 4], params={"hnsw_ef": 0}), RequestError, ["hnsw_ef"]),
    (
        "not an example",
        lambda c, p: p.recommend(positive=[{"a": 1}]),
        RequestError,
        ["positive[0]", "neither a point id nor a vector"],
    ),
    ("flat array positive", lambda c, p: p.recommend(positive=np.ones(4)), RequestError, ["one flat array"]),
    ("bad pair", lambda c, p: p.discover(context=[(1, 2, 3)]), RequestError, ["context[0]", "pair"]),
    (
        "bad pair dict",
        lambda c, p: p.discover(context=[{"positive": 1, "neg": 2}]),
        RequestError,
        ["'positive' and 'negative'"],
    ),
    (
        "lookup unknown collection",
        lambda c, p: p.recommend(positive=[1], lookup_from={"collection": "no_such"}),
        UnknownCollectionError,
        ["'no_such'", "not found"],
    ),
    (
        "lookup unknown vector",
        lambda c, p: c.recommend(positive=[1], using="image", lookup_from={"collection": p, "vector": "x"}),
        UnknownVectorError,
        ["'x'"],
    ),
    (
        "lookup dim mismatch",
        lambda c, p: c.recommend(positive=[1], using="text", lookup_from={"collection": p}),
        UnknownVectorError,
        ["'text'"],
    ),
    (
        "lookup dim mismatch 2",
        lambda c, p: c.recommend(positive=[1], using="text", lookup_from={"collection": c, "vector": "image"}),
        DimensionError,
        ["expected dim: 3, got 4"],
    ),
    (
        "lookup bad shape",
        lambda c, p: p.recommend(positive=[1], lookup_from={"vector": "x"}),
        RequestError,
        ["'collection'"],
    ),
    ("filter bad clause", lambda c, p: p.search([1, 2, 3, 4], filter={"mustnot": []}), FilterError, ["mustnot"]),
    (
        "filter bad range",
        lambda c, p: p.search([1, 2, 3, 4], filter={"must": [{"key": "n", "range": {"gt": "ten"}}]}),
        FilterError,
        ["'ten'"],
    ),
    (
        "filter no key",
        lambda c, p: p.search([1, 2, 3, 4], filter={"must": [{"match": {"value": 1}}]}),
        FilterError,
        ["key"],
    ),
    ("filter bad pandas", lambda c, p: p.search([1, 2, 3, 4], filter="city === 'x'"), FilterError, ["city === 'x'"]),
    ("filter bad mask", lambda c, p: p.search([1, 2, 3, 4], filter=np.ones(5, bool)), FilterError, ["5", "20"]),
    ("filter bad type", lambda c, p: p.search([1, 2, 3, 4], filter=42), FilterError, ["42"]),
    (
        "rest unknown key",
        lambda c, p: p.query({"positive": [1], "limt": 3}),
        RequestError,
        ["'limt'", "Did you mean 'limit'"],
    ),
    ("rest unknown endpoint", lambda c, p: p.query({"foo": 1}), RequestError, ["Cannot tell which Qdrant endpoint"]),
    ("rest bad query kind", lambda c, p: p.query({"query": {"fusion": "rrf"}}), RequestError, ["'fusion'"]),
    (
        "rest prefetch",
        lambda c, p: p.query({"query": [1, 2, 3, 4], "prefetch": [{"query": [1, 2, 3, 4], "limit": 0}]}),
        RequestError,
        ["prefetch"],
    ),
    (
        "rest empty discover",
        lambda c, p: p.query({"target": None, "context": []}, endpoint="/points/discover"),
        RequestError,
        ["target and/or context"],
    ),
    (
        "rest discover threshold",
        lambda c, p: p.query({"target": 1, "score_threshold": 0.3}),
        RequestError,
        ["score_threshold"],
    ),
    # a positional vector is query_points' query= (not a body): checked like any query vector
    ("query positional vector", lambda c, p: p.query([1, 2]), DimensionError, ["expected dim: 4, got 2"]),
    ("query not a body", lambda c, p: p.query({1, 2}), RequestError, ["query"]),
    ("rest bad batch", lambda c, p: p.query({"searches": []}), RequestError, ["non-empty list"]),
    (
        "batch bad item",
        lambda c, p: p.recommend_batch([{"positive": [1]}, {"positive": [999]}]),
        UnknownIdError,
        ["999"],
    ),
    ("batch not list", lambda c, p: p.search_batch({"query": [1, 2, 3, 4]}), RequestError, ["list of requests"]),
    ("unexpected kwarg", lambda c, p: p.search_batch([{"query": [1, 2, 3, 4], "top": 3}]), RequestError, ["'top'"]),
    (
        "with_payload unknown",
        lambda c, p: p.search([1, 2, 3, 4], with_payload=["cty"]),
        RequestError,
        ["'cty'", "'city'"],
    ),
    (
        "with_vectors unknown",
        lambda c, p: c.search([1, 2, 3, 4], using="image", with_vectors=["img"]),
        UnknownVectorError,
        ["'img'"],
    ),
    ("bool id", lambda c, p: p.search(True), ExploreError, ["True"]),
    ("negative id", lambda c, p: p.retrieve([-5]), ExploreError, ["-5", "negative"]),
    ("scroll bad limit", lambda c, p: p.scroll(limit=0), RequestError, ["limit"]),
]


@pytest.mark.parametrize("label,call,error,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input(label, call, error, fragments):
    col, plain = make()
    before = snapshot(col), snapshot(plain)
    with pytest.raises(error) as info:
        call(col, plain)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert isinstance(info.value, ExploreError)
    for (vectors, ids, payload), now in zip(before, (snapshot(col), snapshot(plain))):
        assert ids == now[1]
        pd.testing.assert_frame_equal(payload, now[2])
        for name in vectors:
            np.testing.assert_array_equal(vectors[name], now[0][name])


BUILD_CASES = [
    (
        "duplicate ids",
        lambda: ek.Collection.from_arrays(np.ones((3, 2)), ids=[1, 2, 1]),
        DuplicateIdError,
        ["1", "rows 0 and 2"],
    ),
    (
        "nan rows",
        lambda: ek.Collection.from_arrays([[1, 2], [np.nan, 1], [3, np.inf]]),
        NonFiniteError,
        ["rows [1, 2]"],
    ),
    ("1-d vectors", lambda: ek.Collection.from_arrays([1, 2, 3]), DimensionError, ["2-D"]),
    (
        "ids length",
        lambda: ek.Collection.from_arrays(np.ones((3, 2)), ids=[1, 2]),
        ExploreError,
        ["2 ids for 3 vectors"],
    ),
    (
        "payload length",
        lambda: ek.Collection.from_arrays(np.ones((3, 2)), payload=pd.DataFrame({"a": [1]})),
        ExploreError,
        ["1 rows for 3"],
    ),
    (
        "bad distance",
        lambda: ek.Collection.from_arrays(np.ones((3, 2)), distance="cosinus"),
        ExploreError,
        ["'cosinus'", "'cosine'"],
    ),
    (
        "reserved column",
        lambda: ek.Collection.from_arrays(np.ones((2, 2)), payload=pd.DataFrame({"score": [1, 2]})),
        ExploreError,
        ["'score'", "Rename"],
    ),
    (
        "missing vector column",
        lambda: ek.Collection.from_dataframe(pd.DataFrame({"emb": [[1, 2]]}), vectors="embedding"),
        ExploreError,
        ["'embedding'", "'emb'"],
    ),
    (
        "ragged vectors",
        lambda: ek.Collection.from_dataframe(pd.DataFrame({"embedding": [[1, 2], [1, 2, 3]]})),
        ExploreError,
        ["different lengths"],
    ),
    (
        "missing id column",
        lambda: ek.Collection.from_dataframe(pd.DataFrame({"embedding": [[1, 2]]}), id="pid"),
        ExploreError,
        ["'pid'"],
    ),
    (
        "named distance missing",
        lambda: ek.Collection.from_arrays({"a": np.ones((2, 2)), "b": np.ones((2, 3))}, distance={"a": "dot"}),
        ExploreError,
        ["['b']"],
    ),
    (
        "named rows differ",
        lambda: ek.Collection.from_arrays({"a": np.ones((2, 2)), "b": np.ones((3, 3))}),
        ExploreError,
        ["different numbers of rows"],
    ),
    ("float ids", lambda: ek.Collection.from_arrays(np.ones((2, 2)), ids=[1.5, 2.5]), ExploreError, ["1.5"]),
]


@pytest.mark.parametrize("label,call,error,fragments", BUILD_CASES, ids=[c[0] for c in BUILD_CASES])
def test_bad_construction(label, call, error, fragments):
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {str(info.value)!r}"


def test_the_input_arrays_are_never_changed():
    vectors = np.array([[3.0, 4.0], [1.0, 0.0]])
    copy = vectors.copy()
    col = ek.Collection.from_arrays(vectors)
    col.search(vectors[0])
    np.testing.assert_array_equal(vectors, copy)
    assert not col.vectors().flags.writeable


def test_empty_collections_answer_empty_or_name_the_missing_id():
    empty = ek.Collection.from_arrays(np.zeros((0, 4)), payload=[])
    assert len(empty) == 0 and empty.vectors().shape == (0, 4)
    for frame in (
        empty.search([1, 2, 3, 4]),
        empty.discover(context=[([1, 0, 0, 0], [0, 1, 0, 0])]),
        empty.recommend(positive=[[1, 0, 0, 0]], strategy="best_score"),
        empty.scroll(),
    ):
        assert len(frame) == 0 and list(frame.columns[:1]) == ["id"]
    with pytest.raises(UnknownIdError, match="has 0 points"):
        empty.recommend(positive=[1])
    with pytest.raises(DimensionError, match="expected dim: 4, got 2"):
        empty.search([1, 2])


@pytest.mark.parametrize("limit,offset", [(10**12, 0), (10**12, 10**12), (2**63, 3)])
def test_huge_limits_return_what_exists(limit, offset):
    _, plain = make()
    frame = plain.search([1, 2, 3, 4], limit=limit, offset=offset, params={"exact": True})
    assert len(frame) == max(0, 20 - offset)
    assert frame["score"].is_monotonic_decreasing
