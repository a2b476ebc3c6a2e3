"""Which path answers a request: exact scan, quantized codes, or the approximate index.

Rules (``result.attrs`` records the path; see :func:`answer`):

* ``params.exact=True`` -> exact scan of the original vectors, quantization off (Qdrant).
* a quantized vector space and not ``quantization.ignore`` -> candidates by quantized score,
  ``floor(oversampling * (limit + offset))`` of them, rescored with the originals when
  ``rescore`` is on (Qdrant's default per method when unset).
* otherwise the exact scan; the approximate index path plugs in here (explorekit.index).
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


def choose(plan: "Prepared") -> str:
    """The path for one prepared request: ``"exact"``, ``"quantized"`` or ``"index"``."""
    params = plan.request.params
    if params.exact:
        return "exact"
    if plan.space.quantizer is not None and not params.ignore:
        return "quantized"
    index_path = _index_planner()
    if index_path is not None:
        return index_path(plan)
    return "exact"


def _index_planner():
    try:
        from .index import choose_path
    except ImportError:
        return None
    return choose_path


def answer(col: "Collection", plans: list["Prepared"]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rows and shown scores of every plan, after threshold, offset and limit."""
    paths = [choose(p) for p in plans]
    out: list = [None] * len(plans)
    exact = [i for i, path in enumerate(paths) if path == "exact"]
    if exact:
        for i, (rows, scores) in zip(exact, engine.exact_candidates([plans[i] for i in exact])):
            out[i] = engine.finish(plans[i], rows, scores)
    for i, path in enumerate(paths):
        plan = plans[i]
        if path == "quantized":
            out[i] = quantized(plan)
        elif path == "index":
            from .index import index_candidates
            rows, scores = index_candidates(plan)
            out[i] = engine.finish(plan, rows, scores)
        plan.request_path = path  # type: ignore[attr-defined]
    return out


def quantized(plan: "Prepared") -> tuple[np.ndarray, np.ndarray]:
    """Qdrant's quantized search: oversample by quantized score, then rescore or not."""
    quantizer = plan.space.quantizer
    params = plan.request.params
    top = plan.top
    oversampled = math.floor(params.oversampling * top) if params.oversampling and params.oversampling > 1 else top
    rows = None if plan.mask is None else np.flatnonzero(plan.mask)
    if len(plan.query.vectors) == 0:
        scores = np.zeros(len(plan.space.stored) if rows is None else len(rows), np.float32)
    else:
        scores = plan.query.combine(quantizer.similarity(plan.query.vectors, rows))
    keep = top_k(scores, oversampled, rows)
    candidates = keep if rows is None else rows[keep]
    rescore = params.rescore if params.rescore is not None else quantizer.default_rescore
    if rescore:
        cand_rows, cand_scores = engine.rescore(plan, candidates, top)
        return engine.finish(plan, cand_rows, cand_scores)
    return engine.finish(plan, candidates[:top], scores[keep][:top], shown=quantizer.display)
