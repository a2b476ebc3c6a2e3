"""The approximate distance matrix of a large sample: cells (k-means), a few nearest cells each.

An exact matrix of ``n`` sampled points costs ``n^2 d`` multiply-adds: 7.7 TFLOP at 100,000 x 384,
minutes on a laptop. A Qdrant server answers the same API from its HNSW index (approximate);
this module answers it from a partition of the sample, IVF-style:

1. **cells**: about ``sqrt(n)`` k-means centroids (:func:`~explorekit.quantization._kmeans.kmeans`,
   :data:`KMEANS_ITERATIONS` Lloyd steps on a random subsample of 32 points per centroid);
2. **each point in its ``nprobe`` nearest cells** (euclid to the centroid; the largest dot
   product for dot): a cell's members are every point that has it among its ``nprobe`` nearest,
   so a point near a border sits on both sides. Two points are compared when they share a cell.
   (Measured on the bundled text set while building this: probing whole neighbouring cells per
   cell needed ~0.4 of all pairs for 0.96 of the true neighbours; this symmetric assignment
   needs ~0.1-0.2 for 0.95-0.99.)
3. **nprobe, by a rule** (not a constant tuned on one data set): :data:`CHECK_ROWS` random
   sampled points get their exact neighbours (one product against the whole sample); a point
   and a true neighbour are found with ``nprobe`` cells once they share one among their first
   ``nprobe``; ``nprobe`` is the smallest value (up to :data:`MAX_NPROBE`) finding
   :data:`TARGET_RECALL` of those pairs. The data decide: tight clusters need one cell, diffuse
   ones more. When even :data:`MAX_NPROBE` cells miss the target, or the cells would score
   more than :data:`MAX_SCORED_SHARE` of all pairs (data without cell structure, e.g. plain
   Gaussian noise), the exact matrix is computed instead and the reason says so;
4. **one matrix product per cell** (BLAS, one thread: many small products), its members
   against each other; each member keeps its best ``2 limit + 16`` there
   (:func:`~explorekit.scoring.topk.top_k_rows`), a point's lists from its cells are merged,
   and the best are rescored canonically (:func:`rescore`, shared with the exact path), so
   every returned score is exact for its pair; only *which* neighbours are found is
   approximate. Manhattan has no matrix product: its candidates come from the euclid product
   (twice as many kept per row), then are rescored in manhattan. A point whose cells hold
   fewer than ``limit`` others is searched exactly;
5. the check rows keep their exact answers, and the recall of their approximate answers
   (before that replacement) is the ``estimated_recall`` reported with the answer.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> centres = rng.normal(size=(20, 8)).astype(np.float32)
>>> vectors = centres[rng.integers(0, 20, 3000)] + rng.normal(scale=0.05, size=(3000, 8)).astype(np.float32)
>>> from explorekit.data.store import VectorSpace
>>> space = VectorSpace("", "euclid", vectors)
>>> neighbours, scores, counts, info = nearest_in_cells(space, np.arange(3000), 5, rng)
>>> neighbours.shape, bool(info["estimated_recall"] >= 0.95), info["cells"]
((3000, 5), True, 55)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from explorekit._support.progress import progress
from explorekit._support.threads import blas_threads
from explorekit.data.store import VectorSpace
from explorekit.engine.exact import _refine_width
from explorekit.quantization._kmeans import kmeans
from explorekit.scoring.distances import display, paired_similarity, similarity
from explorekit.scoring.topk import top_k_rows

TARGET_RECALL = 0.97  # share of the check rows' true neighbours the probed cells must hold
CHECK_ROWS = 256  # sampled points whose exact answers choose nprobe (and estimate the recall)
CHECK_ROWS_MANHATTAN = 48  # manhattan scores without BLAS: fewer exact rows (recall +- 0.01)
MAX_NPROBE = 6  # cells per point at most; beyond that the cells cost about as much as exact
MAX_SCORED_SHARE = 0.5  # share of all pairs scored above which the exact matrix is used instead
RESCORE_FLOATS = 1 << 23  # floats gathered per block (scores against centroids, rescoring)
KMEANS_ITERATIONS = 8  # Lloyd steps: the cells only need to be compact, not converged
KMEANS_POINTS_PER_CELL = 32  # subsample for the k-means fit: 32 points per centroid
APPROX_MIN_POINTS = 2048  # below this the exact matrix is always cheap
EXACT_SECONDS = 3.0  # the exact path is kept while its estimate stays under this
FLOPS_PER_SECOND = 1.5e10  # flops per second of the exact path, measured on 2 shared cores (8-15)
MANHATTAN_COST = 8.0  # one manhattan term costs about this many BLAS flops (numpy, no FMA)


def exact_seconds(n: int, dim: int, distance: str) -> float:
    """Estimated seconds of the exact matrix of ``n`` points (``2 n^2 d`` flops).

    >>> round(exact_seconds(100_000, 384, "cosine"))
    512
    """
    flops = 2.0 * n * n * dim * (MANHATTAN_COST if distance == "manhattan" else 1.0)
    return flops / FLOPS_PER_SECOND


def choose_path(n: int, dim: int, distance: str, exact: bool | None) -> tuple[str, str]:
    """``("exact" | "cells", reason)``: the cells when the exact matrix would take long.

    ``exact=True`` forces the exact path, ``exact=False`` the cells (for any sample of at
    least ``limit + 2`` points); ``None`` decides from :func:`exact_seconds`.

    >>> choose_path(1_000, 384, "cosine", None)[0], choose_path(100_000, 384, "dot", None)[0]
    ('exact', 'cells')
    """
    seconds = exact_seconds(n, dim, distance)
    if exact is True:
        return "exact", f"exact=True (estimated {seconds:.1f} s)"
    if exact is False:
        return "cells", "exact=False"
    if n < APPROX_MIN_POINTS or seconds <= EXACT_SECONDS:
        return "exact", f"exact matrix estimated at {seconds:.1f} s (<= {EXACT_SECONDS:g} s)"
    return "cells", (
        f"exact matrix estimated at {seconds:.0f} s (> {EXACT_SECONDS:g} s): neighbours from cells, "
        "exact=True forces the exact matrix"
    )


def nearest_in_cells(
    space: VectorSpace, rows: np.ndarray, limit: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """For each of ``rows``, its ``limit`` nearest among the others, from cells (module docstring).

    Returns positions into ``rows``, shown scores, counts and ``info`` (``cells``, ``nprobe``,
    ``estimated_recall``, ``check_rows``, ``scored_pairs``), or ``info["path"] == "exact"``
    with nothing computed when the cells would cost as much as the exact matrix (or the
    rule's nprobe cannot reach the target within :data:`MAX_NPROBE`).
    """
    n = len(rows)
    vectors = np.ascontiguousarray(space.stored[rows])
    distance = space.distance
    width = min(_refine_width(limit) * (2 if distance == "manhattan" else 1), n - 1)
    cells = max(2, min(int(round(np.sqrt(n))), n // 8))
    nearest_cells = _cells(vectors, cells, distance, rng)
    checked = rng.choice(n, size=min(n, CHECK_ROWS_MANHATTAN if distance == "manhattan" else CHECK_ROWS), replace=False)
    truth_candidates = _exact_candidates(vectors, checked, distance, width)
    truth = truth_candidates[:, :limit]
    nprobe, covered = _choose_nprobe(nearest_cells, checked, truth)
    sizes = np.bincount(nearest_cells[:, :nprobe].ravel(), minlength=cells).astype(np.float64)
    info: dict[str, Any] = {
        "cells": cells,
        "nprobe": nprobe,
        "check_rows": len(checked),
        "covered": covered,
        "scored_pairs": float((sizes**2).sum() / (n * float(n))),
    }
    if covered < TARGET_RECALL or info["scored_pairs"] >= MAX_SCORED_SHARE:
        return _nothing(n, limit) + ({**info, "path": "exact"},)
    candidates = _candidates(vectors, rows, nearest_cells[:, :nprobe], cells, width, distance)
    short = np.flatnonzero((candidates >= 0).sum(axis=1) < limit)  # in cells too small: searched exactly
    if len(short):
        candidates[short] = _exact_candidates(vectors, short, distance, width)
    neighbours, scores, counts = _nothing(n, limit)
    block = max(1, RESCORE_FLOATS // (width * space.dim))
    for begin in range(0, n, block):
        end = min(n, begin + block)
        neighbours[begin:end], scores[begin:end], counts[begin:end] = rescore(
            space, vectors[begin:end], vectors, candidates[begin:end], rows, limit
        )
    found = neighbours[checked]
    hits = sum(len(set(found[i][found[i] >= 0]) & set(truth[i][truth[i] >= 0])) for i in range(len(checked)))
    info["estimated_recall"] = hits / max(1, int((truth >= 0).sum()))
    neighbours[checked], scores[checked], counts[checked] = rescore(
        space, vectors[checked], vectors, truth_candidates, rows, limit
    )
    return neighbours, display(scores, distance), counts, {**info, "path": "cells"}


def _cells(vectors: np.ndarray, cells: int, distance: str, rng: np.random.Generator) -> np.ndarray:
    """Each vector's :data:`MAX_NPROBE` nearest k-means cells, nearest first: ``(n, MAX_NPROBE)``.

    Near means euclid to the centroid, or the largest dot product for dot.
    """
    fit_on = vectors[rng.permutation(len(vectors))[: max(cells, KMEANS_POINTS_PER_CELL * cells)]]
    centroids = kmeans(fit_on, cells, rng, max_iterations=KMEANS_ITERATIONS)
    depth = min(MAX_NPROBE, cells)
    out = np.empty((len(vectors), depth), dtype=np.int64)
    step = max(1, RESCORE_FLOATS // cells)
    for begin in range(0, len(vectors), step):
        near = similarity(vectors[begin : begin + step], centroids, "dot" if distance == "dot" else "euclid")
        for j in range(depth):  # a few argmax passes: faster than a partition for a handful
            out[begin : begin + step, j] = best = np.argmax(near, axis=1)
            near[np.arange(len(near)), best] = -np.inf
    return out


def _candidates(
    vectors: np.ndarray, rows: np.ndarray, assigned: np.ndarray, cells: int, width: int, distance: str
) -> np.ndarray:
    """Each point's best ``width`` among the points sharing one of its ``assigned`` cells.

    One product per cell (its members against themselves); each member keeps its best
    ``width`` there; the ``nprobe`` lists of a point are merged (a neighbour found in two
    cells counts once) and cut to the best ``width`` again. Positions, ``-1`` padded.
    """
    n, nprobe = assigned.shape
    product_distance = "euclid" if distance == "manhattan" else distance
    found = np.full((n, nprobe, width), -1, dtype=np.int64)
    sims = np.full((n, nprobe, width), -np.inf, dtype=np.float32)
    by_cell = np.argsort(assigned.ravel(), kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(assigned.ravel(), minlength=cells))])
    desc = f"distance matrix: {n:,} points in {cells} cells, {nprobe} each"
    with blas_threads(1):  # many small products: one thread each is ~10x faster on a busy machine
        for cell in progress(range(cells), desc=desc):
            _cell_candidates(
                vectors, rows, by_cell[bounds[cell] : bounds[cell + 1]], nprobe, width, product_distance, found, sims
            )
    if nprobe == 1:  # one list per point: already distinct and best first
        return found[:, 0]
    return _merge(found.reshape(n, -1), sims.reshape(n, -1), width)


def _cell_candidates(
    vectors: np.ndarray,
    rows: np.ndarray,
    entries: np.ndarray,
    nprobe: int,
    width: int,
    distance: str,
    found: np.ndarray,
    sims: np.ndarray,
) -> None:
    """One cell: its members against each other; each keeps its best ``width`` in its slot."""
    members, slot = np.divmod(entries, nprobe)
    if len(members) < 2:
        return
    scores = similarity(vectors[members], vectors[members], distance)
    scores[np.arange(len(members)), np.arange(len(members))] = -np.inf  # never its own neighbour
    keep = min(width, len(members) - 1)
    if len(members) > 4 * keep:  # a big cell: each row's keep-th best first, so few entries get sorted
        kth = np.partition(scores, len(members) - keep, axis=1)[:, len(members) - keep]
        scores[scores < kth[:, None]] = -np.inf
    kept, _ = top_k_rows(scores, keep, rows[members])
    valid = kept >= 0
    safe = np.where(valid, kept, 0)
    found[members, slot, : kept.shape[1]] = np.where(valid, members[safe], -1)
    sims[members, slot, : kept.shape[1]] = np.where(valid, np.take_along_axis(scores, safe, axis=1), -np.inf)


def _merge(found: np.ndarray, sims: np.ndarray, width: int) -> np.ndarray:
    """The best ``width`` distinct positions of each row of ``found`` (by ``sims``), ``-1`` padded.

    A pre-selection only (the canonical rescoring and tie rule come after), so a plain sort.

    >>> _merge(np.array([[4, 2, 4, -1]]), np.array([[0.9, 0.5, 0.9, -np.inf]], np.float32), 3).tolist()
    [[4, 2, -1]]
    """
    order = np.argsort(found, axis=1, kind="stable")
    found = np.take_along_axis(found, order, axis=1)
    sims = np.take_along_axis(sims, order, axis=1)
    repeated = np.zeros(found.shape, dtype=bool)
    repeated[:, 1:] = found[:, 1:] == found[:, :-1]
    sims[repeated | (found < 0)] = -np.inf
    best = np.argsort(-sims, axis=1, kind="stable")[:, :width]
    return np.where(np.take_along_axis(sims, best, axis=1) > -np.inf, np.take_along_axis(found, best, axis=1), -1)


def rescore(
    space: VectorSpace,
    queries: np.ndarray,
    vectors: np.ndarray,
    candidates: np.ndarray,
    rows: np.ndarray,
    limit: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best ``limit`` of each row's candidates by canonical score, ties by insertion order.

    Shared by both paths: the exact one (:func:`explorekit.engine.matrix.nearest_within`) and the cells.

    Padding (``-1``) never wins. Returns positions (``-1`` padded), canonical
    scores (NaN padded) and how many are valid per row.
    """
    padded = candidates < 0
    canonical = paired_similarity(queries, vectors[np.where(padded, 0, candidates)], space.distance)
    canonical[padded] = -np.inf
    keep, counts = top_k_rows(canonical, limit, rows[np.where(padded, 0, candidates)])
    valid = keep >= 0
    picked = np.take_along_axis(candidates, np.where(valid, keep, 0), axis=1)
    best = np.take_along_axis(canonical, np.where(valid, keep, 0), axis=1)
    return np.where(valid, picked, -1), np.where(valid, best, np.float32(np.nan)), counts


def _exact_candidates(vectors: np.ndarray, checked: np.ndarray, distance: str, width: int) -> np.ndarray:
    """The exact best ``width`` of each checked row among all others, best first (positions)."""
    sims = similarity(vectors[checked], vectors, distance)
    sims[np.arange(len(checked)), checked] = -np.inf
    return top_k_rows(sims, width)[0]


def _choose_nprobe(nearest_cells: np.ndarray, checked: np.ndarray, truth: np.ndarray) -> tuple[int, float]:
    """The fewest cells per point that put :data:`TARGET_RECALL` of the true pairs in a shared cell.

    A checked point ``x`` and its true neighbour ``y`` are compared once they share a cell among
    their first ``nprobe``: the least such ``nprobe`` is ``min over shared cells c of
    max(rank of c for x, rank of c for y) + 1``. Returns ``(nprobe, share covered)``.
    """
    depth = nearest_cells.shape[1]
    valid = truth >= 0
    x = nearest_cells[checked][:, None, :, None]  # (m, 1, depth, 1)
    y = nearest_cells[np.where(valid, truth, 0)][:, :, None, :]  # (m, limit, 1, depth)
    ranks = np.maximum(np.arange(depth)[:, None], np.arange(depth)[None, :]) + 1
    needed = np.where(x == y, ranks, depth + 1).min(axis=(2, 3))[valid]
    if len(needed) == 0:
        return 1, 1.0
    covered = np.cumsum(np.bincount(needed, minlength=depth + 2)[1 : depth + 1]) / len(needed)
    reached = np.flatnonzero(covered >= TARGET_RECALL - 1e-9)
    nprobe = int(reached[0]) + 1 if len(reached) else depth
    return nprobe, float(covered[nprobe - 1])


def fallback_reason(info: dict[str, Any]) -> str:
    """Why the cells were given up for the exact matrix (``info`` from :func:`nearest_in_cells`).

    >>> fallback_reason({"covered": 0.4, "nprobe": 6, "cells": 100, "scored_pairs": 0.3})
    'the cells would miss neighbours (6 cells per point hold 0.40 of them, target 0.97): exact matrix'
    """
    if info["covered"] < TARGET_RECALL:
        return (
            f"the cells would miss neighbours ({info['nprobe']} cells per point hold {info['covered']:.2f} "
            f"of them, target {TARGET_RECALL:g}): exact matrix"
        )
    return f"the cells would score {info['scored_pairs']:.0%} of all pairs: exact matrix"


def _nothing(n: int, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.full((n, limit), -1, np.int64), np.full((n, limit), np.nan, np.float32), np.zeros(n, np.int64)
