"""The values at a JSON key path, split by JSON type: what payload filters evaluate.

``walk`` follows a parsed key path (str = object key, int = array index, None = every
element) inside one JSON value. ``PathValues`` collects, for every payload row, the values at
a path in typed groups (ints, floats, bools, strings as category codes, others) plus the
per-row facts that ``values_count``, ``is_empty`` and ``is_null`` need, following Qdrant's
rules. ``Group`` is one typed group, dense (aligned with the rows) or sparse (row per value).

Examples
--------
>>> found = []
>>> walk({"a": [{"b": 1}, {"b": [2, 3]}, {}]}, ("a", None, "b"), found)
>>> found
[1, [2, 3]]
>>> pv = PathValues.of_walk(2, [0, 1], [{"t": ["x", 5]}, {"t": None}], ("t",))
>>> pv.strs.hits().tolist(), pv.ints.hits().tolist(), pv.nullish.tolist()
([True, False], [True, False], [False, True])
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from explorekit.data.jsonvalues import I64

__all__ = ["Group", "PathValues", "walk"]


class Group:
    """Values of one JSON type found at a key path.

    Dense (``rows is None``): ``data`` is aligned with the payload rows and ``valid`` (None for
    all) says which rows hold a value. Sparse: value ``j`` belongs to row ``rows[j]``.
    """

    __slots__ = ("n", "data", "rows", "valid")

    def __init__(
        self, n: int, data: np.ndarray, rows: np.ndarray | None = None, valid: np.ndarray | None = None
    ) -> None:
        self.n, self.data, self.rows, self.valid = n, data, rows, valid

    @classmethod
    def empty(cls, n: int, dtype: Any) -> Group:
        return cls(n, np.zeros(0, dtype=dtype), np.zeros(0, dtype=np.int64))

    def hits(self, sel: np.ndarray | None = None) -> np.ndarray:
        """Rows where at least one value is selected (``sel`` is over ``data``; None selects all)."""
        if self.rows is None:
            if sel is None:
                return np.ones(self.n, dtype=bool) if self.valid is None else self.valid.copy()
            return sel if self.valid is None else sel & self.valid
        out = np.zeros(self.n, dtype=bool)
        out[self.rows if sel is None else self.rows[sel]] = True
        return out


class PathValues:
    """What filters need to know about one key path, split by JSON type (Qdrant's rules).

    Flat values (an array at the end of the path counts element by element, one level only):
    ``ints`` (JSON integers that fit int64), ``floats`` (other numbers), ``bools``, ``strs``
    (codes into ``cats``, the distinct strings) and ``others`` (objects, nested arrays).
    Per row, over the values at the path before that flattening: ``has_value``, ``nonempty``
    (some value is neither null nor ``[]``), ``nullish`` (some value is null or an array with a
    null element) and ``counts`` (one per value: array length, 0 for null, else 1).
    """

    def __init__(self, n: int, **parts: Any) -> None:
        self.n = n
        self.ints: Group = parts["ints"]
        self.floats: Group = parts["floats"]
        self.bools: Group = parts["bools"]
        self.strs: Group = parts["strs"]
        self.cats: np.ndarray = parts["cats"]
        self.others: Group = parts["others"]
        self.has_value: np.ndarray = parts["has_value"]
        self.nonempty: np.ndarray = parts["nonempty"]
        self.nullish: np.ndarray = parts["nullish"]
        self.counts: Group = parts["counts"]
        self._cache: dict[Any, Any] = {}

    def cached(self, key: Any, build: Any) -> Any:
        """``build()`` once per key (e.g. a token index over ``cats``)."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @staticmethod
    def _groups(n: int) -> dict[str, Any]:
        return dict(
            ints=Group.empty(n, np.int64),
            floats=Group.empty(n, np.float64),
            bools=Group.empty(n, bool),
            strs=Group.empty(n, np.intp),
            cats=np.zeros(0, dtype=object),
            others=Group.empty(n, bool),
        )

    @classmethod
    def nothing(cls, n: int) -> PathValues:
        """No value in any row (a missing key)."""
        none = np.zeros(n, dtype=bool)
        return cls(n, has_value=none, nonempty=none, nullish=none, counts=Group.empty(n, np.int64), **cls._groups(n))

    @classmethod
    def of_column(cls, kind: str, data: np.ndarray, present: np.ndarray, null: np.ndarray) -> PathValues:
        """The values of a typed top-level column, without a Python loop."""
        n, valid = len(data), present & ~null
        parts = cls._groups(n)
        if kind == "str":
            codes, cats = pd.factorize(data, use_na_sentinel=True)
            parts["strs"] = Group(n, np.asarray(codes, dtype=np.intp), valid=valid)
            parts["cats"] = np.asarray(cats, dtype=object)
        else:
            parts[{"int": "ints", "float": "floats", "bool": "bools"}[kind]] = Group(n, data, valid=valid)
        counts = Group(n, (~null).astype(np.int64), valid=present)
        return cls(n, has_value=present, nonempty=valid, nullish=null, counts=counts, **parts)

    @classmethod
    def of_cells(cls, n: int, rows: np.ndarray, values: list) -> PathValues:
        """One JSON value per listed row (a json column's own values), split with few Python steps."""
        m = len(values)
        types = list(map(type, values))
        lengths = np.fromiter(
            (len(v) if t is list else (v is not None) for v, t in zip(values, types)), dtype=np.int64, count=m
        )
        flat = list(chain.from_iterable(v if t is list else (v,) for v, t in zip(values, types) if v is not None))
        frows = np.repeat(rows, lengths)
        ftypes = np.fromiter(map(type, flat), dtype=object, count=len(flat))
        items = np.fromiter(flat, dtype=object, count=len(flat))
        is_none = ftypes == type(None)
        parts = cls._groups(n)
        sel = ftypes == int
        try:
            parts["ints"] = Group(n, items[sel].astype(np.int64), frows[sel])
        except OverflowError:  # a JSON integer beyond int64: the general path sorts it out
            return cls.of_walk(n, rows.tolist(), values, ())
        sel = ftypes == float
        parts["floats"] = Group(n, items[sel].astype(np.float64), frows[sel])
        sel = ftypes == bool
        parts["bools"] = Group(n, items[sel].astype(bool), frows[sel])
        sel = ftypes == str
        if sel.any():
            codes, cats = pd.factorize(items[sel])
            parts["strs"] = Group(n, np.asarray(codes, dtype=np.intp), frows[sel])
            parts["cats"] = np.asarray(cats, dtype=object)
        sel = (ftypes == dict) | (ftypes == list)
        parts["others"] = Group(n, np.zeros(int(sel.sum()), dtype=bool), frows[sel])
        null_roots = np.fromiter((v is None for v in values), dtype=bool, count=m)
        nullish = np.zeros(n, dtype=bool)
        nullish[rows[null_roots]] = True
        nullish[frows[is_none]] = True
        has_value = np.zeros(n, dtype=bool)
        has_value[rows] = True
        nonempty = np.zeros(n, dtype=bool)
        nonempty[rows[lengths > 0]] = True
        return cls(n, has_value=has_value, nonempty=nonempty, nullish=nullish, counts=Group(n, lengths, rows), **parts)

    @classmethod
    def of_walk(cls, n: int, rows: list[int], roots: list[Any], path: tuple) -> PathValues:
        """The general case: follow ``path`` inside each row's JSON value (one Python pass)."""
        cnt_r: list[int] = []
        cnt_v: list[int] = []
        nonempty: list[int] = []
        nullish: list[int] = []
        ir: list[int] = []
        iv: list[int] = []
        fr: list[int] = []
        fv: list[float] = []
        br: list[int] = []
        bv: list[bool] = []
        sr: list[int] = []
        sv: list[str] = []
        orow: list[int] = []
        lo, hi = I64
        found: list[Any] = []
        for r, root in zip(rows, roots):
            found.clear()
            walk(root, path, found)
            for v in found:
                cnt_r.append(r)
                if v is None:
                    cnt_v.append(0)
                    nullish.append(r)
                    continue
                if type(v) is list:
                    cnt_v.append(len(v))
                    items = v
                    if v:
                        nonempty.append(r)
                else:
                    cnt_v.append(1)
                    nonempty.append(r)
                    items = (v,)
                for e in items:
                    t = type(e)
                    if t is str:
                        sr.append(r)
                        sv.append(e)
                    elif t is int:
                        if lo <= e <= hi:
                            ir.append(r)
                            iv.append(e)
                        else:
                            fr.append(r)
                            fv.append(float(e))
                    elif t is float:
                        fr.append(r)
                        fv.append(e)
                    elif t is bool:
                        br.append(r)
                        bv.append(e)
                    elif e is None:
                        nullish.append(r)
                    else:
                        orow.append(r)

        def group(rs: list[int], data: np.ndarray) -> Group:
            return Group(n, data, np.array(rs, dtype=np.int64))

        def mask(rs: list[int]) -> np.ndarray:
            out = np.zeros(n, dtype=bool)
            out[rs] = True
            return out

        codes, cats = pd.factorize(np.array(sv, dtype=object)) if sv else (np.zeros(0, dtype=np.intp), [])
        return cls(
            n,
            ints=group(ir, np.array(iv, dtype=np.int64)),
            floats=group(fr, np.array(fv, dtype=np.float64)),
            bools=group(br, np.array(bv, dtype=bool)),
            strs=group(sr, np.asarray(codes, dtype=np.intp)),
            cats=np.asarray(cats, dtype=object),
            others=group(orow, np.zeros(len(orow), dtype=bool)),
            has_value=mask(cnt_r),
            nonempty=mask(nonempty),
            nullish=mask(nullish),
            counts=group(cnt_r, np.array(cnt_v, dtype=np.int64)),
        )


def walk(value: Any, path: tuple, out: list, i: int = 0) -> None:
    """Append the values at ``path[i:]`` under ``value`` (str = key, int = index, None = ``[]``)."""
    while i < len(path):
        seg = path[i]
        if seg is None:
            if type(value) is list:
                for item in value:
                    walk(item, path, out, i + 1)
            return
        if type(seg) is str:
            if type(value) is not dict or seg not in value:
                return
        elif type(value) is not list or seg >= len(value):
            return
        value = value[seg]
        i += 1
    out.append(value)
