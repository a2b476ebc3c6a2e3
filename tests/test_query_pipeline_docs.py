"""Every Query API example body of Qdrant's "Hybrid and Multi-Stage Queries" page (and the
score-boosting bodies of "Search Relevance") through ``col.query(body)``, compared with
qdrant-client local mode on the same points.

The bodies are kept as the docs write them; only the vectors' numbers are made to fit the
collection (the docs elide them with ``...``). explorekit holds dense vectors only, so the
docs' sparse query (``{"indices": [1, 42], "values": [0.22, 0.8]}``) and ColBERT multi-vector
queries are written as dense vectors under the same names ("sparse", "colbert"); every other
key, nesting and value is verbatim.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from oracle import assert_same, ids_scores
from qdrant_client import QdrantClient, models
from test_formula import DOC_BODIES as BOOSTING

import explorekit as ek

N = 200
RNG = np.random.default_rng(5)
DOC_ID = "43cf51e2-8777-4f52-bc74-c2cbde0c8b04"
IDS = [DOC_ID] + [str(uuid.UUID(int=int(RNG.integers(1, 2**62)))) for _ in range(N - 1)]
DIMS = {"dense": 3, "sparse": 2, "mrl_byte": 4, "full": 4, "colbert": 2, "": 3, "512d-vector": 4}
VEC = {name: RNG.normal(size=(N, dim)).astype(np.float32) for name, dim in DIMS.items()}
VEC["mrl_byte"] = RNG.integers(0, 100, size=(N, 4)).astype(np.float32)


def _payload(i: int) -> dict:
    return {
        "color": ["red", "green", "blue"][i % 3],
        "price": float(RNG.integers(1, 10_000)) / 100,
        "document_id": int(i % 23),
        "tag": ["h1", "h2", "p", "li", "span"][i % 5],
        "geo": {"location": {"lat": 48 + float(RNG.random()) * 5, "lon": 11 + float(RNG.random()) * 3}},
        "update_time": f"2025-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
        "published_at": f"2025-01-{1 + i % 9:02d}T00:00:00Z",
    }


PAYLOAD = [_payload(i) for i in range(N)]
COL = ek.Collection.from_arrays(VEC, ids=IDS, payload=PAYLOAD, distance="cosine", name="docs_hybrid")
OTHER = ek.Collection.from_arrays(
    {"image-512": RNG.normal(size=(5, 4)).astype(np.float32)},
    ids=[DOC_ID] + IDS[1:5],
    distance="cosine",
    name="another_collection",
)
CLIENT = QdrantClient(":memory:")


def _load(col: ek.Collection, name: str) -> None:
    CLIENT.create_collection(
        name,
        vectors_config={k: models.VectorParams(size=col.space(k).dim, distance="Cosine") for k in col.vector_names},
    )
    points = col.retrieve(list(col.ids), with_vectors=True)
    CLIENT.upsert(
        name,
        points=[
            models.PointStruct(
                id=row["id"],
                vector={k: np.asarray(row[k or "vector"]).tolist() for k in col.vector_names},
                payload=PAYLOAD[i] if name == "docs_hybrid" else {},
            )
            for i, row in points.iterrows()
        ],
    )


_load(COL, "docs_hybrid")
_load(OTHER, "another_collection")


def v(name: str, seed: int = 0) -> list[float]:
    return np.random.default_rng(seed).normal(size=DIMS[name]).round(2).tolist()


BODIES = {
    # "Reciprocal Rank Fusion (RRF)" (hybrid-rrf)
    "rrf": {
        "prefetch": [
            {"query": v("sparse", 1), "using": "sparse", "limit": 20},
            {"query": v("dense", 2), "using": "dense", "limit": 20},
        ],
        "query": {"fusion": "rrf"},
        "limit": 10,
    },
    # "Setting RRF Constant k" (hybrid-rrf-k)
    "rrf_k": {
        "prefetch": [
            {"query": v("sparse", 1), "using": "sparse", "limit": 20},
            {"query": v("dense", 2), "using": "dense", "limit": 20},
        ],
        "query": {"rrf": {"k": 60}},
        "limit": 10,
    },
    # "Weighted RRF" (hybrid-rrf-weights; "// 2 prefetches here")
    "rrf_weights": {
        "prefetch": [
            {"query": v("sparse", 3), "using": "sparse", "limit": 20},
            {"query": v("dense", 4), "using": "dense", "limit": 20},
        ],
        "query": {"rrf": {"weights": [3.0, 1.0]}},
        "limit": 10,
    },
    # "Distribution-Based Score Fusion" (the same request with dbsf)
    "dbsf": {
        "prefetch": [
            {"query": v("sparse", 1), "using": "sparse", "limit": 20},
            {"query": v("dense", 2), "using": "dense", "limit": 20},
        ],
        "query": {"fusion": "dbsf"},
        "limit": 10,
    },
    # "Re-scoring examples": MRL byte vector, then the full vector
    "rescoring": {
        "prefetch": {"query": [1, 23, 45, 67], "using": "mrl_byte", "limit": 1000},
        "query": v("full", 5),
        "using": "full",
        "limit": 10,
    },
    # default vector, then a (here dense) "colbert" vector
    "rescoring_multivector": {
        "prefetch": {"query": v("", 6), "limit": 100},
        "query": v("colbert", 7),
        "using": "colbert",
        "limit": 10,
    },
    # "combine all the above techniques in a single query"
    "rescoring_multistage": {
        "prefetch": {
            "prefetch": {"query": [1, 23, 45, 67], "using": "mrl_byte", "limit": 1000},
            "query": v("full", 8),
            "using": "full",
            "limit": 100,
        },
        "query": v("colbert", 9),
        "using": "colbert",
        "limit": 10,
    },
    # "Re-ranking with payload values"
    "order_by_price": {
        "prefetch": [
            {
                "query": v("dense", 10),
                "using": "dense",
                "filter": {"must": {"key": "color", "match": {"value": "red"}}},
                "limit": 10,
            },
            {
                "query": v("dense", 10),
                "using": "dense",
                "filter": {"must": {"key": "color", "match": {"value": "green"}}},
                "limit": 10,
            },
        ],
        "query": {"order_by": "price"},
    },
    # "Query by ID"
    "by_id": {"query": DOC_ID, "using": "dense"},
    # ... from another collection
    "by_id_lookup": {
        "query": DOC_ID,
        "using": "512d-vector",
        "lookup_from": {"collection": "another_collection", "vector": "image-512"},
    },
}


def local(body: dict) -> list[tuple]:
    req = models.QueryRequest.model_validate(body)
    res = CLIENT.query_points(
        "docs_hybrid",
        query=req.query,
        prefetch=req.prefetch,
        query_filter=req.filter,
        using=req.using,
        limit=req.limit or 10,
        lookup_from=req.lookup_from,
        with_payload=False,
    )
    return [(p.id, p.score) for p in res.points]


@pytest.mark.parametrize("name", sorted(BODIES))
def test_hybrid_queries_page(name):
    body = BODIES[name]
    got = COL.query(body)
    want = local(body)
    if name == "order_by_price":
        assert got["id"].tolist() == [pid for pid, _ in want]
    else:
        assert_same(ids_scores(got), want, limit=body.get("limit", 10), label=name)


def test_grouping_example():
    """The page's "Grouping" example: query_points_groups by document_id."""
    body = {"query": v("", 11), "group_by": "document_id", "limit": 4, "group_size": 2}
    got = COL.query(body, endpoint="POST /collections/docs_hybrid/points/query/groups")
    res = CLIENT.query_points_groups("docs_hybrid", query=body["query"], group_by="document_id", limit=4, group_size=2)
    assert list(zip(got["group"], got["id"])) == [(g.id, p.id) for g in res.groups for p in g.hits]


@pytest.mark.parametrize("name", sorted(BOOSTING))
def test_score_boosting_bodies(name):
    body = dict(BOOSTING[name])
    body["prefetch"] = {**body["prefetch"], "query": v("", 12)}
    got = COL.query(body)
    want = local(body)
    assert_same(ids_scores(got), want, limit=10, label=name)
