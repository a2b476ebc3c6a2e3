"""Payload filters: a Qdrant filter, a pandas query string or a boolean mask -> a row mask.

Accepted filters (``FilterLike``):

* ``None``: every point.
* A Qdrant filter dict (``must`` / ``should`` / ``must_not`` / ``min_should``, field conditions
  with ``match`` value/any/except/text/phrase/text_any/prefix/substring, ``range`` (numbers,
  or RFC 3339 datetime strings), ``values_count``, ``is_empty``, ``is_null``, ``has_id``,
  ``nested``), evaluated exactly as Qdrant does (reference/qdrant-semantics.md section 9),
  vectorised over the typed payload columns. A qdrant-client ``models.Filter`` is accepted too
  (converted with ``model_dump(mode="json", by_alias=True, exclude_none=True)``).
* A pandas query string, evaluated with ``DataFrame.eval`` over ``Payload.frame`` (names with
  spaces in backticks; ``@variables`` are not available: write the value into the string).
* A boolean numpy array of one value per point, in row order.
* A boolean pandas Series: aligned **by point id** when its index holds exactly the
  collection's ids (any order); otherwise **by position** when it has a ``RangeIndex(n)``;
  anything else is an error (reindex it, e.g. ``s.reindex(col.ids, fill_value=False)``).

Where this module is stricter than Qdrant: a field condition with two predicates (e.g.
``match`` and ``range`` together, which Qdrant silently reduces to one) is an error, as are
geo and ``has_vector`` conditions (not supported yet). Where qdrant-client local mode and the
server differ, the server is followed: ``range`` compares in float64 (local mode compares
Python ints exactly, so it differs above 2**53); ``min_count`` must be >= 1 (as local mode and
the REST API require; qdrant-edge alone accepts 0).

Key paths follow Qdrant's JSON path syntax: names made of letters, digits, ``_`` and ``-``,
joined by ``.``; ``[]`` for every element and ``[i]`` for one; other names in double quotes
(``'"my key".sub'``). A payload column named ``"a.b"`` is therefore reached as ``'"a.b"'``.

Examples
--------
>>> from explorekit.payload import Payload
>>> from explorekit.ids import IdIndex
>>> p = Payload.from_records([{"c": "red", "n": 1}, {"c": "blue", "n": 5}, {"c": ["red", "x"]}])
>>> filter_mask({"must": [{"key": "c", "match": {"value": "red"}}]}, p, IdIndex([0, 1, 2])).tolist()
[True, False, True]
>>> filter_mask("n > 2", p, IdIndex([0, 1, 2])).tolist()
[False, True, False]
>>> pandas_query_to_filter("c == 'red' and n >= 1")
{'must': [{'key': 'c', 'match': {'value': 'red'}}, {'key': 'n', 'range': {'gte': 1}}]}
"""

from __future__ import annotations

import ast
import datetime as _dt
import re
import weakref
from collections.abc import Mapping
from typing import Any, Union

import numpy as np
import pandas as pd

from ._errors import ExploreError, FilterError, short_repr, unknown
from .ids import IdIndex, normalize_id
from .payload import Payload, PathValues

#: dict | str | numpy bool array | pandas bool Series | qdrant_client.models.Filter | None
FilterLike = Union[dict, str, np.ndarray, pd.Series, Any, None]

__all__ = ["FilterLike", "filter_mask", "validate_filter", "pandas_query_to_filter", "to_filter_dict",
           "parse_key", "parse_datetime"]

_CLAUSES = ("must", "should", "must_not", "min_should")
_PREDICATES = ("match", "range", "values_count", "is_empty", "is_null", "geo_bounding_box", "geo_radius",
               "geo_polygon")
_FIELD_KEYS = ("key", *_PREDICATES)
_SINGLE = ("has_id", "is_empty", "is_null", "nested", "has_vector")
_ALL_CONDITION_KEYS = (*_CLAUSES, *_FIELD_KEYS, *_SINGLE)
_MATCH_KINDS = ("value", "any", "except", "text", "phrase", "text_any", "prefix", "substring")
_BOUNDS = ("gt", "gte", "lt", "lte")
_I64 = (-(2**63), 2**63 - 1)
_EXAMPLE = {
    "match": '{"key": "colour", "match": {"value": "red"}}',
    "range": '{"key": "price", "range": {"gte": 10, "lt": 20}}',
    "values_count": '{"key": "tags", "values_count": {"gte": 2}}',
}


# ---------------------------------------------------------------------- small parsers
def parse_key(key: Any, where: str = "key") -> tuple:
    """A JSON path (``a.b``, ``arr[]``, ``arr[0]``, ``"quoted.key"``) as a tuple of parts.

    Parts: str = object key, int = array index, None = every element (``[]``).

    >>> parse_key('a.b[].c[2]'), parse_key('"x.y".z')
    (('a', 'b', None, 'c', 2), ('x.y', 'z'))
    """
    if not isinstance(key, str):
        raise FilterError(f"{where}: {short_repr(key)} is not a string. A key is a payload field name "
                          'or path, e.g. "colour", "address.city", "tags[]".')
    parts: list = []
    i, n = 0, len(key)
    expect_key = True
    while i < n:
        if expect_key:
            if key[i] == '"':
                end = key.find('"', i + 1)
                if end < 0:
                    break
                parts.append(key[i + 1:end])
                i = end + 1
            else:
                j = i
                while j < n and (key[j].isalnum() or key[j] in "_-"):
                    j += 1
                if j == i:
                    break
                parts.append(key[i:j])
                i = j
            expect_key = False
        elif key[i] == "[":
            end = key.find("]", i)
            inner = key[i + 1:end] if end > 0 else "x"
            if end < 0 or (inner and not (inner.isascii() and inner.isdigit())):
                break
            parts.append(int(inner) if inner else None)
            i = end + 1
        elif key[i] == "." and i + 1 < n:
            i += 1
            expect_key = True
        else:
            break
    else:
        if parts and not expect_key:
            return tuple(parts)
    raise FilterError(f"{where}: {key!r} is not a valid key path. Use names joined by dots with [] or [index] "
                      'for arrays, e.g. "country.cities[].name"; quote names with other characters: '
                      '\'"my key".sub\'.')


_DT_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?)?"
                    r"(?: ?(Z|[+-]\d{2}(?::?\d{2})?))?")


def parse_datetime(text: str) -> int | None:
    """Microseconds since 1970 (UTC) of a datetime string in one of Qdrant's formats, else None.

    RFC 3339 and the variants Qdrant reads: ``T`` or space, optional seconds/fraction,
    ``Z``/``+HH:MM``/``+HHMM``/``+HH``/`` UTC`` offsets (which need seconds), no offset = UTC,
    or a date alone.

    >>> parse_datetime("1970-01-01T00:00:01Z"), parse_datetime("1970-01-01 01:00:00+01:00")
    (1000000, 0)
    """
    s = text.lstrip()
    if s.endswith(" UTC"):
        s = s[:-4] + "Z"
    m = _DT_RE.fullmatch(s)
    if m is None:
        return None
    y, mo, d, hh, mm, ss, frac, tz = m.groups()
    if tz is not None and ss is None:
        return None
    try:
        offset = _dt.timedelta(0)
        if tz not in (None, "Z"):
            digits = tz[1:].replace(":", "")
            offset = _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
            offset = -offset if tz[0] == "-" else offset
        value = _dt.datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0),
                             int((frac or "0")[:6].ljust(6, "0")), tzinfo=_dt.timezone(offset))
    except ValueError:
        return None
    return (value - _EPOCH) // _dt.timedelta(microseconds=1)


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_TOKEN_RE = re.compile(r"[^\W_]+")


def _tokens(text: str) -> list[str]:
    """Qdrant's word tokens for unindexed text matching: alphanumeric runs, lower-cased."""
    return [t.lower() for t in _TOKEN_RE.findall(text)]


# ---------------------------------------------------------------------- filter -> node tree
def to_filter_dict(filter: Any, where: str = "filter") -> dict:
    """A Qdrant filter (dict or qdrant-client model) as a plain JSON dict (not validated)."""
    if hasattr(filter, "model_dump") and not isinstance(filter, Mapping):
        return filter.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(filter, Mapping):
        return dict(filter)
    raise FilterError(f"{where}: {short_repr(filter)} of type {type(filter).__name__} is not a Qdrant filter.")


def _as_mapping(obj: Any) -> Any:
    if hasattr(obj, "model_dump") and not isinstance(obj, Mapping):
        return obj.model_dump(mode="json", by_alias=True, exclude_none=True)
    return obj


def _bad_keys(obj: Mapping, allowed: tuple, where: str, what: str) -> None:
    for k in obj:
        if k not in allowed:
            raise FilterError(f"{where}: " + unknown(what, k, allowed, f"Use only {list(allowed)}."))


def _parse_filter(obj: Any, where: str, top: bool = False) -> tuple:
    obj = _as_mapping(obj)
    if not isinstance(obj, Mapping):
        raise FilterError(f"{where}: {short_repr(obj)} is not a filter. A filter is a dict such as "
                          '{"must": [{"key": "colour", "match": {"value": "red"}}]}.')
    if top and any(k in obj for k in (*_FIELD_KEYS, *_SINGLE)) and not any(k in obj for k in _CLAUSES):
        raise FilterError(f"{where}: {short_repr(dict(obj))} is a condition, not a filter. Wrap it in a "
                          'clause: {"must": [...]}.')
    _bad_keys(obj, _CLAUSES, where, "filter clause")
    clauses = {}
    for name in ("must", "should", "must_not"):
        value = obj.get(name)
        if value is None:
            clauses[name] = None
            continue
        w = f"{where}[{name!r}]"
        if isinstance(value, (list, tuple)):
            clauses[name] = [_parse_condition(c, f"{w}[{i}]") for i, c in enumerate(value)]
        elif isinstance(value, Mapping) or hasattr(value, "model_dump"):
            clauses[name] = [_parse_condition(value, w)]
        else:
            raise FilterError(f"{w}: {short_repr(value)} is not a list of conditions. Use a list, e.g. "
                              f'{{"{name}": [{_EXAMPLE["match"]}]}}.')
    min_should = None
    if obj.get("min_should") is not None:
        w = f"{where}['min_should']"
        ms = _as_mapping(obj["min_should"])
        if not isinstance(ms, Mapping):
            raise FilterError(f"{w}: {short_repr(ms)} is not a dict. Use "
                              '{"min_should": {"conditions": [...], "min_count": 2}}.')
        _bad_keys(ms, ("conditions", "min_count"), w, "min_should field")
        for field in ("conditions", "min_count"):
            if field not in ms:
                raise FilterError(f"{w}: {field!r} is missing. Use "
                                  '{"min_should": {"conditions": [...], "min_count": 2}}.')
        conds, count = ms["conditions"], ms["min_count"]
        if not isinstance(conds, (list, tuple)):
            raise FilterError(f"{w}['conditions']: {short_repr(conds)} is not a list of conditions.")
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise FilterError(f"{w}['min_count']: {short_repr(count)} is not a positive integer. "
                              "Use 1 or more (how many conditions must match).")
        min_should = ([_parse_condition(c, f"{w}['conditions'][{i}]") for i, c in enumerate(conds)], int(count))
    return ("filter", clauses["must"] or [], clauses["should"], clauses["must_not"] or [], min_should)


def _key_only(obj: Any, where: str, name: str) -> tuple:
    obj = _as_mapping(obj)
    if not isinstance(obj, Mapping) or set(obj) != {"key"}:
        raise FilterError(f"{where}: {short_repr(obj)} is not {{\"key\": ...}}. Use "
                          f'{{"{name}": {{"key": "tags"}}}}.')
    return parse_key(obj["key"], f"{where}['key']")


def _parse_condition(obj: Any, where: str) -> tuple:
    obj = _as_mapping(obj)
    if not isinstance(obj, Mapping):
        raise FilterError(f"{where}: {short_repr(obj)} is not a condition. A condition is a dict such as "
                          f"{_EXAMPLE['match']}.")
    keys = set(obj)
    if "key" in keys:
        return _parse_field(obj, where)
    if not keys or keys & set(_CLAUSES):
        return _parse_filter(obj, where)
    if len(keys) == 1 and (name := next(iter(keys))) in _SINGLE:
        value = obj[name]
        if name == "has_id":
            if not isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
                raise FilterError(f"{where}['has_id']: {short_repr(value)} is not a list of ids. "
                                  'Use {"has_id": [1, 2, 3]}.')
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
            value = _as_mapping(value)
            w = f"{where}['nested']"
            if not isinstance(value, Mapping) or set(value) != {"key", "filter"}:
                raise FilterError(f"{w}: {short_repr(value)} is not {{\"key\": ..., \"filter\": ...}}. Use "
                                  '{"nested": {"key": "items", "filter": {"must": [...]}}}.')
            path = parse_key(value["key"], f"{w}['key']")
            if len(path) > 1 and path[-1] is None:
                path = path[:-1]
            return ("nested", path, _parse_filter(value["filter"], f"{w}['filter']"))
        raise FilterError(f"{where}: has_vector conditions are not supported by explorekit (every point has "
                          "every vector). Remove the condition.")
    preds = [k for k in keys if k in _PREDICATES]
    if preds:
        raise FilterError(f"{where}: the condition {short_repr(dict(obj))} has no 'key'. Name the payload "
                          f"field, e.g. {_EXAMPLE.get(preds[0], _EXAMPLE['match'])}.")
    bad = next(k for k in obj if k not in _ALL_CONDITION_KEYS or len(keys) > 1)
    raise FilterError(f"{where}: " + unknown("condition", bad, _ALL_CONDITION_KEYS,
                                             f"A condition is a field condition such as {_EXAMPLE['match']}, "
                                             "one of has_id/is_empty/is_null/nested, or a filter."))


def _number(value: Any, where: str, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value != value:
        raise FilterError(f"{where}: {short_repr(value)} is not a number. Use a number, e.g. {example}")
    return float(value)


def _parse_field(obj: Mapping, where: str) -> tuple:
    _bad_keys(obj, _FIELD_KEYS, where, "field condition key")
    path = parse_key(obj["key"], f"{where}['key']")
    preds = [k for k in _PREDICATES if obj.get(k) is not None]
    if not preds:
        raise FilterError(f"{where}: the field condition on {obj['key']!r} has nothing to check. Add one of "
                          f"{list(_PREDICATES[:5])}, e.g. {_EXAMPLE['match']}.")
    if len(preds) > 1:
        raise FilterError(f"{where}: the field condition on {obj['key']!r} has {len(preds)} checks {preds}; "
                          "Qdrant would use only one of them. Give each its own condition, e.g. "
                          f'{{"must": [{{"key": {obj["key"]!r}, "{preds[0]}": ...}}, '
                          f'{{"key": {obj["key"]!r}, "{preds[1]}": ...}}]}}.')
    name = preds[0]
    value, w = _as_mapping(obj[name]), f"{where}[{name!r}]"
    if name in ("is_empty", "is_null"):
        if not isinstance(value, bool):
            raise FilterError(f"{w}: {short_repr(value)} is not true or false.")
        return (name, path, value)
    if name.startswith("geo_"):
        raise FilterError(f"{w}: geo conditions are not supported by explorekit yet. Filter on numeric "
                          "lat/lon fields with range conditions instead.")
    if not isinstance(value, Mapping):
        raise FilterError(f"{w}: {short_repr(value)} is not a dict. Use e.g. {_EXAMPLE[name]}.")
    if name == "match":
        return _parse_match(value, path, w)
    _bad_keys(value, _BOUNDS, w, f"{name} bound")
    bounds = {b: value.get(b) for b in _BOUNDS}
    given = {b: v for b, v in bounds.items() if v is not None}
    if name == "values_count":
        for b, v in given.items():
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise FilterError(f"{w}[{b!r}]: {short_repr(v)} is not a count. Use a whole number >= 0, e.g. "
                                  f"{_EXAMPLE['values_count']}.")
        return ("values_count", path, {b: int(v) for b, v in given.items()})
    texts = [b for b, v in given.items() if isinstance(v, (str, _dt.date))]
    if texts and len(texts) < len(given):
        raise FilterError(f"{w}: mixes datetime strings and numbers {given}. Use numbers for a numeric range "
                          "or RFC 3339 strings for a datetime range, not both.")
    if texts:
        out = {}
        for b, v in given.items():
            text = v if isinstance(v, str) else v.isoformat()
            stamp = parse_datetime(text)
            if stamp is None:
                raise FilterError(f"{w}[{b!r}]: {v!r} is not a number (nor an RFC 3339 datetime). Use a "
                                  f'number, e.g. {{"range": {{"{b}": 10}}}}, or a datetime string such as '
                                  '"2024-01-31T12:00:00Z".')
            out[b] = stamp
        return ("range", path, out, True)
    out = {b: _number(v, f"{w}[{b!r}]", f'{{"range": {{"{b}": 10}}}}') for b, v in given.items()}
    return ("range", path, out, False)


def _parse_match(value: Mapping, path: tuple, where: str) -> tuple:
    kinds = [k for k in value if k in _MATCH_KINDS]
    _bad_keys(value, _MATCH_KINDS, where, "match kind")
    if len(kinds) != 1:
        raise FilterError(f"{where}: {short_repr(dict(value))} must have exactly one of {list(_MATCH_KINDS)}. "
                          f"Use e.g. {_EXAMPLE['match']}.")
    kind = kinds[0]
    v, w = value[kind], f"{where}[{kind!r}]"
    if kind == "value":
        if isinstance(v, (bool, np.bool_)):
            return ("match", path, "value", bool(v))
        if isinstance(v, (int, np.integer)) and _I64[0] <= v <= _I64[1]:
            return ("match", path, "value", int(v))
        if isinstance(v, str):
            return ("match", path, "value", v)
        hint = (' There is no float match; use a range, e.g. {"range": {"gte": 1.5, "lte": 1.5}}.'
                if isinstance(v, (float, np.floating)) else "")
        raise FilterError(f"{w}: {short_repr(v)} cannot be matched.{hint} Match a string, an integer or a bool, "
                          f"e.g. {_EXAMPLE['match']}.")
    if kind in ("any", "except"):
        if not isinstance(v, (list, tuple, np.ndarray)):
            raise FilterError(f"{w}: {short_repr(v)} is not a list. Use e.g. "
                              f'{{"match": {{"{kind}": ["red", "blue"]}}}}.')
        items = list(v)
        strs = all(isinstance(x, str) for x in items)
        ints = all(isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))
                   and _I64[0] <= x <= _I64[1] for x in items)
        if not (strs or ints):
            raise FilterError(f"{w}: {short_repr(items)} must be all strings or all integers. "
                              f'Use e.g. {{"match": {{"{kind}": ["red", "blue"]}}}} or {{"match": {{"{kind}": [1, 2]}}}}.')
        items = [str(x) for x in items] if strs else [int(x) for x in items]
        return ("match", path, kind, (("str" if strs else "int") if items else "empty", items))
    if not isinstance(v, str):
        raise FilterError(f"{w}: {short_repr(v)} is not a string. Use e.g. "
                          f'{{"match": {{"{kind}": "hello world"}}}}.')
    return ("match", path, kind, v)


def _parse(filter: Any) -> tuple:
    return _parse_filter(filter, "filter", top=True)


# ---------------------------------------------------------------------- evaluation
def _cat_index(pv: PathValues) -> pd.Index:
    return pv.cached("index", lambda: pd.Index(pv.cats, dtype=object))


def _codes(pv: PathValues, values: list[str]) -> np.ndarray:
    codes = _cat_index(pv).get_indexer(values) if len(pv.cats) else np.full(len(values), -1)
    return codes[codes >= 0]


def _cat_hits(pv: PathValues, catsel: np.ndarray) -> np.ndarray:
    """Rows with a string whose category is selected (codes -1 mark rows without one)."""
    return pv.strs.hits(np.append(catsel, False)[pv.strs.data])


def _token_index(pv: PathValues) -> tuple[list[list[str]], dict[str, np.ndarray]]:
    def build() -> tuple[list[list[str]], dict[str, np.ndarray]]:
        lists = [_tokens(c) for c in pv.cats.tolist()]
        inv: dict[str, list[int]] = {}
        for i, toks in enumerate(lists):
            for t in set(toks):
                inv.setdefault(t, []).append(i)
        return lists, {t: np.array(ix, dtype=np.intp) for t, ix in inv.items()}
    return pv.cached("tokens", build)


def _text_cats(pv: PathValues, kind: str, query: str) -> np.ndarray:
    catsel = np.zeros(len(pv.cats), dtype=bool)
    if kind in ("prefix", "substring"):
        test = (lambda c: c.startswith(query)) if kind == "prefix" else (lambda c: query in c)
        catsel[:] = [test(c) for c in pv.cats.tolist()]
        return catsel
    q = _tokens(query)
    if not q:
        return catsel
    lists, inv = _token_index(pv)
    empty = np.zeros(0, dtype=np.intp)
    if kind == "text_any":
        for t in set(q):
            catsel[inv.get(t, empty)] = True
        return catsel
    cand = inv.get(q[0], empty)
    for t in set(q[1:]):
        cand = np.intersect1d(cand, inv.get(t, empty), assume_unique=True)
    if kind == "phrase":
        k = len(q)
        cand = np.array([i for i in cand.tolist()
                         if any(lists[i][j:j + k] == q for j in range(len(lists[i]) - k + 1))], dtype=np.intp)
    catsel[cand] = True
    return catsel


def _all_values(pv: PathValues, skip: str = "") -> np.ndarray:
    out = np.zeros(pv.n, dtype=bool)
    for name in ("ints", "floats", "bools", "strs", "others"):
        if name != skip:
            out |= getattr(pv, name).hits()
    return out


def _eval_match(pv: PathValues, kind: str, arg: Any) -> np.ndarray:
    if kind == "value":
        if isinstance(arg, bool):
            return pv.bools.hits(pv.bools.data == arg)
        if isinstance(arg, int):
            return pv.ints.hits(pv.ints.data == arg)
        codes = _codes(pv, [arg])
        return pv.strs.hits(pv.strs.data == codes[0]) if len(codes) else np.zeros(pv.n, dtype=bool)
    if kind in ("any", "except"):
        typ, items = arg
        if typ == "empty":
            return np.zeros(pv.n, dtype=bool) if kind == "any" else _all_values(pv)
        if typ == "int":
            group, sel_in = pv.ints, np.isin(pv.ints.data, np.array(items, dtype=np.int64))
        else:
            group, sel_in = pv.strs, np.isin(pv.strs.data, _codes(pv, items))
        if kind == "any":
            return group.hits(sel_in)
        if typ == "str":
            sel_in |= pv.strs.data < 0
        return group.hits(~sel_in) | _all_values(pv, skip="ints" if typ == "int" else "strs")
    return _cat_hits(pv, _text_cats(pv, kind, arg))


def _in_bounds(values: np.ndarray, b: dict) -> np.ndarray:
    sel = np.ones(len(values), dtype=bool)
    if "gt" in b:
        sel &= values > b["gt"]
    if "gte" in b:
        sel &= values >= b["gte"]
    if "lt" in b:
        sel &= values < b["lt"]
    if "lte" in b:
        sel &= values <= b["lte"]
    return sel


def _cat_datetimes(pv: PathValues) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds of each distinct string that is a datetime, and which ones are."""
    def build() -> tuple[np.ndarray, np.ndarray]:
        stamps = [parse_datetime(c) for c in pv.cats.tolist()]
        ok = np.array([s is not None for s in stamps], dtype=bool)
        return np.array([s or 0 for s in stamps], dtype=np.int64), ok
    return pv.cached("datetimes", build)


def _eval_range(pv: PathValues, bounds: dict, is_datetime: bool) -> np.ndarray:
    if is_datetime:
        stamps, ok = _cat_datetimes(pv)
        return _cat_hits(pv, ok & _in_bounds(stamps, bounds))
    return (pv.ints.hits(_in_bounds(pv.ints.data.astype(np.float64), bounds))
            | pv.floats.hits(_in_bounds(pv.floats.data, bounds)))


def _eval(node: tuple, payload: Payload, ids: IdIndex | None) -> np.ndarray:
    tag, n = node[0], len(payload)
    if tag == "filter":
        _, must, should, must_not, min_should = node
        mask = np.ones(n, dtype=bool)
        for cond in must:
            mask &= _eval(cond, payload, ids)
        for cond in must_not:
            mask &= ~_eval(cond, payload, ids)
        if should:
            anyof = np.zeros(n, dtype=bool)
            for cond in should:
                anyof |= _eval(cond, payload, ids)
            mask &= anyof
        if min_should is not None:
            conds, count = min_should
            if count > len(conds):
                return np.zeros(n, dtype=bool)
            total = np.zeros(n, dtype=np.int64)
            for cond in conds:
                total += _eval(cond, payload, ids)
            mask &= total >= count
        return mask
    if tag == "has_id":
        mask = np.zeros(n, dtype=bool)
        if ids is not None:
            rows = [ids.row(v) for v in node[1] if v in ids]
            mask[rows] = True
        return mask
    if tag == "nested":
        sub, parents = payload.nested(node[1])
        mask = np.zeros(n, dtype=bool)
        if len(sub):
            mask[parents[_eval(node[2], sub, None)]] = True
        return mask
    pv = payload.values(node[1])
    if tag == "match":
        return _eval_match(pv, node[2], node[3])
    if tag == "range":
        return _eval_range(pv, node[2], node[3])
    if tag == "values_count":
        mask = pv.counts.hits(_in_bounds(pv.counts.data, node[2]))
        if _in_bounds(np.zeros(1, dtype=np.int64), node[2])[0]:
            mask |= ~pv.has_value
        return mask
    if tag == "is_empty":
        return pv.nonempty != node[2]
    if tag == "is_null":
        return pv.nullish == node[2]
    raise AssertionError(tag)


# ---------------------------------------------------------------------- entry points
def _kind(filter: Any) -> str:
    if filter is None:
        return "none"
    if isinstance(filter, str):
        return "query"
    if isinstance(filter, pd.Series):
        return "series"
    if isinstance(filter, np.ndarray):
        return "array"
    if isinstance(filter, Mapping) or hasattr(filter, "model_dump"):
        return "qdrant"
    hint = " Convert it with np.asarray(...)." if isinstance(filter, (list, tuple)) else ""
    raise FilterError(f"filter: {short_repr(filter)} of type {type(filter).__name__} is not a filter.{hint} Use a "
                      "Qdrant filter dict, a pandas query string, or a boolean array/Series with one value per point.")


def _check_bool(values: Any, what: str) -> None:
    dtype = values.dtype
    if not (dtype == bool or str(dtype) == "boolean"):
        raise FilterError(f"filter: the {what} has dtype {dtype}, not bool. Pass True/False per point, "
                          "e.g. (values > 0) or values.astype(bool).")
    if getattr(values, "ndim", 1) != 1:
        raise FilterError(f"filter: the {what} has shape {values.shape}; it must be 1-D, one value per point.")


def validate_filter(filter: Any) -> None:
    """Raise FilterError for a malformed filter, without evaluating it (nothing is changed).

    >>> validate_filter({"must": [{"key": "a", "range": {"gt": "ten"}}]})
    Traceback (most recent call last):
    ...
    explorekit._errors.FilterError: filter['must'][0]['range']['gt']: 'ten' is not a number ...
    """
    kind = _kind(filter)
    if kind == "qdrant":
        _parse(filter)
    elif kind == "query":
        preprocess_query(filter)
    elif kind in ("array", "series"):
        _check_bool(filter, "boolean Series" if kind == "series" else "boolean array")


_ID_INDEXES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _id_positions(ids: IdIndex, labels: pd.Index) -> np.ndarray:
    """Row of each label in ``ids`` (-1 if it is not an id); labels are normalised like ids."""
    if ids not in _ID_INDEXES:
        _ID_INDEXES[ids] = (pd.Index(ids.values) if ids.all_int else None, pd.Index(ids.values, dtype=object))
    by_int, by_obj = _ID_INDEXES[ids]
    if pd.api.types.is_integer_dtype(labels.dtype):
        return by_int.get_indexer(labels) if by_int is not None else by_obj.get_indexer(labels.astype(object))
    norm = []
    for v in labels:
        try:
            norm.append(normalize_id(v))
        except ExploreError:
            norm.append(None)
    return by_obj.get_indexer(pd.Index(norm, dtype=object))


def _series_mask(s: pd.Series, ids: IdIndex | None, n: int) -> np.ndarray:
    _check_bool(s, "boolean Series")
    if s.isna().any():
        raise FilterError(f"filter: the boolean Series has {int(s.isna().sum())} missing values. Fill them, "
                          "e.g. s.fillna(False).")
    values = s.to_numpy(dtype=bool)
    if ids is not None and len(s) == n and s.index.is_unique:
        pos = _id_positions(ids, s.index)
        if (pos >= 0).all():
            out = np.empty(n, dtype=bool)
            out[pos] = values
            return out
    idx = s.index
    if isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1 and len(idx) == n:
        return values.copy()
    raise FilterError(f"filter: the boolean Series (length {len(s)}, index {short_repr(list(idx[:5]))}...) is "
                      f"neither indexed by the {n} point ids nor a RangeIndex of length {n}. Align it, e.g. "
                      "s.reindex(col.ids, fill_value=False), or pass s.to_numpy() in row order.")


def _query_mask(expr: str, payload: Payload) -> np.ndarray:
    preprocess_query(expr)
    frame = payload.query_frame()
    try:
        result = frame.eval(expr, local_dict={}, global_dict={})
    except Exception as err:  # pandas raises many kinds; all mean "this expression does not work here"
        hint = ""
        name = getattr(err, "args", [""])[0]
        match = re.search(r"name '([^']+)' is not defined", str(name))
        if match:
            hint = " " + unknown("column", match.group(1), payload.columns,
                                 "Names with spaces go in backticks: `my col` > 1.")
        elif "local variable" in str(name):
            hint = " @variables are not available here: write the value into the string."
        raise FilterError(f"filter: the pandas query {expr!r} failed: {type(err).__name__}: {err}.{hint}") from None
    if not isinstance(result, pd.Series) or len(result) != len(payload):
        raise FilterError(f"filter: the pandas query {expr!r} does not give one True/False per point. Write a "
                          "condition such as \"size > 100 and colour == 'red'\".")
    if result.dtype != bool:
        if str(result.dtype) == "boolean":
            result = result.fillna(False)
        else:
            raise FilterError(f"filter: the pandas query {expr!r} gives {result.dtype} values, not True/False. "
                              "Write a condition such as \"size > 100\".")
    return result.to_numpy(dtype=bool)


def filter_mask(filter: FilterLike, payload: Payload, ids: IdIndex | None) -> np.ndarray:
    """Which points pass ``filter``: a new bool array of ``len(payload)`` (None -> all True).

    Parameters
    ----------
    filter : dict | qdrant_client.models.Filter | str | numpy.ndarray | pandas.Series | None
        See the module docstring for each form.
    payload : Payload
        The collection's payload, one row per point.
    ids : IdIndex or None
        The point ids in row order (for ``has_id`` and Series alignment).

    Raises
    ------
    FilterError
        A malformed filter, a failing pandas query, or a mask of the wrong length or dtype.
    """
    n = len(payload)
    kind = _kind(filter)
    if kind == "none":
        return np.ones(n, dtype=bool)
    if kind == "qdrant":
        return _eval(_parse(filter), payload, ids)
    if kind == "query":
        return _query_mask(filter, payload)
    if kind == "series":
        return _series_mask(filter, ids, n)
    _check_bool(filter, "boolean array")
    if len(filter) != n:
        raise FilterError(f"filter: the boolean array has length {len(filter)} but the collection has {n} points. "
                          "Pass one value per point, in row order.")
    return np.array(filter, dtype=bool)


# ---------------------------------------------------------------------- pandas query -> Qdrant filter
def preprocess_query(expr: Any) -> tuple[ast.Expression, dict[str, str], str]:
    """Parse a pandas query string as pandas does (backtick names; ``&``/``|`` as and/or).

    Returns the Python syntax tree, the placeholder -> column name map and the rewritten source.
    """
    if not isinstance(expr, str) or not expr.strip():
        raise FilterError(f"filter: {short_repr(expr)} is not a query. Write a condition such as \"size > 100\".")
    out, names, i, n = [], {}, 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch in "'\"":
            j = i + 1
            while j < n and expr[j] != ch:
                j += 2 if expr[j] == "\\" else 1
            out.append(expr[i:j + 1])
            i = j + 1
        elif ch == "`":
            j = expr.find("`", i + 1)
            if j < 0:
                raise FilterError(f"filter: the pandas query {expr!r} has an unclosed backtick at position {i}.")
            token = f"__ek_col{len(names)}__"
            names[token] = expr[i + 1:j]
            out.append(token)
            i = j + 1
        elif ch == "@" and (m := re.match(r"@([A-Za-z_]\w*)", expr[i:])):
            out.append(f"__ek_at_{m.group(1)}")         # pandas' @variable (checked later)
            i += m.end()
        else:
            out.append({"&": " and ", "|": " or "}.get(ch, ch))
            i += 1
    source = "".join(out)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as err:
        raise FilterError(f"filter: the pandas query {expr!r} is not valid: {err.msg}. Write a condition such as "
                          "\"size > 100 and colour == 'red'\" (names with spaces in backticks).") from None
    return tree, names, source.strip()


_FLIP = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}
_RANGE_OP = {ast.Lt: "lt", ast.LtE: "lte", ast.Gt: "gt", ast.GtE: "gte"}


class _Translator:
    def __init__(self, expr: str, names: dict[str, str], source: str) -> None:
        self.expr, self.names, self.source = expr, names, source

    def fail(self, node: ast.AST, why: str) -> FilterError:
        part = (ast.get_source_segment(self.source, node) or "?").replace("__ek_at_", "@")
        for token, name in self.names.items():
            part = part.replace(token, f"`{name}`")
        return FilterError(f"filter: cannot translate {part!r} of the pandas query {self.expr!r} to a Qdrant "
                           f"filter: {why}. Supported: ==, !=, <, <=, >, >=, in, not in, and, or, not, "
                           "parentheses, .isna(), .notna(), comparing a column with a literal.")

    def key(self, node: ast.AST) -> str | None:
        if not isinstance(node, ast.Name):
            return None
        if node.id.startswith("__ek_at_"):
            raise self.fail(node, "@variables cannot be translated; write the value into the string")
        name = self.names.get(node.id, node.id)
        if name and all(c.isalnum() or c in "_-" for c in name):
            return name
        if '"' in name:
            raise self.fail(node, f"the column name {name!r} contains a double quote, which a Qdrant key "
                                  "cannot hold")
        return f'"{name}"'

    def literal(self, node: ast.AST) -> Any:
        try:
            value = ast.literal_eval(node)
        except ValueError:
            raise self.fail(node, "only literal values (numbers, strings, True/False, lists) can be "
                                  "compared") from None
        if value is None:
            raise self.fail(node, "comparing with None is not a condition; use .isna() or .notna()")
        return value

    def equal(self, key: str, value: Any, node: ast.AST) -> dict:
        if isinstance(value, (bool, str)):
            return {"key": key, "match": {"value": value}}
        if isinstance(value, (int, float)):
            return {"key": key, "range": {"gte": value, "lte": value}}
        raise self.fail(node, f"{value!r} cannot be compared for equality")

    def compare(self, node: ast.Compare) -> dict:
        parts, left = [], node.left
        for op, right in zip(node.ops, node.comparators):
            parts.append(self.pair(node, left, op, right))
            left = right
        if len(parts) == 1:
            return parts[0]
        ranges = [p for p in parts if "range" in p]
        if len(ranges) == len(parts) and len({p["key"] for p in parts}) == 1 and \
                sum(len(p["range"]) for p in parts) == len({b for p in parts for b in p["range"]}):
            return {"key": parts[0]["key"], "range": {b: v for p in parts for b, v in p["range"].items()}}
        return {"must": parts}

    def pair(self, node: ast.AST, left: ast.AST, op: ast.cmpop, right: ast.AST) -> dict:
        if isinstance(op, (ast.In, ast.NotIn)):
            key = self.key(left)
            if key is None or self.key(right) is not None:
                raise self.fail(node, "'in' needs a column on the left and a list on the right")
            values = self.literal(right)
            if not isinstance(values, (list, tuple, set)):
                raise self.fail(node, "'in' needs a list of values")
            values = list(values)
            if all(isinstance(v, str) for v in values):
                cond = {"key": key, "match": {"any": values}}
            else:
                cond = {"should": [self.equal(key, v, node) for v in values]}
            return {"must_not": [cond]} if isinstance(op, ast.NotIn) else cond
        key = self.key(left)
        if key is None:
            key, left, right = self.key(right), right, left
            op = _FLIP.get(type(op), type(op))()
        if key is None or self.key(right) is not None:
            raise self.fail(node, "a comparison needs one column and one literal value")
        value = self.literal(right)
        if isinstance(op, ast.Eq):
            return self.equal(key, value, node)
        if isinstance(op, ast.NotEq):
            return {"must_not": [self.equal(key, value, node)]}
        if type(op) in _RANGE_OP and isinstance(value, (int, float)) and not isinstance(value, bool):
            return {"key": key, "range": {_RANGE_OP[type(op)]: value}}
        raise self.fail(node, "Qdrant ranges compare numbers only" if type(op) in _RANGE_OP else "unsupported operator")

    def condition(self, node: ast.AST) -> dict:
        if isinstance(node, ast.BoolOp):
            clause = "must" if isinstance(node.op, ast.And) else "should"
            conds = []
            for value in node.values:
                cond = self.condition(value)
                conds.extend(cond[clause] if set(cond) == {clause} else [cond])
            return {clause: conds}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
            return {"must_not": [self.condition(node.operand)]}
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args \
                and not node.keywords and node.func.attr in ("isna", "isnull", "notna", "notnull"):
            key = self.key(node.func.value)
            if key is None:
                raise self.fail(node, f".{node.func.attr}() needs a column")
            cond = {"is_empty": {"key": key}}
            return cond if node.func.attr in ("isna", "isnull") else {"must_not": [cond]}
        if isinstance(node, ast.Name) and node.id not in ("True", "False"):
            return {"key": self.key(node), "match": {"value": True}}
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return {"must": []} if node.value else {"must_not": [{"must": []}]}
        raise self.fail(node, "this kind of expression has no Qdrant filter equivalent")


def pandas_query_to_filter(expr: str) -> dict:
    """Translate a pandas query string to a Qdrant filter dict with the same answers.

    Numbers compare numerically (``==`` becomes a range with ``gte == lte``, so 2 also finds
    2.0, as in pandas), strings and bools by ``match``; ``!=`` and ``not in`` become
    ``must_not`` (so missing values pass, as NaN does in pandas); ``.isna()`` is ``is_empty``.
    Bool literals match bool values only, and ordering (``<``) works on numbers only.

    >>> pandas_query_to_filter("`my col` in ['a', 'b'] or not (size > 3)")
    {'should': [{'key': '"my col"', 'match': {'any': ['a', 'b']}}, {'must_not': [{'key': 'size', 'range': {'gt': 3}}]}]}
    """
    tree, names, source = preprocess_query(expr)
    cond = _Translator(expr, names, source).condition(tree.body)
    return cond if cond and set(cond) <= set(_CLAUSES) else {"must": [cond]}
