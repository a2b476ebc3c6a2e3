"""Checks at the boundary, shared by every entry point."""

from __future__ import annotations

from typing import Any

import numpy as np

from explorekit._support.errors import DimensionError, ExploreError, NonFiniteError


def as_matrix(value: Any, where: str, dim: int | None = None) -> np.ndarray:
    """A C-contiguous float32 2-D copy of ``value``, checked for shape and finiteness.

    >>> as_matrix([[1, 2], [3, 4]], "vectors").dtype
    dtype('float32')
    """
    try:
        with np.errstate(over="ignore"):          # beyond float32's range -> inf, reported below
            matrix = np.array(value, dtype=np.float32, copy=True)
    except (TypeError, ValueError, OverflowError) as err:
        raise ExploreError(f"{where}: cannot read as a 2-D array of numbers ({err}). "
                           "Pass a 2-D numpy array or a list of equal-length lists.") from None
    if matrix.ndim == 1 and matrix.size == 0:
        matrix = matrix.reshape(0, dim or 0)
    if matrix.ndim != 2:
        raise DimensionError(f"{where}: expected a 2-D array (points x dimensions), got shape "
                             f"{matrix.shape}. Reshape it, e.g. np.asarray(v).reshape(len(v), -1).")
    if matrix.shape[1] == 0 and matrix.shape[0] > 0:
        raise DimensionError(f"{where}: vectors of dimension 0. Vectors need at least one component.")
    if dim is not None and matrix.shape[1] != dim:
        raise DimensionError(f"{where}: expected dim: {dim}, got {matrix.shape[1]}.")
    finite = np.isfinite(matrix)
    if not finite.all():
        rows = np.flatnonzero(~finite.all(axis=1))
        raise NonFiniteError(f"{where}: NaN or infinite values (or beyond float32's range) in rows {rows[:10].tolist()}"
                             f"{' and more' if len(rows) > 10 else ''} ({len(rows)} rows). "
                             "Drop or fix those rows (e.g. np.nan_to_num) first.")
    return np.ascontiguousarray(matrix)
