"""Qdrant filters (dicts or qdrant-client models) checked and parsed into a node tree.

Every check happens here, before anything is evaluated; errors name the place in the filter
(``filter['must'][0]['range']['gt']``), the value, what is accepted and the fix. Where this
is stricter than Qdrant, see :mod:`explorekit.query.filters`.

Nodes are tuples: ``("filter", must, should, must_not, min_should)``, ``("has_id", ids)``,
``("nested", path, filter)``, ``("match", path, kind, arg)``, ``("range", path, bounds,
kind)`` (kind ``"number"``, ``"datetime"`` or ``"text"``), ``("values_count", path, bounds)``,
``("is_empty"|"is_null", path, flag)``, ``("geo_radius", path, (lat, lon, radius))``,
``("geo_bounding_box", path, (top, left, bottom, right))``, ``("geo_polygon", path, (exterior,
interiors))`` (rings as tuples of ``(lat, lon)``), ``("has_vector", name)`` and ``("slice",
total, index)``.

Depth: a filter inside a filter (a condition that is a filter, a ``nested`` filter) is one
level deeper; at most ``MAX_DEPTH`` (64) levels are read. ``check_depth`` is that rule, for
filter dicts here and for pandas query strings in :mod:`explorekit._pandas_query`; the
filters inside a qdrant-client model are counted before it is dumped (``check_model_depth``). Qdrant's REST API
refuses about the same nesting (its JSON reader stops at 128 nested containers, two per level).

``range`` bounds given as ``TextBound`` compare strings in code-point order. Only the pandas
query translation makes them (``s > 'b'`` as pandas computes it); they are not JSON, so such a
filter can never be sent to a Qdrant server, which has no string ordering.

Examples
--------
>>> parse_filter({"must": [{"key": "n", "range": {"gte": 1}}]})
('filter', [('range', ('n',), {'gte': 1.0}, 'number')], None, [], None)
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorekit._support.errors import ExploreError, FilterError, short_repr, unknown
from explorekit.data.ids import normalize_id
from explorekit.data.jsonpath import parse_datetime, parse_key

__all__ = [
    "CLAUSES",
    "MAX_DEPTH",
    "TextBound",
    "check_depth",
    "check_model_depth",
    "depth_error",
    "parse_filter",
    "to_filter_dict",
]

#: Filters nested deeper than this are refused (FilterError), long before Python's recursion limit.
MAX_DEPTH = 64

CLAUSES = ("must", "should", "must_not", "min_should")
_PREDICATES = ("match", "range", "values_count", "is_empty", "is_null", "geo_bounding_box", "geo_radius", "geo_polygon")
_FIELD_KEYS = ("key", *_PREDICATES)
_SINGLE = ("has_id", "is_empty", "is_null", "nested", "has_vector", "slice")
_ALL_CONDITION_KEYS = (*CLAUSES, *_FIELD_KEYS, *_SINGLE)
_MATCH_KINDS = ("value", "any", "except", "text", "phrase", "text_any", "prefix", "substring")
_BOUNDS = ("gt", "gte", "lt", "lte")
_I64 = (-(2**63), 2**63 - 1)
_EXAMPLE = {
    "match": '{"key": "colour", "match": {"value": "red"}}',
    "range": '{"key": "price", "range": {"gte": 10, "lt": 20}}',
    "values_count": '{"key": "tags", "values_count": {"gte": 2}}',
    "geo_radius": '{"key": "location", "geo_radius": {"center": {"lon": 13.4, "lat": 52.5}, "radius": 1000.0}}',
    "geo_bounding_box": (
        '{"key": "location", "geo_bounding_box": {"top_left": {"lon": 13.0, "lat": 53.0}, '
        '"bottom_right": {"lon": 14.0, "lat": 52.0}}}'
    ),
    "geo_polygon": (
        '{"key": "location", "geo_polygon": {"exterior": {"points": [{"lon": 0, "lat": 0}, '
        '{"lon": 1, "lat": 0}, {"lon": 1, "lat": 1}, {"lon": 0, "lat": 0}]}}}'
    ),
}


@dataclass(frozen=True)
class TextBound:
    """A ``range`` bound that compares strings in code-point order, as Python and pandas do.

    Made only by the pandas query translation for local evaluation (see the module docstring).

    >>> parse_filter({"must": [{"key": "s", "range": {"gt": TextBound("b")}}]})[1]
    [('range', ('s',), {'gt': 'b'}, 'text')]
    """

    text: str


def check_depth(level: int, where: str) -> None:
    """Refuse a filter nested more than ``MAX_DEPTH`` levels deep (the one place for this rule).

    ``level`` counts filters inside filters (the whole filter is level 1); pandas query strings
    count their nesting the same way, and parentheses too.

    >>> check_depth(64, "filter")
    >>> check_depth(65, "filter['must'][0]")
    Traceback (most recent call last):
    ...
    explorekit.FilterError: filter['must'][0]: the filter is nested more than 64 levels deep ...
    """
    if level > MAX_DEPTH:
        raise depth_error(where)


def depth_error(where: str) -> FilterError:
    """The error for a filter deeper than ``MAX_DEPTH`` (also when a parser gave up on it first)."""
    where = where if len(where) <= 160 else f"{where[:60]}...{where[-30:]}"
    return FilterError(
        f"{where}: the filter is nested more than {MAX_DEPTH} levels deep (filters inside "
        f"filters, not, or parentheses); explorekit reads at most {MAX_DEPTH}. Flatten it: "
        "conditions joined by and can share one must list (a and b and c), conditions joined "
        "by or one should list, `not not x` is `x`, and extra parentheses can go."
    )


def check_model_depth(model: Any, where: str) -> None:
    """``check_depth`` for the filters inside a qdrant-client model, before anything dumps it.

    pydantic's own dump of a model nested ~250 levels fails only after retrying every union
    member at every level (minutes); this loop counts ``Filter`` models inside each other.
    """
    stack = [(model, 0)]
    while stack:
        obj, level = stack.pop()
        fields = getattr(type(obj), "model_fields", None)
        if isinstance(fields, dict):
            if "must" in fields and "should" in fields:  # a Filter
                level += 1
                check_depth(level, where)
            stack.extend((getattr(obj, name, None), level) for name in fields)
        elif isinstance(obj, (list, tuple)):
            stack.extend((item, level) for item in obj)
        elif isinstance(obj, dict):
            stack.extend((item, level) for item in obj.values())


def is_model(value: Any) -> bool:
    """Whether ``value`` is a qdrant-client (pydantic) model instance, duck-typed by ``model_dump``.

    >>> is_model({"must": []})
    False
    """
    return hasattr(value, "model_dump") and not isinstance(value, type)


def dump_model(model: Any, where: str, error: type[ExploreError] = FilterError) -> Any:
    """A qdrant-client (pydantic) model as plain JSON: Qdrant's REST names, no unset fields.

    The one conversion of models (duck-typed by ``model_dump``, so qdrant-client is never imported).
    """
    check_model_depth(model, where)
    try:
        return model.model_dump(mode="json", by_alias=True, exclude_none=True)
    except ValueError as err:
        raise error(f"{where}: the qdrant-client model cannot be read: {err}.") from None


def to_filter_dict(filter: Any, where: str = "filter") -> dict:
    """A Qdrant filter (dict or qdrant-client model) as a plain JSON dict (not validated)."""
    if hasattr(filter, "model_dump") and not isinstance(filter, Mapping):
        return dump_model(filter, where)
    if isinstance(filter, Mapping):
        return dict(filter)
    raise FilterError(f"{where}: {short_repr(filter)} of type {type(filter).__name__} is not a Qdrant filter.")


def _as_mapping(obj: Any, where: str = "filter") -> Any:
    if hasattr(obj, "model_dump") and not isinstance(obj, Mapping):
        return dump_model(obj, where)
    return obj


def _bad_keys(obj: Mapping, allowed: tuple, where: str, what: str) -> None:
    for k in obj:
        if k not in allowed:
            raise FilterError(f"{where}: " + unknown(what, k, allowed, f"Use only {list(allowed)}."))


def _parse_filter(obj: Any, where: str, level: int, top: bool = False) -> tuple:
    check_depth(level, where)
    obj = _as_mapping(obj, where)
    if not isinstance(obj, Mapping):
        raise FilterError(
            f"{where}: {short_repr(obj)} is not a filter. A filter is a dict such as "
            '{"must": [{"key": "colour", "match": {"value": "red"}}]}.'
        )
    if top and any(k in obj for k in (*_FIELD_KEYS, *_SINGLE)) and not any(k in obj for k in CLAUSES):
        raise FilterError(
            f'{where}: {short_repr(dict(obj))} is a condition, not a filter. Wrap it in a clause: {{"must": [...]}}.'
        )
    _bad_keys(obj, CLAUSES, where, "filter clause")
    clauses = {}
    for name in ("must", "should", "must_not"):
        value = obj.get(name)
        if value is None:
            clauses[name] = None
            continue
        w = f"{where}[{name!r}]"
        if isinstance(value, (list, tuple)):
            clauses[name] = [_parse_condition(c, f"{w}[{i}]", level) for i, c in enumerate(value)]
        elif isinstance(value, Mapping) or hasattr(value, "model_dump"):
            clauses[name] = [_parse_condition(value, w, level)]
        else:
            raise FilterError(
                f"{w}: {short_repr(value)} is not a list of conditions. Use a list, e.g. "
                f'{{"{name}": [{_EXAMPLE["match"]}]}}.'
            )
    min_should = None
    if obj.get("min_should") is not None:
        w = f"{where}['min_should']"
        ms = _as_mapping(obj["min_should"], w)
        if not isinstance(ms, Mapping):
            raise FilterError(
                f'{w}: {short_repr(ms)} is not a dict. Use {{"min_should": {{"conditions": [...], "min_count": 2}}}}.'
            )
        _bad_keys(ms, ("conditions", "min_count"), w, "min_should field")
        for field in ("conditions", "min_count"):
            if field not in ms:
                raise FilterError(
                    f'{w}: {field!r} is missing. Use {{"min_should": {{"conditions": [...], "min_count": 2}}}}.'
                )
        conds, count = ms["conditions"], ms["min_count"]
        if not isinstance(conds, (list, tuple)):
            raise FilterError(f"{w}['conditions']: {short_repr(conds)} is not a list of conditions.")
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise FilterError(
                f"{w}['min_count']: {short_repr(count)} is not a positive integer. "
                "Use 1 or more (how many conditions must match)."
            )
        min_should = ([_parse_condition(c, f"{w}['conditions'][{i}]", level) for i, c in enumerate(conds)], int(count))
    return ("filter", clauses["must"] or [], clauses["should"], clauses["must_not"] or [], min_should)


def _key_only(obj: Any, where: str, name: str) -> tuple:
    obj = _as_mapping(obj, where)
    if not isinstance(obj, Mapping) or set(obj) != {"key"}:
        raise FilterError(f'{where}: {short_repr(obj)} is not {{"key": ...}}. Use {{"{name}": {{"key": "tags"}}}}.')
    return parse_key(obj["key"], f"{where}['key']")


def _parse_condition(obj: Any, where: str, level: int) -> tuple:
    """A condition of the filter at ``level`` (a condition that is a filter is one level deeper)."""
    obj = _as_mapping(obj, where)
    if not isinstance(obj, Mapping):
        raise FilterError(
            f"{where}: {short_repr(obj)} is not a condition. A condition is a dict such as {_EXAMPLE['match']}."
        )
    keys = set(obj)
    if "key" in keys:
        return _parse_field(obj, where)
    if not keys or keys & set(CLAUSES):
        return _parse_filter(obj, where, level + 1)
    if len(keys) == 1 and (name := next(iter(keys))) in _SINGLE:
        value = obj[name]
        if name == "has_id":
            if not isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
                raise FilterError(
                    f"{where}['has_id']: {short_repr(value)} is not a list of ids. Use {{\"has_id\": [1, 2, 3]}}."
                )
            ids = []
            for i, v in enumerate(value):
                try:
                    ids.append(normalize_id(v))
                except ExploreError as err:
                    raise FilterError(f"{where}['has_id'][{i}]: {err}") from None
            return ("has_id", ids)
        if name in ("is_empty", "is_null"):
            return (name, _key_only(value, f"{where}[{name!r}]", name), True)
        if name == "nested":
            w = f"{where}['nested']"
            value = _as_mapping(value, w)
            if not isinstance(value, Mapping) or set(value) != {"key", "filter"}:
                raise FilterError(
                    f'{w}: {short_repr(value)} is not {{"key": ..., "filter": ...}}. Use '
                    '{"nested": {"key": "items", "filter": {"must": [...]}}}.'
                )
            path = parse_key(value["key"], f"{w}['key']")
            if len(path) > 1 and path[-1] is None:
                path = path[:-1]
            return ("nested", path, _parse_filter(value["filter"], f"{w}['filter']", level + 1))
        if name == "has_vector":
            if not isinstance(value, str):
                raise FilterError(
                    f"{where}['has_vector']: {short_repr(value)} is not a vector name. "
                    'Use {"has_vector": "image"} ("" for the unnamed vector).'
                )
            return ("has_vector", value)
        return _parse_slice(value, f"{where}['slice']")
    preds = [k for k in keys if k in _PREDICATES]
    if preds:
        raise FilterError(
            f"{where}: the condition {short_repr(dict(obj))} has no 'key'. Name the payload "
            f"field, e.g. {_EXAMPLE.get(preds[0], _EXAMPLE['match'])}."
        )
    bad = next(k for k in obj if k not in _ALL_CONDITION_KEYS or len(keys) > 1)
    raise FilterError(
        f"{where}: "
        + unknown(
            "condition",
            bad,
            _ALL_CONDITION_KEYS,
            f"A condition is a field condition such as {_EXAMPLE['match']}, "
            "one of has_id/is_empty/is_null/nested/has_vector/slice, or a filter.",
        )
    )


def _number(value: Any, where: str, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value != value:
        raise FilterError(f"{where}: {short_repr(value)} is not a number. Use a number, e.g. {example}")
    try:
        return float(value)
    except OverflowError:
        raise FilterError(
            f"{where}: {short_repr(value)} is too large for a float64 range bound (Qdrant "
            "compares ranges in float64). Use a number within +-1.8e308."
        ) from None


def _parse_field(obj: Mapping, where: str) -> tuple:
    _bad_keys(obj, _FIELD_KEYS, where, "field condition key")
    path = parse_key(obj["key"], f"{where}['key']")
    preds = [k for k in _PREDICATES if obj.get(k) is not None]
    if not preds:
        raise FilterError(
            f"{where}: the field condition on {obj['key']!r} has nothing to check. Add one of "
            f"{list(_PREDICATES[:5])}, e.g. {_EXAMPLE['match']}."
        )
    if len(preds) > 1:
        raise FilterError(
            f"{where}: the field condition on {obj['key']!r} has {len(preds)} checks {preds}; "
            "Qdrant would use only one of them. Give each its own condition, e.g. "
            f'{{"must": [{{"key": {obj["key"]!r}, "{preds[0]}": ...}}, '
            f'{{"key": {obj["key"]!r}, "{preds[1]}": ...}}]}}.'
        )
    name = preds[0]
    w = f"{where}[{name!r}]"
    value = _as_mapping(obj[name], w)
    if name in ("is_empty", "is_null"):
        if not isinstance(value, bool):
            raise FilterError(f"{w}: {short_repr(value)} is not true or false.")
        return (name, path, value)
    if not isinstance(value, Mapping):
        raise FilterError(f"{w}: {short_repr(value)} is not a dict. Use e.g. {_EXAMPLE[name]}.")
    if name == "match":
        return _parse_match(value, path, w)
    if name.startswith("geo_"):
        return (name, path, _GEO_PARSERS[name](value, w))
    _bad_keys(value, _BOUNDS, w, f"{name} bound")
    bounds = {b: value.get(b) for b in _BOUNDS}
    given = {b: v for b, v in bounds.items() if v is not None}
    if name == "values_count":
        for b, v in given.items():
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise FilterError(
                    f"{w}[{b!r}]: {short_repr(v)} is not a count. Use a whole number >= 0, e.g. "
                    f"{_EXAMPLE['values_count']}."
                )
        return ("values_count", path, {b: int(v) for b, v in given.items()})
    lexical = [b for b, v in given.items() if isinstance(v, TextBound)]
    if lexical:
        if len(lexical) < len(given):
            raise FilterError(f"{w}: mixes string bounds and other bounds {given}.")
        return ("range", path, {b: v.text for b, v in given.items()}, "text")
    texts = [b for b, v in given.items() if isinstance(v, (str, _dt.date))]
    if texts and len(texts) < len(given):
        raise FilterError(
            f"{w}: mixes datetime strings and numbers {given}. Use numbers for a numeric range "
            "or RFC 3339 strings for a datetime range, not both."
        )
    if texts:
        out = {}
        for b, v in given.items():
            text = v if isinstance(v, str) else v.isoformat()
            stamp = parse_datetime(text)
            if stamp is None:
                raise FilterError(
                    f"{w}[{b!r}]: {v!r} is not a number (nor an RFC 3339 datetime). Use a "
                    f'number, e.g. {{"range": {{"{b}": 10}}}}, or a datetime string such as '
                    '"2024-01-31T12:00:00Z".'
                )
            out[b] = stamp
        return ("range", path, out, "datetime")
    out = {b: _number(v, f"{w}[{b!r}]", f'{{"range": {{"{b}": 10}}}}') for b, v in given.items()}
    return ("range", path, out, "number")


def _parse_match(value: Mapping, path: tuple, where: str) -> tuple:
    kinds = [k for k in value if k in _MATCH_KINDS]
    _bad_keys(value, _MATCH_KINDS, where, "match kind")
    if len(kinds) != 1:
        raise FilterError(
            f"{where}: {short_repr(dict(value))} must have exactly one of {list(_MATCH_KINDS)}. "
            f"Use e.g. {_EXAMPLE['match']}."
        )
    kind = kinds[0]
    v, w = value[kind], f"{where}[{kind!r}]"
    if kind == "value":
        if isinstance(v, (bool, np.bool_)):
            return ("match", path, "value", bool(v))
        if isinstance(v, (int, np.integer)) and _I64[0] <= v <= _I64[1]:
            return ("match", path, "value", int(v))
        if isinstance(v, str):
            return ("match", path, "value", v)
        hint = (
            ' There is no float match; use a range, e.g. {"range": {"gte": 1.5, "lte": 1.5}}.'
            if isinstance(v, (float, np.floating))
            else ""
        )
        raise FilterError(
            f"{w}: {short_repr(v)} cannot be matched.{hint} Match a string, an integer or a bool, "
            f"e.g. {_EXAMPLE['match']}."
        )
    if kind in ("any", "except"):
        if not isinstance(v, (list, tuple, np.ndarray)):
            raise FilterError(
                f'{w}: {short_repr(v)} is not a list. Use e.g. {{"match": {{"{kind}": ["red", "blue"]}}}}.'
            )
        items = list(v)
        strs = all(isinstance(x, str) for x in items)
        ints = all(
            isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)) and _I64[0] <= x <= _I64[1]
            for x in items
        )
        if not (strs or ints):
            raise FilterError(
                f"{w}: {short_repr(items)} must be all strings or all integers. "
                f'Use e.g. {{"match": {{"{kind}": ["red", "blue"]}}}} or {{"match": {{"{kind}": [1, 2]}}}}.'
            )
        items = [str(x) for x in items] if strs else [int(x) for x in items]
        return ("match", path, kind, (("str" if strs else "int") if items else "empty", items))
    if not isinstance(v, str):
        raise FilterError(f'{w}: {short_repr(v)} is not a string. Use e.g. {{"match": {{"{kind}": "hello world"}}}}.')
    return ("match", path, kind, v)


def parse_filter(filter: Any) -> tuple:
    """The node tree of a whole filter; raises FilterError for anything malformed."""
    return _parse_filter(filter, "filter", 1, top=True)


def _geo_point(value: Any, where: str) -> tuple[float, float]:
    """``{"lon": ..., "lat": ...}`` -> ``(lat, lon)``, in Qdrant's ranges (lon -180..180, lat -90..90)."""
    value = _as_mapping(value, where)
    if not isinstance(value, Mapping) or set(value) != {"lon", "lat"}:
        raise FilterError(f'{where}: {short_repr(value)} is not a geo point. Use {{"lon": 13.4, "lat": 52.5}}.')
    lon = _number(value["lon"], f"{where}['lon']", '{"lon": 13.4, "lat": 52.5}')
    lat = _number(value["lat"], f"{where}['lat']", '{"lon": 13.4, "lat": 52.5}')
    if not -180.0 <= lon <= 180.0:
        raise FilterError(
            f"{where}['lon']: {lon!r} is outside -180..180 (Qdrant refuses it). Use a longitude in degrees."
        )
    if not -90.0 <= lat <= 90.0:
        raise FilterError(f"{where}['lat']: {lat!r} is outside -90..90 (Qdrant refuses it). Use a latitude in degrees.")
    return lat, lon


def _geo_keys(value: Mapping, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    _bad_keys(value, (*required, *optional), where, "geo field")
    for key in required:
        if value.get(key) is None:
            raise FilterError(f"{where}: {key!r} is missing.")


def _geo_radius(value: Mapping, where: str) -> tuple[float, float, float]:
    """``{"center": point, "radius": metres}`` -> ``(lat, lon, radius)``.

    >>> _geo_radius({"center": {"lon": 2, "lat": 1}, "radius": 5}, "g")
    (1.0, 2.0, 5.0)
    """
    _geo_keys(value, where, ("center", "radius"))
    lat, lon = _geo_point(value["center"], f"{where}['center']")
    return lat, lon, _number(value["radius"], f"{where}['radius']", "1000.0 (metres)")


def _geo_box(value: Mapping, where: str) -> tuple[float, float, float, float]:
    """``{"top_left", "bottom_right"}`` -> ``(top, left, bottom, right)`` (lat, lon, lat, lon)."""
    _geo_keys(value, where, ("top_left", "bottom_right"))
    top, left = _geo_point(value["top_left"], f"{where}['top_left']")
    bottom, right = _geo_point(value["bottom_right"], f"{where}['bottom_right']")
    return top, left, bottom, right


def _geo_ring(value: Any, where: str) -> tuple[tuple[float, float], ...]:
    """A closed line ``{"points": [...]}`` of at least 4 points, first == last (Qdrant's rule)."""
    value = _as_mapping(value, where)
    if not isinstance(value, Mapping):
        raise FilterError(
            f'{where}: {short_repr(value)} is not a line. Use {{"points": [{{"lon": .., "lat": ..}}, ...]}}.'
        )
    _geo_keys(value, where, ("points",))
    points = value["points"]
    if not isinstance(points, (list, tuple)):
        raise FilterError(f"{where}['points']: {short_repr(points)} is not a list of geo points.")
    ring = tuple(_geo_point(p, f"{where}['points'][{i}]") for i, p in enumerate(points))
    if len(ring) < 4 or ring[0] != ring[-1]:
        raise FilterError(
            f"{where}: a polygon ring needs at least 4 points and its first point repeated as the "
            f"last (Qdrant's rule); got {len(ring)} points. Close the ring, e.g. "
            '[{"lon": 0, "lat": 0}, {"lon": 1, "lat": 0}, {"lon": 1, "lat": 1}, {"lon": 0, "lat": 0}].'
        )
    return ring


def _geo_polygon(value: Mapping, where: str) -> tuple:
    """``{"exterior": ring, "interiors": [ring, ...]}`` -> ``(exterior, interiors)``."""
    _geo_keys(value, where, ("exterior",), ("interiors",))
    exterior = _geo_ring(value["exterior"], f"{where}['exterior']")
    holes = value.get("interiors") or []
    if not isinstance(holes, (list, tuple)):
        raise FilterError(f"{where}['interiors']: {short_repr(holes)} is not a list of rings.")
    return exterior, tuple(_geo_ring(h, f"{where}['interiors'][{i}]") for i, h in enumerate(holes))


_GEO_PARSERS = {"geo_radius": _geo_radius, "geo_bounding_box": _geo_box, "geo_polygon": _geo_polygon}


def _parse_slice(value: Any, where: str) -> tuple:
    """``{"total": n, "index": i}`` with ``0 <= i < n`` -> ``("slice", n, i)``.

    >>> _parse_slice({"total": 4, "index": 1}, "s")
    ('slice', 4, 1)
    """
    value = _as_mapping(value, where)
    if not isinstance(value, Mapping) or set(value) != {"total", "index"}:
        raise FilterError(
            f'{where}: {short_repr(value)} is not {{"total": ..., "index": ...}}. Use {{"slice": {{"total": 4, "index": 0}}}}.'
        )
    total, index = value["total"], value["index"]
    for name, v in (("total", total), ("index", index)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise FilterError(f"{where}[{name!r}]: {short_repr(v)} is not an integer.")
    if total < 1:
        raise FilterError(f"{where}['total']: {total} is below 1. Split the ids into 1 or more slices.")
    if not 0 <= index < total:
        raise FilterError(f"{where}['index']: {index} is not in 0..{total - 1}. Pick one of the {total} slices.")
    return ("slice", int(total), int(index))
