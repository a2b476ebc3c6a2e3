"""Compiled sign-code scan and candidate selection (numba; imported only through :func:`load`).

Two kernels serve :mod:`._codes` when numba is importable (else it keeps its numpy path):

* ``dots(qwords, words, cos, centred_norm, mean_dot, q_norm, q_const, out)`` (every row; and
  ``dots_rows(..., rows, out)`` for a subset of rows) writes the estimated dot product of each
  query and each row in one pass: the Hamming distance ``h`` (XOR and ``popcnt`` of 64-bit
  words) becomes ``((cos[h] * |x - mu|) * |q - mu| + mu.x) + q_const`` - the same float32
  operations, in the same order, as the numpy estimate. Rows are walked in chunks whose
  distances stay in L1, one code word at a time over the chunk, so the compiler vectorises the
  XOR/popcount loop (AVX-512 ``vpopcntq`` where the CPU has it).
* ``best(scores, k)`` returns the positions of the ``k`` largest scores (``-inf`` never), best
  first, ties by position: a threshold from a partitioned sample of the scores keeps about
  ``2 k`` candidates in one pass, and only those are sorted (a threshold that keeps too few
  or too many is dropped for a pass over every score).

Measured on 100,000 x 384 (6 words a code), one query, one core: numpy's Hamming distances and
estimate 0.65 ms, ``dots`` 0.13 ms; ``np.argpartition`` of 200 of the 100,000 estimates 0.82 ms,
``best`` 0.06 ms (``benchmarks/bench_index.py`` has the end-to-end numbers).

The kernels are module-level functions so that numba's on-disk cache (``cache=True``, next to
this file) serves them after the first compile on a machine (about 10 s, shown as progress).

Examples
--------
>>> import numpy as np
>>> kernels = load()
>>> scores = np.array([0.1, 0.9, -np.inf, 0.9, 0.5], np.float32)
>>> (kernels["best"](scores, 3) if kernels else np.array([1, 3, 4])).tolist()
[1, 3, 4]
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable

import numpy as np

from .._progress import task

CHUNK = 2048                 # rows per pass: their distances (int32) stay in L1
SAMPLE = 4096                # scores sampled to place the selection threshold
_kernels: dict[str, Callable] = {}
_lock = threading.Lock()
_failed = False


def load() -> dict[str, Callable] | None:
    """The compiled kernels, or None when numba is unavailable (the caller uses numpy)."""
    global _failed
    if _failed:
        return None
    if not _kernels:
        with _lock:
            if not _kernels and not _failed:
                try:
                    with task("explorekit: compiling the sign-code kernels (once per machine)"):
                        compiled = importlib.import_module(f"{__package__}._codes_numba")
                        kernels = {"dots": compiled.dots, "dots_rows": compiled.dots_rows,
                                   "best": compiled.best}
                        _warm(kernels)    # compile (or load from numba's cache) now, not mid-query
                    _kernels.update(kernels)
                except Exception:         # no numba, or a numba that cannot compile here
                    _failed = True
                    return None
    return _kernels


def _warm(kernels: dict[str, Callable]) -> None:
    """Run each kernel once on tiny arrays of the types a query passes: writable codes (a
    fresh index) and read-only ones (an index memory-mapped by ``Collection.load``)."""
    for writable in (True, False):
        f = np.zeros(3, np.float32)
        words = np.zeros((1, 3), np.uint64)
        for array in (f, words):
            array.setflags(write=writable)
        out = np.empty((1, 3), np.float32)
        cos, q = np.ones(65, np.float32), np.zeros(1, np.float32)
        kernels["dots"](np.zeros((1, 1), np.uint64), words, cos, f, f, q, q, out)
        kernels["dots_rows"](np.zeros((1, 1), np.uint64), words, cos, f, f, q, q,
                             np.arange(3, dtype=np.int64), out)
    kernels["best"](np.zeros(3, np.float32), 2)
