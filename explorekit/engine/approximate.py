"""Candidates from the index, rescored exactly: every query kind, with and without filters.

The contract (see :func:`index_candidates`): rows sorted best first with their *exact*
internal scores (:func:`explorekit.engine.exact.rescore`, Qdrant's formulas), at least ``min(limit + offset,
points passing)`` of them - never fewer than the exact scan would give - so an approximate
answer differs from the exact one only by missing points, never by a score.

**Sign codes** (``path="sign_codes"``): every example's similarity to every passing point is
estimated from the codes, the query's own formula combines the estimates, and the best
``ef x kind factor x max(1, top/10)`` points are rescored exactly (the factor, tuned at build
time, is 1 for nearest searches and larger for kinds whose estimate is weaker). Filters cost
nothing extra: only passing points are scanned, so there is no oversampling and no shortfall.

**Annoy** (``path="annoy"``): each query kind becomes one or more nearest-neighbour *probes*:

============================ ==================================================================
nearest, average_vector      the query vector
sum_scores                   cosine/dot: ``sum P - sum N`` (the score is linear in ``x``);
                             euclid with more positives than negatives: ``(sum P - sum N)/a``,
                             ``a = |P| - |N|`` (the score is ``-a |x - v/a|^2 + const``)
best_score                   each positive; without positives (cosine/dot) each ``-n`` (the
                             farthest points from ``n`` are the nearest to ``-n``) and ``-mean N``
discover                     the target and each positive
context                      each positive, and for cosine/dot the sum of the unit pair
                             directions ``(p - n)/|p - n|``
============================ ==================================================================

With a filter passing a fraction ``f`` of the points a probe asks annoy for ``1/f`` times more.
Where a probe's last neighbour bounds the score of every point it did not return, the answer
is *certified*: best_score with positives, ``sig(max_p r_p)``; without positives,
``-sig(max_n -r_n)``; discover, ``n_pairs + sig(r_target)``; context, 0 (the best possible score).
If the ``top``-th candidate scores below the bound, or a probe came back short, the effort is
multiplied by 4 (twice at most, and never beyond the cost of an exact scan), then the request
falls back to the sign codes, or to the exact scan.

**Cost model** (:func:`estimate_costs`, used by the planner): each generator's cost for a request
is estimated from what was measured at build time (:mod:`explorekit.index._tune`): the sign-code
scan grows with the examples and the passing points, annoy with the examples (one probe each)
and ``1 / fraction passing`` (oversampling), the exact scan with the passing points. Annoy's
estimate is doubled (``ANNOY_HANDICAP``) and annoy is not used for the kinds it cannot serve
(:func:`annoy_serves`).
"""

from __future__ import annotations

import math

import numpy as np

from explorekit.data.store import VectorSpace
from explorekit.engine.exact import exact_candidates, rescore
from explorekit.engine.prepare import Prepared
from explorekit.index import GOAL, AnnIndex, combined_estimates, estimated_recall, expected_missed, select
from explorekit.scoring.formulas import scaled_fast_sigmoid

# Annoy's cost counts double: its tuned effort is for nearest searches of stored points, and its
# recall on held-out and combined query vectors is less predictable than the sign codes' (which
# are tuned per query kind): measured on held-out text, 0.96 vs 0.99 for average_vector.
ANNOY_HANDICAP = 2.0


_ESCALATIONS = 2
_MAX_SEARCH_K = 2**31 - 1  # annoy takes a C int; far more than the nodes of any forest it holds
_TOLERANCE = 1e-5


def index_candidates(plan: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Rows (int64) and exact internal scores (float32) of the best candidates, best first.

    Uses ``plan.path`` set by the planner (``"annoy"`` or ``"sign_codes"``) and records a
    fallback in ``plan.path`` and ``plan.reason``.
    """
    index: AnnIndex = plan.space.index
    if plan.path == "annoy" and annoy_serves(plan):
        found = annoy_candidates(plan, index, effort(plan, index, "annoy")[0])
        if found is not None:
            return found
        if not index.eligible("sign_codes"):
            plan.fall_back("exact", "annoy could not certify a complete answer; exact scan")
            return exact_candidates([plan])[0]
        plan.fall_back("sign_codes", "annoy could not certify a complete answer; sign codes")
    elif plan.path != "sign_codes":
        return exact_candidates([plan])[0]
    return codes_candidates(plan, index, effort(plan, index, "sign_codes")[0])


def effort(plan: Prepared, index: AnnIndex, method: str) -> tuple[int, str]:
    """The search effort ``ef`` for ``method`` and where it came from: the one ``hnsw_ef`` rule.

    ``params={"hnsw_ef": ef}`` when given, else the value tuned at build time.
    """
    ef = plan.request.params.hnsw_ef
    if ef is not None:
        return int(ef), "hnsw_ef"
    return index.default_ef(method), "tuned default"


def _width(ef: int, top: int) -> int:
    """Candidates for ``top`` results: ``ef`` is tuned for the top 10."""
    return max(top, int(math.ceil(ef * max(1.0, top / 10))))


# ---------------------------------------------------------------------------------------------
# sign codes


def codes_candidates(plan: Prepared, index: AnnIndex, ef: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``ef x kind factor x max(1, top/10)`` points by estimated score, rescored exactly, then
    checked: while the estimated recall (:mod:`explorekit.index._recall`) is below ``GOAL`` the
    candidates are doubled, and when doubling would cost more than the exact scan the exact scan
    answers. A request with its own ``hnsw_ef`` is taken at its word (not widened). The estimate
    is left on ``plan.estimated_recall``.
    """
    rows = plan.scan_rows()
    estimates = index.codes.estimate(plan.query.vectors, rows)
    allowed = plan.mask if (plan.mask is not None and rows is None) else None
    scores = combined_estimates(plan.query, estimates, allowed)
    sigma = index.tuning.get("sigma", 0.0)
    width = _width(int(math.ceil(ef * kind_factor(plan, index))), plan.top)
    need = min(plan.top, plan.allowed)
    widen = plan.request.params.hnsw_ef is None
    while True:
        keep = select(plan.query, estimates, sigma, width, allowed, scores=scores)
        found = rescore(plan, keep if rows is None else rows[keep], plan.top)
        recall = _estimated_recall(plan, index, scores, keep, found[1], need)
        if recall >= GOAL or not widen or len(keep) < width:
            plan.estimated_recall = recall
            return found
        width *= 2
        if _rescoring_costs_more(index, width, len(plan.query.vectors)):
            plan.fall_back(
                "exact",
                f"the sign codes' answer was estimated to hold {recall:.0%} of the true top {need} "
                f"(goal {GOAL:.0%}); exact scan",
            )
            plan.estimated_recall = 1.0
            return exact_candidates([plan])[0]


def _estimated_recall(
    plan: Prepared, index: AnnIndex, scores: np.ndarray, keep: np.ndarray, best: np.ndarray, need: int
) -> float:
    """The estimated share of the true top ``need`` among the rescored candidates ``keep``."""
    if need == 0:
        return 1.0
    if len(best) < need:
        return 0.0
    kth = float(best[need - 1])
    if kth >= best_possible(plan.query):
        return 1.0  # nothing can score above the k-th: certain
    return estimated_recall(expected_missed(scores, keep, kth, kind_error(plan, index)), need)


def best_possible(query) -> float:
    """The highest score a point can have for this query kind (+inf where unbounded).

    >>> from explorekit.scoring.formulas import ScoringQuery
    >>> best_possible(ScoringQuery("context", np.zeros((2, 3), np.float32), n_pairs=1))
    0.0
    """
    if query.kind == "context":
        return 0.0
    if query.kind == "best_score":
        return 1.0
    return math.inf


def _rescoring_costs_more(index: AnnIndex, width: int, examples: int) -> bool:
    """Whether rescoring ``width`` candidates costs more than one exact scan (tuned timings)."""
    ms = index.tuning["ms"]
    if not ms.get("rescore_row") or not ms.get("exact"):
        return width >= len(index)
    return ms["rescore_row"] * width * examples > ms["exact"] * (1 + 0.1 * (examples - 1)) or width >= len(index)


def kind_error(plan: Prepared, index: AnnIndex) -> float:
    """The tuned error of this kind's estimated scores near its best (the global sigma of the
    estimate for an index tuned before errors were measured per kind)."""
    errors = index.tuning.get("error") or {}
    return float(errors.get(kind_key(plan), index.tuning.get("sigma", 0.0)))


# ---------------------------------------------------------------------------------------------
# annoy


def annoy_candidates(plan: Prepared, index: AnnIndex, ef: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Candidates from annoy probes, or None when the answer cannot be certified complete."""
    probes, bound_of = _probes(plan)
    n = len(index)
    top, allowed = plan.top, plan.allowed
    need = min(top, allowed)
    if need == 0:
        return rescore(plan, np.empty(0, np.int64), top)
    frac = allowed / max(n, 1)
    width = _width(ef, top)
    tuning = index.tuning
    exact_ms, annoy_ms = tuning["ms"]["exact"], tuning["ms"]["annoy"]
    unit_ms = (annoy_ms / (index.default_ef("annoy") * index.n_trees)) if annoy_ms else None
    for round_ in range(_ESCALATIONS + 1):
        search_k = min(int(math.ceil(width * index.n_trees / frac)), _MAX_SEARCH_K)
        if round_ and unit_ms is not None and exact_ms is not None and unit_ms * search_k * len(probes) > exact_ms:
            return None  # more effort would cost more than a scan
        found, bounds = [], []
        for vector, bounded in probes:
            wanted = width if (bounded or bound_of is not None) else 2 * top + 16
            asked = int(math.ceil(wanted / frac))
            if bounded:
                rows, dist = index.forest.annoy.get_nns_by_vector(
                    vector, min(asked, n), search_k=search_k, include_distances=True
                )
                rows = np.asarray(rows, np.int64)
                bounds.append(_bound(rows, dist, asked, n, index.metric))
            else:
                rows = index.forest.nns(vector, min(asked, n), search_k)
            found.append(rows)
        cand = np.unique(np.concatenate(found)) if len(found) > 1 else found[0]
        if plan.mask is not None:
            cand = cand[plan.mask[cand]]
        if len(cand) >= need:
            best_rows, best_scores = rescore(plan, cand, top)
            if bound_of is None:
                plan.estimated_recall = annoy_recall(plan, index, ef)
                return best_rows, best_scores
            limit = bound_of(bounds)
            if len(best_rows) >= need and best_scores[need - 1] >= limit:
                plan.estimated_recall = annoy_recall(plan, index, ef)
                return best_rows, best_scores
        width *= 4
    return None


def annoy_recall(plan: Prepared, index: AnnIndex, ef: int) -> float | None:
    """What annoy's answer can claim: the recall measured when the index was tuned, which is a
    nearest search's at the tuned effort, so only for a nearest search at that effort or more;
    otherwise None (not estimated). The certificate of best_score/discover/context bounds the
    points annoy returned, and annoy itself may miss some, so it claims nothing more.
    """
    if plan.query.kind != "nearest" or ef < index.default_ef("annoy"):
        return None
    return index.tuning["recall"]["annoy"]


def _bound(rows: np.ndarray, dist: list, asked: int, n: int, metric: str) -> float:
    """Largest internal similarity a point *not* returned by this probe can have."""
    if len(rows) >= n:
        return -np.inf  # every point came back
    if len(rows) < min(asked, n) or not len(rows):
        return np.inf  # came back short: nothing is certain
    d = float(dist[-1])
    if metric == "angular":
        sim = 1.0 - d * d / 2.0
    elif metric == "dot":
        sim = d
    elif metric == "euclidean":
        sim = -d * d
    else:
        sim = -d
    return sim + _TOLERANCE * (1.0 + abs(sim))


def _sig(x: float) -> float:
    return float(scaled_fast_sigmoid(np.float32(x))) if np.isfinite(x) else (1.0 if x > 0 else 0.0)


def _probes(plan: Prepared):
    """``[(vector, bounded), ...]`` and the function turning the bounds into a score bound
    (None: the best candidates are the answer, no certificate needed)."""
    q, distance = plan.query, plan.space.distance
    v = q.vectors
    if q.kind == "nearest":
        return [(v[0], False)], None
    if q.kind == "sum_scores":
        direction = v[: q.n_positive].sum(axis=0) - v[q.n_positive :].sum(axis=0)
        if distance == "euclid":
            direction = direction / np.float32(q.n_positive - q.n_negative)
        return [(direction, False)], None
    if q.kind == "best_score":
        if q.n_positive:
            return [(p, True) for p in v[: q.n_positive]], lambda b: _sig(max(b))
        negatives = v[q.n_positive :]
        probes = [(-m, True) for m in negatives]
        if len(negatives) > 1:
            probes.append((-negatives.mean(axis=0), False))
        return probes, lambda b: -_sig(max(-x for x in b))
    if q.kind == "discover":
        probes = [(v[0], True)] + [(p, False) for p in v[1::2]]
        return probes, lambda b: q.n_pairs + _sig(b[0])
    pairs = v.reshape(-1, 2, v.shape[1])
    probes = [(p, False) for p in pairs[:, 0]]
    if distance in ("cosine", "dot"):
        diff = pairs[:, 0] - pairs[:, 1]
        norms = np.linalg.norm(diff, axis=1, keepdims=True)
        direction = (diff / np.where(norms > 0, norms, 1)).sum(axis=0)
        if np.any(direction):
            probes.append((direction, False))
    return probes, lambda b: 0.0


# ---------------------------------------------------------------------------------------------
# the cost model and what each generator can serve


def current_index(space: VectorSpace) -> AnnIndex | None:
    """The space's index if it was built on these rows, else None (a query never builds one:
    ``col.build_index()`` or the collection's background build does).

    >>> import numpy as np
    >>> current_index(VectorSpace("", "cosine", np.eye(3, dtype=np.float32))) is None
    True
    """
    index = space.index
    if index is None or len(index) != len(space.stored) or index.dim != space.dim:
        return None
    return index


def estimate_costs(plan: Prepared, index: AnnIndex) -> dict[str, float]:
    """Estimated milliseconds of each path that can answer this request (see module notes)."""
    ms = index.tuning["ms"]
    n = len(plan.space.stored)
    frac = plan.allowed / max(n, 1)
    m = len(plan.query.vectors)
    exact = ms["exact"] or 1.0
    costs = {"exact": exact * (frac if plan.selective else 1.0) * (1 + 0.1 * (m - 1))}
    scale = max(1.0, plan.top / 10)
    # manhattan: the L1-from-L2 estimate of sign codes ranks far-off query vectors (an
    # average_vector query 2 avg(P) - avg(N) often lies outside the data) badly: measured
    # 1 of 5 true neighbours on 3,000 x 24 clustered data, so annoy's own L1 metric or the scan.
    if index.eligible("sign_codes") and plan.space.distance != "manhattan":
        candidates = index.default_ef("sign_codes") * kind_factor(plan, index) * scale
        costs["sign_codes"] = ms["binary_scan"] * m * max(frac, 0.02) + ms["rescore_row"] * m * candidates
    if index.eligible("annoy") and annoy_serves(plan):
        costs["annoy"] = ANNOY_HANDICAP * ms["annoy"] * annoy_probes(plan) * scale / max(frac, 1e-6)
    return costs


def kind_key(plan: Prepared) -> str:
    q = plan.query
    return "best_score_negatives" if q.kind == "best_score" and q.n_positive == 0 else q.kind


def kind_factor(plan: Prepared, index: AnnIndex) -> float:
    """How many more sign-code candidates this query kind needs than a nearest search (tuned)."""
    return float(index.tuning.get("kind_factor", {}).get(kind_key(plan), 1.0))


def annoy_serves(plan: Prepared) -> bool:
    """Whether annoy can propose candidates for this query kind and distance."""
    q, distance = plan.query, plan.space.distance
    if q.kind == "sum_scores":
        if distance in ("cosine", "dot"):
            return True
        return distance == "euclid" and q.n_positive > q.n_negative
    if q.kind == "best_score" and q.n_positive == 0:
        return distance in ("cosine", "dot")  # farthest points = nearest to -n
    return True


def annoy_probes(plan: Prepared) -> int:
    """How many annoy searches one request makes (one per probe vector)."""
    q = plan.query
    if q.kind in ("nearest", "sum_scores"):
        return 1
    if q.kind == "best_score":
        return q.n_positive if q.n_positive else q.n_negative + (q.n_negative > 1)
    if q.kind == "discover":
        return 1 + q.n_pairs
    return q.n_pairs + (1 if plan.space.distance in ("cosine", "dot") else 0)
