"""Qdrant's Facet API: ``col.facet`` against qdrant-client local mode, exactly on counts and order.

Hypothesis writes the payloads: strings (some of them UUIDs in other spellings), integers,
booleans, floats, nulls, arrays of all of these (with repeats and nested arrays), objects and
missing keys; filters keep a part of the points.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qdrant_client import QdrantClient, models

import explorekit as ek
from explorekit.backends.qdrant import to_qdrant

UUID = uuid.UUID(int=0x936DA01F9ABD4D9D80C702AF85C822A8)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["a", "b", "B", "", "é", str(UUID), UUID.hex.upper(), "{" + str(UUID) + "}"]),
    st.sampled_from([0.0, 1.0, 2.5, -1.5]),
    st.none(),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(st.one_of(SCALARS, st.lists(SCALARS, max_size=2)), max_size=4),
    st.fixed_dictionaries({"k": SCALARS}),
)
RECORD = st.fixed_dictionaries(
    {}, optional={"k": VALUES, "o": st.fixed_dictionaries({}, optional={"k": VALUES}), "f": st.booleans()}
)
KEYS = ["k", "o.k", "k[]", "k.k"]
FILTERS = [None, {"must": [{"key": "f", "match": {"value": True}}]}, {"must_not": [{"is_empty": {"key": "o"}}]}]


def _both(records: list[dict]):
    col = ek.Collection.from_arrays(np.ones((len(records), 2), np.float32), payload=records)
    client = QdrantClient(":memory:")
    client.create_collection("c", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    client.upsert("c", [models.PointStruct(id=i, vector=[1.0, 1.0], payload=r) for i, r in enumerate(records)])
    return col, client


def _local(client, key, flt, limit):
    hits = client.facet("c", key, facet_filter=None if flt is None else models.Filter(**flt), limit=limit).hits
    return [(h.value, h.count) for h in hits]


def _ours(col, key, flt, limit):
    frame = col.facet(key, filter=flt, limit=limit)
    assert list(frame.columns) == ["value", "count"]
    return list(zip(frame["value"].tolist(), frame["count"].tolist()))


def _typed(hits):
    """Hits with their types: True == 1 in Python, but a facet keeps them apart."""
    return [(type(v).__name__, v, c) for v, c in hits]


@pytest.mark.oracle
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(RECORD, min_size=1, max_size=25), key=st.sampled_from(KEYS), limit=st.integers(1, 12))
def test_counts_and_order_agree_with_local_mode(records, key, limit):
    col, client = _both(records)
    remote = to_qdrant(col, QdrantClient(":memory:"), "r", progress=False)  # the server's own facet
    for flt in FILTERS:
        want = _typed(_local(client, key, flt, limit))
        assert _typed(_ours(col, key, flt, limit)) == want, (key, flt)
        assert _typed(_ours(remote, key, flt, limit)) == want, ("through Qdrant", key, flt)


@pytest.mark.oracle
@pytest.mark.parametrize("where", ["local", "memory", "disk"])
def test_the_rules_on_one_example(where, tmp_path):
    records = [
        {"tag": ["a", "b", "a"]},  # a repeated value counts once for its point
        {"tag": "b"},
        {"tag": None},  # null counts nowhere
        {},  # nor does a missing key
        {"tag": [1, True, 1.5, "b"]},  # floats are not faceted; 1 and True stay apart
        {"tag": [[True]]},  # a nested array is not flattened twice
        {"tag": "a"},
    ]
    col, client = _both(records)
    if where != "local":
        server = QdrantClient(":memory:") if where == "memory" else QdrantClient(path=str(tmp_path))
        col = to_qdrant(col, server, "r", progress=False)
    want = [("b", 3), ("a", 2), (True, 1), (1, 1)]
    assert _typed(_ours(col, "tag", None, 10)) == _typed(want) == _typed(_local(client, "tag", None, 10))
    assert _ours(col, "tag", None, 2) == want[:2]
    assert _ours(col, "tag", {"must": [{"key": "tag", "match": {"value": "a"}}]}, 10) == [("a", 2), ("b", 1)]
    assert _ours(col, "missing", None, 10) == []


def test_the_frame():
    col, _ = _both([{"t": "x"}, {"t": 3}])
    frame = col.facet("t")
    assert frame["value"].dtype == object and frame["count"].dtype == np.int64
    assert frame["value"].tolist() == [3, "x"]


@pytest.mark.parametrize(
    "kw, fragment",
    [
        (dict(key=""), "key"),
        (dict(key=5), "key"),
        (dict(key="t", limit=0), "limit"),
        (dict(key="t", limit=1.5), "limit"),
        (dict(key="t", exact="yes"), "exact"),
        (dict(key="t[", limit=3), "t\\["),
        (dict(key="t", filter={"must": [{"key": "t"}]}), "t"),
    ],
)
def test_bad_input(kw, fragment):
    col, _ = _both([{"t": "x"}])
    with pytest.raises(ek.ExploreError, match=fragment):
        col.facet(**kw)


@pytest.mark.oracle
def test_the_documented_bodies_run_verbatim():
    """The bodies of Qdrant's documentation (Payload page, "Facet counts"), verbatim."""
    records = [{"color": ["red", "blue"][i % 2], "size": ["S", "M", "L", "XL"][i % 4]} for i in range(30)]
    col, client = _both(records)
    body = {"key": "size", "filter": {"must": {"key": "color", "match": {"value": "red"}}}}
    want = _local(client, "size", body["filter"], 10)
    assert _ours_frame(col.query(body)) == want == [("S", 8), ("L", 7)]
    exact = {"key": "size", "exact": True}
    assert _ours_frame(col.query(exact)) == _local(client, "size", None, 10)
    assert _ours_frame(col.query(exact, endpoint="POST /collections/{collection_name}/facet")) == _ours(
        col, "size", None, 10
    )
    with pytest.raises(ek.ExploreError, match="sample"):
        col.query({"key": "size", "sample": 3})


def _ours_frame(frame):
    return list(zip(frame["value"].tolist(), frame["count"].tolist()))
