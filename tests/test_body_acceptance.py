"""Everything Qdrant accepts in a query body, explorekit accepts: ``null`` as the default,
payload selectors (include, exclude, nested key paths), ``with_vectors`` lists, and Qdrant's
order of checks (a missing point before an unknown vector name); each against qdrant-client
local mode."""

from __future__ import annotations

import math

import numpy as np
import pytest
from filter_strategies import RECORDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import Trio, ids_scores
from qdrant_client import QdrantClient, models

import explorekit as ek
from explorekit._support.errors import RequestError, UnknownIdError, UnknownVectorError

# Qdrant's own test data for payload selectors (tests/openapi, nested payload collection).
GERMANY = {
    "country": {
        "name": "Germany",
        "capital": "Berlin",
        "cities": [
            {"name": "Berlin", "population": 3.7, "location": {"lon": 13.76116, "lat": 52.33826}},
            {"name": "Munich", "population": 1.5, "location": {"lon": 11.57549, "lat": 48.13743}},
        ],
    }
}
JAPAN = {"country": {"name": "Japan", "capital": "Tokyo", "cities": [{"name": "Tokyo", "population": 9.3}]}}
NESTED = [GERMANY, JAPAN, {"country": {"name": "Nowhere"}}, {"other": [1, 2]}]


@pytest.fixture(scope="module")
def client():
    return QdrantClient(":memory:")


@pytest.fixture(scope="module")
def nested(client):
    vectors = np.random.default_rng(5).normal(size=(len(NESTED), 3)).astype(np.float32)
    return Trio(vectors, ids=[1, 2, 3, 4], payload=NESTED, client=client, edge=False)


def shown_payloads(frame, columns) -> list[dict]:
    """Each row's payload as the frame shows it: missing (None/NaN) keys left out."""
    out = []
    for record in frame.to_dict("records"):
        out.append({c: record[c] for c in columns if c in record and not _missing(record[c])})
    return out


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def local_payloads(trio, selector) -> list[dict]:
    """Local mode's payloads for a selector; a REST dict becomes the model the server parses it to."""
    if isinstance(selector, dict):
        selector = (models.PayloadSelectorInclude if "include" in selector else models.PayloadSelectorExclude)(
            **selector
        )
    points, _ = trio.client.scroll(trio.name, limit=100, with_payload=selector)
    return [{k: v for k, v in (p.payload or {}).items() if v is not None} for p in points]


SELECTORS = [
    ["country.name", "country.capital"],
    ["country.cities"],
    ["country.cities[].name"],
    ["country.cities[].location.lat", "other"],
    ["country.cities[0]"],
    ["country", "country.name"],
    {"include": ["country.name"]},
    {"exclude": ["country.cities"]},
    {"exclude": ["country.name", "country.capital"]},
    {"exclude": ["country.cities[].location", "other"]},
    {"exclude": ["other[]"]},
]


@pytest.mark.oracle
@pytest.mark.parametrize("selector", SELECTORS, ids=[str(s) for s in SELECTORS])
def test_payload_selectors_match_local_mode(nested, selector):
    columns = nested.col.payload.columns
    for frame in (
        nested.col.scroll(with_payload=selector),
        nested.col.query({"query": [1, 0, 0], "limit": 10, "with_payload": selector}).sort_values("id"),
    ):
        assert shown_payloads(frame, columns) == local_payloads(nested, selector)


@pytest.mark.oracle
def test_qdrant_client_selector_models(nested):
    for model in (
        models.PayloadSelectorInclude(include=["country.cities[].name"]),
        models.PayloadSelectorExclude(exclude=["country.cities"]),
    ):
        frame = nested.col.scroll(with_payload=model)
        assert shown_payloads(frame, nested.col.payload.columns) == local_payloads(nested, model)


def test_openapi_selector_case_verbatim(nested):
    body = {
        "query": [1, 0, 0],
        "filter": {"must": [{"key": "country.name", "match": {"value": "Germany"}}]},
        "limit": 3,
        "with_payload": {"include": ["country.cities[].name"]},
    }
    frame = nested.col.query(body)
    assert frame["country"].tolist() == [{"cities": [{"name": "Berlin"}, {"name": "Munich"}]}]
    assert "other" not in frame.columns
    assert frame.attrs["query"]["with_payload"] == ["country.cities[].name"]
    excluded = nested.col.query({**body, "with_payload": {"exclude": ["country.cities"]}})
    assert excluded["country"].tolist() == [{"name": "Germany", "capital": "Berlin"}]
    assert excluded.attrs["query"]["with_payload"] == {"exclude": ["country.cities"]}


_PATHS = ["a", "b", "c", "a.x", "a[]", "a[].x", "c[].y", "b.y", "c[0]", "c[].x[]", "a.x.y"]


@pytest.mark.oracle
@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    records=st.lists(RECORDS, min_size=1, max_size=6),
    paths=st.lists(st.sampled_from(_PATHS), min_size=1, max_size=3),
    mode=st.sampled_from(["list", "include", "exclude"]),
)
def test_random_selectors_match_local_mode(client, records, paths, mode):
    records = [*records, {"a": 1, "b": 1, "c": 1}]  # every top key is a column
    selector = paths if mode == "list" else {mode: paths}
    trio = Trio(np.ones((len(records), 2), np.float32), payload=records, client=client, edge=False)
    try:
        want = local_payloads(trio, selector)
        got = shown_payloads(trio.col.scroll(with_payload=selector), trio.col.payload.columns)
    finally:
        client.delete_collection(trio.name)
    assert got == want


# ------------------------------------------------------------------ null means the default
NULLABLE = [
    "with_payload",
    "with_vector",
    "filter",
    "params",
    "score_threshold",
    "offset",
    "using",
    "lookup_from",
    "limit",
]


@pytest.mark.parametrize("key", NULLABLE)
def test_null_is_the_default(nested, key):
    body = {"query": [1, 0, 0], "limit": 3}
    plain = nested.col.query(body)
    with_null = nested.col.query({**body, key: None})
    assert with_null.drop(columns=[]).to_dict("records") == plain.to_dict("records") or key == "limit"
    if key == "limit":
        assert len(with_null) == len(NESTED)  # the default limit, 10


def test_nulls_inside_the_body(nested):
    body = {
        "query": {"recommend": {"positive": [1], "negative": None, "strategy": None}},
        "filter": {"must": None, "should": [{"key": "country.name", "match": {"value": "Japan"}}], "must_not": None},
        "params": {"hnsw_ef": None, "exact": None, "quantization": {"rescore": None, "oversampling": None}},
        "lookup_from": None,
        "with_payload": None,
    }
    frame = nested.col.query(body)
    assert frame["id"].tolist() == [2]
    search = nested.col.query({"vector": [1, 0, 0], "filter": None, "with_vector": None, "score_threshold": None})
    assert len(search) == len(NESTED)


@pytest.mark.oracle
def test_with_vectors_lists(client):
    rng = np.random.default_rng(7)
    vectors = {"a": rng.normal(size=(5, 3)).astype(np.float32), "b": rng.normal(size=(5, 2)).astype(np.float32)}
    trio = Trio(vectors, client=client, edge=False, distance="dot")
    frame = trio.col.query({"query": [1, 0, 0], "using": "a", "with_vector": ["b"], "limit": 2})
    assert list(frame.columns) == ["id", "score", "b"]
    want = trio.client.query_points(trio.name, query=[1, 0, 0], using="a", with_vectors=["b"], limit=2).points
    assert [p.id for p in want] == frame["id"].tolist()
    for cell, point in zip(frame["b"], want):
        np.testing.assert_allclose(cell, point.vector["b"], rtol=1e-6)


# ------------------------------------------------------------------ order of checks
@pytest.mark.oracle
def test_a_missing_point_before_an_unknown_vector(client):
    rng = np.random.default_rng(8)
    home = Trio({"x": rng.normal(size=(4, 2)).astype(np.float32)}, client=client, edge=False)
    other = Trio({"y": rng.normal(size=(4, 2)).astype(np.float32)}, client=client, edge=False)
    cases = [
        ({"query": 99, "using": "x", "lookup_from": {"collection": other.name, "vector": "zz"}}, UnknownIdError),
        ({"query": 99, "using": "zz"}, UnknownIdError),
        ({"query": {"recommend": {"positive": [99, 1]}}, "using": "zz"}, UnknownIdError),
        ({"query": {"recommend": {"positive": [1, 99]}}, "using": "zz"}, UnknownVectorError),  # 1's vector first
        ({"query": 1, "using": "x", "lookup_from": {"collection": other.name, "vector": "zz"}}, UnknownVectorError),
        ({"query": [1.0, 0.0], "using": "zz"}, UnknownVectorError),
    ]
    for body, error in cases:
        with pytest.raises(error):
            home.col.query(body)
        lookup = body.get("lookup_from")
        with pytest.raises(ValueError, match="Point 99 is not found" if error is UnknownIdError else "(?i)vector zz"):
            query = body["query"]
            query = (
                models.RecommendQuery(recommend=models.RecommendInput(**query["recommend"]))
                if isinstance(query, dict)
                else query
            )
            home.client.query_points(
                home.name,
                query=query,
                using=body["using"] if "using" in body else None,
                lookup_from=None if lookup is None else models.LookupLocation(**lookup),
            )


def test_bad_selectors_name_the_fix(nested):
    with pytest.raises(RequestError, match="include"):
        nested.col.scroll(with_payload={"keep": ["country"]})
    with pytest.raises(RequestError, match="not a valid key path"):
        nested.col.scroll(with_payload=["country..name"])
    with pytest.raises(RequestError, match="'countri'"):
        nested.col.scroll(with_payload={"exclude": ["countri.name"]})
    assert ids_scores(nested.col.search([1, 0, 0], limit=1, with_payload=False))[0][0] in (1, 2, 3, 4)


# ------------------------------------------------------------------ scroll form and order_by
_ORDER_VALUES = st.one_of(
    st.integers(-2, 3),
    st.sampled_from([1.0, 2.5, -0.5, 2**53 + 0.0]),
    st.sampled_from(["2024-01-01T00:00:00Z", "2024-01-01", "2023-12-31T23:00:00-01:00", "soon", ""]),
    st.booleans(),
    st.none(),
)
_ORDER_CELLS = st.one_of(
    _ORDER_VALUES,
    _ORDER_VALUES,
    st.lists(st.one_of(_ORDER_VALUES, st.lists(_ORDER_VALUES, max_size=2)), max_size=3),
    st.fixed_dictionaries({"v": _ORDER_VALUES}),
)
_ABSENT = object()
_ORDER_RECORDS = st.lists(
    st.builds(
        lambda n, m: {k: v for k, v in (("n", n), ("m", m)) if v is not _ABSENT},
        st.one_of(_ORDER_CELLS, st.just(_ABSENT)),
        st.integers(0, 2),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.oracle
@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    records=_ORDER_RECORDS,
    key=st.sampled_from(["n", "n[]", "n.v", "m"]),
    direction=st.sampled_from([None, "asc", "desc"]),
    start=st.one_of(st.none(), st.integers(-1, 3), st.just(2.5), st.just("2024-01-01T00:00:00Z")),
    limit=st.integers(1, 20),
    filtered=st.booleans(),
)
def test_order_by_matches_local_mode(client, records, key, direction, start, limit, filtered):
    ids = [7 * i % 13 + 1 for i in range(len(records))]  # stored out of id order
    order = {
        "key": key,
        **({"direction": direction} if direction else {}),
        **({"start_from": start} if start is not None else {}),
    }
    flt = {"must": [{"key": "m", "range": {"gte": 1}}]} if filtered else None
    trio = Trio(np.ones((len(records), 2), np.float32), ids=ids, payload=records, client=client, edge=False)
    try:
        want, _ = trio.client.scroll(
            trio.name,
            scroll_filter=None if flt is None else models.Filter(**flt),
            order_by=models.OrderBy(**order),
            limit=limit,
            with_payload=False,
        )
        frame = trio.col.scroll(filter=flt, order_by=order, limit=limit, with_payload=False)
    finally:
        client.delete_collection(trio.name)
    got = list(zip(frame["id"].tolist(), frame["order_value"].tolist())) if len(frame) else []
    assert got == [(p.id, p.order_value) for p in want]


@pytest.mark.oracle
@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(records=_ORDER_RECORDS, limit=st.integers(1, 15), offset=st.integers(0, 5), filtered=st.booleans())
def test_the_query_less_body_matches_local_mode(client, records, limit, offset, filtered):
    ids = [7 * i % 13 + 1 for i in range(len(records))]
    flt = {"must": [{"key": "m", "range": {"gte": 1}}]} if filtered else None
    trio = Trio(np.ones((len(records), 2), np.float32), ids=ids, payload=records, client=client, edge=False)
    try:
        want = trio.client.query_points(
            trio.name,
            query_filter=None if flt is None else models.Filter(**flt),
            limit=limit,
            offset=offset,
            with_payload=False,
        ).points
        frame = trio.col.query({"filter": flt, "limit": limit, "offset": offset, "with_payload": False})
    finally:
        client.delete_collection(trio.name)
    assert ids_scores(frame) == [(p.id, p.score) for p in want]
    assert "query" not in frame.attrs["query"]


def test_the_scroll_form_in_a_batch_and_its_errors(nested):
    frames = nested.col.query({"searches": [{"query": [1, 0, 0], "limit": 2}, {"limit": 2}, {"query": 1, "limit": 1}]})
    assert [len(f) for f in frames] == [2, 2, 1]
    assert frames[1]["id"].tolist() == [1, 2] and frames[1]["score"].tolist() == [1.0, 1.0]
    assert nested.col.query({})["id"].tolist() == [1, 2, 3, 4]
    with pytest.raises(RequestError, match="a query is needed to use a score threshold"):
        nested.col.query({"filter": None, "score_threshold": 0.5})
    with pytest.raises(RequestError, match="'asc' or 'desc'"):
        nested.col.scroll(order_by={"key": "n", "direction": "up"})
    with pytest.raises(RequestError, match="start_from"):
        nested.col.scroll(order_by={"key": "n", "start_from": "later"})


@pytest.mark.parametrize("start", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_start_from_is_refused_naming_it(nested, start):
    """Regression (review 2021 #11): start_from NaN returned 0 rows silently (scroll and body)."""
    with pytest.raises(RequestError, match=rf"start_from.*{start}.*not a finite number"):
        nested.col.scroll(order_by={"key": "n", "start_from": start})
    with pytest.raises(RequestError, match=rf"start_from.*{start}.*not a finite number"):
        nested.col.query({"order_by": {"key": "n", "start_from": start}, "limit": 2})


@pytest.mark.oracle
@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    records=_ORDER_RECORDS,
    direction=st.sampled_from(["asc", "desc"]),
    limit=st.integers(1, 10),
    offset=st.integers(0, 4),
    filtered=st.booleans(),
)
def test_the_order_by_query_matches_local_mode(client, records, direction, limit, offset, filtered):
    ids = [7 * i % 13 + 1 for i in range(len(records))]
    flt = {"must": [{"key": "m", "range": {"gte": 1}}]} if filtered else None
    order = {"key": "n", "direction": direction}
    trio = Trio(np.ones((len(records), 2), np.float32), ids=ids, payload=records, client=client, edge=False)
    try:
        want = trio.client.query_points(
            trio.name,
            query=models.OrderByQuery(order_by=models.OrderBy(**order)),
            query_filter=None if flt is None else models.Filter(**flt),
            limit=limit,
            offset=offset,
            with_payload=False,
        ).points
        frame = trio.col.query({"query": {"order_by": order}, "filter": flt, "limit": limit, "offset": offset})
    finally:
        client.delete_collection(trio.name)
    assert ids_scores(frame) == [(p.id, p.score) for p in want]
    assert frame["order_value"].tolist() == [p.order_value for p in want]
    assert frame.attrs["query"]["query"] == {"order_by": order}


@pytest.mark.oracle
@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    records=_ORDER_RECORDS,
    limit=st.integers(1, 10),
    start=st.one_of(st.none(), st.integers(0, 14)),
    ordered=st.booleans(),
    filtered=st.booleans(),
)
def test_scroll_bodies_match_local_mode(client, records, limit, start, ordered, filtered):
    ids = [7 * i % 13 + 1 for i in range(len(records))]
    flt = {"must": [{"key": "m", "range": {"gte": 1}}]} if filtered else None
    order = {"key": "n", "direction": "desc"} if ordered else None
    start = None if ordered else start
    trio = Trio(np.ones((len(records), 2), np.float32), ids=ids, payload=records, client=client, edge=False)
    try:
        want, _ = trio.client.scroll(
            trio.name,
            scroll_filter=None if flt is None else models.Filter(**flt),
            limit=limit,
            offset=start,
            order_by=None if order is None else models.OrderBy(**order),
            with_payload=False,
        )
        body = {"filter": flt, "limit": limit, "offset": start, "order_by": order, "with_payload": False}
        frame = trio.col.query(body, endpoint="/points/scroll")
    finally:
        client.delete_collection(trio.name)
    assert frame["id"].tolist() == [p.id for p in want]
    assert "score" not in frame.columns
    again = trio.col.query(frame.attrs["query"], endpoint="/points/scroll")
    assert again["id"].tolist() == frame["id"].tolist()


def test_openapi_slice_partition_through_scroll_bodies():
    """Qdrant's tests/openapi slice test: the slices of a /points/scroll filter partition the points."""
    ids = list(range(1, 201))
    col = ek.Collection.from_arrays(np.ones((len(ids), 2), np.float32), ids=ids)
    seen: list[int] = []
    for index in range(5):
        body = {
            "filter": {"must": [{"slice": {"total": 5, "index": index}}]},
            "limit": len(ids) + 1,
            "with_payload": False,
            "with_vector": False,
        }
        part = col.query(body, endpoint="/points/scroll")["id"].tolist()
        assert 0 < len(part) < len(ids)
        seen += part
    assert sorted(seen) == ids
    with pytest.raises(RequestError, match="start_from"):
        col.query({"order_by": "n", "offset": 3})
