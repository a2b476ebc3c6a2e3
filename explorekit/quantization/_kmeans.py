"""Seeded k-means for product-quantization codebooks, one sub-space at a time.

The rule follows Qdrant's (``lib/quantization/src/kmeans.rs``): the initial centroids are the
first ``k`` sampled vectors, each Lloyd step assigns every sample to its nearest centroid
(squared L2) and moves each centroid to the mean of its samples, an empty cluster restarts at a
random sample, and the loop stops after ``max_iterations`` or once the summed absolute centroid
change falls below ``tol``. One-dimensional sub-spaces (compression ``x4``) use sorted
boundaries instead of a distance matrix, which gives the same assignment much faster.

Examples
--------
>>> import numpy as np
>>> data = np.array([[0.0], [0.1], [10.0], [10.2]], np.float32)
>>> np.sort(kmeans(data, 2, np.random.default_rng(0)).ravel())
array([ 0.05, 10.1 ], dtype=float32)
"""

from __future__ import annotations

import numpy as np

MAX_ITERATIONS = 100
TOLERANCE = 1e-5
_CHUNK_ELEMENTS = 1 << 19  # distance-matrix entries per block (2 MiB of float32)


def nearest(data: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid (squared L2) for every row of ``data``."""
    n, dim = data.shape
    k = len(centroids)
    if dim == 1:
        order = np.argsort(centroids[:, 0], kind="stable")
        sorted_c = centroids[order, 0]
        mids = (sorted_c[:-1] + sorted_c[1:]) * np.float32(0.5)
        return order[np.searchsorted(mids, data[:, 0], side="left")]
    # ||c||^2 - 2 x.c in one product: [x, 1] @ [-2c ; ||c||^2]^T
    weights = np.vstack([-2.0 * centroids.T, np.einsum("kd,kd->k", centroids, centroids)[None]])
    weights = weights.astype(np.float32)
    out = np.empty(n, np.intp)
    step = max(1, _CHUNK_ELEMENTS // k)
    ext = np.empty((min(step, n), dim + 1), np.float32)
    ext[:, dim] = 1.0
    for start in range(0, n, step):
        stop = min(start + step, n)
        block = ext[: stop - start]
        block[:, :dim] = data[start:stop]
        out[start:stop] = np.argmin(block @ weights, axis=1)
    return out


def nearest_exact(data: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Like :func:`nearest` but summing squared differences directly (first minimum wins)."""
    out = np.empty(len(data), np.intp)
    step = max(1, _CHUNK_ELEMENTS // max(len(centroids) * data.shape[1], 1))
    for start in range(0, len(data), step):
        diff = data[start : start + step, None, :] - centroids[None, :, :]
        out[start : start + step] = np.argmin(np.einsum("nkd,nkd->nk", diff, diff), axis=1)
    return out


def kmeans(
    data: np.ndarray, k: int, rng: np.random.Generator, max_iterations: int = MAX_ITERATIONS, tol: float = TOLERANCE
) -> np.ndarray:
    """``k`` centroids of ``data`` (``(n, dim)`` float32, ``n >= k``), shape ``(k, dim)``."""
    data = np.ascontiguousarray(data, dtype=np.float32)
    n, dim = data.shape
    if dim == 1:
        return _kmeans_1d(data[:, 0], k, rng, max_iterations, tol)[:, None]
    centroids = data[:k].copy()
    for _ in range(max_iterations):
        labels = nearest(data, centroids)
        counts = np.bincount(labels, minlength=k)
        sums = np.stack([np.bincount(labels, weights=data[:, j], minlength=k) for j in range(dim)], axis=1)
        empty = counts == 0
        new = np.empty_like(centroids)
        new[~empty] = (sums[~empty] / counts[~empty, None]).astype(np.float32)
        if empty.any():
            new[empty] = data[rng.integers(0, n, int(empty.sum()))]
        change = float(np.abs(new - centroids).sum(dtype=np.float32))
        centroids = new
        if change < tol:
            break
    return centroids


def _kmeans_1d(values: np.ndarray, k: int, rng: np.random.Generator, max_iterations: int, tol: float) -> np.ndarray:
    """Lloyd's algorithm on a line: clusters are intervals of the sorted values."""
    xs = np.sort(values)
    cums = np.concatenate([[0.0], np.cumsum(xs, dtype=np.float64)])
    centroids = np.sort(values[:k].astype(np.float32))
    for _ in range(max_iterations):
        mids = (centroids[:-1] + centroids[1:]) * np.float32(0.5)
        bounds = np.concatenate([[0], np.searchsorted(xs, mids, side="right"), [len(xs)]])
        counts = np.diff(bounds)
        sums = cums[bounds[1:]] - cums[bounds[:-1]]
        new = centroids.copy()
        full = counts > 0
        new[full] = (sums[full] / counts[full]).astype(np.float32)
        if (~full).any():
            new[~full] = values[rng.integers(0, len(values), int((~full).sum()))]
        new = np.sort(new)
        change = float(np.abs(new - centroids).sum(dtype=np.float32))
        centroids = new
        if change < tol:
            break
    return centroids
