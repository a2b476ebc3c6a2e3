"""Parity with Qdrant: the same data and request through explorekit, qdrant-client local mode
and qdrant-edge, for every query kind x strategy x distance x example form x filter x paging.

Local mode resolves ids itself (so it checks exclusion and lookup_from); qdrant-edge is
Qdrant's own engine and checks the formulas in float32 (ids resolved by hand, see oracle.py).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from oracle import Trio, assert_same, ids_scores
from qdrant_client import QdrantClient

pytestmark = pytest.mark.oracle

DISTANCES = ["cosine", "dot", "euclid", "manhattan"]
N, DIM = 80, 6
RNG = np.random.default_rng(7)
VECTORS = (RNG.normal(size=(N, DIM)) + np.linspace(0, 1, DIM)).astype(np.float32)
IDS = list(range(100, 100 + N))
PAYLOAD = [{"group": ["a", "b", "c"][i % 3], "n": i % 17, "tags": [f"t{i % 5}", f"t{i % 7}"]} for i in range(N)]
RAW = [RNG.normal(size=DIM).round(3).tolist() for _ in range(4)]
FILTERS = {
    "none": None,
    "match": {"must": [{"key": "group", "match": {"value": "a"}}]},
    "range+any": {
        "must": [{"key": "n", "range": {"gte": 3, "lt": 14}}],
        "should": [{"key": "tags", "match": {"any": ["t1", "t2", "t3"]}}],
    },
    "must_not": {"must_not": [{"key": "group", "match": {"value": "b"}}, {"has_id": [130, 131]}]},
}


@pytest.fixture(scope="module")
def client():
    return QdrantClient(":memory:")


@pytest.fixture(scope="module", params=DISTANCES)
def trio(request, client):
    return Trio(VECTORS, ids=IDS, payload=PAYLOAD, distance=request.param, client=client)


def _examples(form: str, count: int, start: int) -> list:
    """``count`` examples from position ``start``: positives start at 0, negatives at 2, so raw
    negatives are other vectors than the raw positives (the same ones would cancel them out)."""
    ids = IDS[start : start + count]
    raw = RAW[start : start + count]
    if form == "ids":
        return list(ids)
    if form == "raw":
        return raw
    return [ids[0], *raw[1:count]] if count > 1 else [raw[0]]


def check(trio: Trio, kind: str, *, edge=True, local=True, **kw):
    """explorekit against local mode and qdrant-edge; each side's answer with a limit past every
    point tells ``assert_same`` whether the limit cut the last tie group."""
    got = ids_scores(trio.ek(kind, **kw))
    whole = {**kw, "limit": len(trio.ids)}
    got_whole = ids_scores(trio.ek(kind, **whole))
    if kw.get("score_threshold") is None:  # (a threshold may legitimately keep one point or none)
        assert len({score for _, score in got_whole}) > 1, f"every point scores the same: {kind} {kw}"
    if local:  # local mode adds the examples' scores in another order than Qdrant: up to 3
        # float32 ulps of the terms (distances of 10-20) apart for euclid and manhattan sum_scores
        loose = any(d in ("euclid", "manhattan") for d in trio.distance.values())
        assert_same(
            got,
            trio.local(kind, **kw),
            got_whole=got_whole,
            want_whole=trio.local(kind, **whole),
            abs_=1e-5 if loose else 2e-6,
            label=f"local {kind} {kw}",
        )
    if edge:
        assert_same(
            got,
            trio.edge_query(kind, **kw),
            got_whole=got_whole,
            want_whole=trio.edge_query(kind, **whole),
            label=f"edge {kind} {kw}",
        )
    return got


PAGING = [dict(limit=10), dict(limit=5, offset=3), dict(limit=20, threshold=True)]


def _threshold(trio: Trio, kind: str, kw: dict) -> float:
    """A threshold half-way between two scores in the middle of the result (never on a score,
    where float32 and float64 rounding would decide), or, for the euclid quirk, cutting all."""
    scores = [s for _, s in trio.local(kind, **{**kw, "limit": 20})]
    if len(scores) < 2:
        return 0.0
    mid = len(scores) // 2
    return float((scores[mid - 1] + scores[mid]) / 2)


@pytest.mark.parametrize("strategy", ["average_vector", "best_score", "sum_scores"])
@pytest.mark.parametrize("form", ["ids", "raw", "mixed"])
@pytest.mark.parametrize("negatives", [0, 1, 2])
@pytest.mark.parametrize("flt", list(FILTERS))
@pytest.mark.parametrize("paging", range(len(PAGING)))
def test_recommend(trio, strategy, form, negatives, flt, paging):
    kw = dict(
        positive=_examples(form, 2, 0),
        negative=_examples(form, negatives, 2) if negatives else [],
        strategy=strategy,
        filter=FILTERS[flt],
    )
    page = dict(PAGING[paging])
    if page.pop("threshold", False):
        page["score_threshold"] = _threshold(trio, "recommend", kw)
    check(trio, "recommend", **kw, **page)


@pytest.mark.parametrize("strategy", ["best_score", "sum_scores"])
@pytest.mark.parametrize("form", ["ids", "raw"])
@pytest.mark.parametrize("flt", ["none", "range+any"])
def test_negatives_only(trio, strategy, form, flt):
    check(trio, "recommend", negative=_examples(form, 2, 1), strategy=strategy, filter=FILTERS[flt], limit=15)


@pytest.mark.parametrize("form", ["ids", "raw", "mixed"])
@pytest.mark.parametrize("pairs", [1, 2, 3])
@pytest.mark.parametrize("flt", list(FILTERS))
@pytest.mark.parametrize("paging", range(len(PAGING)))
def test_discover(trio, form, pairs, flt, paging):
    target = IDS[40] if form != "raw" else RAW[3]
    context = [
        (IDS[2 * i], IDS[2 * i + 1])
        if form == "ids" or (form == "mixed" and i == 0)
        else (RAW[i % 4], RAW[(i + 1) % 4])
        for i in range(pairs)
    ]
    kw = dict(target=target, context=context, filter=FILTERS[flt])
    page = dict(PAGING[paging])
    if page.pop("threshold", False):
        page["score_threshold"] = _threshold(trio, "discover", kw)
    check(trio, "discover", **kw, **page)


@pytest.mark.parametrize("form", ["ids", "raw", "dicts"])
@pytest.mark.parametrize("pairs", [1, 2, 3])
@pytest.mark.parametrize("flt", list(FILTERS))
def test_context(trio, form, pairs, flt):
    if form == "dicts":
        context = [{"positive": IDS[3 * i], "negative": RAW[i % 4]} for i in range(pairs)]
    elif form == "ids":
        context = [(IDS[3 * i], IDS[3 * i + 1]) for i in range(pairs)]
    else:
        # pairs (i, i + 3): with (i, i + 2) every point of group "a" satisfies the first pair under
        # euclid and manhattan, so all of them score 0 and the case checks no ranking
        context = [(RAW[i % 4], RAW[(i + 3) % 4]) for i in range(pairs)]
    # many points tie at 0.0 in context search; a limit covering all rows compares whole groups
    check(trio, "discover", target=None, context=context, filter=FILTERS[flt], limit=N)


@pytest.mark.parametrize("by", ["vector", "id"])
@pytest.mark.parametrize("flt", list(FILTERS))
@pytest.mark.parametrize("paging", range(len(PAGING)))
def test_search(trio, by, flt, paging):
    kw = dict(query=IDS[5] if by == "id" else RAW[0], filter=FILTERS[flt])
    page = dict(PAGING[paging])
    if page.pop("threshold", False):
        page["score_threshold"] = _threshold(trio, "search", kw)
    check(trio, "search", **kw, **page)


def test_batches_equal_single_calls(trio):
    requests = [
        dict(positive=[IDS[i]], negative=[RAW[i % 4]], strategy=s, limit=7)
        for i, s in zip(range(12), itertools.cycle(["average_vector", "best_score", "sum_scores"]))
    ]
    batch = trio.col.recommend_batch(requests)
    for req, frame in zip(requests, batch):
        assert ids_scores(frame) == ids_scores(trio.col.recommend(**req))
        assert_same(ids_scores(frame), trio.local("recommend", **req))
    searches = [dict(query=RAW[i % 4], limit=5, filter=FILTERS["match"] if i % 2 else None) for i in range(6)]
    for req, frame in zip(searches, trio.col.search_batch(searches)):
        assert_same(ids_scores(frame), trio.local("search", **req))
    disc = [dict(target=RAW[i % 4], context=[(IDS[i], IDS[i + 1])], limit=6) for i in range(5)]
    disc.append(dict(context=[(IDS[0], IDS[1])], limit=N))
    for req, frame in zip(disc, trio.col.discover_batch(disc)):
        assert_same(ids_scores(frame), trio.local("discover", **req))


@pytest.fixture(scope="module")
def named(client):
    rng = np.random.default_rng(3)
    vectors = {
        "image": rng.normal(size=(50, 4)).astype(np.float32),
        "text": rng.normal(size=(50, 7)).astype(np.float32),
    }
    return Trio(
        vectors,
        ids=list(range(1, 51)),
        payload=[{"k": i % 4} for i in range(50)],
        distance={"image": "euclid", "text": "cosine"},
        client=client,
    )


@pytest.fixture(scope="module")
def other(client):
    rng = np.random.default_rng(4)
    vectors = {
        "text": rng.normal(size=(30, 7)).astype(np.float32),
        "image": rng.normal(size=(30, 4)).astype(np.float32),
    }
    return Trio(
        vectors,
        ids=list(range(1, 31)),
        distance={"image": "euclid", "text": "cosine"},
        client=client,
        edge=False,
        name="other_shop",
    )


@pytest.mark.parametrize("using", ["image", "text"])
@pytest.mark.parametrize("strategy", ["average_vector", "best_score", "sum_scores"])
def test_named_vectors(named, using, strategy):
    check(named, "recommend", positive=[1, 2], negative=[3], strategy=strategy, using=using, limit=8)
    check(named, "discover", target=4, context=[(5, 6)], using=using, limit=8)
    check(named, "search", query=7, using=using, limit=8)


@pytest.mark.parametrize("strategy", ["average_vector", "best_score", "sum_scores"])
@pytest.mark.parametrize("by", ["object", "name"])
def test_lookup_from_other_collection(named, other, strategy, by):
    """Ids are looked up in the other collection and are NOT excluded from the results."""
    lookup = {"collection": other.col if by == "object" else "other_shop", "vector": "text"}
    kw = dict(positive=[1, 2], negative=[3], strategy=strategy, using="text", limit=50)
    got = ids_scores(named.ek("recommend", lookup_from=lookup, **kw))
    want = named.local("recommend", lookup_from={"collection": "other_shop", "vector": "text"}, **kw)
    assert_same(got, want)
    assert {1, 2, 3} <= {pid for pid, _ in got}
    got = ids_scores(named.ek("discover", target=5, context=[(6, 7)], using="text", lookup_from=lookup, limit=50))
    assert_same(
        got,
        named.local(
            "discover",
            target=5,
            context=[(6, 7)],
            using="text",
            lookup_from={"collection": "other_shop", "vector": "text"},
            limit=50,
        ),
    )


def test_lookup_from_default_vector_is_using(named, other):
    """Query API rule: without lookup_from.vector, ids are looked up under `using`."""
    got = ids_scores(named.ek("recommend", positive=[4], using="image", lookup_from={"collection": other.col}, limit=5))
    want = named.local("recommend", positive=[4], using="image", lookup_from={"collection": "other_shop"}, limit=5)
    assert_same(got, want)
