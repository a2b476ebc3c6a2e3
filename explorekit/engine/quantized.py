"""Qdrant's quantized search: candidates by quantized score, oversampled, then rescored or not.

``floor(oversampling * (limit + offset))`` candidates by quantized score are rescored with the
original vectors when ``rescore`` is on (Qdrant's default per method when unset); without
rescoring the quantized scores are shown. Requests of a batch on the same quantized space share
one scan of the codes (:func:`quantized_batch`).
"""

from __future__ import annotations

import numpy as np

from explorekit.engine.exact import finish, rescore
from explorekit.engine.prepare import Prepared
from explorekit.query.params import candidate_count
from explorekit.scoring.topk import top_k

_BATCH_FLOATS = 1 << 24  # scores of one stacked quantized scan (64 MiB); more: in chunks


def quantized(plan: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Rows and shown scores of one request answered from the quantized codes.

    A selective filter scans only the rows that pass; otherwise every row is scanned and
    the filter applied to the scores (see :func:`quantized_batch`, which gives the same).
    """
    rows = plan.scan_rows()
    if len(plan.query.vectors) == 0:
        return _answer(plan, None, rows)
    return _answer(plan, plan.space.quantizer.similarity(plan.query.vectors, rows), rows)


def quantized_batch(plans: list[Prepared]) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`quantized` for each plan, with one scan of the codes for many plans.

    Plans on the same quantized vector space that scan every row stack their example vectors
    into one ``quantizer.similarity`` call, in chunks of at most ``_BATCH_FLOATS`` scores. A
    quantizer's scores for one query do not depend on the other queries of the call, so every
    plan gets exactly what :func:`quantized` gives it alone.
    """
    out: list = [None] * len(plans)
    shared: dict[tuple[int, int], list[int]] = {}
    for i, plan in enumerate(plans):
        if plan.scan_rows() is None and len(plan.query.vectors):
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
                out[i] = _answer(plan, sims[start:stop], None)
                start = stop
    return out


def _chunks(members: list[int], plans: list[Prepared]) -> list[list[int]]:
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


def _answer(plan: Prepared, sims: np.ndarray | None, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Candidates by quantized score (``sims`` of ``rows``, or of every row), then the answer."""
    quantizer = plan.space.quantizer
    top = plan.top
    if sims is None:
        scores = np.zeros(len(plan.space.stored) if rows is None else len(rows), np.float32)
    else:
        scores = plan.query.combine(sims)
    wanted = candidate_count(top, plan.request.params.oversampling, len(scores))
    if rows is None and plan.mask is not None:
        scores = np.where(plan.mask, scores, np.float32(-np.inf))
    keep = top_k(scores, wanted, rows)
    candidates = keep if rows is None else rows[keep]
    on = plan.request.params.rescore
    if quantizer.default_rescore if on is None else on:
        return finish(plan, *rescore(plan, candidates, top))
    return finish(plan, candidates[:top], scores[keep][:top], shown=quantizer.display)
