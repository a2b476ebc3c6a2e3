"""Checks at the boundary, shared by every entry point."""

from __future__ import annotations

from typing import Any

import numpy as np

from explorekit._support.errors import DimensionError, ExploreError, NonFiniteError, RequestError, short_repr

_FINITE_ROWS = 1 << 12  # rows checked for NaN/inf at a time (no n x d mask)


def as_matrix(value: Any, where: str, dim: int | None = None, *, copy: bool = True) -> np.ndarray:
    """A C-contiguous float32 2-D copy of ``value``, checked for shape and finiteness.

    ``copy=False`` for an array the caller has just made and owns: it is used as it is when
    already float32 and C-contiguous (no second copy of a large matrix).

    >>> as_matrix([[1, 2], [3, 4]], "vectors").dtype
    dtype('float32')
    """
    try:
        with np.errstate(over="ignore"):  # beyond float32's range -> inf, reported below
            matrix = np.array(value, dtype=np.float32, copy=True) if copy else np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError, OverflowError) as err:
        raise ExploreError(
            f"{where}: cannot read as a 2-D array of numbers ({err}). "
            "Pass a 2-D numpy array or a list of equal-length lists."
        ) from None
    if matrix.ndim == 1 and matrix.size == 0:
        matrix = matrix.reshape(0, dim or 0)
    if matrix.ndim != 2:
        raise DimensionError(
            f"{where}: expected a 2-D array (points x dimensions), got shape "
            f"{matrix.shape}. Reshape it, e.g. np.asarray(v).reshape(len(v), -1)."
        )
    if matrix.shape[1] == 0 and matrix.shape[0] > 0:
        raise DimensionError(f"{where}: vectors of dimension 0. Vectors need at least one component.")
    if dim is not None and matrix.shape[1] != dim:
        raise DimensionError(f"{where}: expected dim: {dim}, got {matrix.shape[1]}.")
    rows = _non_finite_rows(matrix)
    if len(rows):
        raise NonFiniteError(
            f"{where}: NaN or infinite values (or beyond float32's range) in rows {rows[:10].tolist()}"
            f"{' and more' if len(rows) > 10 else ''} ({len(rows)} rows). "
            "Drop or fix those rows (e.g. np.nan_to_num) first."
        )
    return np.ascontiguousarray(matrix)


def _non_finite_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows holding NaN or an infinity, checked a block of rows at a time."""
    found = [
        start + np.flatnonzero(~np.isfinite(matrix[start : start + _FINITE_ROWS]).all(axis=1))
        for start in range(0, len(matrix), _FINITE_ROWS)
    ]
    return np.concatenate(found) if found else np.empty(0, np.int64)


MAX_COUNT = 2**64 - 1  # Qdrant reads limits, offsets, efforts and integer ids as unsigned 64-bit
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_count(value: Any, where: str, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    """``value`` as an int in ``[minimum, maximum]`` (numpy integers too, never a bool).

    Anything else raises :class:`RequestError` naming the value and the accepted range.

    >>> check_count(10, "limit", 1)
    10
    >>> check_count(2**64, "limit", 1)       # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    explorekit.RequestError: limit: 18446744073709551616 is above 2**64 - 1. Use an integer ...
    """
    accepted = f"Use an integer >= {minimum} and <= {_bound_text(maximum)}."
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise RequestError(f"{where}: {short_repr(value)} is not an integer. {accepted}")
    if value < minimum:
        raise RequestError(f"{where}: {value} is below {minimum}. {accepted}")
    if value > maximum:
        raise RequestError(f"{where}: {short_repr(value)} is above {_bound_text(maximum)}. {accepted}")
    return int(value)


def check_real(
    value: Any, where: str, minimum: float = -FLOAT32_MAX, maximum: float = FLOAT32_MAX, accepted: str = ""
) -> float:
    """``value`` as a float in ``[minimum, maximum]`` (finite; numpy numbers too, never a bool).

    Scores are float32, so the default range is float32's (about +-3.4e38). ``accepted`` replaces
    the default advice in the message.

    >>> check_real(0.5, "score_threshold")
    0.5
    >>> check_real(float("inf"), "oversampling", 1.0)   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    explorekit.RequestError: oversampling: inf is not a finite number. ...
    """
    accepted = accepted or f"Use a number >= {minimum:g} and <= {maximum:g}."
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RequestError(f"{where}: {short_repr(value)} is not a number. {accepted}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        number = float("inf")
    if not np.isfinite(number):
        raise RequestError(f"{where}: {short_repr(value)} is not a finite number. {accepted}")
    if not minimum <= number <= maximum:
        side = "below" if number < minimum else "above"
        edge = minimum if number < minimum else maximum
        raise RequestError(f"{where}: {short_repr(value)} is {side} {edge:g}. {accepted}")
    return number


def check_name(value: Any, where: str, fix: str) -> str | None:
    """``value`` if it is None or a string (a vector or collection name), else RequestError.

    >>> check_name("image", "using", "")
    'image'
    """
    if value is not None and not isinstance(value, str):
        raise RequestError(f"{where}: {short_repr(value)} is not a name (a string). {fix}".rstrip())
    return value


def _bound_text(maximum: int) -> str:
    return "2**64 - 1" if maximum == MAX_COUNT else f"{maximum:,}"
