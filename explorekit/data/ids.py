"""Point ids: unsigned integers, strings or UUIDs, unique within a collection.

UUIDs (``uuid.UUID`` objects or strings in any of the forms ``uuid.UUID`` accepts) are kept in
their canonical lower-case hyphenated form, as Qdrant returns them, so ``"936DA01F9ABD4d9d80C7
02AF85C822A8"`` and ``"936da01f-9abd-4d9d-80c7-02af85c822a8"`` name the same point.

Examples
--------
>>> normalize_id(7), normalize_id("936DA01F9ABD4d9d80C702AF85C822A8"), normalize_id("cat")
(7, '936da01f-9abd-4d9d-80c7-02af85c822a8', 'cat')
>>> index = IdIndex([10, 20, 30])
>>> index.rows([30, 10]).tolist()
[2, 0]
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Union

import numpy as np

from explorekit._support.errors import DuplicateIdError, ExploreError, UnknownIdError, short_repr
from explorekit._support.validation import MAX_COUNT

PointId = Union[int, str, uuid.UUID]  # noqa: UP007 - a runtime alias


def normalize_id(value: object) -> int | str:
    """The canonical form of one point id, or an :class:`ExploreError` saying what is accepted."""
    if isinstance(value, (bool, np.bool_)):
        raise ExploreError(f"Point id {value!r} is a bool. Use an unsigned integer, a string or a UUID.")
    if isinstance(value, (int, np.integer)):
        return _unsigned(int(value))
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return _unsigned(int(value))
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        if len(value) in (32, 36, 38, 45) and "-" in value or len(value) == 32:
            try:
                return str(uuid.UUID(value))
            except ValueError:
                return value
        return value
    raise ExploreError(
        f"Point id {short_repr(value)} of type {type(value).__name__} is not an id. "
        "Use an unsigned integer, a string or a UUID."
    )


def _unsigned(value: int) -> int:
    """An integer id in Qdrant's range ``0 .. 2**64 - 1`` (it is stored as an unsigned 64-bit)."""
    if value < 0:
        raise ExploreError(f"Point id {value!r} is negative. Ids are unsigned integers, strings or UUIDs.")
    if value > MAX_COUNT:
        raise ExploreError(
            f"Point id {value!r} is above 2**64 - 1 ({MAX_COUNT}), the largest unsigned "
            "64-bit integer (Qdrant's and explorekit's largest integer id). Use a smaller "
            "integer, or a string or UUID id (e.g. str(id))."
        )
    return value


def is_id(value: object) -> bool:
    """True for a value that can be a point id (not a vector)."""
    return isinstance(value, (int, np.integer, str, uuid.UUID)) and not isinstance(value, (bool, np.bool_))


class IdIndex:
    """The ids of a collection in row order, with a dictionary from id to row."""

    def __init__(self, ids: Iterable[object]) -> None:
        if isinstance(ids, range) and ids.start >= 0 and ids.step > 0 and ids.stop - ids.step <= MAX_COUNT:
            self.values: list[int | str] = list(ids)  # the default ids 0..n-1: valid and unique, no
            self._row = dict(zip(self.values, range(len(ids))))  # per-id checks (1M ids: 0.1 s, not 2 s)
            self.all_int = True
            return
        values = []
        for position, value in enumerate(ids):
            try:
                values.append(normalize_id(value))
            except ExploreError as err:  # say which one of many ids it is
                raise type(err)(f"ids[{position}]: {err}") from None
        self._row = {}
        for row, value in enumerate(values):
            if self._row.setdefault(value, row) != row:
                first = self._row[value]
                raise DuplicateIdError(
                    f"Duplicate point id {value!r} at rows {first} and {row}. Ids must be unique; "
                    "drop or rename the duplicates (e.g. df.drop_duplicates(subset=...))."
                )
        self.values = values
        self.all_int = all(isinstance(v, int) for v in values)

    def __len__(self) -> int:
        return len(self.values)

    def __contains__(self, value: object) -> bool:
        try:
            return normalize_id(value) in self._row
        except ExploreError:
            return False

    def array(self) -> np.ndarray:
        """The ids as an array: uint64 when all are integers, else object."""
        if self.all_int and self.values:
            return np.array(self.values, dtype=np.uint64)
        return np.array(self.values, dtype=object)

    def row(self, value: object, *, what: str = "point") -> int:
        key = normalize_id(value)
        try:
            return self._row[key]
        except KeyError:
            raise UnknownIdError(
                f"No point with id {short_repr(key)} found ({what}). "
                f"The collection has {len(self)} points; check col.ids or col.retrieve([...])."
            ) from None

    def rows(self, values: Sequence[object], *, what: str = "point") -> np.ndarray:
        return np.fromiter((self.row(v, what=what) for v in values), dtype=np.int64, count=len(values))

    def take(self, rows: np.ndarray) -> list[int | str]:
        return [self.values[r] for r in rows]


def scroll_key(point_id: int | str) -> tuple:
    """Qdrant's scroll order of one id: integers first (by value), then strings/UUIDs (as text)."""
    return (0, point_id, "") if isinstance(point_id, int) else (1, 0, point_id)


def scroll_order(ids: IdIndex, rows: np.ndarray) -> np.ndarray:
    """``rows`` sorted as Qdrant sorts point ids (its scroll order): integers ascending, then
    strings and UUIDs as text.

    >>> scroll_order(IdIndex([5, "b", 2, "a"]), np.arange(4)).tolist()
    [2, 0, 3, 1]
    """
    rows = np.asarray(rows, dtype=np.int64)
    keys = [scroll_key(v) for v in ids.take(rows)]
    return rows[np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)] if len(rows) else rows
