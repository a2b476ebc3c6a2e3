"""Compiled lookup-table scans for product quantization (numba, loaded on first use).

The scan returned by :func:`load`, ``scan(tables, codes, rows, part, out, planes=None)``,
writes for each query ``i`` and each row ``r`` of ``part`` ``((0 + t_0) + t_1) + ...`` in
float32, where ``t_j = tables[i, j, code of r in j]``: the same operations, in the same order,
as the numpy scan in :mod:`.product`, so every path gives bit-identical scores (no fastmath:
the additions are neither reordered nor fused). Two compiled forms:

* on x86-64 with AVX-512 VBMI (:mod:`._simd`), a scan of all rows reads 64 rows' codes of a
  sub-space at once and looks them up in registers (``planes`` from :func:`table_planes`),
  prefetching the codes of the sub-space two ahead (about 0.09 ns a table entry on one Zen 4
  core);
* elsewhere, and for a subset of rows, scalar code: eight rows' codes of a sub-space in one
  64-bit read, their eight sums in registers over a tile of sub-spaces (about 0.3 ns an entry).

The kernels release the GIL (``nogil``), so :func:`._base.scan_parts` runs one part per core;
they are compiled once per machine (``cache=True`` stores them next to this file or in numba's
user cache). When numba cannot be imported or compiled, :func:`load` returns None and the
caller keeps its numpy path.

Examples
--------
>>> import numpy as np
>>> kernel = load()
>>> tables = np.arange(2 * 256, dtype=np.float32).reshape(1, 2, 256)
>>> codes = np.array([[0, 1], [2, 3]], np.uint8)           # (sub-spaces, rows)
>>> out = np.empty((1, 2), np.float32)
>>> if kernel is not None:
...     kernel(tables, codes, None, (0, 2), out, table_planes(tables))
... else:
...     out[:] = [[258.0, 260.0]]
>>> out
array([[258., 260.]], dtype=float32)
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from explorekit._support.compiled import Compiled
from explorekit.quantization import _simd
from explorekit.quantization._simd import LANE_ROW as _LANE_ROW
from explorekit.quantization._simd import LANES

CHUNK = 1 << 14  # rows per pass (a multiple of 8): their sums stay in L2
TILE = 16  # sub-spaces added while eight sums stay in registers
ROWS_CHUNK = 1 << 12  # rows per pass of the scan of a subset of rows
BLOCK_CODES = 1 << 19  # codes per pass of the AVX-512 scan (rows x sub-spaces): in L2
AHEAD = 2  # the AVX-512 scan prefetches the codes of the sub-space 2 ahead
STEP = 64  # scan parts start on multiples of 64 rows (whole code reads)
_lut64_add: Callable | None = None  # the AVX-512 intrinsic, made when numba is imported


def _build() -> dict[str, Callable]:
    import numba

    @numba.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
    def scan_all(tables, codes, words, start, stop, out):  # pragma: no cover (compiled)
        # Eight rows at a time: one 64-bit read of the codes of sub-space j gives the eight
        # table indices, and the eight sums stay in registers over a tile of sub-spaces.
        k, m, n = tables.shape[0], tables.shape[1], codes.shape[1]
        nw = words.shape[0]
        zero = np.float32(0.0)
        for c0 in range(start, stop, CHUNK):
            c1 = min(c0 + CHUNK, stop)
            for i in range(k):
                t = tables[i]
                for r in range(c0, c1):
                    out[i, r] = zero
                for j0 in range(0, m, TILE):
                    j1 = min(j0 + TILE, m)
                    r = c0
                    while r + 8 <= c1:
                        a0, a1, a2, a3 = out[i, r], out[i, r + 1], out[i, r + 2], out[i, r + 3]
                        a4, a5, a6, a7 = out[i, r + 4], out[i, r + 5], out[i, r + 6], out[i, r + 7]
                        for j in range(j0, j1):
                            at = j * n + r  # byte offset of row r's code for j
                            wi, sh = at >> 3, np.uint64(8 * (at & 7))
                            if sh == 0:
                                w = words[wi]
                            elif wi + 1 < nw:
                                w = (words[wi] >> sh) | (words[wi + 1] << (np.uint64(64) - sh))
                            else:  # the last bytes: no whole word left
                                w = np.uint64(0)
                                for b in range(8):
                                    w |= np.uint64(codes[j, r + b]) << np.uint64(8 * b)
                            tj = t[j]
                            a0 += tj[w & 255]
                            a1 += tj[(w >> np.uint64(8)) & 255]
                            a2 += tj[(w >> np.uint64(16)) & 255]
                            a3 += tj[(w >> np.uint64(24)) & 255]
                            a4 += tj[(w >> np.uint64(32)) & 255]
                            a5 += tj[(w >> np.uint64(40)) & 255]
                            a6 += tj[(w >> np.uint64(48)) & 255]
                            a7 += tj[(w >> np.uint64(56)) & 255]
                        out[i, r], out[i, r + 1], out[i, r + 2], out[i, r + 3] = a0, a1, a2, a3
                        out[i, r + 4], out[i, r + 5], out[i, r + 6], out[i, r + 7] = a4, a5, a6, a7
                        r += 8
                    while r < c1:
                        a = out[i, r]
                        for j in range(j0, j1):
                            a += t[j][codes[j, r]]
                        out[i, r] = a
                        r += 1

    @numba.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
    def scan_words(tables, words, start, stop, out):  # pragma: no cover (compiled)
        # scan_all when every sub-space's codes start on a whole word: ``words`` is (m, n / 8)
        k, m = tables.shape[0], tables.shape[1]
        zero = np.float32(0.0)
        for c0 in range(start // 8, stop // 8, CHUNK // 8):
            c1 = min(c0 + CHUNK // 8, stop // 8)
            for i in range(k):
                t = tables[i]
                for r in range(c0 * 8, c1 * 8):
                    out[i, r] = zero
                for j0 in range(0, m, TILE):
                    j1 = min(j0 + TILE, m)
                    for b in range(c0, c1):
                        r = b * 8
                        a0, a1, a2, a3 = out[i, r], out[i, r + 1], out[i, r + 2], out[i, r + 3]
                        a4, a5, a6, a7 = out[i, r + 4], out[i, r + 5], out[i, r + 6], out[i, r + 7]
                        for j in range(j0, j1):
                            w = words[j, b]
                            tj = t[j]
                            a0 += tj[w & 255]
                            a1 += tj[(w >> 8) & 255]
                            a2 += tj[(w >> 16) & 255]
                            a3 += tj[(w >> 24) & 255]
                            a4 += tj[(w >> 32) & 255]
                            a5 += tj[(w >> 40) & 255]
                            a6 += tj[(w >> 48) & 255]
                            a7 += tj[(w >> 56) & 255]
                        out[i, r], out[i, r + 1], out[i, r + 2], out[i, r + 3] = a0, a1, a2, a3
                        out[i, r + 4], out[i, r + 5], out[i, r + 6], out[i, r + 7] = a4, a5, a6, a7

    @numba.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
    def scan_rows(tables, codes, rows, start, stop, out):  # pragma: no cover (compiled)
        k, m = tables.shape[0], tables.shape[1]
        zero = np.float32(0.0)
        for c0 in range(start, stop, ROWS_CHUNK):
            c1 = min(c0 + ROWS_CHUNK, stop)
            for i in range(k):
                for r in range(c0, c1):
                    out[i, r] = zero
                j = 0
                while j + 4 <= m:  # four sub-spaces a pass, still added one by one in order
                    t0, t1, t2, t3 = tables[i, j], tables[i, j + 1], tables[i, j + 2], tables[i, j + 3]
                    l0, l1, l2, l3 = codes[j], codes[j + 1], codes[j + 2], codes[j + 3]
                    for r in range(c0, c1):
                        p = rows[r]
                        out[i, r] = (((out[i, r] + t0[l0[p]]) + t1[l1[p]]) + t2[l2[p]]) + t3[l3[p]]
                    j += 4
                while j < m:
                    table, line = tables[i, j], codes[j]
                    for r in range(c0, c1):
                        out[i, r] += table[line[rows[r]]]
                    j += 1

    return {"all": scan_all, "words": scan_words, "rows": scan_rows}


def _build_simd() -> dict[str, Callable]:
    global _lut64_add
    import numba

    # a global, not a closure: numba's cache key includes closure variables, and an
    # intrinsic does not pickle the same way twice (the kernel would compile every time)
    _lut64_add = _simd.make_lut64_add()

    @numba.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
    def scan_planes(planes, tables, codes, start, stop, block, out):  # pragma: no cover
        # Blocks of rows; in each, sub-space after sub-space, 64 rows per register lookup
        # (sums in lane order, put back in row order at the end); leftover rows one by one.
        k, m, n = planes.shape[0], planes.shape[1], codes.shape[1]
        acc = np.empty(block, np.float32)
        for c0 in range(start, stop, block):
            c1 = min(c0 + block, stop)
            full = (c1 - c0) // LANES * LANES
            for i in range(k):
                for p in range(full):
                    acc[p] = np.float32(0.0)
                for j in range(m):
                    ahead, at = j + AHEAD, c0
                    if ahead >= m:  # the next block's first sub-spaces
                        ahead -= m
                        at = c0 + block if c0 + block + full <= n else c0
                    _lut64_add(acc, planes[i, j], codes[j], c0, full, codes[ahead], at)
                row = out[i]
                for base in range(0, full, LANES):
                    for p in range(LANES):
                        row[c0 + base + _LANE_ROW[p]] = acc[base + p]
                for r in range(c0 + full, c1):
                    row[r] = np.float32(0.0)
                for j in range(m):
                    table, line = tables[i, j], codes[j]
                    for r in range(c0 + full, c1):
                        row[r] += table[line[r]]

    return {"planes": scan_planes}


def _built() -> dict[str, Callable]:
    kernels = _build()
    _warm(kernels)  # compile (or load from numba's cache) now, not mid-scan
    kernels.update(_simd_kernels())
    return kernels


_compiled = Compiled(_built, "product-quantization scan kernels")


def load() -> Callable | None:
    """The compiled scan, or None when numba is unavailable (the caller falls back to numpy)."""
    if sys.byteorder != "little":  # the 64-bit code reads assume little-endian
        return None
    return _scan if _compiled.get() is not None else None


def _simd_kernels() -> dict[str, Callable]:
    """The AVX-512 scan when this machine has it and numba compiles it, else nothing."""
    try:
        if not _simd.supported():
            return {}
        kernels = _build_simd()
        _warm_simd(kernels)
        return kernels
    except Exception:  # an LLVM without these intrinsics: the scalar scan remains
        return {}


def block_rows(m: int) -> int:
    """Rows per pass of the AVX-512 scan for ``m`` sub-spaces: a multiple of 64, 256 to 2048."""
    return min(2048, max(256, BLOCK_CODES // max(m, 1) // LANES * LANES))


def table_planes(tables: np.ndarray) -> np.ndarray | None:
    """The tables as the AVX-512 scan reads them, or None when that scan is not available.

    Call after :func:`load`; pass the result to the scan as ``planes``.
    """
    if "planes" not in (_compiled.get() or {}):
        return None
    return _simd.table_planes(tables)


def _warm(kernels: dict[str, Callable]) -> None:
    """Run both kernels once on tiny arrays of the types a scan passes."""
    tables = np.zeros((1, 2, 256), np.float32)
    codes = np.zeros((2, 9), np.uint8)
    out = np.empty((1, 9), np.float32)
    kernels["all"](tables, codes, codes.reshape(-1)[:16].view(np.uint64), 0, 9, out)
    kernels["rows"](tables, codes, np.arange(9, dtype=np.intp), 0, 9, out)
    kernels["words"](tables, codes[:, :8].copy().view(np.uint64), 0, 8, out)


def _warm_simd(kernels: dict[str, Callable]) -> None:
    """Compile the AVX-512 scan and check it against plain sums on a small case."""
    rng = np.random.default_rng(0)
    tables = rng.standard_normal((2, 3, 256)).astype(np.float32)
    codes = rng.integers(0, 256, (3, 200), dtype=np.uint8)
    out = np.empty((2, 200), np.float32)
    kernels["planes"](_simd.table_planes(tables), tables, codes, 0, 200, 128, out)
    want = np.zeros((2, 200), np.float32)
    for j in range(3):
        want += tables[:, j, codes[j]]
    if not np.array_equal(out, want):
        raise RuntimeError("the AVX-512 product-quantization scan disagrees with plain sums")


def _scan(
    tables: np.ndarray,
    codes: np.ndarray,
    rows: np.ndarray | None,
    part: tuple[int, int],
    out: np.ndarray,
    planes: np.ndarray | None = None,
) -> None:
    """Scores of rows ``part[0]:part[1]`` (of ``rows`` when given, else of all codes) in ``out``.

    ``tables`` is ``(k, m, 256)`` float32, ``codes`` ``(m, n)`` uint8 (all stored rows),
    ``rows`` intp positions into the codes, ``out`` ``(k, len(rows) or n)`` float32,
    ``planes`` the tables from :func:`table_planes` (the AVX-512 scan; all rows only).
    """
    start, stop = int(part[0]), int(part[1])
    kernels = _compiled.get()
    if rows is None and planes is not None and "planes" in kernels:
        kernels["planes"](planes, tables, codes, start, stop, block_rows(codes.shape[0]), out)
    elif rows is None and codes.shape[1] % 8 == 0 and start % 8 == 0 and stop % 8 == 0:
        kernels["words"](tables, codes.view(np.uint64), start, stop, out)
    elif rows is None:
        flat = codes.reshape(-1)
        words = flat[: flat.size // 8 * 8].view(np.uint64)  # little-endian: byte b = row r + b
        kernels["all"](tables, codes, words, start, stop, out)
    else:
        kernels["rows"](tables, codes, rows, start, stop, out)
