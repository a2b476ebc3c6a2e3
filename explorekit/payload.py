"""Payload store: one JSON object per point, kept as typed columns.

Each top-level key is a column of one *kind*: ``int`` (int64), ``float`` (float64), ``bool``,
``str`` or ``json`` (any mix of JSON values, lists and objects, as Python objects). Besides
its values a column keeps two masks, so a **missing** key and an explicit JSON **null** stay
apart (Qdrant's ``is_empty`` is true for both, ``is_null`` only for null).

Rules at the boundary (documented here once):

* ``from_records``: an absent key is missing; ``None`` is JSON null; a top-level NaN,
  ``pd.NA`` or ``NaT`` is treated as missing (as ``df.to_dict("records")`` produces them).
  Inside lists and objects NaN becomes null, numpy scalars become Python numbers, tuples and
  arrays become lists, datetimes become RFC 3339 strings. Infinite numbers are rejected.
* ``from_frame``: NaN / None / ``pd.NA`` cells are missing keys (never null). A float column
  with missing cells whose values are all whole numbers (|v| <= 2**53) is taken to be an
  integer column that pandas upcast to float: its values are JSON integers, so
  ``match {"value": 2020}`` finds them and ``record()`` returns ``2020``. A float column with
  no missing cells stays float (``1.0`` is a JSON float, which ``match {"value": 1}`` does not
  find, as in Qdrant). Use the nullable ``Int64`` dtype to say "integers" explicitly.
  Datetime columns become RFC 3339 strings (``...Z`` for tz-aware ones, converted to UTC).
* ``frame`` and ``select`` build a fresh DataFrame on every call (lists/dicts in cells are
  copies), so changing them never changes the payload. Missing and null both show as NaN
  (numeric and str columns) or None (bool with gaps, json). Integer columns with gaps show
  as float64, like pandas.

Examples
--------
>>> p = Payload.from_records([{"tag": "a", "n": 1}, {"tag": None}, {}])
>>> p.record(0), p.record(1), p.record(2)
({'tag': 'a', 'n': 1}, {'tag': None}, {})
>>> p.frame["n"].tolist()
[1.0, nan, nan]
"""

from __future__ import annotations

import datetime as _dt
import math
from itertools import chain
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._errors import ExploreError, short_repr, unknown

_I64 = (-(2**63), 2**63 - 1)
_EXACT = 2**53
_STR_DTYPE: Any = "str" if int(pd.__version__.split(".")[0]) >= 3 else object


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def _is_top_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


class _NotJson(Exception):
    """A value with no JSON form; ``path`` is filled in while the error unwinds."""

    def __init__(self, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.value, self.reason, self.path = value, reason, []


_SCALARS = (bool, str, int)
_PLAIN = frozenset((bool, str, int, type(None)))


def _json(value: Any) -> Any:
    t = type(value)
    if value is None or t in _SCALARS:
        return value
    if t is float:
        if value != value:
            return None
        if value in (math.inf, -math.inf):
            raise _NotJson(value, "is not a JSON number. Replace infinite values (e.g. with None or a large "
                                  "finite number).")
        return value
    if t is list or t is tuple:
        for item in value:
            if type(item) not in _PLAIN:
                break
        else:
            return list(value)
    if t is list or t is tuple or t is np.ndarray:
        out = []
        for i, item in enumerate(value):
            try:
                out.append(item if item is None or type(item) in _SCALARS else _json(item))
            except _NotJson as err:
                err.path.insert(0, f"[{i}]")
                raise
        return out
    if isinstance(value, Mapping):
        obj = {}
        for k, item in value.items():
            if not isinstance(k, str):
                raise _NotJson(k, "(an object key) is not a string. JSON object keys are strings; convert "
                                  "them, e.g. {str(k): v for k, v in d.items()}.")
            try:
                obj[str(k)] = _json(item)
            except _NotJson as err:
                err.path.insert(0, f"[{k!r}]")
                raise
        return obj
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _json(float(value))
    if isinstance(value, (list, tuple)):
        return _json(list(value))
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (_dt.datetime, _dt.date)):
        return pd.Timestamp(value).isoformat().replace("+00:00", "Z")
    raise _NotJson(value, f"of type {type(value).__name__} is not a JSON value. Payload values are None, "
                          "bool, int, float, str, lists and dicts of them.")


def to_json(value: Any, where: str = "payload") -> Any:
    """A payload value as plain JSON-able Python (see the module rules); raises ExploreError.

    >>> to_json({"a": (1, np.int64(2), float("nan"))})
    {'a': [1, 2, None]}
    """
    try:
        return _json(value)
    except _NotJson as err:
        raise ExploreError(f"{where}{''.join(err.path)}: {short_repr(err.value)} {err.reason}") from None


_CONTAINERS = frozenset((list, dict))


def _cells_to_json(cells: list, keep: list[bool], where: Any) -> list:
    """``to_json`` of each kept cell (None elsewhere); ``where(i)`` names cell ``i`` in an error."""
    out = [None] * len(cells)
    try:
        for i, (cell, ok) in enumerate(zip(cells, keep)):
            if ok and cell is not None:
                out[i] = cell if type(cell) in _SCALARS else _json(cell)
    except _NotJson as err:
        raise ExploreError(f"{where(i)}{''.join(err.path)}: {short_repr(err.value)} {err.reason}") from None
    return out


def _copy_json(value: Any) -> Any:
    """A copy of the lists and dicts inside a JSON value (scalars are immutable)."""
    t = type(value)
    if t is list:
        for item in value:
            if type(item) in _CONTAINERS:
                return [item if type(item) not in _CONTAINERS else _copy_json(item) for item in value]
        return value[:]
    if t is dict:
        return {k: item if type(item) not in _CONTAINERS else _copy_json(item) for k, item in value.items()}
    return value


class _Column:
    """One top-level key: kind, values (placeholders where not valid), present and null masks."""

    __slots__ = ("kind", "data", "present", "null", "valid", "_dense", "_fits_float")

    def __init__(self, kind: str, data: np.ndarray, present: np.ndarray, null: np.ndarray) -> None:
        self.kind, self.data = kind, _frozen(data)
        self.present, self.null = _frozen(present), _frozen(null)
        self.valid = _frozen(present & ~null)          # rows holding a non-null value
        self._dense = bool(self.valid.all())
        vals = data[self.valid] if kind == "int" else data[:0]
        self._fits_float = max(-int(vals.min(initial=0)), int(vals.max(initial=0))) <= _EXACT

    def take(self, rows: np.ndarray) -> _Column:
        return _Column(self.kind, self.data[rows], self.present[rows], self.null[rows])

    def as_json(self) -> _Column:
        """The same values as a ``json`` column of Python objects."""
        if self.kind == "json":
            return self
        data = np.full(len(self.data), None, dtype=object)
        valid = self.valid
        if valid.any():
            data[valid] = self.data[valid].tolist()
        return _Column("json", data, self.present, self.null)

    def display(self, rows: np.ndarray, copy: bool = True) -> Any:
        """Values for a DataFrame: NaN/None where missing or null; dtype fixed per column.

        ``copy=False`` shares the lists/dicts of json cells (only for frames kept private).
        """
        data, valid = self.data[rows], self.valid[rows]
        if self.kind in ("int", "float", "bool") and self._dense:
            return data
        if self.kind == "float" or (self.kind == "int" and self._fits_float):
            return np.where(valid, data, np.nan).astype(np.float64)
        if self.kind == "json":
            if not copy:
                return np.where(valid, data, None)
            return np.fromiter((_copy_json(v) if ok else None for v, ok in zip(data.tolist(), valid.tolist())),
                               dtype=object, count=len(data))
        out = np.full(len(data), None, dtype=object)
        if valid.any():
            out[valid] = data[valid].tolist()
        if self.kind == "str" and _STR_DTYPE is not object:
            return pd.array(out, dtype=_STR_DTYPE)
        return out


def _column_from_cells(cells: list, present: np.ndarray, null: np.ndarray) -> _Column:
    """A column from normalised JSON cells (anything where not present, None where null)."""
    valid = present & ~null
    values = [c for c, ok in zip(cells, valid.tolist()) if ok]
    types = {type(v) for v in values}
    n = len(cells)
    if types == {int} and _I64[0] <= min(values) and max(values) <= _I64[1]:
        data = np.zeros(n, dtype=np.int64)
        data[valid] = values
        return _Column("int", data, present, null)
    if types in ({float}, {bool}):
        data = np.zeros(n, dtype=np.float64 if types == {float} else bool)
        data[valid] = values
        return _Column("float" if types == {float} else "bool", data, present, null)
    data = np.fromiter((c if ok else None for c, ok in zip(cells, valid.tolist())), dtype=object, count=n)
    return _Column("str" if types == {str} else "json", data, present, null)


def _column_from_series(s: pd.Series, name: str) -> _Column:
    n, where = len(s), f"payload column {name!r}"
    dtype = s.dtype
    missing = s.isna().to_numpy(dtype=bool)
    present, null = ~missing, np.zeros(n, dtype=bool)
    if pd.api.types.is_bool_dtype(dtype):
        return _Column("bool", s.to_numpy(dtype=bool, na_value=False), present, null)
    if pd.api.types.is_integer_dtype(dtype):
        if n and present.any() and s.max() > _I64[1]:
            return _column_from_cells([int(v) if p else None for v, p in zip(s.tolist(), present)], present, null)
        return _Column("int", s.to_numpy(dtype=np.int64, na_value=0), present, null)
    if pd.api.types.is_float_dtype(dtype):
        data = s.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(data) & present
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ExploreError(f"{where}: {float(data[row])!r} at row {row} is not a JSON number. "
                               "Replace infinite values (e.g. with NaN for a missing key).")
        vals = data[present]
        if missing.any() and vals.size and np.all(vals == np.round(vals)) and np.abs(vals).max() <= _EXACT:
            return _Column("int", np.where(present, data, 0).astype(np.int64), present, null)
        return _Column("float", np.where(present, data, 0.0), present, null)
    if isinstance(dtype, pd.CategoricalDtype):
        s, dtype = s.astype(object), np.dtype(object)
    if isinstance(dtype, pd.StringDtype) or (dtype == object and pd.api.types.infer_dtype(s, skipna=True) == "string"):
        data = s.to_numpy(dtype=object, na_value=None)
        if isinstance(dtype, pd.StringDtype) or all(type(v) is str for v in data[present].tolist()):
            return _Column("str", np.where(present, data, None), present, null)
    elif not (pd.api.types.is_string_dtype(dtype) or dtype == object
              or pd.api.types.is_datetime64_any_dtype(dtype)):
        raise ExploreError(f"{where} has dtype {dtype}, which has no JSON form. Convert it to numbers, "
                           "strings, bools, lists or dicts first.")
    cells = _cells_to_json(s.tolist(), present.tolist(), lambda i: f"{where} row {i}")
    return _column_from_cells(cells, present, null)


class Payload:
    """Column store of JSON payloads, one row per point (positional, RangeIndex).

    Immutable: every method returns new objects. Structures derived for filters (string
    categories, exploded arrays, nested sub-payloads) are cached per key path.

    Examples
    --------
    >>> p = Payload.from_frame(pd.DataFrame({"colour": ["red", "blue"], "size": [3, 5]}))
    >>> p.select([1], ["size"])
       size
    0     5
    """

    def __init__(self, n: int, columns: dict[str, _Column]) -> None:
        self._n = int(n)
        self._cols = dict(columns)
        self._cache: dict[Any, Any] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(cls, n: int) -> Payload:
        """``n`` points without payload."""
        return cls(n, {})

    @classmethod
    def from_records(cls, records: Sequence[Mapping | None], *, normalised: bool = False) -> Payload:
        """One JSON object per point (``None`` = no payload); see the module rules.

        ``normalised=True`` skips the conversion to plain JSON (values already are).

        >>> Payload.from_records([{"a": 1}, None, {"a": [1, 2]}]).record(2)
        {'a': [1, 2]}
        """
        n = len(records)
        keys: dict[Any, None] = {}
        for i, rec in enumerate(records):
            if rec is None:
                continue
            if not isinstance(rec, Mapping):
                raise ExploreError(f"payload record {i}: {short_repr(rec)} is not a dict. Pass one dict "
                                   "(or None) per point.")
            keys.update(dict.fromkeys(rec))
        cols = {}
        for key in keys:
            if not isinstance(key, str):
                raise ExploreError(f"payload key {key!r} is not a string. JSON object keys are strings.")
            cells = [_ABSENT if rec is None else rec.get(key, _ABSENT) for rec in records]
            flags = [c is not _ABSENT and (c is None or normalised or not _is_top_missing(c)) for c in cells]
            present = np.array(flags, dtype=bool).reshape(n)
            null = np.array([f and c is None for f, c in zip(flags, cells)], dtype=bool).reshape(n)
            if not normalised:
                cells = _cells_to_json(cells, flags, lambda i, key=key: f"payload record {i}[{key!r}]")
            cols[key] = _column_from_cells(cells, present, null)
        return cls(n, cols)

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> Payload:
        """Columns are top-level keys; NaN/None/pd.NA cells are missing keys; the index is ignored.

        >>> Payload.from_frame(pd.DataFrame({"year": [2020.0, None]})).record(0)
        {'year': 2020}
        """
        if not isinstance(df, pd.DataFrame):
            raise ExploreError(f"payload: {type(df).__name__} is not a DataFrame. Pass a pandas DataFrame.")
        names = list(df.columns)
        for name in names:
            if not isinstance(name, str):
                raise ExploreError(f"payload column name {name!r} is not a string. Payload keys are strings; "
                                   "rename, e.g. df.columns = df.columns.astype(str).")
        if len(set(names)) != len(names):
            dup = sorted({c for c in names if names.count(c) > 1})
            raise ExploreError(f"payload columns {dup} appear more than once. Rename or drop the duplicates.")
        return cls(len(df), {name: _column_from_series(df.iloc[:, j], name) for j, name in enumerate(names)})

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k!r}: {c.kind}" for k, c in list(self._cols.items())[:8])
        return f"<Payload {self._n} rows; {{{kinds}}}>"

    @property
    def columns(self) -> list[str]:
        """Top-level keys, in first-seen order."""
        return list(self._cols)

    def kinds(self) -> dict[str, str]:
        """Column kind per key: int, float, bool, str or json."""
        return {k: c.kind for k, c in self._cols.items()}

    def record(self, row: int) -> dict:
        """The JSON object of one point: missing keys omitted, null as None (a fresh copy)."""
        out = {}
        for key, col in self._cols.items():
            if col.present[row]:
                value = col.data[row]
                out[key] = None if col.null[row] else (
                    _copy_json(value) if col.kind == "json" else value if col.kind == "str" else value.item())
        return out

    def to_records(self) -> list[dict]:
        """All JSON objects, one per point (fresh copies)."""
        out: list[dict] = [{} for _ in range(self._n)]
        for key, col in self._cols.items():
            values, nulls = col.data.tolist(), col.null.tolist()
            for i in np.flatnonzero(col.present).tolist():
                out[i][key] = None if nulls[i] else _copy_json(values[i])
        return out

    def take(self, rows: Any) -> Payload:
        """The payload of these rows (positions), in this order."""
        rows = np.asarray(rows, dtype=np.int64)
        return Payload(len(rows), {k: c.take(rows) for k, c in self._cols.items()})

    def concat(self, other: Payload) -> Payload:
        """Rows of ``self`` then rows of ``other``; keys of one side are missing on the other."""
        cols = {}
        for key in dict.fromkeys([*self._cols, *other._cols]):
            a, b = self._cols.get(key), other._cols.get(key)
            a = a if a is not None else _absent_like(b, self._n)
            b = b if b is not None else _absent_like(a, other._n)
            if a.kind != b.kind:
                a, b = a.as_json(), b.as_json()
            cols[key] = _Column(a.kind, np.concatenate([a.data, b.data]),
                                np.concatenate([a.present, b.present]), np.concatenate([a.null, b.null]))
        return Payload(self._n + other._n, cols)

    def select(self, rows: Any, columns: Sequence[str] | None = None, *, copy: bool = True) -> pd.DataFrame:
        """A new DataFrame of these rows (positions) and columns, RangeIndex; dtypes as ``frame``.

        Lists and dicts in cells are copies unless ``copy=False`` (then they are the payload's
        own objects: for frames that are never handed to users).
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        names = self.columns if columns is None else list(columns)
        for name in names:
            if name not in self._cols:
                raise ExploreError(unknown("payload column", name, self.columns,
                                           f"Choose from {self.columns[:20]}."))
        index = pd.RangeIndex(len(rows))
        data = {}
        for name in names:
            values = self._cols[name].display(rows, copy)   # object stays object: no str inference
            data[name] = pd.Series(values, index=index, dtype=object if getattr(values, "dtype", None) == object
                                   else None, copy=False)
        return pd.DataFrame(data, index=index, columns=pd.Index(names, dtype=object))

    @property
    def frame(self) -> pd.DataFrame:
        """Display DataFrame, RangeIndex 0..n-1; a fresh copy on every access (module rules)."""
        return self.select(np.arange(self._n, dtype=np.int64))

    # ------------------------------------------------------------------ for filters
    def query_frame(self) -> pd.DataFrame:
        """The display frame that pandas query strings run on (cached; callers must not modify it)."""
        return self.cached("frame", lambda: self.select(np.arange(self._n, dtype=np.int64), copy=False))

    def cached(self, key: Any, build: Any) -> Any:
        """``build()`` once per key; the payload never changes, so derived data stays valid."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def values(self, path: tuple) -> PathValues:
        """The values at a parsed key path, cached (str = key, int = index, None = ``[]``)."""
        def build() -> PathValues:
            col = self._cols.get(path[0]) if path and isinstance(path[0], str) else None
            if col is None:
                return PathValues.nothing(self._n)
            if col.kind != "json":
                if len(path) > 1:
                    return PathValues.nothing(self._n)
                return PathValues.of_column(col.kind, col.data, col.present, col.null)
            rows = np.flatnonzero(col.present)
            if len(path) == 1:
                return PathValues.of_cells(self._n, rows, col.data[rows].tolist())
            return PathValues.of_walk(self._n, rows.tolist(), col.data[rows].tolist(), path[1:])
        return self.cached(("values", path), build)

    def nested(self, path: tuple) -> tuple[Payload, np.ndarray]:
        """The objects inside the arrays at ``path`` as a payload of their own, and their parent rows."""
        def build() -> tuple[Payload, np.ndarray]:
            col = self._cols.get(path[0]) if path and isinstance(path[0], str) else None
            records: list[dict] = []
            parents: list[int] = []
            if col is not None and col.kind == "json":
                found: list[Any] = []
                for r in np.flatnonzero(col.present).tolist():
                    found.clear()
                    walk(col.data[r], path[1:], found)
                    for value in found:
                        if type(value) is list:
                            for item in value:
                                if type(item) is dict:
                                    records.append(item)
                                    parents.append(r)
            return Payload.from_records(records, normalised=True), np.array(parents, dtype=np.int64)
        return self.cached(("nested", path), build)


def _absent_like(col: _Column | None, n: int) -> _Column:
    """A column of ``n`` missing cells, of the same kind as ``col``."""
    if col is None or col.kind in ("str", "json"):
        return _Column("json" if col is None else col.kind, np.full(n, None, dtype=object),
                       np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
    return _Column(col.kind, np.zeros(n, dtype=col.data.dtype), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))


# ---------------------------------------------------------------------- values at a key path
class Group:
    """Values of one JSON type found at a key path.

    Dense (``rows is None``): ``data`` is aligned with the payload rows and ``valid`` (None for
    all) says which rows hold a value. Sparse: value ``j`` belongs to row ``rows[j]``.
    """

    __slots__ = ("n", "data", "rows", "valid")

    def __init__(self, n: int, data: np.ndarray, rows: np.ndarray | None = None,
                 valid: np.ndarray | None = None) -> None:
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
        return dict(ints=Group.empty(n, np.int64), floats=Group.empty(n, np.float64), bools=Group.empty(n, bool),
                    strs=Group.empty(n, np.intp), cats=np.zeros(0, dtype=object), others=Group.empty(n, bool))

    @classmethod
    def nothing(cls, n: int) -> PathValues:
        """No value in any row (a missing key)."""
        none = np.zeros(n, dtype=bool)
        return cls(n, has_value=none, nonempty=none, nullish=none, counts=Group.empty(n, np.int64),
                   **cls._groups(n))

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
        lengths = np.fromiter((len(v) if t is list else (v is not None) for v, t in zip(values, types)),
                              dtype=np.int64, count=m)
        flat = list(chain.from_iterable(v if t is list else (v,) for v, t in zip(values, types) if v is not None))
        frows = np.repeat(rows, lengths)
        ftypes = np.fromiter(map(type, flat), dtype=object, count=len(flat))
        items = np.fromiter(flat, dtype=object, count=len(flat))
        is_none = ftypes == type(None)
        parts = cls._groups(n)
        sel = ftypes == int
        try:
            parts["ints"] = Group(n, items[sel].astype(np.int64), frows[sel])
        except OverflowError:      # a JSON integer beyond int64: the general path sorts it out
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
        return cls(n, has_value=has_value, nonempty=nonempty, nullish=nullish,
                   counts=Group(n, lengths, rows), **parts)

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
        lo, hi = _I64
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
        return cls(n, ints=group(ir, np.array(iv, dtype=np.int64)), floats=group(fr, np.array(fv, dtype=np.float64)),
                   bools=group(br, np.array(bv, dtype=bool)), strs=group(sr, np.asarray(codes, dtype=np.intp)),
                   cats=np.asarray(cats, dtype=object), others=group(orow, np.zeros(len(orow), dtype=bool)),
                   has_value=mask(cnt_r), nonempty=mask(nonempty), nullish=mask(nullish),
                   counts=group(cnt_r, np.array(cnt_v, dtype=np.int64)))


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
