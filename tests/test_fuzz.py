"""Hypothesis fuzzing: arbitrary filters and REST bodies either work or raise ExploreError;
nothing else escapes, and the collection is unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import explorekit as ek

COL = ek.Collection.from_arrays(
    np.random.default_rng(0).normal(size=(30, 4)),
    ids=range(1, 31),
    payload=[
        {
            "city": ["London", "Paris"][i % 2],
            "n": i,
            "tags": ["a", "b"][: i % 3],
            "obj": {"x": i % 4, "arr": [{"y": i}]},
        }
        for i in range(30)
    ],
)
SNAPSHOT = (COL.vectors().copy(), COL.ids.tolist(), COL.payload)

KEYS = st.sampled_from(
    [
        "must",
        "should",
        "must_not",
        "min_should",
        "key",
        "match",
        "value",
        "any",
        "except",
        "text",
        "range",
        "gt",
        "gte",
        "lt",
        "lte",
        "values_count",
        "is_empty",
        "is_null",
        "has_id",
        "nested",
        "filter",
        "conditions",
        "min_count",
        "city",
        "n",
        "tags",
        "obj.x",
        "obj.arr[].y",
        "tags[]",
        "positive",
        "negative",
        "strategy",
        "limit",
        "offset",
        "query",
        "recommend",
        "discover",
        "context",
        "target",
        "nearest",
        "using",
        "lookup_from",
        "collection",
        "vector",
        "params",
        "exact",
        "hnsw_ef",
        "quantization",
        "oversampling",
        "rescore",
        "ignore",
        "with_payload",
        "with_vector",
        "score_threshold",
        "searches",
        "filter",
        "average_vector",
        "best_score",
        "sum_scores",
        "prefetch",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(["London", "best_score", "sum_scores", "a", "x"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)

FIELD = st.fixed_dictionaries(
    {"key": st.sampled_from(["city", "n", "tags", "obj.x", "obj.arr[].y", "missing"])},
    optional={
        "match": st.dictionaries(st.sampled_from(["value", "any", "except", "text"]), JSON, max_size=2),
        "range": st.dictionaries(st.sampled_from(["gt", "gte", "lt", "lte"]), SCALARS, max_size=3),
        "values_count": st.dictionaries(st.sampled_from(["gt", "lt"]), SCALARS, max_size=2),
    },
)
FILTERS = st.recursive(
    st.one_of(FIELD, st.dictionaries(st.sampled_from(["has_id", "is_empty", "is_null"]), JSON, min_size=1, max_size=1)),
    lambda inner: st.dictionaries(
        st.sampled_from(["must", "should", "must_not"]), st.lists(inner, max_size=3), min_size=1, max_size=3
    ),
    max_leaves=8,
)
EXAMPLES = st.one_of(st.integers(-2, 40), st.text(max_size=3), st.lists(st.floats(-2, 2), min_size=3, max_size=5), JSON)
BODIES = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "positive": st.lists(EXAMPLES, max_size=3),
            "negative": st.lists(EXAMPLES, max_size=3),
            "strategy": JSON,
            "limit": JSON,
            "offset": JSON,
            "filter": st.one_of(FILTERS, JSON),
            "score_threshold": JSON,
            "params": JSON,
            "using": JSON,
            "with_payload": JSON,
            "lookup_from": JSON,
        },
    ),
    st.fixed_dictionaries(
        {
            "query": st.one_of(
                EXAMPLES,
                st.dictionaries(
                    st.sampled_from(["nearest", "recommend", "discover", "context"]), JSON, min_size=1, max_size=2
                ),
            )
        },
        optional={"limit": JSON, "filter": JSON, "params": JSON},
    ),
    st.fixed_dictionaries({"searches": st.lists(JSON, max_size=3)}),
)


def _unchanged():
    np.testing.assert_array_equal(COL.vectors(), SNAPSHOT[0])
    assert COL.ids.tolist() == SNAPSHOT[1]
    pd.testing.assert_frame_equal(COL.payload, SNAPSHOT[2])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flt=st.one_of(FILTERS, JSON))
def test_filters_work_or_raise_explore_error(flt):
    try:
        COL.search([1.0, 0.0, 0.0, 0.0], filter=flt, limit=3)
    except ek.ExploreError:
        pass
    _unchanged()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES)
def test_rest_bodies_work_or_raise_explore_error(body):
    try:
        COL.query(body)
    except ek.ExploreError:
        pass
    _unchanged()


@settings(max_examples=200, deadline=None)
@given(
    kwargs=st.dictionaries(
        st.sampled_from(
            [
                "positive",
                "negative",
                "strategy",
                "limit",
                "offset",
                "score_threshold",
                "params",
                "with_payload",
                "with_vectors",
                "using",
                "lookup_from",
            ]
        ),
        JSON,
        max_size=4,
    )
)
def test_recommend_keywords_work_or_raise_explore_error(kwargs):
    try:
        COL.recommend(**kwargs)
    except ek.ExploreError:
        pass
    _unchanged()


def _nest(inner, levels: int, how: str):
    """``inner`` inside ``levels`` lists or filters, built in a loop (no recursion)."""
    for _ in range(levels):
        inner = [inner] if how == "list" else {how: [inner]}
    return inner


_VEC = [1.0, 0.0, 0.0, 0.0]
_DEEP_BODIES = [
    lambda d: {"query": _VEC, "filter": d},
    lambda d: {"query": d},
    lambda d: {"query": _VEC, "limit": d},
    lambda d: {"positive": [d]},
    lambda d: {"searches": [{"query": _VEC, "filter": d}]},
    lambda d: {"query": _VEC, "filter": {"must": [{"has_id": d}]}},
    lambda d: {"unknown": d},
    lambda d: {"query": _VEC, "params": {"quantization": d}},
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.sampled_from(_DEEP_BODIES),
    how=st.sampled_from(["list", "must", "should", "must_not"]),
    levels=st.integers(65, 20_000),
)
def test_deeply_nested_bodies_raise_explore_error(body, how, levels):
    """A body nested far deeper than any filter may be (64 levels) gives ExploreError, never RecursionError."""
    try:
        COL.query(body(_nest({"key": "n", "range": {"gt": 1}}, levels, how)))
    except ek.ExploreError:
        pass
    _unchanged()


def test_values_beyond_float32_are_reported_not_warned():
    import pytest

    with pytest.raises(ek.RequestError, match="beyond float32"):
        COL.query({"query": {"nearest": [3.5e38, 0, 0, 0]}})
    with pytest.raises(ek.RequestError, match="neither a point id nor a vector"):
        COL.query({"query": {"nearest": 3.4028235677973366e38}})
    with pytest.raises(ek.NonFiniteError, match="rows \\[1\\]"):
        ek.Collection.from_arrays([[1.0, 2.0], [1e39, 0.0]])
    _unchanged()
