"""The exact path, and the two steps every path ends with: exact rescoring and Qdrant's finish.

Order of operations (docs/qdrant-semantics.md, "Order of operations"): filter and id
exclusion, score, keep the best ``limit + offset``, display (nearest only), threshold (stop at
the first failure, in the direction of the collection's distance), offset, limit.

Ties said out loud: when more points share the last shown score than the limit lets in, the
rescoring (:func:`rescore`) notices it (it ranks one candidate more than it keeps), the exact
path counts every allowed point with that score (:func:`count_ties`; other paths give the count
among their candidates, a lower bound) and :func:`finish` leaves it on ``plan.ties`` for the
result frame's ``attrs["ties"]``. Equal scores keep insertion order
(:mod:`explorekit.scoring.topk`); Qdrant leaves their order unspecified.

Examples
--------
>>> import numpy as np, explorekit as ek
>>> from explorekit.engine.prepare import prepare
>>> from explorekit.query.requests import Request
>>> col = ek.Collection.from_arrays(np.array([[1, 0], [0, 1], [1, 1]], np.float32), distance="dot")
>>> plan = prepare(col.store, Request.build("search", query=[1, 0], limit=2))
>>> rows, scores = exact_candidates([plan])[0]
>>> rows.tolist(), scores.tolist()
([0, 2], [1.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from explorekit.engine.prepare import Prepared, Ties
from explorekit.scoring.distances import display, exact_similarity, passes_threshold, scan_similarity
from explorekit.scoring.topk import merge_top_k, top_k

_BLOCK_FLOATS = 1 << 22  # similarity block size (examples x rows) for one pass
_TIE_WINDOW = 1e-3  # product scores this close (relative) to a tied score are checked canonically


def exact_candidates(plans: list[Prepared], top: list[int] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Best rows and internal scores of each plan by an exact scan, best first.

    Plans over the same vector space that scan every row share one pass over the matrix (a
    batch of 100 requests is one product per block, not 100 scans); plans with selective
    filters scan only the rows that pass (:meth:`Prepared.scan_rows`).
    """
    top = top or [p.top for p in plans]
    out: list[Any] = [None] * len(plans)
    shared: dict[int, list[int]] = {}
    for i, plan in enumerate(plans):
        rows = plan.scan_rows()
        if rows is not None:
            out[i] = _score_rows(plan, rows, top[i])
        else:
            shared.setdefault(id(plan.space), []).append(i)
    for members in shared.values():
        for i, result in zip(members, _shared_pass([plans[i] for i in members], [top[i] for i in members])):
            out[i] = result
    return [_refine(plans[i], *out[i], top[i]) for i in range(len(plans))]


def _score_rows(plan: Prepared, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if len(rows) == 0:
        return empty()
    if len(plan.query.vectors):
        scores = plan.query.combine(scan_similarity(plan.query.vectors, plan.space.stored, plan.space.distance, rows))
    else:  # context search with no pairs: every point scores 0
        scores = np.zeros(len(rows), np.float32)
    keep = top_k(scores, _refine_width(k), rows)
    return rows[keep], scores[keep]


def _shared_pass(plans: list[Prepared], tops: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    stored = plans[0].space.stored
    distance = plans[0].space.distance
    examples = np.vstack([p.query.vectors for p in plans])
    starts = np.cumsum([0] + [len(p.query.vectors) for p in plans])
    best = [empty() for _ in plans]
    block = max(4096, _BLOCK_FLOATS // max(1, len(examples)))
    for begin in range(0, len(stored), block):
        chunk = stored[begin : begin + block]
        sims = scan_similarity(examples, chunk, distance) if len(examples) else None
        rows = np.arange(begin, begin + len(chunk))
        for j, plan in enumerate(plans):
            if sims is None or starts[j] == starts[j + 1]:
                scores = np.zeros(len(chunk), np.float32)
            else:
                scores = plan.query.combine(sims[starts[j] : starts[j + 1]])
                if len(chunk) == len(stored):  # one block: kept for count_ties (no second pass)
                    plan.scanned = sims[starts[j] : starts[j + 1]]
            if plan.mask is not None:
                scores = np.where(plan.mask[begin : begin + len(chunk)], scores, np.float32(-np.inf))
            keep = top_k(scores, _refine_width(tops[j]), rows)
            if begin == 0:  # the first block's best are the best so far (no merge with nothing)
                best[j] = rows[keep], scores[keep]
            else:
                best[j] = merge_top_k(*best[j], rows[keep], scores[keep], _refine_width(tops[j]))
    return best


def _refine_width(k: int) -> int:
    """Candidates kept from the blocked product, re-scored canonically by :func:`_refine`.

    The margin absorbs the last-bit differences between the product and the canonical sums
    (and euclid's cancellation error), so the final top ``k`` is decided by canonical scores.
    """
    return 2 * k + 16


def _refine(plan: Prepared, rows: np.ndarray, scores: np.ndarray, k: int):
    if len(rows) and len(plan.query.vectors):
        rows, scores = rescore(plan, rows, k)
    else:  # no examples (context search without pairs): every allowed point scores 0
        plan.ties = Ties(0.0, plan.allowed, True) if len(rows) > k else None
        rows, scores = rows[:k], scores[:k]
    if plan.ties is not None and not plan.ties.exact:  # the exact path sees every point: count them all
        plan.ties = Ties(plan.ties.score, count_ties(plan, plan.ties.score), True)
    return rows, scores


def count_ties(plan: Prepared, score: float) -> int:
    """How many allowed points have the internal ``score`` exactly, as :func:`exact_similarity`
    computes it (the scores explorekit returns).

    One blocked product over the allowed rows finds the points near ``score``; only those are
    scored canonically and compared, so a large tie costs little more than the scan itself.
    """
    stored, distance = plan.space.stored, plan.space.distance
    scan = plan.scan_rows()
    rows = np.arange(len(stored)) if scan is None else scan
    if len(plan.query.vectors) == 0:
        return int(len(rows) if plan.mask is None else np.count_nonzero(plan.mask[rows]))
    window = _TIE_WINDOW * max(1.0, abs(float(score)))
    block = max(4096, _BLOCK_FLOATS // max(1, len(plan.query.vectors)))
    kept = plan.scanned if scan is None else None
    if kept is not None and kept.shape[1] == len(rows):
        block = len(rows)
    found = 0
    for begin in range(0, len(rows), block):
        chunk = rows[begin : begin + block]
        if kept is not None and len(chunk) == kept.shape[1]:
            sims = kept
        else:
            sims = scan_similarity(
                plan.query.vectors, stored, distance, None if scan is None and len(chunk) == len(stored) else chunk
            )
        product = plan.query.combine(sims)
        near = np.abs(product.astype(np.float64) - score) <= window
        if plan.mask is not None:
            near &= plan.mask[chunk]
        certain = plan.query.certainly(score, sims, window)
        if certain is not None:  # exactly `score` whatever the last bits: no canonical rescoring
            certain &= near
            found += int(np.count_nonzero(certain))
            near &= ~certain
        candidates = chunk[near]
        if len(candidates):
            canonical = plan.query.combine(exact_similarity(plan.query.vectors, stored[candidates], distance))
            found += int(np.count_nonzero(canonical == np.float32(score)))
    return found


def rescore(plan: Prepared, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact internal scores of the given candidate rows, best ``k`` first (every path ends here)."""
    if len(rows) == 0:
        return empty()
    if len(plan.query.vectors) == 0:
        scores = np.zeros(len(rows), np.float32)
    else:
        scores = plan.query.combine(exact_similarity(plan.query.vectors, plan.space.stored[rows], plan.space.distance))
    keep = top_k(scores, k + 1, rows)  # one more than kept: does a tie straddle the cut?
    plan.ties = None
    if len(keep) > k > 0 and scores[keep[k]] == scores[keep[k - 1]]:
        plan.ties = Ties(float(scores[keep[k]]), int(np.count_nonzero(scores == scores[keep[k]])), False)
    return rows[keep[:k]], scores[keep[:k]]


def empty() -> tuple[np.ndarray, np.ndarray]:
    """No rows, no scores (int64 rows, float32 scores)."""
    return np.empty(0, np.int64), np.empty(0, np.float32)


def finish(
    plan: Prepared, rows: np.ndarray, scores: np.ndarray, *, shown: Callable[[np.ndarray], np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Display rule, threshold, offset and limit on candidates sorted best first.

    ``shown`` replaces the display rule (quantized scores without rescoring). A tie that
    straddles the limit stays on ``plan.ties`` (see the module docstring); any other is dropped.
    """
    distance = plan.space.distance
    rows, scores = rows[: plan.top], scores[: plan.top]
    internal = scores
    if plan.query.kind == "nearest":
        scores = display(scores, distance) if shown is None else shown(scores)
    threshold = plan.request.score_threshold
    if threshold is not None and len(scores):
        ok = passes_threshold(scores, threshold, distance)
        if not ok.all():
            stop = int(np.argmin(ok))
            rows, scores = rows[:stop], scores[:stop]
    offset, limit = plan.request.offset, plan.request.limit
    rows, scores, internal = (a[offset : offset + limit] for a in (rows, scores, internal[: len(scores)]))
    ties, plan.ties = plan.ties, None
    if ties is not None and shown is None and len(rows) == limit and internal[-1] == np.float32(ties.score):
        plan.ties = replace(ties, shown=int(np.count_nonzero(internal == internal[-1])), display=float(scores[-1]))
    return rows, scores
