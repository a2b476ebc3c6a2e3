"""Qdrant's Distance Matrix and random sampling, exactly: each sampled point's nearest among the sample.

What Qdrant does for ``/points/search/matrix/pairs`` and ``/offsets`` (read from qdrant-client's
local mode and the API reference), and what :func:`distance_matrix` does the same way:

1. the filter is applied first; ``sample`` points are then drawn at random among those that
   pass (all of them when no more pass);
2. fewer than two points drawn: the answer is empty (Qdrant answers an empty matrix, not an
   error);
3. the sampled points are sorted by id (integers first, ascending, then string/UUID ids);
4. for each, its ``limit`` nearest *among the other sampled points* (never itself), best first,
   scored as a nearest search scores them: similarities for cosine and dot, distances for
   euclid and manhattan.

Large samples (the exact matrix estimated above a few seconds) are approximate, from k-means
cells (:mod:`explorekit.engine.matrix_cells`), unless ``exact=True``. Otherwise the search is
exact: each block of sampled rows is one matrix product against the sample,
the best ``2 limit + 16`` columns of each row are kept (:func:`~explorekit.scoring.topk.top_k_rows`),
then rescored canonically (:func:`~explorekit.scoring.distances.paired_similarity`, bit for bit
the scores every query returns) and cut to ``limit`` with the tie rule of
:func:`~explorekit.scoring.topk.top_k` (equal scores: the earlier-inserted point first).

Examples
--------
>>> import numpy as np
>>> from explorekit.data.ids import IdIndex
>>> from explorekit.data.payload import Payload
>>> from explorekit.data.store import Store, VectorSpace
>>> space = VectorSpace("", "euclid", np.array([[0, 0], [1, 0], [5, 0]], np.float32))
>>> store = Store(IdIndex([30, 10, 20]), {"": space}, Payload.empty(3))
>>> m = distance_matrix(store, None, np.ones(3, bool), sample=10, limit=1)
>>> m.rows.tolist(), m.neighbours.tolist(), m.scores.tolist()
([1, 2, 0], [[2], [0], [0]], [[1.0], [4.0], [1.0]])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorekit._support.progress import progress
from explorekit.data.ids import scroll_order
from explorekit.data.store import Store, VectorSpace
from explorekit.engine.exact import _refine_width
from explorekit.engine.matrix_cells import choose_path, fallback_reason, nearest_in_cells, rescore
from explorekit.scoring.distances import display, similarity
from explorekit.scoring.topk import top_k_rows

_BLOCK_FLOATS = 1 << 24  # scores per block (sampled rows x sample): 64 MB of float32
_RESCORE_FLOATS = 1 << 23  # candidate vectors gathered per block for rescoring: 32 MB of float32


@dataclass(frozen=True)
class Matrix:
    """The sampled rows in id order and, per row, its neighbours (positions into ``rows``).

    ``neighbours`` and ``scores`` are ``(len(rows), limit)``; ``counts[i]`` entries of row
    ``i`` are valid (fewer than ``limit`` only when the sample is smaller than ``limit + 1``),
    the rest are ``-1`` and NaN. Scores are shown as a nearest search shows them. ``info`` says
    how it was computed: ``path`` (``"exact"`` or ``"cells"``), ``reason``, and for the cells
    ``estimated_recall``, ``cells``, ``nprobe`` (:mod:`explorekit.engine.matrix_cells`).
    """

    rows: np.ndarray
    neighbours: np.ndarray
    scores: np.ndarray
    counts: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(a, b, score)`` as positions into ``rows``: row by row, best first (Qdrant's order)."""
        keep = np.arange(self.neighbours.shape[1])[None, :] < self.counts[:, None]
        a = np.repeat(np.arange(len(self.rows)), self.counts)
        return a, self.neighbours[keep], self.scores[keep]


def sample_rows(mask: np.ndarray, n: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Up to ``n`` rows drawn at random, without repeats, among those ``mask`` lets through.

    All passing rows (shuffled) when no more than ``n`` pass. ``seed`` makes the draw repeatable.

    >>> sorted(sample_rows(np.array([True, False, True, True]), 5, seed=0).tolist())
    [0, 2, 3]
    """
    passing = np.flatnonzero(mask)
    rng = np.random.default_rng(seed)
    if len(passing) <= n:
        return rng.permutation(passing)
    return rng.choice(passing, size=n, replace=False)


def distance_matrix(
    store: Store,
    using: str | None,
    mask: np.ndarray,
    sample: int = 10,
    limit: int = 3,
    seed: int | np.random.Generator | None = None,
    exact: bool | None = None,
) -> Matrix:
    """Qdrant's distance matrix of ``store`` (see the module docstring for the rules).

    ``exact=None`` computes it exactly unless that is estimated to take more than a few
    seconds (then from cells, :mod:`explorekit.engine.matrix_cells`); ``True`` forces the
    exact path, ``False`` the cells.
    """
    space = store.space(using)
    rows = sample_rows(mask, sample, seed)
    if len(rows) < 2:
        empty = np.empty((0, limit))
        return Matrix(np.empty(0, np.int64), empty.astype(np.int64), empty.astype(np.float32), np.empty(0, np.int64))
    rows = scroll_order(store.ids, rows)
    limit = min(limit, len(rows) - 1)  # each point has sample-1 others: a larger limit allocates nothing more
    path, reason = choose_path(len(rows), space.dim, space.distance, exact)
    if path == "cells" and len(rows) >= limit + 2:
        rng = np.random.default_rng(0 if seed is None else seed)  # the same cells for the same sample
        neighbours, scores, counts, info = nearest_in_cells(space, rows, limit, rng)
        if info["path"] == "cells":
            return Matrix(rows, neighbours, scores, counts, {**info, "reason": reason})
        reason = f"exact=False: {fallback_reason(info)}" if exact is False else fallback_reason(info)
    neighbours, scores, counts = nearest_within(space, rows, limit)
    return Matrix(rows, neighbours, scores, counts, {"path": "exact", "reason": reason})


def nearest_within(space: VectorSpace, rows: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of ``rows``, its ``limit`` nearest among the others: positions, shown scores, counts."""
    n = len(rows)
    vectors = np.ascontiguousarray(space.stored[rows])
    width = min(_refine_width(limit), n - 1)
    neighbours = np.full((n, limit), -1, dtype=np.int64)
    scores = np.full((n, limit), np.nan, dtype=np.float32)
    counts = np.zeros(n, dtype=np.int64)
    block = max(1, min(_BLOCK_FLOATS // n, _RESCORE_FLOATS // max(1, width * space.dim)))
    for begin in progress(range(0, n, block), desc=f"distance matrix: {n:,} points, exact"):
        end = min(n, begin + block)
        sims = similarity(vectors[begin:end], vectors, space.distance)
        sims[np.arange(end - begin), np.arange(begin, end)] = -np.inf  # never its own neighbour
        candidates, _ = top_k_rows(sims, width, rows)
        chosen, best, counts[begin:end] = rescore(space, vectors[begin:end], vectors, candidates, rows, limit)
        neighbours[begin:end], scores[begin:end] = chosen, best
    return neighbours, display(scores, space.distance), counts
