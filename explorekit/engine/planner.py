"""The one planner: which path answers a request, and answering a batch along those paths.

Rules, in the order they are checked (the first that applies decides; ``plan.path`` and
``plan.reason`` record it, and result frames carry both in ``attrs``):

1. ``params.exact=True``: exact scan of the original vectors, quantization off (as Qdrant).
2. A quantized vector space and not ``quantization.ignore``: ``"quantized"``, candidates by
   quantized score (:mod:`explorekit.engine.quantized`).
3. Nothing to search (context search without pairs): exact.
4. The vectors are smaller than Qdrant's ``indexing_threshold`` (10,000 KB, about 6,600
   vectors of 384 dimensions; ``explorekit.index.INDEXING_THRESHOLD_KB``): exact, as Qdrant
   scans a segment that has no HNSW index yet.
5. The filter keeps few points: their vectors are smaller than Qdrant's
   ``full_scan_threshold`` (10,000 KB; ``explorekit.index.FULL_SCAN_THRESHOLD_KB``): exact
   scan of those points, as Qdrant does. The count is exact (the filter is already a mask),
   not an estimate. Ids a request leaves out (its examples) are not a filter here.
6. No index built on these vectors yet: exact, and ``plan.wants_index`` is set so the
   collection can start its background build (a query never builds an index in the caller's
   thread; ``col.build_index()`` builds one now). The reason names ``NO_INDEX``.
7. Otherwise the index proposes candidates that are rescored exactly:
   ``"annoy"`` or ``"sign_codes"``, whichever the cost model
   (:func:`explorekit.engine.approximate.estimate_costs`) finds cheapest, the exact scan
   included; ``index.method`` forces one generator. Where annoy is not installed (an
   optional extra) the index has sign codes only and the reason says so; forcing annoy then
   raises ExploreError naming the fix.

Examples
--------
>>> import numpy as np, explorekit as ek
>>> from explorekit.engine.prepare import prepare
>>> from explorekit.query.requests import Request
>>> col = ek.Collection.from_arrays(np.eye(4, dtype=np.float32))
>>> plan = prepare(col.store, Request.build("search", query=[1, 0, 0, 0], limit=2))
>>> choose(plan), plan.reason.split(",")[0]
('exact', '4 vectors x 4 dims = 0 KB')
"""

from __future__ import annotations

import numpy as np

from explorekit import index as index_settings
from explorekit.data.store import VectorSpace
from explorekit.engine.approximate import (
    annoy_serves,
    current_index,
    effort,
    estimate_costs,
    index_candidates,
    kind_factor,
    kind_key,
)
from explorekit.engine.exact import exact_candidates, finish
from explorekit.engine.prepare import Prepared
from explorekit.engine.quantized import quantized_batch
from explorekit.index import ANNOY_FIX, AnnIndex, annoy_missing_error

NO_INDEX = "no approximate index of"  # how a reason starts when rule 6 answered exactly


def choose(plan: Prepared) -> str:
    """The path for one prepared request (one of ``PATHS``); records it with ``plan.decide``."""
    params = plan.request.params
    if params.exact:
        return plan.decide(
            "exact", "params.exact=True: exact scan of the original vectors, quantization off (as Qdrant)"
        )
    if plan.space.quantizer is not None and not params.ignore:
        return plan.decide(
            "quantized",
            f"{plan.space.quantizer.method} quantization of {plan.space.label}: candidates by quantized score",
        )
    space = plan.space
    n, dim = len(space.stored), space.dim
    if len(plan.query.vectors) == 0:
        return plan.decide("exact", "context search without pairs: every point scores 0")
    indexing_kb, full_scan_kb = index_settings.INDEXING_THRESHOLD_KB, index_settings.FULL_SCAN_THRESHOLD_KB
    kb = n * dim * 4 / 1024
    if kb < indexing_kb:
        return plan.decide(
            "exact",
            f"{n:,} vectors x {dim} dims = {kb:,.0f} KB, below Qdrant's indexing_threshold "
            f"({indexing_kb:,} KB): exact scan, as Qdrant does for an unindexed segment",
        )
    allowed = plan.allowed
    if plan.request.filter is not None:  # not for the ids a request leaves out
        akb = allowed * dim * 4 / 1024
        if akb < full_scan_kb:
            return plan.decide(
                "exact",
                f"filter keeps {allowed:,} of {n:,} points ({akb:,.0f} KB < full_scan_threshold "
                f"{full_scan_kb:,} KB): exact scan of those points, as Qdrant does",
            )
    index = current_index(space)
    if index is None:
        plan.wants_index = True
        return plan.decide(
            "exact",
            f"{NO_INDEX} {space.label} yet ({n:,} vectors x {dim} dims = {kb:,.0f} KB): exact scan; "
            "col.build_index() builds it now (with a progress bar)",
        )
    if index.method != "auto":
        method = index.method
        if method == "annoy" and index.forest is None:
            raise annoy_missing_error("index.method='annoy'")
        if method == "annoy" and not annoy_serves(plan):
            method = "sign_codes"
            why = (
                f"index.method='annoy' but annoy cannot propose candidates for this "
                f"{plan.query.kind} query on {space.distance}; sign codes instead"
            )
        else:
            why = f"index.method={index.method!r}"
        return plan.decide(method, why + _effort_text(plan, index, method))
    costs = estimate_costs(plan, index)
    best = min(costs, key=costs.__getitem__)
    shown = ", ".join(
        f"{k}{' (x2 handicap)' if k == 'annoy' else ''} {v:.2f}" for k, v in sorted(costs.items(), key=lambda kv: kv[1])
    )
    why = f"estimated ms from build-time tuning: {shown}"
    if index.forest is None:
        why += f" (annoy is not installed: {ANNOY_FIX})"
    if best == "exact":
        return plan.decide("exact", "exact scan is cheapest; " + why)
    return plan.decide(best, why + _effort_text(plan, index, best))


def wants_index(space: VectorSpace) -> bool:
    """Whether queries on ``space`` would use an index that is not built yet (rule 6 for a
    request without filter or quantization): large enough, not quantized, no current index."""
    kb = len(space.stored) * space.dim * 4 / 1024
    return kb >= index_settings.INDEXING_THRESHOLD_KB and space.quantizer is None and current_index(space) is None


def _effort_text(plan: Prepared, index: AnnIndex, method: str) -> str:
    ef, source = effort(plan, index, method)
    if method == "annoy":
        return f"; ef={ef} ({source}): annoy search_k = ef x {index.n_trees} trees per probe"
    factor = kind_factor(plan, index)
    extra = f" x {factor:g} for {kind_key(plan)}" if factor != 1 else ""
    return f"; ef={ef} ({source}){extra}: candidates by sign-code estimate, rescored exactly"


def answer(plans: list[Prepared]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rows and shown scores of every plan, after threshold, offset and limit.

    Afterwards ``plan.path`` names the path that answered (an index path that falls back
    records the fallback) and ``plan.reason`` says why.
    """
    paths = [choose(p) for p in plans]
    out: list = [None] * len(plans)
    exact = [i for i, path in enumerate(paths) if path == "exact"]
    if exact:
        for i, (rows, scores) in zip(exact, exact_candidates([plans[i] for i in exact])):
            out[i] = finish(plans[i], rows, scores)
    batched = [i for i, path in enumerate(paths) if path == "quantized"]
    for i, result in zip(batched, quantized_batch([plans[i] for i in batched])):
        out[i] = result
    for i, path in enumerate(paths):
        if path in ("annoy", "sign_codes"):
            out[i] = finish(plans[i], *index_candidates(plans[i]))
    return out


def answer_recall(plan: Prepared) -> float | None:
    """The estimated recall of a plan's answer, for ``result.attrs["estimated_recall"]``: 1 for
    the exact scan, the approximate path's own estimate (sign codes: per query; annoy: 1 when
    certified complete, else the recall measured when the index was tuned, or None for a request
    whose ``hnsw_ef`` is below the tuned effort), None for quantized scores (their recall depends
    on rescoring and oversampling: see ``plots.rescoring``).

    >>> import numpy as np, explorekit as ek
    >>> from explorekit.engine.prepare import prepare
    >>> from explorekit.query.requests import Request
    >>> col = ek.Collection.from_arrays(np.eye(4, dtype=np.float32))
    >>> plan = prepare(col.store, Request.build("search", query=[1, 0, 0, 0], limit=2))
    >>> _ = answer([plan]); answer_recall(plan)
    1.0
    """
    if plan.estimated_recall is not None:
        return round(float(plan.estimated_recall), 4)
    return 1.0 if plan.path == "exact" else None
