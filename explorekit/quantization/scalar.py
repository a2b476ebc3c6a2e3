"""Scalar int8 quantization, scored exactly as Qdrant scores it.

Qdrant's rule (``lib/quantization/src/encoded_vectors_u8.rs``, ``quantile.rs``):

* one range for the whole vector set: ``min``/``max`` over every component of every stored
  vector, or, with ``quantile`` q (and at least 127 vectors), the values at ranks ``cut + 1``
  and ``L - cut - 1`` of the pooled components of up to 5,000 sampled vectors, where
  ``cut = max(1, min((L - 1) // 2, int(n_sampled * (1 - q) / 2)))`` (float32 arithmetic);
* ``alpha = (max - min) / 127``, ``offset = min``; a value v gets the 7-bit code
  ``round(clamp((v - offset) / alpha, 0, 127))``, rounding halves up; queries are encoded the
  same way;
* vectors are padded to a multiple of 16 components with the code of 0.0 (dot, cosine) or of
  ``offset`` (euclid, manhattan); the padding takes part in the sums, as in Qdrant;
* score = ``multiplier * sum(cq * cx) + query_offset + vector_offset`` which equals the metric
  on the de-quantised vectors ``offset + alpha * c`` (negative squared L2 for euclid, negative
  L1 for manhattan).

The sums of code products are exact integers, computed by a compiled int8 kernel
(:mod:`._sq_kernel`) or, without numba, by float matrix products of exact integers; both then
apply the same float32 operations, so they give the same scores bit for bit.

Examples
--------
>>> import numpy as np
>>> x = np.array([[0.6, 0.8], [1.0, 0.0], [0.0, 1.0]], np.float32)
>>> sq = ScalarQuantizer({"scalar": {"type": "int8", "quantile": None}}, "cosine").fit(x)
>>> sq.codes_
array([[ 76, 102],
       [127,   0],
       [  0, 127]], dtype=uint8)
>>> np.round(sq.similarity(x[:1]), 3)
array([[1.003, 0.598, 0.803]], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from explorekit.quantization import _sq_kernel
from explorekit.quantization._base import Quantizer, round_half_away, scan_parts

ALIGNMENT = 16
QUANTILE_SAMPLE = 5_000
_BLOCK_ELEMENTS = 1 << 18  # codes converted per block: 1 MiB of float32 stays in L2; fewer,
# larger numpy calls (measured: 1 << 17 is 15% slower, 1 << 16 2x)
_F = np.float32
_NO_ROWS = np.empty(0, np.intp)


def quantile_range(stored: np.ndarray, quantile: float | None, rng: np.random.Generator) -> tuple[float, float] | None:
    """Qdrant's clipped ``(min, max)``, or None when the rule does not apply."""
    n = len(stored)
    if quantile is None or n < 127 or quantile >= 1.0:
        return None
    if n > QUANTILE_SAMPLE:
        picked = np.sort(rng.choice(n, QUANTILE_SAMPLE, replace=False))
        pooled = stored[picked].ravel()
    else:
        pooled = stored.ravel()
    size = pooled.size
    if size < 4:
        return None
    sampled = _F(n if n <= QUANTILE_SAMPLE else QUANTILE_SAMPLE)
    by_quantile = int(sampled * (_F(1.0) - _F(quantile)) / _F(2.0))
    cut = max(min((size - 1) // 2, by_quantile), 1)
    lo, hi = cut + 1, size - cut - 1
    if hi - lo + 1 < 2:
        return None
    part = np.partition(pooled, [lo, hi])
    return float(part[lo]), float(part[hi])


class ScalarQuantizer(Quantizer):
    """Int8 scalar quantization (7-bit codes, one global range), one byte per component."""

    method = "scalar"
    default_rescore = False
    row_axis = 0

    def _fit(self, stored: np.ndarray, seed: int) -> None:
        if len(stored) == 0:
            self.alpha_, self.offset_ = _F(0.0), _F(0.0)
            return
        lo, hi = _F(stored.min()), _F(stored.max())
        clipped = quantile_range(stored, self.config["scalar"].get("quantile"), np.random.default_rng(seed))
        if clipped is not None:
            lo, hi = _F(clipped[0]), _F(clipped[1])
        self.alpha_ = _F((hi - lo) / _F(127.0))
        self.offset_ = lo

    # ------------------------------------------------------------------ encoding
    def encode_values(self, values: np.ndarray) -> np.ndarray:
        """Codes 0..127 of raw values (float32 arithmetic, NaN from a zero range -> 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = (np.asarray(values, _F) - self.offset_) / self.alpha_
        scaled = np.nan_to_num(np.clip(scaled, _F(0.0), _F(127.0)), nan=0.0)
        return round_half_away(scaled).astype(np.uint8)

    def _encode(self, stored: np.ndarray) -> np.ndarray:
        return self.encode_values(stored)

    def _code_width(self) -> int:
        return int(self.dim_ or 0)

    @property
    def _padding(self) -> tuple[int, int]:
        """(number of padding components, their code), remembered per fitted range."""
        key = (self.dim_, self.distance, self.alpha_, self.offset_)
        cached = getattr(self, "_pad", None)
        if cached is None or cached[0] != key:
            pad = (ALIGNMENT - self.dim_ % ALIGNMENT) % ALIGNMENT
            filler = 0.0 if self.distance in ("cosine", "dot") else float(self.offset_)
            cached = self._pad = (key, (pad, int(self.encode_values(np.array([filler], _F))[0])))
        return cached[1]

    @property
    def multiplier_(self) -> np.float32:
        a = self.alpha_
        if self.distance in ("cosine", "dot"):
            return _F(a * a)
        if self.distance == "euclid":
            return _F(_F(2.0) * a * a)  # -2 alpha^2, inverted
        return _F(-a)  # manhattan: alpha, inverted

    def _offsets(self, sums: np.ndarray, squares: np.ndarray | None, is_query: bool) -> np.ndarray:
        """Per-vector additive constants from code sums (dot) or code square sums (euclid)."""
        if self.distance in ("cosine", "dot"):
            out = sums * self.alpha_ * self.offset_
            if not is_query:
                out = out + _F(self._actual_dim) * self.offset_ * self.offset_
            return out.astype(_F)
        if self.distance == "euclid":
            return (-(squares * self.alpha_ * self.alpha_)).astype(_F)
        return np.zeros(len(sums), _F)

    @property
    def _actual_dim(self) -> int:
        return self.dim_ + self._padding[0]

    # ------------------------------------------------------------------ scoring
    def _row_terms(self) -> np.ndarray:
        """Each stored vector's additive term (Qdrant's vector offset), float32, one per row.

        It does not depend on the query, so it is computed once per set of codes, from the
        exact integer code sums (and, for euclid, sums of squared codes).
        """
        cached = getattr(self, "_terms", None)
        if cached is None or cached[0] is not self.codes_:
            sums = np.empty(len(self.codes_), _F)
            squares = np.empty(len(self.codes_), _F) if self.distance == "euclid" else None
            step = max(1, _BLOCK_ELEMENTS // max(self.dim_, 1))
            for start in range(0, len(self.codes_), step):
                block = self.codes_[start : start + step].astype(np.int32)
                sums[start : start + step] = block.sum(axis=1)
                if squares is not None:
                    squares[start : start + step] = np.einsum("ij,ij->i", block, block)
            pad, filler = self._padding
            sums += _F(pad * filler)
            if squares is not None:
                squares += _F(pad * filler * filler)
            cached = self._terms = (self.codes_, self._offsets(sums, squares, False))
        return cached[1]

    def _query_terms(self, qc: np.ndarray) -> np.ndarray:
        """Each query's additive term (Qdrant's query offset), float32, from its codes."""
        pad, filler = self._padding
        q = qc.astype(_F)
        q_sums = q.sum(axis=1) + _F(pad * filler)
        q_squares = np.einsum("ij,ij->i", q, q) + _F(pad * filler * filler)
        return self._offsets(q_sums, q_squares, True)

    def _similarity(self, queries: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        qc = self.encode_values(queries)
        n = len(self.codes_) if rows is None else len(rows)
        k = len(queries)
        out = np.empty((k, n), _F)
        if out.size == 0:
            return out
        kernels = _sq_kernel.load() if self._kernel_can_read(rows) else None
        if kernels is not None:
            scan = self._kernel_scan(kernels, qc, rows, out)
        elif self.distance == "manhattan":
            scan = lambda part: self._scan_l1(qc, rows, part, out)  # noqa: E731
        else:
            scan = self._numpy_scan(qc, rows, out)
        scan_parts(scan, n, n * self.dim_ * k, 1)
        return out

    def _kernel_scan(
        self, kernels: dict, qc: np.ndarray, rows: np.ndarray | None, out: np.ndarray
    ) -> Callable[[tuple[int, int]], None]:
        """The compiled scan of one run of rows (see :mod:`._sq_kernel`), same scores as numpy."""
        subset = _NO_ROWS if rows is None else rows
        if self.distance == "manhattan":
            return lambda part: kernels["l1"](self.codes_, subset, qc, self.multiplier_, part[0], part[1], out)
        pad, filler = self._padding
        pad_term, mult = _F(pad * filler * filler), self.multiplier_
        q_off, v_off = self._query_terms(qc), self._row_terms()
        return lambda part: kernels["affine"](
            self.codes_, subset, qc, pad_term, mult, q_off, v_off, part[0], part[1], out
        )

    def _numpy_scan(
        self, qc: np.ndarray, rows: np.ndarray | None, out: np.ndarray
    ) -> Callable[[tuple[int, int]], None]:
        """Without numba: exact code products in float blocks, then Qdrant's affine correction.

        Every float32 operation after the product is the kernel's, in the kernel's order.
        """
        n, k = out.shape[1], out.shape[0]
        pad, filler = self._padding
        pad_term = _F(pad * filler * filler)
        q_off = self._query_terms(qc)[:, None]
        v_off = self._row_terms()
        v_off = (v_off if rows is None else v_off[rows])[None, :]
        step = max(1, _BLOCK_ELEMENTS // max(self.dim_, 1))
        # one query: a matrix-vector np.dot (numpy's matmul with a (dim, 1) operand holds
        # the GIL, so two runs would not overlap); more: one (n, k) product per block
        exact = self._exact_dtype
        rhs = qc[0].astype(exact) if k == 1 else qc.T.astype(exact)  # (dim,) or (dim, k)
        prod = np.empty((n, k) if k > 1 else n, exact)

        def scan(part: tuple[int, int]) -> None:
            start, stop = part
            self._scan_product(rhs, rows, part, prod, step)
            block = out[:, start:stop]
            block[...] = prod[start:stop].T if k > 1 else prod[start:stop]
            block += pad_term
            block *= self.multiplier_
            block += q_off
            block += v_off[:, start:stop]

        return scan

    @property
    def _exact_dtype(self) -> type:
        """float32 holds every sum of code products exactly up to 1,040 components."""
        return np.float32 if 127 * 127 * self.dim_ < 2**24 else np.float64

    def _block(self, rows: np.ndarray | None, start: int, stop: int) -> np.ndarray:
        return self.codes_[start:stop] if rows is None else self.codes_[rows[start:stop]]

    def _scan_product(
        self, rhs: np.ndarray, rows: np.ndarray | None, part: tuple[int, int], prod: np.ndarray, step: int
    ) -> None:
        """Code products for one run of rows, block by cache-sized block.

        Codes are integers below 128, so every product and sum is exact (in float32 while
        ``127**2 * dim < 2**24``, else in float64), as in Qdrant's integer kernel: the values
        do not depend on the blocking or on the order of the sums.
        """
        buf = np.empty((min(step, part[1] - part[0]), self.dim_), rhs.dtype)
        for start in range(part[0], part[1], step):
            stop = min(start + step, part[1])
            block = buf[: stop - start]
            np.copyto(block, self._block(rows, start, stop))
            if rhs.ndim == 1:
                np.dot(block, rhs, out=prod[start:stop])
            else:
                np.matmul(block, rhs, out=prod[start:stop])

    def _scan_l1(self, qc: np.ndarray, rows: np.ndarray | None, part: tuple[int, int], out: np.ndarray) -> None:
        """Manhattan: sums of absolute code differences (the padding adds nothing)."""
        step = max(1, _BLOCK_ELEMENTS // max(self.dim_, 1) // 4)
        q16 = qc.astype(np.int16)
        for start in range(part[0], part[1], step):
            stop = min(start + step, part[1])
            b16 = self._block(rows, start, stop).astype(np.int16)
            for i, q in enumerate(q16):
                total = np.abs(b16 - q).sum(axis=1, dtype=np.int32)
                out[i, start:stop] = self.multiplier_ * total.astype(_F)

    # ------------------------------------------------------------------ saving
    def _params(self) -> dict[str, np.ndarray]:
        return {}

    def _meta(self) -> dict[str, Any]:
        return {"alpha": float(self.alpha_), "offset": float(self.offset_)}

    def _load(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        self.alpha_, self.offset_ = _F(meta["alpha"]), _F(meta["offset"])
