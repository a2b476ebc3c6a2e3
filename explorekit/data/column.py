"""One top-level payload key as a typed column: values plus present and null masks.

A column has a *kind*: ``int`` (int64), ``float`` (float64), ``bool``, ``str`` or ``json``
(Python objects). ``present`` is False where the key is missing, ``null`` is True where it
holds JSON null; ``data`` holds a placeholder (0, 0.0, False or None) wherever the row has no
value. Arrays are read-only. Columns are built from JSON cells (``column_from_cells``) or
from a pandas Series (``column_from_series``, with the rules in :mod:`explorekit.data.payload`).

Examples
--------
>>> c = column_from_cells([1, None, 3], np.array([True, True, False]), np.array([False, True, False]))
>>> c.kind, c.valid.tolist(), c.display(np.arange(3)).tolist()
('int', [True, False, False], [1.0, nan, nan])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from explorekit._support.errors import ExploreError
from explorekit.data.jsonvalues import I64, cells_to_json, copy_json

__all__ = ["Column", "absent_like", "column_from_cells", "column_from_series"]

_EXACT = 2**53
_STR_DTYPE: Any = "str" if int(pd.__version__.split(".")[0]) >= 3 else object


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


class Column:
    """One top-level key: kind, values (placeholders where not valid), present and null masks."""

    __slots__ = ("kind", "data", "present", "null", "valid", "_dense", "_fits_float")

    def __init__(self, kind: str, data: np.ndarray, present: np.ndarray, null: np.ndarray) -> None:
        self.kind, self.data = kind, _frozen(data)
        self.present, self.null = _frozen(present), _frozen(null)
        self.valid = _frozen(present & ~null)  # rows holding a non-null value
        self._dense = bool(self.valid.all())
        vals = data[self.valid] if kind == "int" else data[:0]
        self._fits_float = max(-int(vals.min(initial=0)), int(vals.max(initial=0))) <= _EXACT

    def take(self, rows: np.ndarray) -> Column:
        return Column(self.kind, self.data[rows], self.present[rows], self.null[rows])

    def as_json(self) -> Column:
        """The same values as a ``json`` column of Python objects."""
        if self.kind == "json":
            return self
        data = np.full(len(self.data), None, dtype=object)
        valid = self.valid
        if valid.any():
            data[valid] = self.data[valid].tolist()
        return Column("json", data, self.present, self.null)

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
            return np.fromiter(
                (copy_json(v) if ok else None for v, ok in zip(data.tolist(), valid.tolist())),
                dtype=object,
                count=len(data),
            )
        out = np.full(len(data), None, dtype=object)
        if valid.any():
            out[valid] = data[valid].tolist()
        if self.kind == "str" and _STR_DTYPE is not object:
            return pd.array(out, dtype=_STR_DTYPE)
        return out


def column_from_cells(cells: list, present: np.ndarray, null: np.ndarray) -> Column:
    """A column from normalised JSON cells (anything where not present, None where null)."""
    valid = present & ~null
    values = [c for c, ok in zip(cells, valid.tolist()) if ok]
    types = {type(v) for v in values}
    n = len(cells)
    if types == {int} and I64[0] <= min(values) and max(values) <= I64[1]:
        data = np.zeros(n, dtype=np.int64)
        data[valid] = values
        return Column("int", data, present, null)
    if types in ({float}, {bool}):
        data = np.zeros(n, dtype=np.float64 if types == {float} else bool)
        data[valid] = values
        return Column("float" if types == {float} else "bool", data, present, null)
    data = np.fromiter((c if ok else None for c, ok in zip(cells, valid.tolist())), dtype=object, count=n)
    return Column("str" if types == {str} else "json", data, present, null)


def column_from_series(s: pd.Series, name: str) -> Column:
    n, where = len(s), f"payload column {name!r}"
    dtype = s.dtype
    missing = s.isna().to_numpy(dtype=bool)
    present, null = ~missing, np.zeros(n, dtype=bool)
    if pd.api.types.is_bool_dtype(dtype):
        return Column("bool", s.to_numpy(dtype=bool, na_value=False), present, null)
    if pd.api.types.is_integer_dtype(dtype):
        if n and present.any() and s.max() > I64[1]:
            return column_from_cells([int(v) if p else None for v, p in zip(s.tolist(), present)], present, null)
        return Column("int", s.to_numpy(dtype=np.int64, na_value=0), present, null)
    if pd.api.types.is_float_dtype(dtype):
        data = s.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(data) & present
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ExploreError(
                f"{where}: {float(data[row])!r} at row {row} is not a JSON number. "
                "Replace infinite values (e.g. with NaN for a missing key)."
            )
        vals = data[present]
        if missing.any() and vals.size and np.all(vals == np.round(vals)) and np.abs(vals).max() <= _EXACT:
            return Column("int", np.where(present, data, 0).astype(np.int64), present, null)
        return Column("float", np.where(present, data, 0.0), present, null)
    if isinstance(dtype, pd.CategoricalDtype):
        s, dtype = s.astype(object), np.dtype(object)
    if isinstance(dtype, pd.StringDtype) or (dtype == object and pd.api.types.infer_dtype(s, skipna=True) == "string"):
        data = s.to_numpy(dtype=object, na_value=None)
        if isinstance(dtype, pd.StringDtype) or all(type(v) is str for v in data[present].tolist()):
            return Column("str", np.where(present, data, None), present, null)
    elif not (pd.api.types.is_string_dtype(dtype) or dtype == object or pd.api.types.is_datetime64_any_dtype(dtype)):
        raise ExploreError(
            f"{where} has dtype {dtype}, which has no JSON form. Convert it to numbers, "
            "strings, bools, lists or dicts first."
        )
    cells = cells_to_json(s.tolist(), present.tolist(), lambda i: f"{where} row {i}")
    return column_from_cells(cells, present, null)


def absent_like(col: Column | None, n: int) -> Column:
    """A column of ``n`` missing cells, of the same kind as ``col``."""
    if col is None or col.kind in ("str", "json"):
        return Column(
            "json" if col is None else col.kind,
            np.full(n, None, dtype=object),
            np.zeros(n, dtype=bool),
            np.zeros(n, dtype=bool),
        )
    return Column(col.kind, np.zeros(n, dtype=col.data.dtype), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
