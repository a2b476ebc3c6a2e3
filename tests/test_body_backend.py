"""The new filter conditions, payload selectors, nulls, the query-less body and order_by through
the Qdrant-backed collection (qdrant-client local mode as the server): the same answers and the
same frames as the local collection."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from oracle import assert_same, ids_scores
from qdrant_client import QdrantClient

import explorekit as ek
from explorekit.backends.qdrant import to_qdrant

N = 40
RNG = np.random.default_rng(21)
VECTORS = RNG.normal(size=(N, 6)).astype(np.float32)
RECORDS = [
    {
        "n": [i % 5, (i * 3) % 7] if i % 6 == 0 else i % 5,
        "when": f"2024-01-{1 + i % 9:02d}T00:00:00Z",
        "location": {"lat": 50 + (i % 7) * 0.5, "lon": 10 + (i % 5) * 0.5},
        "country": {
            "name": ["DE", "FR", "JP"][i % 3],
            "cities": [{"name": f"c{i}", "pop": i}, {"name": f"d{i}", "pop": -i}],
        },
    }
    for i in range(N)
]
FILTERS = [
    {"must": [{"key": "location", "geo_radius": {"center": {"lat": 51.0, "lon": 11.0}, "radius": 80_000.0}}]},
    {
        "must": [
            {
                "key": "location",
                "geo_bounding_box": {
                    "top_left": {"lat": 52.0, "lon": 10.2},
                    "bottom_right": {"lat": 50.2, "lon": 11.2},
                },
            }
        ]
    },
    {
        "must_not": [
            {
                "key": "location",
                "geo_polygon": {
                    "exterior": {
                        "points": [
                            {"lat": 50.0, "lon": 10.0},
                            {"lat": 53.0, "lon": 10.0},
                            {"lat": 53.0, "lon": 12.0},
                            {"lat": 50.0, "lon": 10.0},
                        ]
                    },
                    "interiors": [
                        {
                            "points": [
                                {"lat": 51.0, "lon": 10.4},
                                {"lat": 52.0, "lon": 10.4},
                                {"lat": 52.0, "lon": 10.9},
                                {"lat": 51.0, "lon": 10.4},
                            ]
                        }
                    ],
                },
            }
        ]
    },
    {"must": [{"has_vector": ""}, {"key": "n", "values_count": {"gte": 2}}]},
    {"must": [{"slice": {"total": 3, "index": 1}}]},
    {"must": [{"key": "when", "range": {"gte": "2024-01-04T00:00:00Z"}}]},
]
SELECTORS = [
    ["country.name"],
    {"include": ["country.cities[].name", "n"]},
    {"exclude": ["country.cities"]},
    ["n", "when"],
]


@pytest.fixture(scope="module")
def pair():
    local = ek.Collection.from_arrays(VECTORS, ids=list(range(1, N + 1)), payload=RECORDS, name="body_backend")
    client = QdrantClient(":memory:")
    remote = to_qdrant(local, client, "body_backend", batch_size=16, progress=False)
    yield local, remote
    client.close()


def _payload_rows(frame, skip=("id", "score", "order_value")) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k not in skip and not (v is None or (isinstance(v, float) and math.isnan(v)))}
        for row in frame.to_dict("records")
    ]


@pytest.mark.oracle
@pytest.mark.parametrize("flt", FILTERS, ids=range(len(FILTERS)))
def test_new_conditions(pair, flt):
    local, remote = pair
    got, want = remote.search(VECTORS[0], filter=flt, limit=N), local.search(VECTORS[0], filter=flt, limit=N)
    assert_same(ids_scores(got), ids_scores(want))
    assert 0 < len(want) < N
    assert remote.scroll(filter=flt)["id"].tolist() == local.scroll(filter=flt)["id"].tolist()


@pytest.mark.oracle
@pytest.mark.parametrize("selector", SELECTORS, ids=[str(s) for s in SELECTORS])
def test_payload_selectors(pair, selector):
    local, remote = pair
    got = remote.query({"query": VECTORS[1].tolist(), "limit": 5, "with_payload": selector})
    want = local.query({"query": VECTORS[1].tolist(), "limit": 5, "with_payload": selector})
    assert list(got.columns) == list(want.columns)
    assert _payload_rows(got) == _payload_rows(want)
    assert got.attrs["query"] == want.attrs["query"]
    assert _payload_rows(remote.scroll(with_payload=selector)) == _payload_rows(local.scroll(with_payload=selector))


@pytest.mark.oracle
@pytest.mark.parametrize(
    "order",
    [
        "n",
        {"key": "n", "direction": "desc"},
        {"key": "when", "start_from": "2024-01-05T00:00:00Z"},
        {"key": "n", "start_from": 2},
    ],
    ids=str,
)
def test_order_by(pair, order):
    local, remote = pair
    for limit in (7, None):
        got = remote.scroll(order_by=order, limit=limit, filter=FILTERS[0])
        want = local.scroll(order_by=order, limit=limit, filter=FILTERS[0])
        assert list(got.columns) == list(want.columns)
        assert got[["id", "order_value"]].values.tolist() == want[["id", "order_value"]].values.tolist()


@pytest.mark.oracle
def test_query_less_bodies_and_nulls(pair):
    local, remote = pair
    for body in (
        {},
        {"filter": FILTERS[1], "limit": 4, "offset": 2},
        {"filter": None, "limit": None, "offset": None, "with_payload": ["n"], "with_vector": None},
        {"query": {"order_by": {"key": "n", "direction": "desc"}}, "limit": 6, "offset": 1},
    ):
        got, want = remote.query(body), local.query(body)
        assert ids_scores(got) == ids_scores(want)
        assert got.attrs["query"] == want.attrs["query"]
        assert _payload_rows(got) == _payload_rows(want)
        assert got.get("order_value", pd.Series()).tolist() == want.get("order_value", pd.Series()).tolist()
    body = {"query": VECTORS[2].tolist(), "params": {"hnsw_ef": None, "exact": None}, "score_threshold": None}
    assert_same(ids_scores(remote.query(body)), ids_scores(local.query(body)))
    assert isinstance(remote.query({"limit": 2}), pd.DataFrame)


@pytest.mark.oracle
def test_scroll_bodies(pair):
    local, remote = pair
    for body in (
        {"filter": FILTERS[4], "limit": 5, "offset": 9, "with_payload": {"exclude": ["country"]}},
        {"order_by": {"key": "when", "direction": "desc"}, "limit": 8, "with_payload": False},
        {"limit": 3, "offset": 30, "with_vector": True},
    ):
        got, want = remote.query(body, endpoint="/points/scroll"), local.query(body, endpoint="/points/scroll")
        assert list(got.columns) == list(want.columns)
        assert got["id"].tolist() == want["id"].tolist()
        assert _payload_rows(got, skip=("id", "vector")) == _payload_rows(want, skip=("id", "vector"))
        assert got.attrs["query"] == want.attrs["query"]
