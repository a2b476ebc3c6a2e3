"""Every request body of Qdrant's "Explore the data" page (shared/reference/seeds) runs verbatim
through col.query, and each Python example there, translated to explorekit's calls, gives the
same answer; both are checked against qdrant-client local mode."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import Trio, assert_same, ids_scores
from qdrant_client import QdrantClient

CITIES = ["London", "Berlin", "Paris"]
IDS = list(range(1, 801))
LONDON = {"must": [{"key": "city", "match": {"value": "London"}}]}


@pytest.fixture(scope="module")
def client():
    return QdrantClient(":memory:")


def _payload(n):
    return [{"city": CITIES[i % 3]} for i in range(n)]


@pytest.fixture(scope="module")
def plain(client):
    vectors = np.random.default_rng(1).normal(size=(len(IDS), 4)).astype(np.float32)
    return Trio(vectors, ids=IDS, payload=_payload(len(IDS)), client=client, edge=False)


@pytest.fixture(scope="module")
def multi(client):
    rng = np.random.default_rng(2)
    vectors = {
        "image": rng.normal(size=(len(IDS), 4)).astype(np.float32),
        "text": rng.normal(size=(len(IDS), 3)).astype(np.float32),
    }
    return Trio(vectors, ids=IDS, payload=_payload(len(IDS)), client=client, edge=False)


@pytest.fixture(scope="module")
def external(client):
    rng = np.random.default_rng(3)
    vectors = {"photo": rng.normal(size=(len(IDS), 4)).astype(np.float32)}
    return Trio(vectors, ids=IDS, client=client, edge=False, name="external_shop")


def test_recommend_body(plain):
    body = {
        "positive": [100, 231],
        "negative": [718, [0.2, 0.3, 0.4, 0.5]],
        "filter": {"must": [{"key": "city", "match": {"value": "London"}}]},
        "strategy": "average_vector",
        "limit": 3,
    }
    got = ids_scores(plain.col.query(body))
    want = plain.local(
        "recommend",
        positive=[100, 231],
        negative=[718, [0.2, 0.3, 0.4, 0.5]],
        strategy="average_vector",
        filter=LONDON,
        limit=3,
    )
    assert_same(got, want)
    python = plain.col.recommend(
        positive=[100, 231], negative=[718, [0.2, 0.3, 0.4, 0.5]], strategy="average_vector", filter=LONDON, limit=3
    )
    assert ids_scores(python) == got
    assert set(python["city"]) == {"London"} and len(python) == 3


@pytest.mark.parametrize("strategy", ["best_score", "sum_scores"])
def test_recommend_body_other_strategies_and_negatives_only(plain, strategy):
    got = ids_scores(plain.col.query({"negative": [718], "strategy": strategy, "filter": LONDON, "limit": 10}))
    assert_same(got, plain.local("recommend", negative=[718], strategy=strategy, filter=LONDON, limit=10))


def test_multiple_vectors_body(multi):
    body = {"positive": [100, 231], "negative": [718], "using": "image", "limit": 10}
    got = ids_scores(multi.col.query(body))
    assert_same(got, multi.local("recommend", positive=[100, 231], negative=[718], using="image", limit=10))
    assert ids_scores(multi.col.recommend(positive=[100, 231], negative=[718], using="image", limit=10)) == got


def test_lookup_from_body(multi, external):
    body = {
        "positive": [100, 231],
        "negative": [718],
        "using": "image",
        "limit": 10,
        "lookup_from": {"collection": "external_shop", "vector": "photo"},
    }
    got = ids_scores(multi.col.query(body))
    want = multi.local(
        "recommend",
        positive=[100, 231],
        negative=[718],
        using="image",
        limit=10,
        lookup_from={"collection": "external_shop", "vector": "photo"},
    )
    assert_same(got, want)
    python = multi.col.recommend(
        positive=[100, 231],
        negative=[718],
        using="image",
        limit=10,
        lookup_from={"collection": external.col, "vector": "photo"},
    )
    assert ids_scores(python) == got


def test_batch_body(plain):
    body = {
        "searches": [
            {
                "filter": {"must": [{"key": "city", "match": {"value": "London"}}]},
                "negative": [718],
                "positive": [100, 231],
                "limit": 10,
            },
            {
                "filter": {"must": [{"key": "city", "match": {"value": "London"}}]},
                "negative": [300],
                "positive": [200, 67],
                "limit": 10,
            },
        ]
    }
    got = plain.col.query(body)
    assert isinstance(got, list) and len(got) == 2
    for frame, (pos, neg) in zip(got, [([100, 231], [718]), ([200, 67], [300])]):
        assert_same(ids_scores(frame), plain.local("recommend", positive=pos, negative=neg, filter=LONDON, limit=10))
    python = plain.col.recommend_batch(
        [
            dict(filter=LONDON, negative=[718], positive=[100, 231], limit=10),
            dict(filter=LONDON, negative=[300], positive=[200, 67], limit=10),
        ]
    )
    assert [ids_scores(f) for f in python] == [ids_scores(f) for f in got]


def test_discover_body(plain):
    body = {
        "target": [0.2, 0.1, 0.9, 0.7],
        "context": [{"positive": 100, "negative": 718}, {"positive": 200, "negative": 300}],
        "limit": 10,
    }
    got = ids_scores(plain.col.query(body))
    want = plain.local("discover", target=[0.2, 0.1, 0.9, 0.7], context=[(100, 718), (200, 300)], limit=10)
    assert_same(got, want)
    python = plain.col.discover(
        target=[0.2, 0.1, 0.9, 0.7],
        context=[{"positive": 100, "negative": 718}, {"positive": 200, "negative": 300}],
        limit=10,
    )
    assert ids_scores(python) == got


def test_context_body(plain):
    body = {"context": [{"positive": 100, "negative": 718}, {"positive": 200, "negative": 300}], "limit": 10}
    got = plain.col.query(body)
    full = ids_scores(plain.col.query({**body, "limit": len(IDS)}))
    want = plain.local("discover", target=None, context=[(100, 718), (200, 300)], limit=len(IDS))
    assert_same(full, want)
    assert ids_scores(got) == full[:10]
    python = plain.col.discover(context=[(100, 718), (200, 300)], limit=10)
    assert ids_scores(python) == ids_scores(got)


@pytest.mark.parametrize(
    "query",
    [
        {"recommend": {"positive": [100, 231], "negative": [718], "strategy": "best_score"}},
        {"discover": {"target": 5, "context": [{"positive": 100, "negative": 718}]}},
        {"context": [{"positive": 100, "negative": 718}]},
        {"nearest": [0.2, 0.1, 0.9, 0.7]},
        [0.2, 0.1, 0.9, 0.7],
        42,
    ],
)
def test_query_api_bodies(plain, query):
    body = {"query": query, "filter": LONDON, "limit": 800 if isinstance(query, dict) and "context" in query else 7}
    got = ids_scores(plain.col.query(body))
    if isinstance(query, dict) and "recommend" in query:
        want = plain.local("recommend", **query["recommend"], filter=LONDON, limit=7)
    elif isinstance(query, dict) and "discover" in query:
        d = query["discover"]
        want = plain.local("discover", target=d["target"], context=d["context"], filter=LONDON, limit=7)
    elif isinstance(query, dict) and "context" in query:
        want = plain.local("discover", target=None, context=query["context"], filter=LONDON, limit=800)
    else:
        q = query["nearest"] if isinstance(query, dict) else query
        want = plain.local("search", query=q, filter=LONDON, limit=7)
    assert_same(got, want)


def test_result_attrs_round_trip(plain):
    frame = plain.col.recommend(
        positive=[100, 231], negative=[[0.2, 0.3, 0.4, 0.5]], strategy="best_score", filter=LONDON, limit=4, offset=1
    )
    body = frame.attrs["query"]
    assert body["query"]["recommend"]["strategy"] == "best_score"
    assert ids_scores(plain.col.query(body)) == ids_scores(frame)


def test_search_body_named_vector(multi):
    body = {"vector": {"name": "text", "vector": [0.1, 0.2, 0.3]}, "limit": 5, "with_payload": True}
    got = ids_scores(multi.col.query(body))
    assert_same(got, multi.local("search", query=[0.1, 0.2, 0.3], using="text", limit=5))
