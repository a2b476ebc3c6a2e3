"""Random sampling: ``col.sample`` and ``{"query": {"sample": "random"}}`` in ``col.query``.

A sample is random, so it is compared with qdrant-client local mode where the answer is
deterministic (asking for at least every passing point: the same set of ids), and otherwise by
its properties: distinct ids, all passing the filter, the frame of ``scroll``, a seed that
repeats the draw, and every point drawn about equally often.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qdrant_client import QdrantClient, models

import explorekit as ek
from explorekit.backends.qdrant import to_qdrant

N = 40
RNG = np.random.default_rng(3)
VECTORS = RNG.normal(size=(N, 4)).astype(np.float32)
PAYLOAD = [{"tag": ["a", "b", "c", "d"][i % 4], "n": i} for i in range(N)]
IDS = [int(i) for i in RNG.permutation(500)[:N]]
COL = ek.Collection.from_arrays(VECTORS, ids=IDS, payload=PAYLOAD, distance="dot")
FILTERS = [None, {"must": [{"key": "tag", "match": {"value": "b"}}]}, "n >= 30", {"must": [{"has_id": IDS[:3]}]}]


def _client() -> QdrantClient:
    client = QdrantClient(":memory:")
    client.create_collection("c", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
    client.upsert(
        "c", [models.PointStruct(id=i, vector=v.tolist(), payload=p) for i, v, p in zip(IDS, VECTORS, PAYLOAD)]
    )
    return client


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), flt=st.sampled_from(FILTERS), seed=st.integers(0, 2**32 - 1))
def test_a_sample_is_distinct_passing_points_in_scrolls_frame(n, flt, seed):
    got = COL.sample(n, filter=flt, seed=seed)
    passing = COL.scroll(filter=flt)
    assert list(got.columns) == list(passing.columns) and got["id"].dtype == passing["id"].dtype
    assert len(got) == min(n, len(passing)) and got["id"].is_unique
    assert set(got["id"]) <= set(passing["id"])
    want = passing.set_index("id").loc[got["id"]].reset_index()
    pd.testing.assert_frame_equal(got, want, check_index_type=False)


@pytest.mark.oracle
@pytest.mark.parametrize("flt", [f for f in FILTERS if not isinstance(f, str)], ids=["none", "tag", "has_id"])
@pytest.mark.parametrize("where", ["local", "memory", "disk"])
def test_every_passing_point_when_asking_for_more_agrees_with_local_mode(flt, where, tmp_path):
    client = _client()
    col = COL
    if where != "local":
        server = QdrantClient(":memory:") if where == "memory" else QdrantClient(path=str(tmp_path))
        col = to_qdrant(COL, server, "r", progress=False)
    local = client.query_points(
        "c",
        query=models.SampleQuery(sample=models.Sample.RANDOM),
        query_filter=None if flt is None else models.Filter(**flt),
        limit=N,
    )
    body = {"query": {"sample": "random"}, "limit": N, **({"filter": flt} if flt else {})}
    got = col.query(body)
    assert sorted(got["id"]) == sorted(p.id for p in local.points)
    assert sorted(col.sample(N, filter=flt)["id"]) == sorted(got["id"])
    # a /points/query answer: score 1 for every point, as local mode answers; col.sample is scroll-like
    assert list(got.columns) == ["id", "score", *COL.scroll().columns[1:]]
    assert set(got["score"]) == {p.score for p in local.points} == {1.0}


def test_the_documented_body_runs_verbatim():
    """Qdrant's documentation (Search page, "Random Sampling"), verbatim: 10 points by default."""
    got = COL.query({"query": {"sample": "random"}})
    assert len(got) == 10 and got["id"].is_unique
    picked = COL.query({"query": {"sample": "random"}, "limit": 3, "with_payload": ["tag"], "with_vector": True})
    assert list(picked.columns) == ["id", "score", "tag", "vector"] and len(picked) == 3


def test_offset_and_batches_of_sample_bodies_are_accepted_as_local_mode_accepts_them():
    """Qdrant takes ``offset`` with a sample query and sample queries inside /points/query/batch."""
    client = _client()
    offset = client.query_points("c", query=models.SampleQuery(sample=models.Sample.RANDOM), limit=3, offset=2)
    got = COL.query({"query": {"sample": "random"}, "limit": 3, "offset": 2})
    assert len(got) == len(offset.points) == 3 and got["id"].is_unique
    batch = client.query_batch_points("c", [models.QueryRequest(query=models.SampleQuery(sample="random"), limit=2)])
    frames = COL.query({"searches": [{"query": {"sample": "random"}, "limit": 2}]})
    assert [len(f) for f in frames] == [len(r.points) for r in batch] == [2]


def test_a_seed_repeats_the_draw():
    pd.testing.assert_frame_equal(COL.sample(5, seed=11), COL.sample(5, seed=11))
    assert len({tuple(COL.sample(5)["id"]) for _ in range(5)}) > 1


def test_every_point_is_drawn_about_equally_often():
    counts = pd.concat([COL.sample(8, seed=s)["id"] for s in range(500)]).value_counts()
    assert len(counts) == N  # each expected 100 times; binomial sd about 9
    assert counts.min() > 60 and counts.max() < 140


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: COL.sample(0), "n"),
        (lambda: COL.sample(2.5), "n"),
        (lambda: COL.sample(3, seed=-2), "seed"),
        (lambda: COL.sample(3, filter={"must": [{"key": "tag"}]}), "tag"),
        (lambda: COL.query({"query": {"sample": "sequential"}}), "sequential"),
    ],
)
def test_bad_input(call, fragment):
    with pytest.raises(ek.ExploreError, match=fragment):
        call()
