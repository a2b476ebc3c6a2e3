"""Which path answers a request: exact scan, quantized codes, or the approximate index.

Rules (``result.attrs`` records the path; see :func:`answer`):

* ``params.exact=True`` -> exact scan of the original vectors, quantization off (Qdrant).
* a quantized vector space and not ``quantization.ignore`` -> candidates by quantized score,
  ``floor(oversampling * (limit + offset))`` of them, rescored with the originals when
  ``rescore`` is on (Qdrant's default per method when unset).
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
    for i, path in enumerate(paths):
        plan = plans[i]
        if path == "quantized":
            out[i] = quantized(plan)
        elif path in ("annoy", "binary"):
            from .index import index_candidates
            rows, scores = index_candidates(plan)
            out[i] = engine.finish(plan, rows, scores)
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
