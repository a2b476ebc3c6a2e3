"""Binary quantization (1, 1.5 and 2 bits per component), scored exactly as Qdrant scores it.

Qdrant's rule (``lib/quantization/src/encoded_vectors_binary.rs``, ``vector_stats.rs``):

* ``one_bit``: bit = value > 0.
* ``two_bits``: per-component mean and sample standard deviation from the stored vectors,
  ``z = (v - mean) / std``; z <= -2/3 -> (0, 0), -2/3 < z < 2/3 -> (1, 0), z >= 2/3 -> (1, 1)
  (std below float32 epsilon: (v > 0, 0)). The first bits of all components come first, then
  the second bits.
* ``one_and_half_bits``: the first bits as for two bits, then one bit per pair of components,
  the OR of their second bits.
* Score, every distance: ``dim - 2 * xor`` where ``xor`` counts differing bits (agreeing minus
  disagreeing). Queries are encoded like stored vectors (``default``, ``binary``) or, with
  ``scalar4bits`` / ``scalar8bits``, quantised to 4/8 bits on ``[-max|q|, max|q|]``; each
  query level ``u`` against a stored bit ``b`` counts ``u`` (b = 0) or ``2^bits - 1 - u``
  (b = 1), and the total is divided by ``2^bits - 1``.

Codes are packed 8 bits a byte and scanned in machine words with ``np.bitwise_count``.

Examples
--------
>>> import numpy as np
>>> x = np.array([[0.5, -0.1, 0.2, -0.7], [-0.3, 0.4, 0.1, 0.2]], np.float32)
>>> bq = BinaryQuantizer({"binary": {"encoding": "one_bit", "query_encoding": "default"}}, "dot")
>>> bq.fit(x).similarity(x)
array([[ 4., -2.],
       [-2.,  4.]], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from explorekit.quantization._base import Quantizer, round_half_away

ENCODINGS = ("one_bit", "one_and_half_bits", "two_bits")
QUERY_ENCODINGS = ("default", "binary", "scalar4bits", "scalar8bits")
_QUERY_BITS = {"default": 1, "binary": 1, "scalar4bits": 4, "scalar8bits": 8}
_SIGMAS = np.float32(2.0 / 3.0)
_EPS = np.float32(np.finfo(np.float32).eps)
_F = np.float32


def _word_dtype(nbytes: int) -> np.dtype:
    """The widest unsigned word that divides a packed code (uint64 for most dimensions)."""
    for size, dtype in ((8, np.uint64), (4, np.uint32), (2, np.uint16)):
        if nbytes % size == 0:
            return np.dtype(dtype)
    return np.dtype(np.uint8)


class BinaryQuantizer(Quantizer):
    """Qdrant's binary quantization; codes stored word-major ``(words, n)`` for fast scans."""

    method = "binary"
    default_rescore = True
    row_axis = 1

    @property
    def encoding(self) -> str:
        return self.config["binary"]["encoding"]

    @property
    def query_bits(self) -> int:
        return _QUERY_BITS[self.config["binary"]["query_encoding"]]

    @property
    def extended_dim(self) -> int:
        """Bits per stored vector."""
        d = self.dim_
        return {"one_bit": d, "two_bits": 2 * d, "one_and_half_bits": (3 * d + 1) // 2}[self.encoding]

    def _code_width(self) -> int:
        return -(-self.extended_dim // 8)

    # ------------------------------------------------------------------ fitting / encoding
    def _fit(self, stored: np.ndarray, seed: int) -> None:
        if self.encoding == "one_bit":
            self.mean_ = self.std_ = None
            return
        n = len(stored)
        mean = stored.mean(axis=0, dtype=np.float64) if n else np.zeros(self.dim_)
        std = stored.std(axis=0, ddof=1, dtype=np.float64) if n > 1 else np.zeros(self.dim_)
        self.mean_, self.std_ = mean.astype(_F), std.astype(_F)

    def _bits(self, vectors: np.ndarray) -> np.ndarray:
        """Unpacked bits ``(n, extended_dim)`` of stored-side encoding."""
        if self.encoding == "one_bit":
            return vectors > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (vectors - self.mean_) / self.std_
        flat = self.std_ < _EPS
        first = np.where(flat, vectors > 0, z > -_SIGMAS)
        second = np.where(flat, False, z >= _SIGMAS)
        if self.encoding == "two_bits":
            return np.concatenate([first, second], axis=1)
        pairs = second[:, 0::2].copy()
        pairs[:, : second.shape[1] // 2] |= second[:, 1::2]
        return np.concatenate([first, pairs], axis=1)

    def _pack(self, bits: np.ndarray) -> np.ndarray:
        """Bits -> word-major packed codes ``(words, n)``."""
        packed = np.packbits(bits, axis=1, bitorder="little")
        return np.ascontiguousarray(packed.view(_word_dtype(packed.shape[1])).T)

    def _encode(self, stored: np.ndarray) -> np.ndarray:
        return self._pack(self._bits(stored))

    # ------------------------------------------------------------------ scoring
    def _query_planes(self, queries: np.ndarray) -> np.ndarray:
        """Packed query bit planes ``(k, planes, words)``; plane b weighs ``2**b``."""
        bits = self.query_bits
        if bits == 1:
            return self._pack(self._bits(queries)).T[:, None, :]
        if self.encoding == "one_bit":
            ext = queries
        elif self.encoding == "two_bits":
            ext = np.concatenate([queries, queries], axis=1)
        else:
            pairs = queries[:, 0::2].copy()
            half = queries.shape[1] // 2
            pairs[:, :half] = np.maximum(queries[:, 0 : 2 * half : 2], queries[:, 1 : 2 * half : 2])
            ext = np.concatenate([queries, pairs], axis=1)
        levels = (1 << bits) - 1
        top = np.abs(ext).max(axis=1, keepdims=True).astype(_F)
        delta = ((top - (-top)) / _F(levels)).astype(_F)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = (ext - (-top)) / delta
        scaled = np.where(delta > _EPS, scaled, _F(0.0))
        q = round_half_away(scaled).astype(np.int64) % (levels + 1)
        planes = [self._pack(((q >> b) & 1).astype(bool)).T for b in range(bits)]
        return np.stack(planes, axis=1)

    def _similarity(self, queries: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        codes = self._rows_codes(rows)  # (words, n)
        planes = self._query_planes(queries)
        out = np.empty((len(queries), codes.shape[1]), _F)
        if out.size:
            self._scan(codes, planes, (0, codes.shape[1]), out)
        return out

    def _scan(self, codes: np.ndarray, planes: np.ndarray, part: tuple[int, int], out: np.ndarray) -> None:
        """XOR + popcount, word by word over contiguous runs of rows."""
        start, stop = part
        n = stop - start
        k, n_planes, n_words = planes.shape
        words = codes[:, start:stop]
        tmp = np.empty(n, codes.dtype)
        cnt = np.empty(n, np.uint8)
        wide = np.uint16 if self.extended_dim * ((1 << n_planes) - 1) < 65536 else np.uint32
        total = np.empty(n, wide)
        plane_total = np.empty(n, wide)
        dim = _F(self.dim_)
        levels = _F((1 << n_planes) - 1)
        for i in range(k):
            total.fill(0)
            for b in range(n_planes):
                acc = total if b == 0 else plane_total
                if b:
                    acc.fill(0)
                for w in range(n_words):
                    np.bitwise_xor(words[w], planes[i, b, w], out=tmp)
                    np.bitwise_count(tmp, out=cnt)
                    acc += cnt
                if b:
                    acc <<= b
                    total += acc
            xor = total.astype(_F)
            if n_planes > 1:
                xor /= levels
            out[i, start:stop] = (dim - xor) - xor

    # ------------------------------------------------------------------ saving
    def _params(self) -> dict[str, np.ndarray]:
        if getattr(self, "mean_", None) is None:
            return {}
        return {"mean": self.mean_, "std": self.std_}

    def _meta(self) -> dict[str, Any]:
        return {"code_dtype": self.codes_.dtype.str}

    def _load(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        self.mean_ = arrays.get("mean")
        self.std_ = arrays.get("std")
