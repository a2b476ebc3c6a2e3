"""The planner's rules for requests that may use the approximate index.

In the order they are checked (the first that applies decides; ``plan.path`` and
``plan.reason`` record it):

1. Nothing to search (context search without pairs): exact.
2. The vectors are smaller than Qdrant's ``indexing_threshold`` (10,000 KB, about 6,600
   vectors of 384 dimensions; ``explorekit.index.INDEXING_THRESHOLD_KB``): exact, as Qdrant
   scans a segment that has no HNSW index yet.
3. The filter keeps few points: their vectors are smaller than Qdrant's
   ``full_scan_threshold`` (10,000 KB; ``explorekit.index.FULL_SCAN_THRESHOLD_KB``): exact
   scan of those points, as Qdrant does. The count is exact (the filter is already a mask),
   not an estimate. Ids a request leaves out (its examples) are not a filter here.
4. Otherwise the index (built now if missing) proposes candidates that are rescored exactly.
   Each generator's cost for this request is estimated from what was measured at build time
   (:mod:`._tune`): the sign-code scan grows with the examples and the passing points, annoy
   with the examples (one probe each) and ``1 / fraction passing`` (oversampling), the exact
   scan with the passing points. The cheapest wins, the exact scan included; annoy's estimate
   is doubled (``ANNOY_HANDICAP``) and annoy is not used for the kinds it cannot serve (see
   :func:`annoy_serves`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from explorekit.engine.pipeline import DENSE_MASK
from explorekit.index._ann import AnnIndex, build_index

if TYPE_CHECKING:
    from explorekit.engine.pipeline import Prepared

# Annoy's cost counts double: its tuned effort is for nearest searches of stored points, and its
# recall on held-out and combined query vectors is less predictable than the sign codes' (which
# are tuned per query kind): measured on held-out text, 0.96 vs 0.99 for average_vector.
ANNOY_HANDICAP = 2.0


def ensure_index(plan: "Prepared") -> AnnIndex:
    """The space's index, built now if it is missing or was built on other rows."""
    space = plan.space
    index = space.index
    if index is None or index.stale or len(index) != len(space.stored) or index.dim != space.dim:
        index = build_index(space)
        space.index = index
    return index


def choose_path(plan: "Prepared") -> str:
    """``"exact"``, ``"annoy"`` or ``"binary"`` for one request; sets ``plan.path``/``plan.reason``."""
    from explorekit.index import FULL_SCAN_THRESHOLD_KB, INDEXING_THRESHOLD_KB   # module settings, read per call
    space = plan.space
    n, dim = len(space.stored), space.dim
    if len(plan.query.vectors) == 0:
        return _decide(plan, "exact", "context search without pairs: every point scores 0")
    kb = n * dim * 4 / 1024
    if kb < INDEXING_THRESHOLD_KB:
        return _decide(plan, "exact",
                       f"{n:,} vectors x {dim} dims = {kb:,.0f} KB, below Qdrant's indexing_threshold "
                       f"({INDEXING_THRESHOLD_KB:,} KB): exact scan, as Qdrant does for an unindexed segment")
    allowed = plan.allowed
    if plan.request.filter is not None:          # not for the ids a request leaves out
        akb = allowed * dim * 4 / 1024
        if akb < FULL_SCAN_THRESHOLD_KB:
            return _decide(plan, "exact",
                           f"filter keeps {allowed:,} of {n:,} points ({akb:,.0f} KB < full_scan_threshold "
                           f"{FULL_SCAN_THRESHOLD_KB:,} KB): exact scan of those points, as Qdrant does")
    index = ensure_index(plan)
    costs = estimate_costs(plan, index)
    if index.method != "auto":
        method = index.method
        if method == "annoy" and not annoy_serves(plan):
            method = "binary"
            why = (f"index.method='annoy' but annoy cannot propose candidates for this "
                   f"{plan.query.kind} query on {space.distance}; sign codes instead")
        else:
            why = f"index.method={index.method!r}"
        return _decide(plan, method, why + _effort(plan, index, method))
    best = min(costs, key=costs.__getitem__)
    shown = ", ".join(f"{k}{' (x2 handicap)' if k == 'annoy' else ''} {v:.2f}"
                      for k, v in sorted(costs.items(), key=lambda kv: kv[1]))
    why = f"estimated ms from build-time tuning: {shown}"
    if best == "exact":
        return _decide(plan, "exact", "exact scan is cheapest; " + why)
    return _decide(plan, best, why + _effort(plan, index, best))


def estimate_costs(plan: "Prepared", index: AnnIndex) -> dict[str, float]:
    """Estimated milliseconds of each path that can answer this request (see module notes)."""
    ms = index.tuning["ms"]
    n = len(plan.space.stored)
    frac = plan.allowed / max(n, 1)
    m = len(plan.query.vectors)
    exact = ms["exact"] or 1.0
    costs = {"exact": exact * (frac if (plan.mask is not None and frac < DENSE_MASK) else 1.0)
             * (1 + 0.1 * (m - 1))}
    scale = max(1.0, plan.top / 10)
    eligible = index.tuning["eligible"]
    # manhattan: the L1-from-L2 estimate of sign codes ranks far-off query vectors (an
    # average_vector query 2 avg(P) - avg(N) often lies outside the data) badly: measured
    # 1 of 5 true neighbours on 3,000 x 24 clustered data, so annoy's own L1 metric or the scan.
    if eligible["binary"] and plan.space.distance != "manhattan":
        candidates = index.default_ef("binary") * kind_factor(plan, index) * scale
        costs["binary"] = ms["binary_scan"] * m * max(frac, 0.02) + ms["rescore_row"] * m * candidates
    if eligible["annoy"] and annoy_serves(plan):
        costs["annoy"] = ANNOY_HANDICAP * ms["annoy"] * annoy_probes(plan) * scale / max(frac, 1e-6)
    return costs


def kind_key(plan: "Prepared") -> str:
    q = plan.query
    return "best_score_negatives" if q.kind == "best_score" and q.n_positive == 0 else q.kind


def kind_factor(plan: "Prepared", index: AnnIndex) -> float:
    """How many more sign-code candidates this query kind needs than a nearest search (tuned)."""
    return float(index.tuning.get("kind_factor", {}).get(kind_key(plan), 1.0))


def annoy_serves(plan: "Prepared") -> bool:
    """Whether annoy can propose candidates for this query kind and distance."""
    q, distance = plan.query, plan.space.distance
    if q.kind == "sum_scores":
        if distance in ("cosine", "dot"):
            return True
        return distance == "euclid" and q.n_positive > q.n_negative
    if q.kind == "best_score" and q.n_positive == 0:
        return distance in ("cosine", "dot")       # farthest points = nearest to -n
    return True


def annoy_probes(plan: "Prepared") -> int:
    """How many annoy searches one request makes (one per probe vector)."""
    q = plan.query
    if q.kind in ("nearest", "sum_scores"):
        return 1
    if q.kind == "best_score":
        return q.n_positive if q.n_positive else q.n_negative + (q.n_negative > 1)
    if q.kind == "discover":
        return 1 + q.n_pairs
    return q.n_pairs + (1 if plan.space.distance in ("cosine", "dot") else 0)


def _effort(plan: "Prepared", index: AnnIndex, method: str) -> str:
    ef = plan.request.params.hnsw_ef
    source = "hnsw_ef" if ef is not None else "tuned default"
    ef = ef if ef is not None else index.default_ef(method)
    if method == "annoy":
        return f"; ef={ef} ({source}): annoy search_k = ef x {index.n_trees} trees per probe"
    factor = kind_factor(plan, index)
    extra = f" x {factor:g} for {kind_key(plan)}" if factor != 1 else ""
    return f"; ef={ef} ({source}){extra}: candidates by sign-code estimate, rescored exactly"


def _decide(plan: "Prepared", path: str, reason: str) -> str:
    plan.path = path            # type: ignore[attr-defined]
    plan.reason = reason        # type: ignore[attr-defined]
    return path
