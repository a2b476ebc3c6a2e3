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
* ``to_arrow`` / ``from_arrow`` convert to and from a pyarrow Table that keeps everything
  (kinds, missing vs null, nested values, column order, the row count); see
  :mod:`explorekit.data.payload_arrow` for the layout.

Examples
--------
>>> p = Payload.from_records([{"tag": "a", "n": 1}, {"tag": None}, {}])
>>> p.record(0), p.record(1), p.record(2)
({'tag': 'a', 'n': 1}, {'tag': None}, {})
>>> p.frame["n"].tolist()
[1.0, nan, nan]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from explorekit._support.errors import ExploreError, short_repr, unknown
from explorekit.data.column import Column, absent_like, column_from_cells, column_from_series
from explorekit.data.jsonvalues import ABSENT, cells_to_json, copy_json, is_top_missing, to_json
from explorekit.data.pathvalues import PathValues, walk
from explorekit.data.payload_arrow import columns_from_arrow, columns_to_arrow

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Payload", "to_json"]


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

    def __init__(self, n: int, columns: dict[str, Column]) -> None:
        self._n = int(n)
        self._cols = dict(columns)
        self._cache: dict[Any, Any] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(cls, n: int) -> Payload:
        """``n`` points without payload."""
        return cls(n, {})

    @classmethod
    def given(cls, payload: Any, n: int, where: str = "payload") -> Payload:
        """The payload of ``n`` points as a user passes it: None, a DataFrame aligned with the
        rows, a list of JSON dicts (one per point), or a dict of columns (``{key: n values}``).

        Wrong lengths and scalars where a column belongs are :class:`ExploreError` naming the key.

        >>> Payload.given({"category": ["a", "b"]}, 2).record(1)
        {'category': 'b'}
        >>> Payload.given([{"a": 1}, None], 2).record(0)
        {'a': 1}
        """
        if payload is None:
            found = cls.empty(n)
        elif isinstance(payload, pd.DataFrame):
            found = cls.from_frame(payload.reset_index(drop=True))
        elif isinstance(payload, Mapping):
            found = cls.from_frame(_columns_frame(payload, n, where))
        elif isinstance(payload, (str, bytes)) or not isinstance(payload, Iterable):
            raise ExploreError(
                f"{where}: {short_repr(payload)} is not a payload. Pass a DataFrame, a list of dicts "
                "(one per point) or a dict of columns, e.g. {'category': [...one value per point...]}."
            )
        else:
            found = cls.from_records(list(payload))
        if len(found) != n:
            raise ExploreError(f"{where}: {len(found)} rows for {n} points. Give one payload row per point.")
        return found

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
                raise ExploreError(
                    f"payload record {i}: {short_repr(rec)} is not a dict. Pass one dict (or None) per point."
                )
            keys.update(dict.fromkeys(rec))
        cols = {}
        for key in keys:
            if not isinstance(key, str):
                raise ExploreError(f"payload key {key!r} is not a string. JSON object keys are strings.")
            cells = [ABSENT if rec is None else rec.get(key, ABSENT) for rec in records]
            flags = [c is not ABSENT and (c is None or normalised or not is_top_missing(c)) for c in cells]
            present = np.array(flags, dtype=bool).reshape(n)
            null = np.array([f and c is None for f, c in zip(flags, cells)], dtype=bool).reshape(n)
            if not normalised:
                cells = cells_to_json(cells, flags, lambda i, key=key: f"payload record {i}[{key!r}]")
            cols[key] = column_from_cells(cells, present, null)
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
                raise ExploreError(
                    f"payload column name {name!r} is not a string. Payload keys are strings; "
                    "rename, e.g. df.columns = df.columns.astype(str)."
                )
        if len(set(names)) != len(names):
            dup = sorted({c for c in names if names.count(c) > 1})
            raise ExploreError(f"payload columns {dup} appear more than once. Rename or drop the duplicates.")
        return cls(len(df), {name: column_from_series(df.iloc[:, j], name) for j, name in enumerate(names)})

    @classmethod
    def from_arrow(cls, table: "pa.Table") -> Payload:
        """The payload stored in a pyarrow Table made by :meth:`to_arrow` (an exact round trip).

        >>> p = Payload.from_records([{"a": 1, "b": [1, {"c": None}]}, {"a": None}, {}])
        >>> Payload.from_arrow(p.to_arrow()).to_records() == p.to_records()
        True
        """
        n, cols = columns_from_arrow(table)
        return cls(n, cols)

    def to_arrow(self) -> "pa.Table":
        """A pyarrow Table of the payload: one column per key, in order (layout in ``_payload_arrow``).

        Values are typed (int64, float64, bool, string) where that keeps everything; JSON text
        otherwise. Missing keys are Arrow nulls. Read it back with :meth:`from_arrow`.

        >>> Payload.from_records([{"a": 1}, {}]).to_arrow().column("a").to_pylist()
        [1, None]
        """
        return columns_to_arrow(self._n, self._cols)

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

    def fill_rates(self) -> dict[str, float]:
        """Share of points holding a non-null value, per key (for summaries).

        >>> Payload.from_records([{"a": 1}, {"a": None, "b": "x"}]).fill_rates()
        {'a': 0.5, 'b': 0.5}
        """
        return {k: float(c.valid.mean()) if self._n else 0.0 for k, c in self._cols.items()}

    def record(self, row: int) -> dict:
        """The JSON object of one point: missing keys omitted, null as None (a fresh copy)."""
        out = {}
        for key, col in self._cols.items():
            if col.present[row]:
                value = col.data[row]
                out[key] = (
                    None
                    if col.null[row]
                    else (copy_json(value) if col.kind == "json" else value if col.kind == "str" else value.item())
                )
        return out

    def to_records(self) -> list[dict]:
        """All JSON objects, one per point (fresh copies)."""
        out: list[dict] = [{} for _ in range(self._n)]
        for key, col in self._cols.items():
            values, nulls = col.data.tolist(), col.null.tolist()
            for i in np.flatnonzero(col.present).tolist():
                out[i][key] = None if nulls[i] else copy_json(values[i])
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
            a = a if a is not None else absent_like(b, self._n)
            b = b if b is not None else absent_like(a, other._n)
            if a.kind != b.kind:
                a, b = a.as_json(), b.as_json()
            cols[key] = Column(
                a.kind,
                np.concatenate([a.data, b.data]),
                np.concatenate([a.present, b.present]),
                np.concatenate([a.null, b.null]),
            )
        return Payload(self._n + other._n, cols)

    def select(self, rows: Any, columns: Sequence[str] | None = None, *, copy: bool = True) -> pd.DataFrame:
        """A new DataFrame of these rows (positions) and columns, RangeIndex; dtypes as ``frame``.

        Lists and dicts in cells are copies unless ``copy=False`` (then they are the payload's
        own objects: for frames that are never handed to users).
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        names = self.columns if columns is None else list(columns)
        data = self.display_columns(rows, names, copy=copy)
        return pd.DataFrame(data, index=pd.RangeIndex(len(rows)), columns=pd.Index(names, dtype=object))

    def display_columns(self, rows: Any, columns: Sequence[str] | None = None, *, copy: bool = True) -> dict[str, Any]:
        """The display values of these rows (positions) and columns, as ``select`` shows them.

        A dict ``{column: values}`` in column order, ready for
        ``pd.DataFrame(data, index=pd.RangeIndex(len(rows)))``: numpy or pandas arrays, and
        object columns as ``pd.Series(dtype=object)`` on that index (so pandas keeps lists,
        dicts and strings as they are instead of inferring a dtype). Fresh arrays on every call.

        >>> p = Payload.from_records([{"a": 1, "b": "x"}, {"a": 2}])
        >>> {k: v.tolist() for k, v in p.display_columns([1, 0]).items()}
        {'a': [2, 1], 'b': [nan, 'x']}
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        names = self.columns if columns is None else list(columns)
        for name in names:
            if name not in self._cols:
                raise ExploreError(unknown("payload column", name, self.columns, f"Choose from {self.columns[:20]}."))
        index = None
        data: dict[str, Any] = {}
        for name in names:
            values = self._cols[name].display(rows, copy)
            if getattr(values, "dtype", None) == object:  # object stays object: no str inference
                index = pd.RangeIndex(len(rows)) if index is None else index
                values = pd.Series(values, index=index, dtype=object, copy=False)
            data[name] = values
        return data

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

    def geo_points(self, path: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The geo points at a parsed key path: ``(rows, lat, lon)``, one entry per point found.

        A geo point is an object whose ``lat`` and ``lon`` are finite JSON numbers (booleans are
        not numbers); an array at the end of the path counts element by element, as for every
        field condition. Cached per path.

        >>> rows, lat, lon = Payload.from_records([{"g": {"lat": 1, "lon": 2}}, {"g": [{"lat": 3.5, "lon": 4}, 5]}]).geo_points(("g",))
        >>> rows.tolist(), lat.tolist(), lon.tolist()
        ([0, 1], [1.0, 3.5], [2.0, 4.0])
        """

        def build() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            rows: list[int] = []
            coords: list[tuple[float, float]] = []
            for r, item in self._json_items(path):
                point = _geo_point(item)
                if point is not None:
                    rows.append(r)
                    coords.append(point)
            lat_lon = np.array(coords, dtype=np.float64).reshape(-1, 2)
            return np.array(rows, dtype=np.int64), lat_lon[:, 0].copy(), lat_lon[:, 1].copy()

        return self.cached(("geo", path), build)

    def nested(self, path: tuple) -> tuple[Payload, np.ndarray]:
        """The objects inside the arrays at ``path`` as a payload of their own, and their parent rows."""

        def build() -> tuple[Payload, np.ndarray]:
            records: list[dict] = []
            parents: list[int] = []
            for r, item in self._json_items(path, arrays_only=True):
                if type(item) is dict:
                    records.append(item)
                    parents.append(r)
            return Payload.from_records(records, normalised=True), np.array(parents, dtype=np.int64)

        return self.cached(("nested", path), build)

    def _json_items(self, path: tuple, arrays_only: bool = False) -> Iterator[tuple[int, Any]]:
        """``(row, item)`` for every value at ``path`` in a JSON column, an array at the end of the
        path element by element (``arrays_only``: only the elements of arrays, no lone values)."""
        col = self._cols.get(path[0]) if path and isinstance(path[0], str) else None
        if col is None or col.kind != "json":
            return
        found: list[Any] = []
        for r in np.flatnonzero(col.present).tolist():
            found.clear()
            walk(col.data[r], path[1:], found)
            for value in found:
                if type(value) is list:
                    yield from ((r, item) for item in value)
                elif not arrays_only:
                    yield r, value


def _geo_point(value: Any) -> tuple[float, float] | None:
    """``(lat, lon)`` of a JSON object with finite numeric ``lat`` and ``lon``, else None."""
    if type(value) is not dict:
        return None
    lat, lon = value.get("lat"), value.get("lon")
    if type(lat) not in (int, float) or type(lon) not in (int, float):
        return None
    try:
        point = float(lat), float(lon)
    except OverflowError:  # a JSON integer beyond float64
        return None
    return point if np.isfinite(point).all() else None


def _columns_frame(columns: Mapping, n: int, where: str) -> pd.DataFrame:
    """A dict of payload columns as a DataFrame, each column checked to hold ``n`` values."""
    for key, values in columns.items():
        if not isinstance(key, str):
            raise ExploreError(f"{where}: key {key!r} is not a string. Payload keys are strings.")
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (Sequence, np.ndarray, pd.Series)):
            raise ExploreError(
                f"{where}[{key!r}]: {short_repr(values)} is not a column. A dict payload maps each key "
                f"to {n} values, one per point, e.g. {{{key!r}: [...]}}; for one dict per point pass a list of dicts."
            )
        if len(values) != n:
            raise ExploreError(
                f"{where}[{key!r}]: {len(values)} values for {n} points. Every column needs one value per point."
            )
    return pd.DataFrame(
        {key: values.to_numpy() if isinstance(values, pd.Series) else list(values) for key, values in columns.items()},
        index=pd.RangeIndex(n),
    )
