"""Evaluate a parsed filter (see :mod:`explorekit.query.filter_parse`) as a boolean row mask.

Vectorised over the typed values at each key path (``Payload.values`` / ``Payload.nested``),
with Qdrant's rules (docs/qdrant-semantics.md, "Filters"): ``match`` compares exact JSON
types, ``range`` compares numbers in float64 (or datetime strings as instants, or strings in
code-point order for a pandas query's ``s > 'b'``), arrays count
element by element, ``values_count``, ``is_empty`` and ``is_null`` look at the values before
that flattening, text matching uses Qdrant's word tokens (alphanumeric runs, lower-cased), and geo conditions use
Qdrant's geometry (:mod:`explorekit.query.filter_geo`). ``has_vector`` passes for the vector
names given as ``vectors`` (every point has every vector of its collection), ``slice`` for the
ids whose SipHash falls in the slice; inside ``nested`` neither passes (there is no point id or
vector there, as in Qdrant).

Examples
--------
>>> from explorekit.query.filter_parse import parse_filter
>>> from explorekit.data.payload import Payload
>>> p = Payload.from_records([{"t": "Red fox"}, {"t": "red"}, {}])
>>> evaluate(parse_filter({"must": [{"key": "t", "match": {"text": "fox red"}}]}), p, None).tolist()
[True, False, False]
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from explorekit.data.ids import IdIndex
from explorekit.data.jsonpath import parse_datetime
from explorekit.data.pathvalues import PathValues
from explorekit.data.payload import Payload
from explorekit.query.filter_geo import in_box, in_polygon, in_radius, slice_of

__all__ = ["evaluate"]

_TOKEN_RE = re.compile(r"[^\W_]+")


def _tokens(text: str) -> list[str]:
    """Qdrant's word tokens for unindexed text matching: alphanumeric runs, lower-cased."""
    return [t.lower() for t in _TOKEN_RE.findall(text)]


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
        cand = np.array(
            [i for i in cand.tolist() if any(lists[i][j : j + k] == q for j in range(len(lists[i]) - k + 1))],
            dtype=np.intp,
        )
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


def _eval_range(pv: PathValues, bounds: dict, kind: str) -> np.ndarray:
    if kind == "datetime":
        stamps, ok = _cat_datetimes(pv)
        return _cat_hits(pv, ok & _in_bounds(stamps, bounds))
    if kind == "text":  # strings in code-point order (pandas' s > 'b'), one test per category
        return _cat_hits(pv, _in_bounds(np.asarray(pv.cats, dtype=object), bounds))
    return pv.ints.hits(_in_bounds(pv.ints.data.astype(np.float64), bounds)) | pv.floats.hits(
        _in_bounds(pv.floats.data, bounds)
    )


_GEO_TESTS = {"geo_radius": in_radius, "geo_bounding_box": in_box, "geo_polygon": in_polygon}


def _eval_geo(payload: Payload, tag: str, path: tuple, shape: tuple) -> np.ndarray:
    """Rows with at least one geo point at ``path`` inside ``shape``."""
    rows, lat, lon = payload.geo_points(path)
    mask = np.zeros(len(payload), dtype=bool)
    mask[rows[_GEO_TESTS[tag](lat, lon, shape)]] = True
    return mask


def evaluate(node: tuple, payload: Payload, ids: IdIndex | None, vectors: Collection[str] = ()) -> np.ndarray:
    """The rows of ``payload`` passing a parsed filter ``node``.

    ``ids`` are the point ids in row order (None: ``has_id`` and ``slice`` pass nowhere);
    ``vectors`` the vector names every point has (``has_vector`` passes for those).
    """
    tag, n = node[0], len(payload)
    if tag == "filter":
        _, must, should, must_not, min_should = node
        mask = np.ones(n, dtype=bool)
        for cond in must:
            mask &= evaluate(cond, payload, ids, vectors)
        for cond in must_not:
            mask &= ~evaluate(cond, payload, ids, vectors)
        if should:
            anyof = np.zeros(n, dtype=bool)
            for cond in should:
                anyof |= evaluate(cond, payload, ids, vectors)
            mask &= anyof
        if min_should is not None:
            conds, count = min_should
            if count > len(conds):
                return np.zeros(n, dtype=bool)
            total = np.zeros(n, dtype=np.int64)
            for cond in conds:
                total += evaluate(cond, payload, ids, vectors)
            mask &= total >= count
        return mask
    if tag == "has_id":
        mask = np.zeros(n, dtype=bool)
        if ids is not None:
            rows = [ids.row(v) for v in node[1] if v in ids]
            mask[rows] = True
        return mask
    if tag == "has_vector":
        return np.full(n, node[1] in vectors, dtype=bool)
    if tag == "slice":
        return np.zeros(n, dtype=bool) if ids is None else slice_of(ids, node[1]) == node[2]
    if tag == "nested":
        sub, parents = payload.nested(node[1])
        mask = np.zeros(n, dtype=bool)
        if len(sub):
            mask[parents[evaluate(node[2], sub, None)]] = True
        return mask
    if tag in _GEO_TESTS:
        return _eval_geo(payload, tag, node[1], node[2])
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
