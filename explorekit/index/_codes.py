"""Binary sign codes: a fast scan that proposes candidates for exact rescoring.

Each stored vector ``x`` is centred on the mean ``mu`` of the stored vectors and reduced to the
signs of its components, packed 64 to a word (words first, so a scan reads long runs). The
Hamming distance ``h`` between two codes estimates the angle between the centred vectors
(``angle ~ pi h / dim``), which gives an estimate of every internal similarity::

    x.e  ~  |x - mu| |e - mu| cos(pi h / dim) + mu.x + mu.e - |mu|^2
    euclid      -(|x|^2 + |e|^2 - 2 x.e)
    manhattan   -sqrt(2 dim / pi) * sqrt(|x - e|^2)   (the L1/L2 ratio of Gaussian differences)

These estimates only choose candidates: every returned score is recomputed exactly from the
original vectors, so a wrong estimate can drop a point but never change a score.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> stored = rng.normal(size=(500, 32)).astype(np.float32)
>>> codes = SignCodes.fit(stored, "dot")
>>> est = codes.estimate(stored[:1])
>>> int(np.argmax(est[0]))            # a vector's own code is its best match
0
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from explorekit.index import _codes_kernel
from explorekit.scoring.distances import Distance
from explorekit.scoring.formulas import ScoringQuery
from explorekit.scoring.topk import top_k

_WORD = 64


class SignCodes:
    """Centred sign bits of the stored vectors plus three numbers per row for the estimate."""

    def __init__(
        self,
        words: np.ndarray,
        mean: np.ndarray,
        centred_norm: np.ndarray,
        mean_dot: np.ndarray,
        sq_norm: np.ndarray,
        distance: Distance,
    ) -> None:
        self.words = words  # (n_words, n) uint64
        self.mean = mean  # (dim,) float32
        self.centred_norm = centred_norm  # (n,) |x - mu|
        self.mean_dot = mean_dot  # (n,) mu . x
        self.sq_norm = sq_norm  # (n,) |x|^2
        self.distance = distance
        self.dim = int(mean.shape[0])
        self._cos = np.cos(np.pi * np.arange(self.dim + 1, dtype=np.float64) / max(self.dim, 1)).astype(np.float32)

    @classmethod
    def fit(cls, stored: np.ndarray, distance: Distance, block: int = 65536) -> "SignCodes":
        """Codes of ``stored`` (the preprocessed float32 matrix), block by block."""
        n, dim = stored.shape
        mean = stored.mean(axis=0, dtype=np.float64).astype(np.float32) if n else np.zeros(dim, np.float32)
        n_words = max(1, -(-dim // _WORD))
        words = np.empty((n_words, n), np.uint64)
        centred_norm = np.empty(n, np.float32)
        for start in range(0, n, block):
            centred = stored[start : start + block] - mean
            words[:, start : start + len(centred)] = _pack(centred, n_words).T
            centred_norm[start : start + len(centred)] = np.sqrt(np.einsum("ij,ij->i", centred, centred))
        mean_dot = stored @ mean
        sq_norm = np.einsum("ij,ij->i", stored, stored)
        return cls(
            np.ascontiguousarray(words),
            mean,
            centred_norm,
            mean_dot.astype(np.float32),
            sq_norm.astype(np.float32),
            distance,
        )

    def __len__(self) -> int:
        return int(self.words.shape[1])

    @property
    def nbytes(self) -> int:
        return int(
            self.words.nbytes + self.mean.nbytes + self.centred_norm.nbytes + self.mean_dot.nbytes + self.sq_norm.nbytes
        )

    # ------------------------------------------------------------------ scanning
    def hamming(self, queries: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Hamming distances, shape ``(len(queries), n_rows)`` uint16 (all rows, or ``rows``)."""
        centred = np.asarray(queries, np.float32) - self.mean
        qwords = _pack(centred, self.words.shape[0])
        words = self.words if rows is None else self.words[:, rows]
        n = words.shape[1]
        out = np.zeros((len(qwords), n), np.uint16)
        tmp = np.empty(n, np.uint64)
        count = np.empty(n, np.uint8)
        for i, q in enumerate(qwords):
            for w in range(words.shape[0]):
                np.bitwise_xor(words[w], q[w], out=tmp)
                np.bitwise_count(tmp, out=count)
                out[i] += count
        return out

    def estimate(self, queries: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Estimated internal similarities (higher is better), shape ``(len(queries), n_rows)``.

        One compiled pass (:mod:`._codes_kernel`) when numba is available, else numpy; both
        compute the same float32 operations in the same order.
        """
        queries = np.asarray(queries, np.float32)
        take = (lambda a: a) if rows is None else (lambda a: a[rows])
        centred_q = queries - self.mean
        q_norm = np.sqrt(np.einsum("ij,ij->i", centred_q, centred_q))
        q_const = (queries @ self.mean - np.float32(self.mean @ self.mean)).astype(np.float32)
        kernels = _codes_kernel.load() if self.words.dtype == np.uint64 else None
        if kernels is not None:
            qwords = _pack(centred_q, self.words.shape[0])
            per_row = (self.words, self._cos, self.centred_norm, self.mean_dot, q_norm, q_const)
            if rows is None:
                dots = np.empty((len(queries), len(self)), np.float32)
                kernels["dots"](qwords, *per_row, dots)
            else:
                rows = np.asarray(rows, np.int64)
                dots = np.empty((len(queries), len(rows)), np.float32)
                kernels["dots_rows"](qwords, *per_row, rows, dots)
        else:
            h = self.hamming(queries, rows)
            dots = self._cos[h] * take(self.centred_norm)[None, :] * q_norm[:, None]
            dots += take(self.mean_dot)[None, :]
            dots += q_const[:, None]
        if self.distance in ("cosine", "dot"):
            return dots
        squared = take(self.sq_norm)[None, :] + np.einsum("ij,ij->i", queries, queries)[:, None]
        squared -= np.float32(2.0) * dots
        if self.distance == "euclid":
            return -squared
        return -np.sqrt(np.maximum(squared, 0.0)) * np.float32(np.sqrt(2.0 * self.dim / np.pi))

    # ------------------------------------------------------------------ saving
    def save(self, words_file: Path, rows_file: Path) -> list[float]:
        """Write the codes and the per-row numbers as ``.npy`` files; returns the mean."""
        np.save(words_file, np.ascontiguousarray(self.words), allow_pickle=False)
        np.save(rows_file, np.stack([self.centred_norm, self.mean_dot, self.sq_norm]), allow_pickle=False)
        return [float(v) for v in self.mean]

    @classmethod
    def load(cls, words_file: Path, rows_file: Path, mean: list[float], distance: Distance) -> "SignCodes":
        """Memory-map codes written by :meth:`save`, after checking their shapes and padding.

        The compiled scan reads without bounds checks, so the files must be exactly what
        :meth:`fit` makes: ``(ceil(dim / 64), n)`` uint64 words whose padding bits are 0 (a
        Hamming distance then never exceeds ``dim``) and ``(3, n)`` float32 row numbers.
        Anything else raises ValueError.
        """
        mean = np.asarray(mean, np.float32)
        words = np.load(words_file, mmap_mode="r", allow_pickle=False)
        rows = np.load(rows_file, mmap_mode="r", allow_pickle=False)
        dim = mean.shape[0] if mean.ndim == 1 else 0
        n_words = max(1, -(-dim // _WORD))
        if dim < 1 or words.dtype != np.uint64 or words.ndim != 2 or words.shape[0] != n_words:
            raise ValueError(f"sign codes of shape {words.shape} ({words.dtype}) do not fit a {dim}-d mean")
        if rows.dtype != np.float32 or rows.shape != (3, words.shape[1]):
            raise ValueError(f"row numbers of shape {rows.shape} ({rows.dtype}) do not fit {words.shape[1]} codes")
        padding = ~_pack(np.ones((1, dim), np.float32), n_words)[0, -1]
        if padding and np.bitwise_and(words[-1], padding).any():
            raise ValueError("sign codes have bits set past the dimension")
        return cls(words, mean, rows[0], rows[1], rows[2], distance)


def _pack(centred: np.ndarray, n_words: int) -> np.ndarray:
    """Sign bits of each row packed into ``n_words`` uint64 words (padding bits are 0)."""
    bits = np.packbits(centred > 0, axis=1)
    padded = np.zeros((len(centred), n_words * 8), np.uint8)
    padded[:, : bits.shape[1]] = bits
    return padded.view(np.uint64)


def combined_estimates(query: ScoringQuery, estimates: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """The query's formula on estimated similarities; ``-inf`` where ``allowed`` is False."""
    scores = query.combine(estimates)
    if allowed is not None:
        scores = np.where(allowed, scores, np.float32(-np.inf))
    return scores


def select(
    query: ScoringQuery,
    estimates: np.ndarray,
    sigma: float,
    width: int,
    allowed: np.ndarray | None = None,
    *,
    scores: np.ndarray | None = None,
) -> np.ndarray:
    """Positions of (up to) ``width`` candidates by the query's formula on estimated similarities.

    Discovery ranks are thresholds (``P > N`` per pair), where a small estimation error moves a
    point a whole rank. Its candidates alternate between two orders: the formula as it is, and
    an optimistic version that counts a pair as met when ``P - N`` is within ``4 sigma`` of it
    (each side moved by ``2 sigma``; ``sigma`` is the estimate's measured error). The first
    finds a small zone's points, the second the points near a zone's edge - where the best
    answers lie when the target is outside the zone. The other kinds use the formula as it is
    (measured: an optimistic shift does not help best_score and hurts context, whose ties at 0
    it multiplies). ``allowed`` (bool) marks the positions that may be chosen. Candidates come
    in selection order (best estimate first, ties by position), so a longer list always extends
    a shorter one. ``scores`` are :func:`combined_estimates`, when already computed.
    """
    if scores is None:
        scores = combined_estimates(query, estimates, allowed)
    if query.kind != "discover" or sigma <= 0:
        return top_k(scores, width)
    shifted = estimates.copy()
    shifted[1::2] += np.float32(2 * sigma)
    shifted[2::2] -= np.float32(2 * sigma)
    optimistic = query.combine(shifted)
    if allowed is not None:
        optimistic = np.where(allowed, optimistic, np.float32(-np.inf))
    plain, loose = top_k(scores, width), top_k(optimistic, width)  # same lengths
    both = np.stack([plain, loose], axis=1).ravel()  # interleaved
    _, first = np.unique(both, return_index=True)
    return both[np.sort(first)][:width]
