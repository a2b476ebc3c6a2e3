"""Which path answers a request: exact scan, quantized codes, or the approximate index.

Rules (``result.attrs`` records the path; see :func:`answer`):

* ``params.exact=True`` -> exact scan of the original vectors, quantization off (Qdrant).
* a quantized vector space and not ``quantization.ignore`` -> candidates by quantized score,
  ``floor(oversampling * (limit + offset))`` of them, rescored with the originals when
  ``rescore`` is on (Qdrant's default per method when unset). Requests of a batch on the same
  quantized space share one scan of the codes (:func:`_quantized_batch`).
* otherwise :func:`explorekit.index.choose_path`: exact below Qdrant's indexing and
  full-scan thresholds, else the cheapest of the exact scan and the index's candidate
  generators (annoy, sign codes), whose candidates are always rescored exactly.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from . import engine
from .topk import top_k

if TYPE_CHECKING:
    from .collection import Collection
    from .engine import Prepared

_BATCH_FLOATS = 1 << 24     # scores of one stacked quantized scan (64 MiB); more: in chunks


def choose(plan: "Prepared") -> str:
    """The path for one prepared request: ``"exact"``, ``"quantized"``, ``"annoy"`` or ``"binary"``.

    Sets ``plan.path`` (the same string) and ``plan.reason`` (one sentence saying why).
    """
    params = plan.request.params
    if params.exact:
        return _decide(plan, "exact", "params.exact=True: exact scan of the original vectors, "
                                      "quantization off (as Qdrant)")
    if plan.space.quantizer is not None and not params.ignore:
        return _decide(plan, "quantized", f"{plan.space.quantizer.method} quantization of "
                                          f"{plan.space.label}: candidates by quantized score")
    from .index import choose_path
    return choose_path(plan)


def _decide(plan: "Prepared", path: str, reason: str) -> str:
    plan.path = path            # type: ignore[attr-defined]
    plan.reason = reason        # type: ignore[attr-defined]
    return path


def answer(col: "Collection", plans: list["Prepared"]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rows and shown scores of every plan, after threshold, offset and limit.

    Afterwards ``plan.path`` names the path that answered (``"exact"``, ``"quantized"``,
    ``"annoy"``, ``"binary"``; an index path that falls back records the fallback) and
    ``plan.reason`` says why.
    """
    paths = [choose(p) for p in plans]
    out: list = [None] * len(plans)
    exact = [i for i, path in enumerate(paths) if path == "exact"]
    if exact:
        for i, (rows, scores) in zip(exact, engine.exact_candidates([plans[i] for i in exact])):
            out[i] = engine.finish(plans[i], rows, scores)
    batched = [i for i, path in enumerate(paths) if path == "quantized"]
    for i, result in zip(batched, _quantized_batch([plans[i] for i in batched])):
        out[i] = result
    for i, path in enumerate(paths):
        if path in ("annoy", "binary"):
            from .index import index_candidates
            rows, scores = index_candidates(plans[i])
            out[i] = engine.finish(plans[i], rows, scores)
    return out


def quantized(plan: "Prepared") -> tuple[np.ndarray, np.ndarray]:
    """Qdrant's quantized search: oversample by quantized score, then rescore or not.

    A selective filter scans only the rows that pass; otherwise every row is scanned and
    the filter applied to the scores (see :func:`_quantized_batch`, which gives the same).
    """
    rows = _scanned_rows(plan)
    if len(plan.query.vectors) == 0:
        return _quantized_answer(plan, None, rows)
    return _quantized_answer(plan, plan.space.quantizer.similarity(plan.query.vectors, rows), rows)


def _quantized_batch(plans: list["Prepared"]) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`quantized` for each plan, with one scan of the codes for many plans.

    Plans on the same quantized vector space that scan every row (no filter, or one that
    keeps at least ``engine.DENSE_MASK`` of the rows) stack their example vectors into one
    ``quantizer.similarity`` call, in chunks of at most ``_BATCH_FLOATS`` scores. A
    quantizer's scores for one query do not depend on the other queries of the call, so every
    plan gets exactly what :func:`quantized` gives it alone.
    """
    out: list = [None] * len(plans)
    shared: dict[tuple[int, int], list[int]] = {}
    for i, plan in enumerate(plans):
        if _scanned_rows(plan) is None and len(plan.query.vectors):
            shared.setdefault((id(plan.space), id(plan.space.quantizer)), []).append(i)
        else:
            out[i] = quantized(plan)
    for members in shared.values():
        for chunk in _chunks(members, plans):
            group = [plans[i] for i in chunk]
            sims = group[0].space.quantizer.similarity(np.vstack([p.query.vectors for p in group]))
            start = 0
            for i, plan in zip(chunk, group):
                stop = start + len(plan.query.vectors)
                out[i] = _quantized_answer(plan, sims[start:stop], None)
                start = stop
    return out


def _scanned_rows(plan: "Prepared") -> np.ndarray | None:
    """The rows a quantized scan reads: all (None) unless a filter keeps few of them."""
    if plan.mask is None or plan.allowed >= engine.DENSE_MASK * len(plan.space.stored):
        return None
    return np.flatnonzero(plan.mask)


def _chunks(members: list[int], plans: list["Prepared"]) -> list[list[int]]:
    """Consecutive runs of plans whose stacked scores fit in ``_BATCH_FLOATS``."""
    n = len(plans[members[0]].space.stored)
    chunks: list[list[int]] = [[]]
    size = 0
    for i in members:
        k = len(plans[i].query.vectors)
        if chunks[-1] and (size + k) * n > _BATCH_FLOATS:
            chunks.append([])
            size = 0
        chunks[-1].append(i)
        size += k
    return chunks


def _quantized_answer(plan: "Prepared", sims: np.ndarray | None, rows: np.ndarray | None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Candidates by quantized score (``sims`` of ``rows``, or of every row), then the answer."""
    quantizer = plan.space.quantizer
    params = plan.request.params
    top = plan.top
    if sims is None:
        scores = np.zeros(len(plan.space.stored) if rows is None else len(rows), np.float32)
    else:
        scores = plan.query.combine(sims)
    oversampled = _oversampled(params.oversampling, top, len(scores))
    if rows is None and plan.mask is not None:
        scores = np.where(plan.mask, scores, np.float32(-np.inf))
    keep = top_k(scores, oversampled, rows)
    candidates = keep if rows is None else rows[keep]
    rescore = params.rescore if params.rescore is not None else quantizer.default_rescore
    if rescore:
        cand_rows, cand_scores = engine.rescore(plan, candidates, top)
        return engine.finish(plan, cand_rows, cand_scores)
    return engine.finish(plan, candidates[:top], scores[keep][:top], shown=quantizer.display)


def _oversampled(oversampling: float | None, top: int, n: int) -> int:
    """Qdrant's candidate count ``floor(oversampling * top)``, at most the ``n`` points scanned.

    A huge oversampling or limit takes every point (their product may overflow a float).

    >>> _oversampled(2.5, 10, 1000), _oversampled(1e300, 2**63, 1000), _oversampled(None, 10, 5)
    (25, 1000, 10)
    """
    if not oversampling or oversampling <= 1:
        return top
    return math.floor(min(oversampling * top, n))
