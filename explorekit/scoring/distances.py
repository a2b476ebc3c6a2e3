"""Distances exactly as Qdrant computes them, in float32.

Qdrant works internally with a *similarity* where higher is always better:

========== ================================ ==========================================
distance   internal similarity sim(a, x)    score shown for a nearest search
========== ================================ ==========================================
cosine     dot of unit vectors               the similarity
dot        dot product                       the similarity
euclid     minus the squared L2 distance     sqrt(abs(sim)), the L2 distance
manhattan  minus the L1 distance             abs(sim), the L1 distance
========== ================================ ==========================================

Cosine vectors are normalised when stored and when used as queries, except near-zero vectors
(squared length below float32 epsilon) and vectors already of length one (within 1e-6), which
are left as they are.

Examples
--------
>>> import numpy as np
>>> preprocess(np.array([[3.0, 4.0]]), "cosine")
array([[0.6, 0.8]], dtype=float32)
>>> similarity(np.array([[0.0, 0.0]], np.float32), np.array([[3, 4]], np.float32), "euclid")
array([[-25.]], dtype=float32)
>>> display(np.array([-25.0], np.float32), "euclid")
array([5.], dtype=float32)
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from explorekit._support.errors import ExploreError, short_repr
from explorekit._support.threads import in_parts
from explorekit.scoring import _scan_kernel

Distance = Literal["cosine", "dot", "euclid", "manhattan"]
DISTANCES: tuple[Distance, ...] = ("cosine", "dot", "euclid", "manhattan")
EPS = np.float32(np.finfo(np.float32).eps)  # f32::EPSILON, 1.1920929e-07
_ALIASES = {
    "cosine": "cosine",
    "dot": "dot",
    "euclid": "euclid",
    "euclidean": "euclid",
    "l2": "euclid",
    "manhattan": "manhattan",
    "l1": "manhattan",
}
_CHUNK_ELEMENTS = 1 << 22  # rows x dims per block when a product cannot be used (manhattan)
_KERNEL_SCAN = 1 << 20  # floats read (rows x dims) from which several queries use the compiled scan
_SPLIT_SCAN = 1 << 22  # floats read by a compiled scan above which it runs one part per core
_KERNEL_QUERIES = 12  # at most this many queries per compiled scan: beyond, BLAS's blocked product
# wins (100,000 x 384, one BLAS thread against the kernel on 2 cores: 16 queries 1.2x, 32 1.5x,
# 64 2.2x the product's time; the kernel's work grows with the queries, the product's barely)
_KERNELS = {"cosine": "dot", "dot": "dot", "euclid": "l2", "manhattan": "l1"}


def normalize_distance(name: object) -> Distance:
    """Return the canonical distance name for ``name`` (case-insensitive).

    >>> normalize_distance("Cosine")
    'cosine'
    """
    key = str(name).lower() if isinstance(name, str) else None
    if key not in _ALIASES:
        raise ExploreError(
            f"Unknown distance {short_repr(name)}. Use one of 'cosine', 'dot', 'euclid', "
            "'manhattan' (case-insensitive), as in Qdrant's collection config."
        )
    return _ALIASES[key]  # type: ignore[return-value]


def preprocess(vectors: np.ndarray, distance: Distance) -> np.ndarray:
    """Vectors as Qdrant stores them (a new float32 array; the input is never changed)."""
    return preprocess_in_place(np.array(vectors, dtype=np.float32, copy=True, ndmin=2), distance)


_PREPROCESS_ROWS = 1 << 12  # rows normalised at a time: temporaries of a block, not of the matrix


def preprocess_in_place(matrix: np.ndarray, distance: Distance) -> np.ndarray:
    """:func:`preprocess` of a float32 2-D ``matrix`` the caller owns, written into it; returns it.

    Cosine vectors are normalised a block of rows at a time, so the only memory used beyond
    the matrix is one block's temporaries (a 1,000,000 x 384 collection is built in 1.0x its
    vectors plus a few MB, not 2-3x). The same operations as on the whole matrix, row by row:
    the same bits.

    >>> m = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    >>> preprocess_in_place(m, "cosine") is m, m.tolist()
    (True, [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]])
    """
    if distance != "cosine" or matrix.size == 0:
        return matrix
    for start in range(0, len(matrix), _PREPROCESS_ROWS):
        block = matrix[start : start + _PREPROCESS_ROWS]
        squared = np.einsum("ij,ij->i", block, block)
        scale = (squared >= EPS) & (np.abs(squared - 1.0) > 1e-6)
        np.divide(block, np.sqrt(squared)[:, None], out=block, where=scale[:, None])  # no copy of the rows
    return matrix


def similarity(queries: np.ndarray, vectors: np.ndarray, distance: Distance) -> np.ndarray:
    """Internal similarities, shape ``(len(queries), len(vectors))``, float32, higher is better.

    ``queries`` must already be preprocessed (see :func:`preprocess`). Cosine and dot are one
    matrix product; euclid is expanded into a product and then corrected exactly for the pairs
    that matter (see :func:`exact_similarity`); manhattan is computed block by block.
    """
    queries = np.asarray(queries, dtype=np.float32)
    vectors = np.asarray(vectors, dtype=np.float32)
    if distance in ("cosine", "dot"):
        return _product(queries, vectors)
    if distance == "euclid":
        out = _product(queries, vectors)
        out *= np.float32(2.0)
        out -= np.einsum("ij,ij->i", queries, queries)[:, None]
        out -= squared_norms(vectors)[None, :]
        np.minimum(out, 0.0, out=out)
        return out
    return _manhattan(queries, vectors)


def scan_similarity(
    queries: np.ndarray, vectors: np.ndarray, distance: Distance, rows: np.ndarray | None = None
) -> np.ndarray:
    """:func:`similarity` of ``queries`` to ``vectors[rows]`` (all rows when None) in one pass
    over the vectors: ``(len(queries), n)``, float32, C-contiguous.

    Each stored row is read once and compared with every query while it is in cache (the
    compiled kernels of :mod:`._scan_kernel`; one part of the rows per core for a large scan),
    so a recommend query with a few examples costs about one scan, and ``rows`` are read where
    they lie (no copy of the selected vectors). The sums are reassociated, so the last bits can
    differ from :func:`exact_similarity`: use it to choose candidates, then score those
    canonically. One query (BLAS's matrix-vector product is already one pass), more than
    ``_KERNEL_QUERIES`` (a batch: BLAS's blocked product computes faster), a small scan (below
    ``_KERNEL_SCAN`` floats: BLAS is as fast, and numba is not loaded for it) or no numba:
    :func:`similarity`, the same numbers to float32 rounding.

    >>> scan_similarity(np.array([[1, 0], [0, 1]], np.float32), np.array([[3, 4], [0, 2]], np.float32), "dot")
    array([[3., 0.],
           [4., 2.]], dtype=float32)
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    vectors = np.asarray(vectors)
    n = len(vectors) if rows is None else len(rows)
    compiled = 1 < len(queries) <= _KERNEL_QUERIES and n * vectors.shape[-1] >= _KERNEL_SCAN
    compiled = compiled and vectors.dtype == np.float32
    kernels = _scan_kernel.load() if compiled and vectors.ndim == 2 and vectors.flags.c_contiguous else None
    if kernels is None:
        return np.ascontiguousarray(similarity(queries, vectors if rows is None else vectors[rows], distance))
    chosen = np.empty(0, np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    out = np.empty((len(queries), n), dtype=np.float32)
    kernel = kernels[_KERNELS[distance]]
    in_parts(
        lambda part: kernel(vectors, chosen, queries, part[0], part[1], out),
        n,
        split=n * vectors.shape[1] >= _SPLIT_SCAN,
    )
    return out


_ROWS_PER_PRODUCT = 1024  # 1,024 x 384 float32 = 1.5 MB: stays in cache while every query uses it
_MANY_QUERIES = 32  # from this many queries on, one product (BLAS blocks both sides itself)


def _product(queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``queries @ vectors.T`` as a ``(k, n)`` view, computed in row blocks of ``vectors``.

    Measured on 100,000 x 384 with one BLAS thread: for 3-16 queries, blocks of 1,024 stored
    rows times all queries take 31-35 ms against 38-59 ms for one big product, which makes
    OpenBLAS pack the whole matrix; for one query both are a memory-bound 16-17 ms.
    """
    n, k = len(vectors), len(queries)
    if k == 1 or n <= _ROWS_PER_PRODUCT:
        return queries @ vectors.T
    out = np.empty((n, k), dtype=np.float32)
    transposed = queries.T
    for start in range(0, n, _ROWS_PER_PRODUCT):
        np.matmul(vectors[start : start + _ROWS_PER_PRODUCT], transposed, out=out[start : start + _ROWS_PER_PRODUCT])
    return out.T


def squared_norms(vectors: np.ndarray) -> np.ndarray:
    """Row-wise squared lengths, float32."""
    return np.einsum("ij,ij->i", vectors, vectors)


def exact_similarity(queries: np.ndarray, vectors: np.ndarray, distance: Distance) -> np.ndarray:
    """The canonical similarity of a few candidates: the scores explorekit returns.

    Every path (exact scan, index, quantized rescoring) scores its final candidates here, with
    sums in one fixed order per pair (numpy's own loops, not BLAS, whose blocking depends on the
    shapes), so a point gets the same float32 score whichever path found it. Euclid sums the
    squared differences directly, as Qdrant does, with no cancellation error from the expanded
    product. Cheap for the tens to hundreds of rows it is used for.
    """
    queries = np.asarray(queries, dtype=np.float32)
    vectors = np.asarray(vectors, dtype=np.float32)
    if distance in ("cosine", "dot"):
        return np.einsum("kd,nd->kn", queries, vectors, optimize=False)
    if distance == "manhattan":
        return _manhattan(queries, vectors)
    out = np.empty((len(queries), len(vectors)), dtype=np.float32)
    for i, q in enumerate(queries):
        diff = vectors - q
        out[i] = -np.einsum("ij,ij->i", diff, diff)
    return out


def paired_similarity(queries: np.ndarray, candidates: np.ndarray, distance: Distance) -> np.ndarray:
    """:func:`exact_similarity` of each query to its own candidates, all at once: ``(b, w)``.

    ``queries`` is ``(b, d)``, ``candidates`` ``(b, w, d)``; entry ``[i, j]`` is bit for bit
    ``exact_similarity(queries[i:i+1], candidates[i], distance)[0, j]`` (the same sums over the
    last, contiguous axis; tested), without a Python loop over the queries.

    >>> q = np.array([[1, 0], [0, 2]], np.float32)
    >>> paired_similarity(q, np.array([[[1, 1]], [[3, 4]]], np.float32), "euclid").tolist()
    [[-1.0], [-13.0]]
    """
    queries = np.asarray(queries, dtype=np.float32)
    candidates = np.asarray(candidates, dtype=np.float32)
    if distance in ("cosine", "dot"):
        return np.einsum("bd,bwd->bw", queries, candidates, optimize=False)
    diff = candidates - queries[:, None, :]
    if distance == "manhattan":
        return -np.abs(diff).sum(axis=2, dtype=np.float32)
    return -np.einsum("bwd,bwd->bw", diff, diff)


def _manhattan(queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    out = np.empty((len(queries), len(vectors)), dtype=np.float32)
    dim = max(vectors.shape[1], 1)
    step = max(1, _CHUNK_ELEMENTS // dim)
    for i, q in enumerate(queries):
        for start in range(0, len(vectors), step):
            block = vectors[start : start + step]
            out[i, start : start + step] = -np.abs(block - q).sum(axis=1, dtype=np.float32)
    return out


def display(scores: np.ndarray, distance: Distance) -> np.ndarray:
    """Scores shown for a nearest search: distances for euclid/manhattan, similarities otherwise."""
    scores = np.asarray(scores, dtype=np.float32)
    if distance == "euclid":
        return np.sqrt(np.abs(scores))
    if distance == "manhattan":
        return np.abs(scores)
    return scores


def passes_threshold(scores: np.ndarray, threshold: float, distance: Distance) -> np.ndarray:
    """Qdrant's threshold check, which follows the *collection* distance for every query kind.

    Cosine/dot keep ``score > threshold``; euclid/manhattan keep ``score < threshold`` (strict).
    """
    if distance in ("cosine", "dot"):
        return scores > np.float32(threshold)
    return scores < np.float32(threshold)
