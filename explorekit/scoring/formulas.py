"""Qdrant's query formulas, applied to a matrix of internal similarities.

A query is a stack of example vectors (one row each) plus the rule that turns their
similarities to a stored point into one score. Engines compute ``S = sim(examples, points)``
with one matrix product (exactly, through an index, or on quantized codes) and call
:meth:`ScoringQuery.combine`; every query kind is scored by the same code on every path.

========== ==================================================================================
nearest    ``S[0]`` (shown through :func:`explorekit.scoring.distances.display`)
best_score ``sig(max P)`` if ``max P > max N`` else ``-sig(max N)``
sum_scores ``sum P - sum N``
discover   ``sum_k sign(P_k - N_k) + sig(T)``
context    ``sum_k fs(min(P_k - N_k - EPS, 0))``
========== ==================================================================================

with ``fs(x) = x / (1 + |x|)`` and ``sig(x) = (fs(x) + 1) / 2``, all in float32.

Examples
--------
>>> import numpy as np
>>> q = ScoringQuery("best_score", np.zeros((2, 2), np.float32), n_positive=1, n_negative=1)
>>> [round(float(s), 6) for s in q.combine(np.array([[0.923077, 0.6], [-0.384615, 0.8]], np.float32))]
[0.74, -0.722222]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from explorekit.scoring.distances import EPS

Kind = Literal["nearest", "best_score", "sum_scores", "discover", "context"]
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)


def fast_sigmoid(x: np.ndarray) -> np.ndarray:
    """``x / (1 + |x|)`` in float32, range (-1, 1)."""
    x = np.asarray(x, dtype=np.float32)
    return x / (_ONE + np.abs(x))


def scaled_fast_sigmoid(x: np.ndarray) -> np.ndarray:
    """``0.5 * (fast_sigmoid(x) + 1)`` in float32, range (0, 1)."""
    return _HALF * (fast_sigmoid(x) + _ONE)


@dataclass(frozen=True)
class ScoringQuery:
    """Example vectors stacked in a fixed layout, and the kind of score to make of them.

    Layout of ``vectors`` rows: nearest ``[q]``; best_score/sum_scores ``[P..., N...]``;
    discover ``[t, p1, n1, p2, n2, ...]``; context ``[p1, n1, p2, n2, ...]``.
    """

    kind: Kind
    vectors: np.ndarray
    n_positive: int = 0
    n_negative: int = 0
    n_pairs: int = 0

    def combine(self, sims: np.ndarray) -> np.ndarray:
        """Scores, shape ``(n,)``, from similarities of this query's rows, shape ``(k, n)``."""
        sims = np.asarray(sims, dtype=np.float32)
        if self.kind == "nearest":
            return sims[0]
        if self.kind == "best_score":
            return _best_score(sims[: self.n_positive], sims[self.n_positive :])
        if self.kind == "sum_scores":
            pos = sims[: self.n_positive].sum(axis=0, dtype=np.float32)
            neg = sims[self.n_positive :].sum(axis=0, dtype=np.float32)
            return pos - neg
        if self.kind == "discover":
            return _pair_ranks(sims[1:]) + scaled_fast_sigmoid(sims[0])
        return _context(sims)

    def certainly(self, score: float, sims: np.ndarray, margin: float) -> np.ndarray | None:
        """Points whose score is exactly ``score`` even if every similarity in ``sims`` were off
        by up to ``margin``, or None when no kind-specific rule says so.

        One rule: a context score of 0 is every pair satisfied by at least ``margin``
        (``P - N - EPS >= margin``), which many points share; counting them needs no
        canonical rescoring (see :func:`explorekit.engine.exact.count_ties`).

        >>> q = ScoringQuery("context", np.zeros((2, 2), np.float32), n_pairs=1)
        >>> q.certainly(0.0, np.array([[0.9, 0.5], [0.1, 0.5]], np.float32), 1e-3).tolist()
        [True, False]
        """
        if self.kind != "context" or score != 0.0 or self.n_pairs == 0:
            return None
        sims = np.asarray(sims, dtype=np.float32)
        return np.all(sims[0::2] - sims[1::2] - EPS >= np.float32(margin), axis=0)


def _best_score(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    n = pos.shape[1] if len(pos) else neg.shape[1]
    minus_inf = np.full(n, -np.inf, dtype=np.float32)
    best_pos = pos.max(axis=0) if len(pos) else minus_inf
    best_neg = neg.max(axis=0) if len(neg) else minus_inf
    positive_side = best_pos > best_neg  # ties go to the negative branch, as in Qdrant
    shaped = scaled_fast_sigmoid(np.where(positive_side, best_pos, best_neg))  # once: negation is exact
    return np.where(positive_side, shaped, -shaped).astype(np.float32, copy=False)


def _pair_ranks(pairs: np.ndarray) -> np.ndarray:
    pos, neg = pairs[0::2], pairs[1::2]
    if len(pos) == 0:
        return np.zeros(pairs.shape[1], dtype=np.float32)
    return np.sign(pos - neg).sum(axis=0, dtype=np.float32)


def _context(pairs: np.ndarray) -> np.ndarray:
    pos, neg = pairs[0::2], pairs[1::2]
    if len(pos) == 0:
        return np.zeros(pairs.shape[1], dtype=np.float32)
    loss = fast_sigmoid(np.minimum(pos - neg - EPS, np.float32(0.0)))
    return loss.sum(axis=0, dtype=np.float32)


def pair_ranks(sims: np.ndarray) -> np.ndarray:
    """Per-pair discovery ranks (+1, 0, -1), shape ``(n_pairs, n)``, for figures and teaching."""
    return np.sign(sims[0::2] - sims[1::2]).astype(np.int8)


def pair_losses(sims: np.ndarray) -> np.ndarray:
    """Per-pair context losses, shape ``(n_pairs, n)``, for figures and teaching."""
    return fast_sigmoid(np.minimum(sims[0::2] - sims[1::2] - EPS, np.float32(0.0)))
