"""Oracles and hypothesis strategies for the payload-filter tests.

``LocalOracle`` runs a filter through qdrant-client local mode, ``edge_rows`` through
qdrant-edge (Qdrant's own engine); both answer with the row numbers that pass. The
strategies generate small JSON payloads (nested objects, arrays, nulls, missing keys, mixed
str/int/float/bool) and filters over them (every condition kind, nesting, min_should).
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import qdrant_edge as qe
from hypothesis import strategies as st
from qdrant_client import QdrantClient, models
from qdrant_client.local.geo import geo_distance

from explorekit.data.ids import IdIndex
from explorekit.data.payload import Payload
from explorekit.query.filters import filter_mask


# ---------------------------------------------------------------------- oracles
class LocalOracle:
    """qdrant-client local mode, one collection reused (recreated per call)."""

    def __init__(self) -> None:
        self.client = QdrantClient(":memory:")

    def rows(self, payloads: list[dict], flt: Any, ids: list | None = None) -> list[int]:
        ids = list(range(len(payloads))) if ids is None else ids
        if self.client.collection_exists("t"):
            self.client.delete_collection("t")
        self.client.create_collection("t", vectors_config=models.VectorParams(size=1, distance=models.Distance.DOT))
        if payloads:
            self.client.upsert("t", [models.PointStruct(id=i, vector=[1.0], payload=p) for i, p in zip(ids, payloads)])
        model = flt if isinstance(flt, models.Filter) else models.Filter.model_validate(flt)
        points, _ = self.client.scroll("t", scroll_filter=model, limit=len(payloads) + 1)
        where = {i: r for r, i in enumerate(ids)}
        return sorted(where[p.id] for p in points)


def _edge_condition(c: dict) -> Any:
    if not c or any(k in c for k in ("must", "should", "must_not", "min_should")):
        return edge_filter(c)
    if "has_id" in c:
        return qe.HasIdCondition(set(c["has_id"]))
    if "key" not in c and "is_empty" in c:
        return qe.IsEmptyCondition(c["is_empty"]["key"])
    if "key" not in c and "is_null" in c:
        return qe.IsNullCondition(c["is_null"]["key"])
    if "nested" in c:
        return qe.NestedCondition(c["nested"]["key"], edge_filter(c["nested"]["filter"]))
    kw: dict[str, Any] = {}
    if "match" in c:
        ((kind, value),) = c["match"].items()
        kw["match"] = {
            "value": qe.MatchValue,
            "any": qe.MatchAny,
            "except": qe.MatchExcept,
            "text": qe.MatchText,
            "phrase": qe.MatchPhrase,
            "text_any": qe.MatchTextAny,
            "prefix": qe.MatchPrefix,
            "substring": qe.MatchSubstring,
        }[kind](value)
    if "range" in c:
        r = c["range"]
        kw["range"] = (qe.RangeDateTime if any(isinstance(v, str) for v in r.values()) else qe.RangeFloat)(**r)
    if "values_count" in c:
        kw["values_count"] = qe.ValuesCount(**c["values_count"])
    for flag in ("is_empty", "is_null"):
        if flag in c:
            kw[flag] = c[flag]
    return qe.FieldCondition(c["key"], **kw)


def edge_filter(f: dict) -> Any:
    """A filter dict as qdrant-edge objects."""

    def conds(x: Any) -> Any:
        if x is None:
            return None
        return [_edge_condition(c) for c in ([x] if isinstance(x, dict) else x)]

    ms = f.get("min_should")
    return qe.Filter(
        must=conds(f.get("must")),
        should=conds(f.get("should")),
        must_not=conds(f.get("must_not")),
        min_should=None if ms is None else qe.MinShould(conds(ms["conditions"]), ms["min_count"]),
    )


class EdgeOracle:
    """qdrant-edge, one shard in ``path`` reused: each call deletes the old points first."""

    def __init__(self, path: str) -> None:
        config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=1, distance=qe.Distance.Dot))
        self.shard = qe.EdgeShard.create(path, config)
        self.stored: list[int] = []

    def rows(self, payloads: list[dict], flt: dict) -> list[int]:
        """Rows passing ``flt`` (ids = row numbers). Not for bool matches (MatchValue(True) quirk)."""
        if self.stored:
            self.shard.update(qe.UpdateOperation.delete_points(self.stored))
        self.stored = list(range(len(payloads)))
        self.shard.update(qe.UpdateOperation.upsert_points([qe.Point(i, [1.0], p) for i, p in enumerate(payloads)]))
        result = self.shard.scroll(
            qe.ScrollRequest(limit=len(payloads) + 1, filter=edge_filter(flt), with_payload=False)
        )
        points = result[0] if isinstance(result, tuple) else result
        return sorted(p.id for p in points)

    def close(self) -> None:
        self.shard.close()


def ek_rows(payloads: list[dict], flt: Any, ids: list | None = None) -> list[int]:
    """Rows passing ``flt`` in explorekit (every point has the unnamed vector, like the oracles')."""
    ids = list(range(len(payloads))) if ids is None else ids
    mask = filter_mask(flt, Payload.from_records(payloads), IdIndex(ids), vectors=("",))
    return np.flatnonzero(mask).tolist()


# ---------------------------------------------------------------------- strategies
WORDS = ["red", "Blue", "hello world", "world a_b"]
INTS = st.integers(-1, 2)
FLOATS = st.sampled_from([1.0, 2.5, -1.5])
STRS = st.sampled_from(WORDS)
SCALARS = st.one_of(INTS, FLOATS, st.booleans(), STRS, st.none())
LEAF_KEYS = ["x", "y"]


def _objects(values: st.SearchStrategy) -> st.SearchStrategy:
    return st.dictionaries(st.sampled_from(LEAF_KEYS), values, max_size=2)


VALUES = st.one_of(
    SCALARS,
    SCALARS,
    SCALARS,
    st.lists(st.one_of(SCALARS, st.lists(SCALARS, max_size=2)), max_size=3),
    _objects(st.one_of(SCALARS, st.lists(SCALARS, max_size=3))),
    st.lists(_objects(st.one_of(SCALARS, st.lists(SCALARS, max_size=2))), max_size=3),
)
TOP_KEYS = ["a", "b", "c"]
_ABSENT = object()
RECORDS = st.builds(
    lambda *vals: {k: v for k, v in zip(TOP_KEYS, vals) if v is not _ABSENT},
    *[st.one_of(VALUES, VALUES, VALUES, st.just(_ABSENT)) for _ in TOP_KEYS],
)
PAYLOADS = st.lists(RECORDS, min_size=3, max_size=10)

KEYS = st.one_of(
    st.sampled_from(["a", "b", "c"]), st.sampled_from(["a[]", "c[]", "a.x", "c[].x", "b[].y", "a[0]", "c[1].y", "zz"])
)
NESTED_KEYS = st.sampled_from(["x", "y", "x[]", "zz"])


def field_conditions(keys: st.SearchStrategy, bools: bool = True) -> st.SearchStrategy:
    matchable = st.one_of(INTS, STRS, st.booleans()) if bools else st.one_of(INTS, STRS)
    bounds = st.one_of(
        st.dictionaries(st.sampled_from(["gt", "gte", "lt", "lte"]), st.one_of(INTS, FLOATS), min_size=1, max_size=1),
        st.dictionaries(st.sampled_from(["gt", "gte", "lt", "lte"]), st.one_of(INTS, FLOATS), min_size=2, max_size=2),
    )
    counts = st.dictionaries(st.sampled_from(["gt", "gte", "lt", "lte"]), st.integers(0, 3), min_size=1, max_size=2)
    lists = st.one_of(st.lists(INTS, min_size=1, max_size=3), st.lists(STRS, min_size=1, max_size=3), st.just([]))
    text = st.sampled_from(["hello", "world hello", "HELLO", "wor", "a", "", "b world"])
    return st.one_of(
        st.builds(lambda k, v: {"key": k, "match": {"value": v}}, keys, matchable),
        st.builds(lambda k, v: {"key": k, "match": {"any": v}}, keys, lists),
        st.builds(lambda k, v: {"key": k, "match": {"except": v}}, keys, lists),
        st.builds(
            lambda k, kind, v: {"key": k, "match": {kind: v}},
            keys,
            st.sampled_from(["text", "phrase", "text_any"]),
            text,
        ),
        st.builds(lambda k, v: {"key": k, "range": v}, keys, bounds),
        st.builds(lambda k, v: {"key": k, "values_count": v}, keys, counts),
        st.builds(lambda k: {"is_empty": {"key": k}}, keys),
        st.builds(lambda k: {"is_null": {"key": k}}, keys),
        st.builds(lambda k, v: {"key": k, "is_empty": v}, keys, st.booleans()),
        st.builds(lambda k, v: {"key": k, "is_null": v}, keys, st.booleans()),
    )


def _filters(conditions: st.SearchStrategy) -> st.SearchStrategy:
    clause = st.lists(conditions, min_size=1, max_size=2)
    maybe = st.one_of(st.none(), st.none(), clause)
    return st.one_of(
        st.builds(lambda c, name: {name: [c]}, conditions, st.sampled_from(["must", "must", "should", "must_not"])),
        st.builds(
            lambda must, should, must_not, ms: {
                k: v
                for k, v in (("must", must), ("should", should), ("must_not", must_not), ("min_should", ms))
                if v is not None
            },
            maybe,
            maybe,
            maybe,
            st.none()
            | st.builds(
                lambda cs, k: {"conditions": cs, "min_count": k}, st.lists(conditions, max_size=3), st.integers(1, 3)
            ),
        ),
    )


def filters(n_ids: int = 8, bools: bool = True) -> st.SearchStrategy:
    """Filters over ``PAYLOADS`` (has_id over ids 0..n_ids+1, so some are unknown)."""
    inner = _filters(field_conditions(NESTED_KEYS, bools))
    leaf = st.one_of(
        field_conditions(KEYS, bools),
        st.builds(lambda ids: {"has_id": ids}, st.lists(st.integers(0, n_ids + 1), max_size=3)),
        st.builds(lambda k, f: {"nested": {"key": k, "filter": f}}, st.sampled_from(["c", "c[]", "a", "b"]), inner),
    )
    conditions = st.recursive(leaf, _filters, max_leaves=4)
    return _filters(conditions)


def uuid_ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=i + 1)) for i in range(n)]


# ---------------------------------------------------------------------- geo
# Coordinates on a small grid, so points fall on polygon edges, box sides and vertices; lon
# values near +-180 for boxes that cross the antimeridian.
GEO_LATS = st.sampled_from([-1.0, 0.0, 0.5, 1, 2.0])
GEO_LONS = st.sampled_from([-1.0, 0.0, 0.5, 1, 2.0, 179.5, -179.5])
GEO_POINTS = st.builds(lambda lat, lon: {"lat": lat, "lon": lon}, GEO_LATS, GEO_LONS)
_NOT_GEO = st.sampled_from([{"lat": True, "lon": 0.0}, {"lat": 0.5}, "here", 3, None, {"lat": "1", "lon": 1}])
GEO_VALUES = st.one_of(GEO_POINTS, GEO_POINTS, st.lists(st.one_of(GEO_POINTS, _NOT_GEO), max_size=3), _NOT_GEO)
GEO_RECORDS = st.builds(
    lambda loc, items, pick: {k: v for k, v in (("loc", loc), ("items", items)) if k in pick},
    GEO_VALUES,
    st.lists(st.fixed_dictionaries({"loc": GEO_VALUES, "x": INTS}), max_size=3),
    st.sampled_from([("loc",), ("items",), ("loc", "items"), ()]),
)
GEO_PAYLOADS = st.lists(GEO_RECORDS, min_size=3, max_size=10)


def _ring(points: list[tuple[float, float]]) -> dict:
    return {"points": [{"lat": lat, "lon": lon} for lat, lon in [*points, points[0]]]}


RINGS = [
    [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0)],  # a square, (lat, lon) corners on the grid
    [(-1.0, -1.0), (2.0, -1.0), (2.0, 2.0), (-1.0, 2.0)],  # a larger square
    [(-1.0, -1.0), (2.0, 0.5), (0.5, 2.0)],  # a triangle
    [(-1.0, -1.0), (2.0, -1.0), (0.5, 0.5), (2.0, 2.0), (-1.0, 2.0)],  # concave
]
HOLES = [[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0)], [(0.5, 0.0), (1.0, 0.5), (0.5, 1.0), (0.0, 0.5)]]


def _exact_distances() -> list[float]:
    """Radii equal to the distance between grid points, so some points lie on the circle."""
    return [geo_distance(0.0, 0.0, 1.0, 0.0), geo_distance(0.5, 0.5, 1.0, 1.0), geo_distance(0.0, 0.0, 0.0, 2.0)]


RADII = st.sampled_from([0.0, 50_000.0, 111_000.0, 160_000.0, 400_000.0, *_exact_distances()])


def geo_conditions(keys: st.SearchStrategy) -> st.SearchStrategy:
    center = st.builds(lambda lat, lon: {"lat": lat, "lon": lon}, GEO_LATS, GEO_LONS)
    box = st.builds(
        lambda top, bottom, left, right: {
            "top_left": {"lat": max(top, bottom), "lon": left},
            "bottom_right": {"lat": min(top, bottom), "lon": right},
        },
        GEO_LATS,
        GEO_LATS,
        GEO_LONS,
        GEO_LONS,
    )
    polygon = st.builds(
        lambda ext, holes: {"exterior": _ring(ext), **({"interiors": [_ring(h) for h in holes]} if holes else {})},
        st.sampled_from(RINGS),
        st.lists(st.sampled_from(HOLES), max_size=2),
    )
    return st.one_of(
        st.builds(lambda k, c, r: {"key": k, "geo_radius": {"center": c, "radius": r}}, keys, center, RADII),
        st.builds(lambda k, b: {"key": k, "geo_bounding_box": b}, keys, box),
        st.builds(lambda k, p: {"key": k, "geo_polygon": p}, keys, polygon),
    )


def geo_filters() -> st.SearchStrategy:
    """Geo conditions on ``GEO_PAYLOADS``, flat and inside ``nested``, with has_vector and slice."""
    inner = _filters(geo_conditions(st.sampled_from(["loc", "loc[]"])))
    leaf = st.one_of(
        geo_conditions(st.sampled_from(["loc", "loc[]", "items[].loc", "items", "zz"])),
        st.builds(lambda f: {"nested": {"key": "items", "filter": f}}, inner),
        st.builds(lambda name: {"has_vector": name}, st.sampled_from(["", "image"])),
        st.builds(lambda t, i: {"slice": {"total": t, "index": min(i, t - 1)}}, st.integers(1, 4), st.integers(0, 3)),
    )
    return _filters(st.recursive(leaf, _filters, max_leaves=4))
