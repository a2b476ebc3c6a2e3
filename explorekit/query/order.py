"""Ordering points by a payload value: Qdrant's ``order_by`` (scroll, and the Query API's order_by query).

``order_by`` is a key (``"price"``) or ``{"key", "direction": "asc" | "desc", "start_from"}``
(a qdrant-client ``models.OrderBy`` too). Qdrant's rules, as qdrant-client's local mode applies
them:

* the order values of a point are the values at the key (an array counts element by element);
  numbers are themselves, strings that are RFC 3339 datetimes (or dates) are their instant in
  microseconds since the epoch, everything else (booleans, other strings, objects, nulls) has
  no order value; a point without one is left out;
* a point appears **once per distinct order value** (an array ``[3, 1]`` puts it at 1 and at 3);
* values are sorted ascending (or descending), ties in the order the points were stored (row
  order), and ``start_from`` drops values before it (below it ascending, above it descending);
* values compare as float64, like ``range`` filters.

Examples
--------
>>> from explorekit.data.payload import Payload
>>> p = Payload.from_records([{"n": 2}, {"n": [3, 1]}, {"n": "x"}, {"n": 2.0}])
>>> rows, values = ordered_rows(p, None, parse_order_by("n"), 10)
>>> rows.tolist(), values
([1, 0, 3, 1], [1, 2, 2.0, 3])
>>> ordered_rows(p, None, parse_order_by({"key": "n", "direction": "desc", "start_from": 2}), 2)[0].tolist()
[0, 3]
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorekit._support.errors import FilterError, RequestError, short_repr, unknown
from explorekit._support.validation import check_real
from explorekit.data.jsonpath import parse_datetime, parse_key
from explorekit.data.pathvalues import Group
from explorekit.data.payload import Payload

__all__ = ["OrderBy", "order_value", "ordered_rows", "parse_order_by"]

_DIRECTIONS = ("asc", "desc")


@dataclass(frozen=True)
class OrderBy:
    """A parsed ``order_by``: the key as given and parsed, the direction, and ``start_from``
    as an order value (None: from the first)."""

    key: str
    path: tuple
    direction: str = "asc"
    start_from: int | float | None = None
    start_json: Any = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {"key": self.key, "direction": self.direction}
        if self.start_json is not None:
            out["start_from"] = self.start_json
        return out


def order_value(value: Any) -> int | float | None:
    """Qdrant's order value of one JSON value (or a Python date/datetime), or None.

    >>> order_value(3), order_value(True), order_value("1970-01-01T00:00:01Z"), order_value("soon")
    (3, None, 1000000, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (_dt.date, _dt.datetime)):
        value = value.isoformat()
    if isinstance(value, str):
        return parse_datetime(value)
    return None


def parse_order_by(value: Any, where: str = "order_by") -> OrderBy | None:
    """``order_by`` checked: a key, a dict ``{key, direction, start_from}`` or a ``models.OrderBy``."""
    if value is None or isinstance(value, OrderBy):
        return value
    if hasattr(value, "model_dump") and not isinstance(value, Mapping):
        value = value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, str):
        value = {"key": value}
    if not isinstance(value, Mapping) or value.get("key") is None:
        raise RequestError(
            f"{where}: {short_repr(value)} is not an order. Use a payload key, e.g. order_by='price', "
            'or {"key": "price", "direction": "desc", "start_from": 100}.'
        )
    for name in value:
        if name not in ("key", "direction", "start_from"):
            raise RequestError(unknown(f"key in {where}", name, ["key", "direction", "start_from"], ""))
    try:
        path = parse_key(value["key"], f"{where}['key']")
    except FilterError as err:
        raise RequestError(str(err)) from None
    direction = value.get("direction") or "asc"
    direction = getattr(direction, "value", direction)
    if direction not in _DIRECTIONS:
        raise RequestError(unknown(f"{where} direction", direction, _DIRECTIONS, "Use 'asc' or 'desc'."))
    start_json = value.get("start_from")
    start = None
    if start_json is not None:
        start = order_value(start_json)
        if start is None:
            raise RequestError(
                f"{where}['start_from']: {short_repr(start_json)} is not a number or an RFC 3339 datetime. "
                "Use e.g. 100 or '2024-01-31T00:00:00Z'."
            )
        # NaN compares false with every value: it would silently drop every point
        check_real(start, f"{where}['start_from']", -np.inf, np.inf, "Use a finite number, e.g. 100.")
    return OrderBy(value["key"], path, direction, start, start_json)


def _group_values(group: Group) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, data)`` of one typed group, one entry per value (dense groups too)."""
    if group.rows is not None:
        return group.rows, group.data
    rows = np.arange(group.n) if group.valid is None else np.flatnonzero(group.valid)
    return rows, group.data[rows]


def _order_values(payload: Payload, path: tuple) -> tuple[np.ndarray, np.ndarray, list]:
    """Every (row, order value) at ``path``: rows, float64 values, and the values as given."""
    pv = payload.values(path)
    ir, iv = _group_values(pv.ints)
    fr, fv = _group_values(pv.floats)
    sr, codes = _group_values(pv.strs)
    stamps = [parse_datetime(c) for c in pv.cats.tolist()]
    ok = np.array([s is not None for s in stamps], dtype=bool)
    keep = ok[codes] if len(codes) else np.zeros(0, dtype=bool)
    micros = np.array([s or 0 for s in stamps], dtype=np.int64)
    dr, dv = sr[keep], micros[codes[keep]] if len(codes) else np.zeros(0, dtype=np.int64)
    rows = np.concatenate([ir, fr, dr]).astype(np.int64)
    given = [*iv.tolist(), *fv.tolist(), *dv.tolist()]
    values = np.concatenate([iv.astype(np.float64), fv.astype(np.float64), dv.astype(np.float64)])
    return rows, values, given


def ordered_rows(
    payload: Payload, mask: np.ndarray | None, order_by: OrderBy, limit: int | None
) -> tuple[np.ndarray, list]:
    """The rows in ``order_by`` order (a row once per distinct order value), at most ``limit``,
    among those ``mask`` lets through (None: all); and each entry's order value."""
    rows, values, given = _order_values(payload, order_by.path)
    keep = np.ones(len(rows), dtype=bool) if mask is None else mask[rows]
    if order_by.start_from is not None:
        start = float(order_by.start_from)
        keep &= values >= start if order_by.direction == "asc" else values <= start
    idx = np.flatnonzero(keep)
    sort_values = values[idx] if order_by.direction == "asc" else -values[idx]
    idx = idx[np.lexsort((rows[idx], sort_values))]  # by value, ties in row order
    if len(idx):  # a point once per distinct value: the first of equal (value, row) pairs
        pairs = np.stack([values[idx], rows[idx].astype(np.float64)])
        first = np.ones(len(idx), dtype=bool)
        first[1:] = np.any(pairs[:, 1:] != pairs[:, :-1], axis=0)
        idx = idx[first]
    if limit is not None:
        idx = idx[:limit]
    return rows[idx], [given[i] for i in idx.tolist()]
