"""Errors raised by explorekit.

Every bad input raises a subclass of :class:`ExploreError` (itself a ``ValueError``) whose
message says what the offending value was, where it was given, what would be accepted, and
how to fix the call.

Examples
--------
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[1.0, 0.0], [0.0, 1.0]])
>>> try:
...     col.search([1.0, 0.0, 0.0])
... except ek.DimensionError as err:
...     print(err)                                          # doctest: +ELLIPSIS
Vector dimension error: expected dim: 2, got 3 (query, given). ...
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ExploreError(ValueError):
    """Base class of every bad-input error raised by explorekit."""


class UnknownIdError(ExploreError, KeyError):
    """A point id that is not in the collection."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DimensionError(ExploreError):
    """A vector whose length differs from the collection's dimension."""


class NonFiniteError(ExploreError):
    """NaN or infinite values in vectors."""


class DuplicateIdError(ExploreError):
    """The same point id given twice."""


class UnknownVectorError(ExploreError):
    """A vector name the collection does not have."""


class UnknownCollectionError(ExploreError):
    """A ``lookup_from`` collection name that is not known."""


class FilterError(ExploreError):
    """A malformed payload filter."""


class RequestError(ExploreError):
    """A malformed request: bad strategy, limit, examples, REST body, parameters."""


class QuantizationError(ExploreError):
    """A malformed quantization config or quantized-search parameter."""


class PersistenceError(ExploreError):
    """A saved collection that cannot be read back: missing, newer, truncated or corrupted."""


class BackendError(ExploreError):
    """An error reported by a Qdrant server, carrying the server's message."""


class MissingDependencyError(ImportError):
    """An optional package is not installed."""


# Users meet these as ``ek.RequestError`` etc.: tracebacks name them where they are imported from.
for _error in (
    ExploreError,
    UnknownIdError,
    DimensionError,
    NonFiniteError,
    DuplicateIdError,
    UnknownVectorError,
    UnknownCollectionError,
    FilterError,
    RequestError,
    QuantizationError,
    PersistenceError,
    BackendError,
    MissingDependencyError,
):
    _error.__module__ = "explorekit"

#: Lists, tuples, sets and dicts nested deeper than this are not printed by ``short_repr``.
SHOWN_DEPTH = 32


def short_repr(value: object, limit: int = 80) -> str:
    """``repr`` cut to ``limit`` characters, so messages stay readable for big inputs.

    A value nested more than ``SHOWN_DEPTH`` containers deep (a hostile REST body) is named by
    its type instead, so printing it never reaches Python's recursion limit.

    >>> deep = []
    >>> for _ in range(100_000):
    ...     deep = [deep]
    >>> short_repr([[[1]]]), short_repr({"must": deep})
    ('[[[1]]]', '<dict nested more than 32 levels deep>')
    """
    if not _nested_at_most(value, SHOWN_DEPTH):
        return f"<{type(value).__name__} nested more than {SHOWN_DEPTH} levels deep>"
    try:
        text = repr(value)
    except ValueError:  # an int longer than sys.get_int_max_str_digits()
        return f"<{type(value).__name__} too long to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _nested_at_most(value: object, depth: int) -> bool:
    """Whether lists, tuples, sets and dicts in ``value`` nest at most ``depth`` deep (no recursion)."""
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Iterable[object] = [*item.keys(), *item.values()]
        elif isinstance(item, (list, tuple, set, frozenset)):
            children = item
        else:
            continue
        if level >= depth:
            return False
        stack.extend((child, level + 1) for child in children)
    return True


def unknown(kind: str, value: object, known: Iterable[object], fix: str) -> str:
    """Message for an unknown name, with close matches when there are some.

    >>> unknown("vector name", "imgae", ["image", "text"], "Pass using= one of ['image', 'text'].")
    "Unknown vector name 'imgae'. Did you mean 'image'? Pass using= one of ['image', 'text']."
    """
    names = [str(k) for k in known]
    close = difflib.get_close_matches(str(value), names, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return f"Unknown {kind} {short_repr(value)}.{hint} {fix}"
