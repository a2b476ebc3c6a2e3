"""Score-boosting formulas (Qdrant's FormulaQuery) against qdrant-client local mode.

Until prefetch stages run inside col.query, the harness runs each prefetch stage in local
mode, hands its (ids, scores) to explorekit's ``score_formula`` over the same payload, and
compares with local mode's ``query_points(prefetch=..., query=FormulaQuery(...))`` over the
same candidates: same ids, scores to 1e-5, order equal except inside groups of equal scores;
or both refuse the query.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qdrant_client import QdrantClient, models

from explorekit._support.errors import ExploreError, FilterError, RequestError
from explorekit.data.ids import IdIndex
from explorekit.data.payload import Payload
from explorekit.engine.formula_eval import (
    candidate_union,
    evaluate_formula,
    formula_order,
    formula_terms,
    score_formula,
)
from explorekit.query.formula_parse import parse_formula

REL = 1e-5


def _point_payload(i: int) -> dict:
    """Varied payload: every operator finds numbers, strings, datetimes and geo points."""
    p: dict = {
        "price": round(1.5 + 0.75 * i, 2),
        "pop": i % 5,
        "tag": ["h1", "p", "li", "h2", "x"][i % 5],
        "when": f"2025-01-{1 + i % 28:02d}T{i % 24:02d}:30:00Z",
        "update_time": f"2025-01-{1 + (5 * i) % 28:02d} {i % 24:02d}:15:00+01:00",
        "published_at": [f"2024-{1 + i % 12:02d}-03"],
        "geo": {"location": {"lat": 48.0 + 0.1 * i, "lon": 11.0 + 0.2 * i}},
        "one": [0.25 * (i + 1)],
        "neg": -1.0 - i,
        "flag": i % 2 == 0,
        "nested": {"v": (i * 7) % 11 - 5},
    }
    if i % 3 == 0:
        p["opt"] = i / 4
    if i % 4 == 1:
        p["many"] = [1, 2]
    if i % 6 == 2:
        p["nul"] = None
    if i % 4 == 0:
        del p["geo"]
    if i % 3 == 1:
        p["events"] = [{"kind": "view", "n": i}, {"kind": "buy" if i % 2 else "view", "n": 1}]
    return p


N = 24
PAYLOADS = [_point_payload(i) for i in range(N)]
VECTORS = [[1.0, 0.1 * i, math.sin(i)] for i in range(N)]


@pytest.fixture(scope="module")
def world():
    client = QdrantClient(":memory:")
    client.create_collection("f", vectors_config=models.VectorParams(size=3, distance=models.Distance.DOT))
    client.upsert("f", [models.PointStruct(id=i, vector=VECTORS[i], payload=PAYLOADS[i]) for i in range(N)], wait=True)
    return client, Payload.from_records(PAYLOADS), IdIndex(range(N))


PREFETCH = {
    "one": [models.Prefetch(query=[1.0, 0.3, 0.2], limit=12)],
    "two": [
        models.Prefetch(query=[1.0, 0.3, 0.2], limit=10),
        models.Prefetch(query=[0.0, -0.2, 1.0], limit=10),
    ],
}


def local(client: QdrantClient, prefetch: list, formula, defaults=None):
    """Local mode's answer: [(id, score)] over every candidate, or the exception it raised."""
    try:
        query = models.FormulaQuery(formula=formula, defaults=defaults or {})
        points = client.query_points("f", prefetch=prefetch, query=query, limit=1000).points
    except Exception as err:  # ValueError, pydantic's ValidationError, AttributeError: all refusals
        return err
    return [(p.id, p.score) for p in points]


def ours(client: QdrantClient, payload: Payload, ids: IdIndex, prefetch: list, formula, defaults=None):
    """explorekit's answer over the candidates local mode's prefetch stages return."""
    stages = []
    for p in prefetch:
        points = client.query_points("f", query=p.query, limit=p.limit, query_filter=p.filter).points
        stages.append((ids.rows([q.id for q in points]), np.array([q.score for q in points])))
    try:
        rows, scores = score_formula(
            parse_formula({"formula": _json(formula), "defaults": _json(defaults or {})}), payload, ids, stages
        )
    except ExploreError as err:
        return err
    order = formula_order(scores)
    return [(ids.take(rows[order[k : k + 1]])[0], float(scores[order[k]])) for k in range(len(order))]


def _json(value):
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def assert_agree(mine, theirs, context=""):
    if isinstance(theirs, Exception) or isinstance(mine, Exception):
        assert isinstance(theirs, Exception) and isinstance(mine, Exception), (
            f"{context}: one side refused: explorekit={mine!r} local={theirs!r}"
        )
        return
    assert len(mine) == len(theirs), f"{context}: {len(mine)} vs {len(theirs)} results"
    want = dict(theirs)
    assert set(dict(mine)) == set(want), context
    for pid, score in mine:
        assert score == pytest.approx(want[pid], rel=REL, abs=1e-6), f"{context}: point {pid}: {score} vs {want[pid]}"
    for (a, sa), (b, sb) in zip(mine, theirs):
        if a != b:  # only a tie (equal scores up to rounding) may order differently
            assert sa == pytest.approx(sb, rel=REL, abs=1e-6), f"{context}: {mine} vs {theirs}"


def check(world, formula, defaults=None, prefetch="one", expect_error=None):
    client, payload, ids = world
    stages = PREFETCH[prefetch]
    theirs = local(client, stages, formula, defaults)
    mine = ours(client, payload, ids, stages, formula, defaults)
    assert_agree(mine, theirs, f"{formula!r} defaults={defaults!r}")
    if expect_error is not None:
        assert isinstance(mine, Exception), f"expected an error, got {mine}"
        assert expect_error in str(mine), str(mine)
    elif isinstance(mine, Exception):
        raise AssertionError(f"both refused {formula!r}: {mine} / {theirs}")
    return mine


# ---------------------------------------------------------------- one formula per operator
OPERATOR_CASES = {
    "constant": 2.5,
    "score": "$score",
    "score0": "$score[0]",
    "payload": "price",
    "payload_single_array": "one",
    "nested_key": "nested.v",
    "mult": {"mult": ["$score", "price", 0.5]},
    "mult_zero_skips_error": {"mult": [0.0, {"div": {"left": 1, "right": 0}}]},
    "sum": {"sum": ["$score", "price", 1.0, "nested.v"]},
    "sum_empty": {"sum": []},
    "mult_empty": {"mult": []},
    "neg": {"neg": "price"},
    "abs": {"abs": "nested.v"},
    "div": {"div": {"left": "$score", "right": "price"}},
    "div_left_zero": {"div": {"left": 0, "right": 0}},
    "div_by_zero_default": {"div": {"left": 1, "right": {"mult": ["pop", 0]}, "by_zero_default": 7.5}},
    "sqrt": {"sqrt": "price"},
    "pow": {"pow": {"base": "price", "exponent": 1.5}},
    "pow_negative_base_integer": {"pow": {"base": "neg", "exponent": 3}},
    "exp": {"exp": "$score"},
    "log10": {"log10": "price"},
    "ln": {"ln": "price"},
    "max": {"max": ["$score", "nested.v", 0.5]},
    "min": {"min": ["$score", "nested.v", 0.5]},
    "max_two": {"max": [1.0, "price"]},
    "acosh": {"acosh": {"sum": ["price", 1]}},
    "condition_match": {"key": "tag", "match": {"any": ["h1", "h2"]}},
    "condition_range": {"key": "price", "range": {"gte": 10}},
    "condition_filter": {"must": [{"key": "pop", "match": {"value": 2}}]},
    "condition_has_id": {"has_id": [3, 9, 13, 21]},
    "condition_empty_filter": {},
    "condition_is_empty": {"is_empty": {"key": "opt"}},
    "condition_is_null": {"is_null": {"key": "nul"}},
    "condition_values_count": {"key": "many", "values_count": {"gte": 2}},
    "condition_text": {"key": "tag", "match": {"text": "H1"}},
    "condition_min_should": {
        "min_should": {
            "conditions": [
                {"key": "pop", "range": {"gt": 2}},
                {"key": "tag", "match": {"value": "p"}},
                {"has_id": [9]},
            ],
            "min_count": 2,
        }
    },
    "condition_nested": {"nested": {"key": "events", "filter": {"must": [{"key": "kind", "match": {"value": "buy"}}]}}},
    "condition_datetime_range": {"key": "when", "range": {"gte": "2025-01-10T00:00:00z"}},
    "datetime": {"datetime": "2025-01-15T00:00:00Z"},
    "datetime_key": {"datetime_key": "when"},
    "datetime_diff": {"sum": [{"datetime_key": "when"}, {"neg": {"datetime": "2025-01-10T00:00:00Z"}}]},
    "geo_distance": {
        "sum": [
            {"geo_distance": {"origin": {"lat": 52.504043, "lon": 13.393236}, "to": "geo.location"}},
            {"geo_distance": {"origin": {"lat": -33.9, "lon": 151.2}, "to": "absent"}},
        ]
    },
    "lin_decay": {"lin_decay": {"x": "price", "target": 5, "scale": 10, "midpoint": 0.3}},
    "lin_decay_defaults": {"lin_decay": {"x": "$score"}},
    "lin_decay_midpoint_1": {"lin_decay": {"x": "price", "midpoint": 1.0}},
    "exp_decay": {"exp_decay": {"x": "price", "target": 5, "scale": 10, "midpoint": 0.3}},
    "exp_decay_defaults": {"exp_decay": {"x": "$score"}},
    "gauss_decay": {"gauss_decay": {"x": "price", "target": 5, "scale": 10, "midpoint": 0.3}},
    "gauss_decay_defaults": {"gauss_decay": {"x": "$score"}},
}


OPERATOR_DEFAULTS = {"geo.location": {"lat": 48.1, "lon": 11.5}, "absent": [{"lat": 0.5, "lon": 0.5}]}


@pytest.mark.parametrize("name", sorted(OPERATOR_CASES))
def test_operator_matches_local_mode(world, name):
    check(world, OPERATOR_CASES[name], defaults=OPERATOR_DEFAULTS)


@pytest.mark.parametrize("name", sorted(OPERATOR_CASES))
def test_operator_matches_local_mode_with_two_prefetches(world, name):
    check(world, OPERATOR_CASES[name], defaults=OPERATOR_DEFAULTS, prefetch="two")


def test_score_index_reads_each_prefetch_and_defaults(world):
    formula = {"sum": ["$score[0]", {"mult": [10, "$score[1]"]}, "$score[5]"]}
    check(world, formula, prefetch="two")
    check(world, formula, defaults={"$score[1]": -3.0, "$score[5]": 0.5}, prefetch="two")
    check(world, formula, defaults={"$score": 100.0, "$score[1]": 1}, prefetch="two")


# ---------------------------------------------------------------- defaults and missing values
def test_missing_payload_value_without_default_is_an_error(world):
    check(world, {"sum": ["$score", "opt"]}, expect_error="no value at 'opt'")


def test_missing_payload_value_takes_the_default(world):
    check(world, {"sum": ["$score", "opt"]}, defaults={"opt": 2})
    check(world, {"sum": ["$score", "opt"]}, defaults={"opt": [2.5]})
    check(world, "absent", defaults={"absent": -1})


@pytest.mark.parametrize(
    "formula, defaults, fragment",
    [
        ("many", {"many": 0}, "not one number"),  # [1, 2] is two values
        ("nul", {"nul": 0}, "not one number"),  # null is a value, not a missing one
        ("tag", None, "not one number"),
        ("flag", None, "not one number"),  # true is not 1
        ("geo", None, "not one number"),
        ("opt", {"opt": "x"}, "the default for 'opt'"),
        ("opt", {"opt": []}, "the default for 'opt'"),
        ("opt", {"opt": [1, 2]}, "the default for 'opt'"),
        ("opt", {"opt": None}, "the default for 'opt'"),
        ("opt", {"opt": True}, "the default for 'opt'"),
        ({"datetime_key": "price"}, None, "not one datetime"),
        ({"datetime_key": "absent"}, None, "no value at 'absent'"),
        ({"datetime_key": "absent"}, {"absent": "yesterday"}, "the default for 'absent'"),
        ({"geo_distance": {"origin": {"lat": 0, "lon": 0}, "to": "price"}}, None, "not one {"),
        ({"geo_distance": {"origin": {"lat": 0, "lon": 0}, "to": "geo.location"}}, None, "no value"),
    ],
)
def test_unusable_values_are_errors_as_in_local_mode(world, formula, defaults, fragment):
    check(world, formula, defaults, expect_error=fragment)


def test_datetime_and_geo_defaults(world):
    check(world, {"datetime_key": "absent"}, defaults={"absent": "2024-12-31T23:00:00Z"})
    check(world, {"datetime_key": "absent"}, defaults={"absent": ["2024-12-31"]})
    geo = {"geo_distance": {"origin": {"lat": 52.5, "lon": 13.39}, "to": "geo.location"}}
    check(world, geo, defaults={"geo.location": {"lat": 48.137154, "lon": 11.576124}})


DATETIMES = [
    "2025-01-31",
    "2025-1-5",
    "2025-01-31T12:00",
    "2025-01-31 12:00",
    "2025-01-31T12:00:00",
    "2025-01-31T12:00:00.5Z",
    "2025-01-31T12:00:00.123456789Z",
    "2025-01-31T12:00:00z",
    "2025-01-31T12:00:00+01:00",
    "2025-01-31T12:00:00-0530",
    "2025-01-31T12:00:00+01",
    "2025-01-31 12:00:00 +01:00",
    "2025-01-31 12:00:00 UTC",
    "  2025-01-31",
    "2025-01-31T12:00Z",
    "2025-01-31T12Z",
    "2025-02-30",
    "2025-01-31T24:00:00",
    "31.01.2025",
    "",
]


@pytest.mark.parametrize("text", DATETIMES)
def test_datetime_formats_as_local_mode(world, text):
    client, payload, ids = world
    stages = PREFETCH["one"]
    for formula, defaults in (({"datetime": text}, None), ({"datetime_key": "absent"}, {"absent": text})):
        theirs = local(client, stages, {"sum": [formula, {"neg": {"datetime": "2025-01-01"}}]}, defaults)
        mine = ours(client, payload, ids, stages, {"sum": [formula, {"neg": {"datetime": "2025-01-01"}}]}, defaults)
        assert_agree(mine, theirs, f"{text!r} as {formula}")


@pytest.mark.parametrize("key", ["one[0]", "one[]", "nested.v", 'nested."v"', "geo.location.lat", "price[0]"])
def test_key_paths_as_local_mode(world, key):
    check(world, {"sum": ["$score", key]}, defaults={key: 0.5})


# ---------------------------------------------------------------- division by zero, NaN, inf
@pytest.mark.parametrize(
    "formula",
    [
        {"div": {"left": 1, "right": 0}},
        {"div": {"left": "price", "right": {"sum": ["pop", {"neg": "pop"}]}}},
        {"div": {"left": 1e300, "right": 1e-300}},
        {"sqrt": "neg"},
        {"ln": 0},
        {"log10": "neg"},
        {"pow": {"base": "neg", "exponent": 0.5}},
        {"pow": {"base": 0, "exponent": -1}},
        {"pow": {"base": 10, "exponent": 400}},
        {"exp": 1000},
        {"exp": 100},  # finite in float64, infinite as a float32 score
        {"acosh": 0.5},
        {"sum": [1e308, 1e308]},
        {"sum": [{"mult": [1e308, 10]}, {"neg": {"mult": [1e308, 10]}}]},  # inf - inf = NaN
    ],
)
def test_non_finite_results_are_errors(world, formula):
    check(world, formula, expect_error="finite")


@pytest.mark.parametrize(
    "formula",
    [
        {"mult": [0, {"ln": 0}]},  # mult stops at the first zero
        {"mult": [{"key": "pop", "range": {"gte": 2}}, {"ln": {"sum": ["pop", -1]}}]},  # per point
        {"div": {"left": {"mult": ["pop", 0]}, "right": 0}},  # 0 / x is 0, x not evaluated
        {"max": [{"sum": [{"mult": [1e308, 10]}, {"neg": {"mult": [1e308, 10]}}]}, 2.0]},  # NaN skipped
        {"min": [{"sum": [{"mult": [1e308, 10]}, {"neg": {"mult": [1e308, 10]}}]}, 2.0]},
        {"lin_decay": {"x": {"sum": [{"mult": [1e308, 10]}, {"neg": {"mult": [1e308, 10]}}]}}},  # NaN -> 0
        {"pow": {"base": {"sum": [{"mult": [1e308, 10]}, {"neg": {"mult": [1e308, 10]}}]}, "exponent": 0}},
        {"exp": {"neg": {"mult": [1e308, 10]}}},  # exp(-inf) = 0
        {"div": {"left": 1, "right": {"mult": [1e308, 10]}}},  # 1 / inf = 0
        {"exp_decay": {"x": {"mult": [1e308, 10]}}},
    ],
)
def test_what_qdrant_lets_through(world, formula):
    check(world, formula)


# ---------------------------------------------------------------- Qdrant's score-boosting docs
def _days(day: int) -> str:
    return f"2025-01-{day:02d}T00:00:00Z"


DOC_BODIES = {
    # search-relevance page, "Score Boosting" (score-boost-tags snippet), verbatim
    "tags": {
        "prefetch": {"query": [0.2, 0.8, 0.1], "limit": 50},
        "query": {
            "formula": {
                "sum": [
                    "$score",
                    {"mult": [0.5, {"key": "tag", "match": {"any": ["h1", "h2", "h3", "h4"]}}]},
                    {"mult": [0.25, {"key": "tag", "match": {"any": ["p", "li"]}}]},
                ]
            }
        },
    },
    # "Boost Points Closer to User" (score-boost-closer-to-user), verbatim
    "closer_to_user": {
        "prefetch": {"query": [0.2, 0.8, 0.1], "limit": 50},
        "query": {
            "formula": {
                "sum": [
                    "$score",
                    {
                        "gauss_decay": {
                            "x": {
                                "geo_distance": {
                                    "origin": {"lat": 52.504043, "lon": 13.393236},
                                    "to": "geo.location",
                                }
                            },
                            "scale": 5000,
                        }
                    },
                ]
            },
            "defaults": {"geo.location": {"lat": 48.137154, "lon": 11.576124}},
        },
    },
    # "Time-Based Score Boosting" (score-boost-time), with a date for "YYYY-MM-DD"
    "time": {
        "prefetch": {"query": [0.2, 0.8, 0.1], "limit": 50},
        "query": {
            "formula": {
                "sum": [
                    "$score",
                    {
                        "exp_decay": {
                            "x": {"datetime_key": "update_time"},
                            "target": {"datetime": _days(20)},
                            "scale": 86400,
                            "midpoint": 0.5,
                        }
                    },
                ]
            }
        },
    },
    # hybrid-formula-decay snippet's formula over one dense prefetch (RRF fusion is the pipeline's)
    "hybrid_decay": {
        "prefetch": {"query": [0.01, 0.45, 0.67], "limit": 100},
        "query": {
            "formula": {
                "sum": [
                    "$score",
                    {
                        "mult": [
                            0.1,
                            {
                                "exp_decay": {
                                    "x": {"datetime_key": "published_at"},
                                    "target": {"datetime": _days(5)},
                                    "scale": 15552000,
                                    "midpoint": 0.5,
                                }
                            },
                        ]
                    },
                ]
            }
        },
    },
}


@pytest.mark.parametrize("name", sorted(DOC_BODIES))
def test_docs_example_bodies(world, name):
    client, payload, ids = world
    body = DOC_BODIES[name]
    prefetch = [models.Prefetch(**body["prefetch"])]
    query = body["query"]
    theirs = local(client, prefetch, query["formula"], query.get("defaults"))
    stage = client.query_points("f", query=prefetch[0].query, limit=prefetch[0].limit).points
    rows, scores = score_formula(
        parse_formula(query), payload, ids, [(ids.rows([p.id for p in stage]), np.array([p.score for p in stage]))]
    )
    order = formula_order(scores)
    mine = [(ids.take(rows[order[k : k + 1]])[0], float(scores[order[k]])) for k in range(len(order))]
    assert_agree(mine, theirs, name)


def test_docs_python_form_with_models(world):
    """The docs' Python snippet (models) gives the same as its REST body."""
    client, payload, ids = world
    formula = models.FormulaQuery(
        formula=models.SumExpression(
            sum=[
                "$score",
                models.GaussDecayExpression(
                    gauss_decay=models.DecayParamsExpression(
                        x=models.GeoDistance(
                            geo_distance=models.GeoDistanceParams(
                                origin=models.GeoPoint(lat=52.504043, lon=13.393236), to="geo.location"
                            )
                        ),
                        scale=5000,
                    )
                ),
            ]
        ),
        defaults={"geo.location": models.GeoPoint(lat=48.137154, lon=11.576124)},
    )
    parsed = parse_formula(formula)
    assert parsed.payload_defaults == {"geo.location": {"lon": 11.576124, "lat": 48.137154}}
    as_body = parse_formula(DOC_BODIES["closer_to_user"]["query"])
    rows = np.arange(N)
    scores = [np.linspace(0, 1, N)]
    np.testing.assert_array_equal(
        evaluate_formula(parsed, payload, ids, rows, scores), evaluate_formula(as_body, payload, ids, rows, scores)
    )


_COORD = st.one_of(st.floats(-80, 80, allow_nan=False), st.integers(-80, 80))
_POINT = st.fixed_dictionaries({"lat": _COORD, "lon": _COORD}, optional={"name": st.just("x")})
_GEO_VALUE = st.one_of(
    _POINT,
    st.lists(_POINT, min_size=0, max_size=2),
    st.lists(st.lists(_POINT, max_size=1), min_size=1, max_size=1),  # [[point]]: not a point
    st.fixed_dictionaries({"lat": _COORD}),
    st.fixed_dictionaries({"lat": _COORD, "lon": st.lists(_COORD, min_size=0, max_size=1)}),
    st.sampled_from([None, 5, "x", True, {}]),
)
_GEO_PAYLOAD = st.one_of(
    st.builds(lambda v: {"to": v}, _GEO_VALUE),
    st.builds(lambda v: {"to": [{"deeper": v}]}, _GEO_VALUE),
    st.just({}),
)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    payloads=st.lists(_GEO_PAYLOAD, min_size=1, max_size=5),
    key=st.sampled_from(["to", "to[]", "to[0]", "to[].deeper", "to[0].deeper"]),
    default=st.one_of(st.none(), _GEO_VALUE),
)
def test_random_geo_payloads_agree_with_local_mode(payloads, key, default):
    """Geo points are read column-wise (key.lat/key.lon); local mode reads each point's object."""
    client = QdrantClient(":memory:")
    client.create_collection("f", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    client.upsert("f", [models.PointStruct(id=i, vector=[1.0, i], payload=p) for i, p in enumerate(payloads)])
    prefetch = [models.Prefetch(query=[1.0, 0.0], limit=10)]
    formula = {"geo_distance": {"origin": {"lat": 10.0, "lon": 20.0}, "to": key}}
    defaults = {} if default is None else {key: default}
    theirs = local(client, prefetch, formula, defaults)
    mine = ours(client, Payload.from_records(payloads), IdIndex(range(len(payloads))), prefetch, formula, defaults)
    assert_agree(mine, theirs, f"{payloads} {key} {default}")


# ---------------------------------------------------------------- the harness's own parts
def test_candidate_union_keeps_first_seen_order():
    rows, where = candidate_union([np.array([4, 2, 7]), np.array([7, 1, 4]), np.array([], dtype=np.int64)])
    assert rows.tolist() == [4, 2, 7, 1]
    assert [w.tolist() for w in where] == [[0, 1, 2], [2, 3, 0], []]


def test_no_candidates_gives_no_scores(world):
    _, payload, ids = world
    rows, scores = score_formula(parse_formula({"formula": {"ln": 0}}), payload, ids, [])
    assert rows.tolist() == [] and scores.dtype == np.float32 and scores.tolist() == []


def test_error_names_the_node_and_the_point(world):
    _, payload, ids = world
    f = parse_formula({"formula": {"sum": ["$score", {"div": {"left": 1, "right": "pop"}}]}})
    with pytest.raises(RequestError, match=r"formula\['sum'\]\[1\]\['div'\]: 1\.0/0\.0 .* point 5"):
        evaluate_formula(f, payload, ids, np.array([3, 5, 10]), [np.zeros(3)])


def test_formula_terms_show_what_made_each_score(world):
    _, payload, ids = world
    tag = {"key": "tag", "match": {"any": ["h1", "h2"]}}
    decay = {"exp_decay": {"x": {"datetime_key": "when"}, "target": {"datetime": "2025-01-10"}, "scale": 86400}}
    body = {"formula": {"sum": ["$score", {"mult": [0.5, tag, {"ln": "pop"}]}, decay]}}
    rows = np.array([1, 2, 3, 6, 8])  # tags p, li, h2, p, h2; pop 1, 2, 3, 1, 3
    stage = [np.array([0.9, 0.8, 0.7, 0.6, 0.5])]
    terms = formula_terms(body, payload, ids, rows, stage)
    tag_label = '{"key":"tag","match":{"any":["h1","h2"]}}'
    assert list(terms) == [
        "$score",
        f"mult(0.5, {tag_label}, ln(pop))",
        "exp_decay(datetime_key(when), target=datetime(2025-01-10), scale=86400, midpoint=0.5)",
        tag_label,
        "pop",
        "datetime_key(when)",
        "score",
    ]
    np.testing.assert_array_equal(terms["score"], evaluate_formula(body, payload, ids, rows, stage))
    np.testing.assert_allclose(sum(terms[k] for k in list(terms)[:3]), terms["score"], rtol=1e-6)
    assert terms[tag_label].tolist() == [0.0, 0.0, 1.0, 0.0, 1.0]
    # mult stops at the zero condition: pop is read only where the tag matched
    assert np.isnan(terms["pop"][[0, 1, 3]]).all() and terms["pop"][[2, 4]].tolist() == [3.0, 3.0]
    assert terms["$score"].tolist() == stage[0].tolist()


# ---------------------------------------------------------------- bad input
BAD_INPUT = [
    ({"formula": {"mult": 2}}, RequestError, ["formula['mult']", "not a list"]),
    ({"formula": {"max": []}}, RequestError, ["'max' needs at least one operand"]),
    ({"formula": {"summ": [1]}}, RequestError, ["Unknown formula operator", "'sum'"]),
    ({"formula": {"sum": [1], "mult": [2]}}, RequestError, ["exactly one key"]),
    ({"formula": {"div": {"left": 1}}}, RequestError, ["'div' needs 'right'"]),
    ({"formula": {"div": {"left": 1, "right": 2, "by_zero_default": "x"}}}, RequestError, ["not a number"]),
    ({"formula": {"div": {"left": 1, "right": 2, "extra": 1}}}, RequestError, ["Unknown 'div' parameter"]),
    ({"formula": {"pow": [2, 3]}}, RequestError, ["not an object"]),
    ({"formula": {"exp_decay": {"x": 1, "midpoint": 1.0}}}, RequestError, ["outside (0.0, 1.0)"]),
    ({"formula": {"gauss_decay": {"x": 1, "midpoint": 0}}}, RequestError, ["outside (0.0, 1.0)"]),
    ({"formula": {"lin_decay": {"x": 1, "midpoint": 1.5}}}, RequestError, ["outside [0.0, 1.0]"]),
    ({"formula": {"lin_decay": {"x": 1, "scale": 0}}}, RequestError, ["scale must be > 0"]),
    ({"formula": {"exp_decay": {"scale": 2}}}, RequestError, ["needs 'x'"]),
    ({"formula": {"datetime": "yesterday"}}, RequestError, ["not a datetime"]),
    ({"formula": {"datetime_key": 5}}, RequestError, ["not a payload key"]),
    ({"formula": {"datetime_key": "$score"}}, RequestError, ["score variable, not a payload key"]),
    ({"formula": {"geo_distance": {"origin": [1, 2], "to": "loc"}}}, RequestError, ["not a geo point"]),
    ({"formula": {"geo_distance": {"origin": {"lat": 1}, "to": "loc"}}}, RequestError, ["not a geo point"]),
    ({"formula": "$score[x]"}, RequestError, ["not a score variable"]),
    ({"formula": "$score1"}, RequestError, ["not a score variable"]),
    ({"formula": "a..b"}, RequestError, ["not a valid key path"]),
    ({"formula": True}, RequestError, ["not a formula expression"]),
    ({"formula": {"sum": [1, 10**400]}}, RequestError, ["formula['sum'][1]", "too large for a float"]),
    ({"formula": None}, RequestError, ["not a formula expression"]),
    ({"formula": {"key": "a", "match": {"value": [1]}}}, FilterError, ["a condition in the formula"]),
    ({"formula": 1, "defaults": {"$score[a]": 1}}, RequestError, ["not a score variable"]),
    ({"formula": 1, "defaults": {"$score": "high"}}, RequestError, ["A score default is a number"]),
    ({"formula": 1, "defaults": [1]}, RequestError, ["not a mapping"]),
    ({"formula": 1, "limit": 3}, RequestError, ["Unknown formula query key"]),
    ({"formul": 1}, RequestError, ["not a formula query"]),
]


@pytest.mark.parametrize("body, error, fragments", BAD_INPUT)
def test_bad_formula_is_refused_before_any_work(body, error, fragments):
    with pytest.raises(error) as info:
        parse_formula(body)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_formula_body_is_json_whatever_mix_of_models_and_dicts():
    point = models.GeoPoint(lat=1.0, lon=2.0)
    mixed = {
        "formula": {"sum": [models.NegExpression(neg="$score"), {"geo_distance": {"origin": point, "to": "g"}}]},
        "defaults": {"g": point},
    }
    f = parse_formula(mixed)
    assert json.loads(json.dumps(f.body)) == {
        "formula": {"sum": [{"neg": "$score"}, {"geo_distance": {"origin": {"lon": 2.0, "lat": 1.0}, "to": "g"}}]},
        "defaults": {"g": {"lon": 2.0, "lat": 1.0}},
    }
    assert models.FormulaQuery.model_validate(f.body)  # what the Qdrant backend sends


def test_hostile_nesting_is_refused_without_recursion_errors():
    deep: object = 1.0
    for _ in range(100_000):
        deep = {"neg": deep}
    with pytest.raises(RequestError, match="nested more than 64 levels"):
        parse_formula({"formula": deep})
    listed: object = 1.0
    for _ in range(100_000):
        listed = [listed]
    f = parse_formula({"formula": "a", "defaults": {"a": listed}})
    payload, ids = Payload.from_records([{}]), IdIndex([0])
    with pytest.raises(RequestError, match="the default for 'a'"):
        evaluate_formula(f, payload, ids, np.array([0]), [np.zeros(1)])


def test_deep_formula_is_refused():
    formula: object = 1.0
    for _ in range(100):
        formula = {"neg": formula}
    with pytest.raises(RequestError, match="nested more than 64 levels"):
        parse_formula({"formula": formula})


#: Refused here at once, by local mode only when the value is used (docs/qdrant-semantics.md).
STRICTER = ({"formula": 1, "defaults": {"$score": "high"}},)


@pytest.mark.parametrize("body, error, fragments", [b for b in BAD_INPUT if "formula" in b[0]][:-1])
def test_bad_formulas_local_mode_refuses_too(world, body, error, fragments):
    """Each bad formula is one Qdrant refuses as well (stricter only in STRICTER)."""
    client, *_ = world
    theirs = local(client, PREFETCH["one"], body["formula"], body.get("defaults"))
    if body in STRICTER:  # local mode fails only when the value is used; this formula never uses it
        assert not isinstance(theirs, Exception), theirs
        return
    assert isinstance(theirs, Exception), f"local mode accepted {body}"


# ---------------------------------------------------------------- random expression trees
_LEAVES = st.one_of(
    st.floats(-4, 4, allow_nan=False).map(lambda x: round(x, 3)),
    st.sampled_from([0.0, 1.0, -1.0, 0.5]),
    st.sampled_from(["$score", "$score[1]", "$score[2]", "price", "pop", "nested.v", "one", "opt", "one[0]"]),
    st.sampled_from(["many", "tag", "nul"]),  # never one number: errors
    st.sampled_from(
        [
            {"key": "tag", "match": {"value": "h1"}},
            {"key": "pop", "range": {"gt": 1}},
            {"datetime_key": "when"},
            {"datetime_key": "published_at"},
            {"datetime": "2025-01-10T12:00:00Z"},
            {"has_id": [2, 4, 9, 13, 21]},
            {"must_not": [{"key": "one", "range": {"lt": 2}}]},
            {"geo_distance": {"origin": {"lat": 48.0, "lon": 11.0}, "to": "geo.location"}},
        ]
    ),
)


def _node(children):
    lists = st.lists(children, min_size=1, max_size=3)
    decay = st.fixed_dictionaries(
        {"x": children},
        optional={
            "target": children,
            "scale": st.sampled_from([0.5, 1.0, 7.0, 86400.0]),
            "midpoint": st.sampled_from([0.1, 0.5, 0.9]),
        },
    )
    return st.one_of(
        st.builds(lambda xs: {"mult": xs}, lists),
        st.builds(lambda xs: {"sum": xs}, lists),
        st.builds(lambda xs: {"max": xs}, lists),
        st.builds(lambda xs: {"min": xs}, lists),
        st.builds(lambda x, op: {op: x}, children, st.sampled_from(["neg", "abs", "sqrt", "exp", "log10", "ln"])),
        st.builds(
            lambda a, b, d: {"div": {"left": a, "right": b, **({} if d is None else {"by_zero_default": d})}},
            children,
            children,
            st.sampled_from([None, 0.0, 2.0]),
        ),
        st.builds(lambda a, b: {"pow": {"base": a, "exponent": b}}, children, children),
        st.builds(lambda p, op: {op: p}, decay, st.sampled_from(["lin_decay", "exp_decay", "gauss_decay"])),
    )


FORMULAS = st.recursive(_LEAVES, _node, max_leaves=12)
DEFAULTS = st.sampled_from(
    [
        {},
        {"opt": 1.5, "geo.location": {"lat": 1.0, "lon": 2.0}},
        {"$score[1]": 0.25, "opt": [2], "geo.location": [{"lon": 11.5, "lat": 48.2}]},
        {"$score[2]": -1.0, "many": 3},
    ]
)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(formula=FORMULAS, defaults=DEFAULTS, prefetch=st.sampled_from(["one", "two"]))
def test_random_formulas_agree_with_local_mode(world, formula, defaults, prefetch):
    client, payload, ids = world
    stages = PREFETCH[prefetch]
    theirs = local(client, stages, formula, defaults)
    mine = ours(client, payload, ids, stages, formula, defaults)
    assert_agree(mine, theirs, f"{formula!r} defaults={defaults!r} prefetch={prefetch}")
