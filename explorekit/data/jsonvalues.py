"""Payload values as plain JSON: normalising what users pass, and copying nested values.

``to_json`` turns a Python value into the JSON form the payload store keeps (the rules are in
:mod:`explorekit.data.payload`); ``cells_to_json`` does it for a column of cells, naming the cell
in any error; ``copy_json`` copies the lists and dicts inside a stored value, so the copies
handed to users never share objects with the store.

Examples
--------
>>> to_json({"a": (1, np.int64(2), float("nan"))})
{'a': [1, 2, None]}
>>> copy_json([1, {"b": [2]}]) == [1, {"b": [2]}]
True
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from explorekit._support.errors import ExploreError, short_repr

__all__ = ["ABSENT", "I64", "SCALARS", "cells_to_json", "copy_json", "is_top_missing", "to_json"]

#: The range of JSON integers kept as int64.
I64 = (-(2**63), 2**63 - 1)


class _Absent:
    """The cell of a key a record does not have (unlike None, which is JSON null)."""

    def __repr__(self) -> str:
        return "<absent>"


#: Marks a key that a record does not have.
ABSENT = _Absent()


def is_top_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


class _NotJson(Exception):
    """A value with no JSON form; ``path`` is filled in while the error unwinds."""

    def __init__(self, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.value, self.reason, self.path = value, reason, []


SCALARS = (bool, str, int)
_PLAIN = frozenset((bool, str, int, type(None)))


def _json(value: Any) -> Any:
    t = type(value)
    if value is None or t in SCALARS:
        return value
    if t is float:
        if value != value:
            return None
        if value in (math.inf, -math.inf):
            raise _NotJson(
                value, "is not a JSON number. Replace infinite values (e.g. with None or a large finite number)."
            )
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
                out.append(item if item is None or type(item) in SCALARS else _json(item))
            except _NotJson as err:
                err.path.insert(0, f"[{i}]")
                raise
        return out
    if isinstance(value, Mapping):
        obj = {}
        for k, item in value.items():
            if not isinstance(k, str):
                raise _NotJson(
                    k,
                    "(an object key) is not a string. JSON object keys are strings; convert "
                    "them, e.g. {str(k): v for k, v in d.items()}.",
                )
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
    raise _NotJson(
        value,
        f"of type {type(value).__name__} is not a JSON value. Payload values are None, "
        "bool, int, float, str, lists and dicts of them.",
    )


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


def cells_to_json(cells: list, keep: list[bool], where: Any) -> list:
    """``to_json`` of each kept cell (None elsewhere); ``where(i)`` names cell ``i`` in an error."""
    out = [None] * len(cells)
    try:
        for i, (cell, ok) in enumerate(zip(cells, keep)):
            if ok and cell is not None:
                out[i] = cell if type(cell) in SCALARS else _json(cell)
    except _NotJson as err:
        raise ExploreError(f"{where(i)}{''.join(err.path)}: {short_repr(err.value)} {err.reason}") from None
    return out


def copy_json(value: Any) -> Any:
    """A copy of the lists and dicts inside a JSON value (scalars are immutable)."""
    t = type(value)
    if t is list:
        for item in value:
            if type(item) in _CONTAINERS:
                return [item if type(item) not in _CONTAINERS else copy_json(item) for item in value]
        return value[:]
    if t is dict:
        return {k: item if type(item) not in _CONTAINERS else copy_json(item) for k, item in value.items()}
    return value
