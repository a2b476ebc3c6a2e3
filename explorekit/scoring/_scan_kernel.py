"""Compiled one-pass similarity scan (numba, loaded on first use).

An exact scan scores every stored row against every example of a query (a recommend query has
several; a batch stacks all of its queries' examples). BLAS does this badly for a handful of
examples: OpenBLAS packs the whole matrix for a thin product, and its threads spin against
each other on a busy 2-core machine. These kernels read each stored row once and take its
similarity to every example while the row is in L1, so ``k`` examples cost about one pass
over the vectors (measured on 100,000 x 384, one core: 3 examples 1.2-1.4x and 5 examples
1.4-1.6x the time of numpy's ``X @ q`` for one vector, against 1.6-2.4x for the thin product).

The kernels returned by :func:`load` write for query ``i`` and row ``r`` in ``[start, stop)``
(stored row ``p = rows[r]`` when ``rows`` has elements, else ``r``):

* ``dot``: ``sum_d x_p[d] * q_i[d]`` (cosine and dot),
* ``l2``: ``-sum_d (x_p[d] - q_i[d])^2`` (euclid, without the expanded product's cancellation),
* ``l1``: ``-sum_d |x_p[d] - q_i[d]|`` (manhattan),

into ``out[i, r]``. The sums are reassociated (the compiler vectorises them), so their last
bits can differ from :func:`explorekit.scoring.distances.exact_similarity`: they choose
candidates, and the canonical scores decide (the exact path keeps a margin of candidates for
that). They release the GIL, so a large scan runs one part of the rows per core.

Examples
--------
>>> import numpy as np
>>> kernels = load()
>>> vectors = np.array([[1, 2], [3, 4]], np.float32)
>>> queries = np.array([[1, 1]], np.float32)
>>> out = np.empty((1, 2), np.float32)
>>> if kernels is not None:
...     kernels["dot"](vectors, np.empty(0, np.int64), queries, 0, 2, out)
... else:
...     out[:] = [[3.0, 7.0]]
>>> out
array([[3., 7.]], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from explorekit._support.compiled import Compiled


def _build() -> dict[str, Callable]:
    import numba

    fast = {"reassoc", "contract"}  # lets LLVM vectorise the sums (float32 FMA lanes)

    # The kernels reference nothing from this function (a closure would defeat numba's cache).
    # Four examples share each pass over a row's components (one load of x[d] feeds four
    # accumulators): 5 examples 1.0x a one-vector scan instead of 1.4x example by example.
    @numba.njit(cache=True, nogil=True, boundscheck=False, fastmath=fast)
    def dot(vectors, rows, queries, start, stop, out):  # pragma: no cover (compiled)
        subset, m = rows.shape[0] > 0, queries.shape[0]
        for r in range(start, stop):
            x = vectors[rows[r] if subset else r]
            i = 0
            while i + 4 <= m:
                q0, q1, q2, q3 = queries[i], queries[i + 1], queries[i + 2], queries[i + 3]
                a0 = a1 = a2 = a3 = np.float32(0.0)
                for d in range(x.shape[0]):
                    xd = x[d]
                    a0 += xd * q0[d]
                    a1 += xd * q1[d]
                    a2 += xd * q2[d]
                    a3 += xd * q3[d]
                out[i, r], out[i + 1, r], out[i + 2, r], out[i + 3, r] = a0, a1, a2, a3
                i += 4
            for j in range(i, m):
                q = queries[j]
                acc = np.float32(0.0)
                for d in range(x.shape[0]):
                    acc += x[d] * q[d]
                out[j, r] = acc

    @numba.njit(cache=True, nogil=True, boundscheck=False, fastmath=fast)
    def l2(vectors, rows, queries, start, stop, out):  # pragma: no cover (compiled)
        subset, m = rows.shape[0] > 0, queries.shape[0]
        for r in range(start, stop):
            x = vectors[rows[r] if subset else r]
            i = 0
            while i + 4 <= m:
                q0, q1, q2, q3 = queries[i], queries[i + 1], queries[i + 2], queries[i + 3]
                a0 = a1 = a2 = a3 = np.float32(0.0)
                for d in range(x.shape[0]):
                    xd = x[d]
                    e0, e1, e2, e3 = xd - q0[d], xd - q1[d], xd - q2[d], xd - q3[d]
                    a0 += e0 * e0
                    a1 += e1 * e1
                    a2 += e2 * e2
                    a3 += e3 * e3
                out[i, r], out[i + 1, r], out[i + 2, r], out[i + 3, r] = -a0, -a1, -a2, -a3
                i += 4
            for j in range(i, m):
                q = queries[j]
                acc = np.float32(0.0)
                for d in range(x.shape[0]):
                    diff = x[d] - q[d]
                    acc += diff * diff
                out[j, r] = -acc

    @numba.njit(cache=True, nogil=True, boundscheck=False, fastmath=fast)
    def l1(vectors, rows, queries, start, stop, out):  # pragma: no cover (compiled)
        subset, m = rows.shape[0] > 0, queries.shape[0]
        for r in range(start, stop):
            x = vectors[rows[r] if subset else r]
            i = 0
            while i + 4 <= m:
                q0, q1, q2, q3 = queries[i], queries[i + 1], queries[i + 2], queries[i + 3]
                a0 = a1 = a2 = a3 = np.float32(0.0)
                for d in range(x.shape[0]):
                    xd = x[d]
                    a0 += abs(xd - q0[d])
                    a1 += abs(xd - q1[d])
                    a2 += abs(xd - q2[d])
                    a3 += abs(xd - q3[d])
                out[i, r], out[i + 1, r], out[i + 2, r], out[i + 3, r] = -a0, -a1, -a2, -a3
                i += 4
            for j in range(i, m):
                q = queries[j]
                acc = np.float32(0.0)
                for d in range(x.shape[0]):
                    acc += abs(x[d] - q[d])
                out[j, r] = -acc

    return {"dot": dot, "l2": l2, "l1": l1}


def load() -> dict[str, Callable] | None:
    """The compiled scans (``"dot"``, ``"l2"``, ``"l1"``), or None when numba is unavailable."""
    return _compiled.get()


def _warm(kernels: dict[str, Callable]) -> None:
    """Run each kernel once on tiny arrays of the types a scan passes: writable vectors (built
    in memory) and read-only ones (memory-mapped by ``Collection.load``)."""
    for writable in (True, False):
        vectors = np.zeros((3, 4), np.float32)
        vectors.setflags(write=writable)
        queries = np.zeros((2, 4), np.float32)
        out = np.empty((2, 3), np.float32)
        for rows in (np.empty(0, np.int64), np.arange(3, dtype=np.int64)):
            for kernel in kernels.values():
                kernel(vectors, rows, queries, 0, 3, out)


_compiled = Compiled(_build, "exact scan kernels", _warm)
