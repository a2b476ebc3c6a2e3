"""Compiled sign-code scan (numba, in :mod:`._codes_numba`, imported only through :func:`load`).

The kernels serve :mod:`._codes` when numba is importable (else it keeps its numpy path):
``dots(qwords, words, cos, centred_norm, mean_dot, q_norm, q_const, out)`` (every row; and
``dots_rows(..., rows, out)`` for a subset of rows) writes the estimated dot product of each
query and each row in one pass: the Hamming distance ``h`` (XOR and ``popcnt`` of 64-bit
words) becomes ``((cos[h] * |x - mu|) * |q - mu| + mu.x) + q_const`` - the same float32
operations, in the same order, as the numpy estimate. Rows are walked in chunks whose
distances stay in L1, one code word at a time over the chunk, so the compiler vectorises the
XOR/popcount loop (AVX-512 ``vpopcntq`` where the CPU has it).

Measured on 100,000 x 384 (6 words a code), one query, one core: numpy's Hamming distances and
estimate 0.65 ms, ``dots`` 0.13 ms (``benchmarks/bench_index.py`` has the end-to-end numbers).
The candidates are then chosen by :func:`explorekit.scoring.topk.top_k`.

The kernels are module-level functions so that numba's on-disk cache (``cache=True``, next to
them) serves them after the first compile on a machine (3-11 s measured, shown as progress).

Examples
--------
>>> import numpy as np
>>> kernels = load()
>>> words = np.array([[0b1011, 0b0000]], np.uint64)          # one code word, two rows
>>> cos = np.cos(np.pi * np.arange(65) / 64).astype(np.float32)
>>> ones = np.ones(2, np.float32)
>>> out = np.empty((1, 2), np.float32)
>>> if kernels is not None:                                  # query code 0b0011: h = 1 and 2
...     kernels["dots"](np.array([[0b0011]], np.uint64), words, cos, ones, 0 * ones,
...                     ones[:1], 0 * ones[:1], out)
... else:
...     out[:] = cos[[1, 2]]
>>> bool(out[0, 0] == cos[1] and out[0, 1] == cos[2])
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np

from explorekit._support.compiled import Compiled


def _build() -> dict[str, Callable]:
    compiled = importlib.import_module(f"{__package__}._codes_numba")  # imports numba
    return {"dots": compiled.dots, "dots_rows": compiled.dots_rows}


def load() -> dict[str, Callable] | None:
    """The compiled scans (``"dots"``, ``"dots_rows"``), or None when numba is unavailable."""
    return _compiled.get()


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
        kernels["dots_rows"](np.zeros((1, 1), np.uint64), words, cos, f, f, q, q, np.arange(3, dtype=np.int64), out)


_compiled = Compiled(_build, "sign-code kernels", _warm)
