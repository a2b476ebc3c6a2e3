"""Tuning at build time: the default search effort of each candidate generator, and its speed.

A sample of stored points serves as queries (each leaves itself out, as a query by id does).
For each generator the smallest effort ``ef`` whose candidates hold ``TARGET_RECALL`` of the
exact top 10 is recorded, with the latency of one nearest search at that effort next to one
exact scan. The planner reads these numbers to choose a path; ``params={"hnsw_ef": ef}``
overrides the effort per request.

* sign codes: ``ef`` = candidates taken by estimated score and rescored exactly; found from the
  rank of every true neighbour in the estimated order (one pass, no search). The other query
  kinds are harder to estimate (a best_score without positives wants the *farthest* points,
  where the estimate is weakest), so each kind gets a factor: the candidates it needs for the
  same recall on sample requests built from stored points, over the nearest search's ``ef``.
* annoy: ``ef`` = ``search_k / n_trees`` (annoy's own default is ``search_k = n * n_trees``
  for ``n`` results); tried on a 1.5x grid until the recall is reached.

Each kind also records ``error``: the root mean square of (estimated - exact) score over each
sample query's best points, which :mod:`._recall` turns into a per-query recall estimate.

A generator is *eligible* for the planner's automatic choice only if it reached the target and
was faster than the exact scan. The target is set above the 0.95 promised for new queries
because held-out queries can be a little harder than stored points.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from explorekit._support.threads import blas_threads
from explorekit.index._codes import select
from explorekit.index._recall import estimated_recall, expected_missed
from explorekit.scoring.distances import Distance, exact_similarity, preprocess, similarity
from explorekit.scoring.formulas import ScoringQuery
from explorekit.scoring.topk import top_k

if TYPE_CHECKING:
    from explorekit.index._codes import SignCodes
    from explorekit.index._forest import Forest

TARGET_RECALL = 0.98
K = 10
MIN_EF = 16
KIND_SAMPLES = 24
# Set on the large benchmark set's Debian half with PyPI texts as queries (benchmarks/large_set.py),
# where the calibrated sigma alone was too hopeful (estimated 0.996, measured 0.92; with 0.45 x: 0.992 vs 0.943 for average_vector); measured on
# the PyPI half with Debian texts, which it never saw.
ERROR_FLOOR = 0.6
TOP_ERROR_POINTS = 50  # at least this many best points per query measure the estimate's error
_ANNOY_BUDGET_S = 8.0


def tune(
    forest: "Forest | None",
    codes: "SignCodes",
    stored: np.ndarray,
    distance: Distance,
    n_queries: int = 100,
    seed: int = 0,
) -> dict[str, Any]:
    """Default ``ef`` per generator, per-kind factors, recall, latency and eligibility."""
    with blas_threads():  # measured the way queries run (one BLAS thread)
        return _tune(forest, codes, stored, distance, n_queries, seed)


def _tune(forest, codes, stored, distance, n_queries, seed) -> dict[str, Any]:
    n = len(stored)
    out: dict[str, Any] = {
        "target_recall": TARGET_RECALL,
        "k": K,
        "queries": 0,
        "ef": {"binary": MIN_EF, "annoy": MIN_EF},
        "kind_factor": {},
        "error": {},
        "recall": {"binary": None, "annoy": None},
        "ms": {"exact": None, "binary": None, "annoy": None},
        "eligible": {"binary": False, "annoy": False},
        "preferred": "exact",
    }
    if n <= 4 * K:
        return out
    rng = np.random.default_rng(seed)
    count = int(min(n_queries, max(10, n // 20)))
    rows = np.sort(rng.choice(n, size=count, replace=False))
    queries = stored[rows]
    out["queries"] = count
    sims = similarity(queries, stored, distance)
    sims[np.arange(count), rows] = -np.inf
    truth = np.argpartition(-sims, K - 1, axis=1)[:, :K]
    del sims
    users = user_like_queries(stored, distance, rows, truth, rng)
    user_sims = similarity(users, stored, distance)
    user_truth = np.argpartition(-user_sims, K - 1, axis=1)[:, :K]
    exact_ms = out["ms"]["exact"] = _median_ms(lambda q: _exact(q, stored, distance), queries)

    stored_est = codes.estimate(queries)
    stored_est[np.arange(count), rows] = -np.inf
    user_est = codes.estimate(users)
    ef_b, rec_b = _tune_codes(np.vstack([stored_est, user_est]), np.vstack([truth, user_truth]), n)
    out["user_like_queries"] = len(users)
    out["ef"]["binary"], out["recall"]["binary"] = ef_b, rec_b
    out["sigma"] = _estimate_error(codes, queries, stored, distance, rng)
    out["ms"]["binary"] = _median_ms(lambda q: _codes_search(q, codes, stored, distance, ef_b), queries)
    out["ms"]["binary_scan"] = _median_ms(lambda q: codes.estimate(q[None, :]), queries)
    out["ms"]["rescore_row"] = _rescore_row_ms(stored, distance, rng)
    out["eligible"]["binary"] = bool(ef_b <= n // 4 and out["ms"]["binary"] < exact_ms)
    out["kind_factor"], out["error"] = _kind_factors(codes, stored, distance, rows, truth, ef_b, out["sigma"], rng)
    out["error"]["nearest"] = calibrated_error(user_sims, user_est, ef_b, ERROR_FLOOR)
    del user_sims, user_est, stored_est

    if forest is not None:  # None where annoy is not installed: its entries keep the defaults
        ef_a, rec_a, ms_a = _tune_annoy(forest, queries, rows, truth, stored, distance)
        out["ef"]["annoy"], out["recall"]["annoy"], out["ms"]["annoy"] = ef_a, rec_a, ms_a
        out["eligible"]["annoy"] = bool(rec_a >= TARGET_RECALL and ms_a < exact_ms)

    timed = {m: out["ms"][m] for m in ("binary", "annoy") if out["eligible"][m]}
    if timed:
        out["preferred"] = min(timed, key=timed.__getitem__)
    return out


def user_like_queries(stored: np.ndarray, distance: Distance, rows: np.ndarray, truth: np.ndarray, rng) -> np.ndarray:
    """Query vectors like users' rather than stored points: per sample point ``x`` with a random
    one of its neighbours ``y``, a point between them, moved off both by noise of half their
    distance (like a new text near two stored ones), and a recommendation's average vector
    ``2 mean(x, y) - z`` with a random point ``z`` (which lies off the data). Preprocessed as
    the distance wants (cosine: unit length)."""
    x = stored[rows].astype(np.float32)
    y = stored[truth[np.arange(len(rows)), rng.integers(0, truth.shape[1], len(rows))]].astype(np.float32)
    z = stored[rng.integers(0, len(stored), len(rows))].astype(np.float32)
    gap = np.linalg.norm(x - y, axis=1, keepdims=True)
    noise = rng.normal(size=x.shape).astype(np.float32)
    noise *= 0.5 * gap / np.maximum(np.linalg.norm(noise, axis=1, keepdims=True), 1e-12)
    between = x + rng.uniform(0.3, 0.7, (len(rows), 1)).astype(np.float32) * (y - x) + noise
    average = (x + y) - z
    return preprocess(np.vstack([between, average]), distance)


def _tune_codes(est: np.ndarray, truth: np.ndarray, n: int) -> tuple[int, float]:
    """Smallest candidate count (rounded up) holding TARGET_RECALL of the true top K, from the
    estimates of sample queries (``-inf`` where a point may not be chosen) and their true top K."""
    true_est = np.take_along_axis(est, truth, axis=1)  # (q, K)
    ranks = np.stack([(est > true_est[:, j : j + 1]).sum(axis=1) for j in range(K)], axis=1)
    needed = int(np.quantile(ranks.ravel(), TARGET_RECALL, method="higher")) + 1
    ef = min(max(MIN_EF, _round_up(needed)), n)
    return ef, float((ranks < ef).mean())


def _estimate_error(codes, queries, stored, distance, rng, columns: int = 2000) -> float:
    """Standard deviation of (estimated - exact) similarity over sample pairs."""
    cols = rng.choice(len(stored), size=min(columns, len(stored)), replace=False)
    diff = codes.estimate(queries, cols) - similarity(queries, stored[cols], distance)
    return float(np.std(diff))


def _rescore_row_ms(stored, distance, rng, rows: int = 1000) -> float:
    """Milliseconds per candidate row rescored exactly (gather + similarity)."""
    pick = np.sort(rng.choice(len(stored), size=min(rows, len(stored)), replace=False))
    q = stored[:1]
    ms = _median_ms(lambda _: exact_similarity(q, stored[pick], distance), stored[:5])
    return ms / len(pick)


def calibrated_error(exact: np.ndarray, estimated: np.ndarray, width: int, floor: float = 0.0) -> float:
    """The error ``sigma`` of :mod:`._recall`'s model that makes its recall estimate honest here.

    ``exact``/``estimated`` are sample requests' scores of every point (rows; ``-inf`` where a
    point may not be chosen). For candidate lists of ``width / 2``, ``width`` and ``2 width``
    points (best estimates first), the recall actually reached is compared with the recall the
    model predicts; the smallest ``sigma`` on a grid around the estimate's measured error whose
    mean prediction is nowhere above the mean actual recall (+0.005) is returned, so the
    estimate errs on the side of widening. Estimates' errors are correlated (a point estimated
    low stays low), so the honest ``sigma`` is usually below their raw spread; it is never taken
    below ``floor`` times that spread (:data:`ERROR_FLOOR` for the kinds whose score is a sum of
    similarities, where the model fits), because queries unlike any sample (a text from another
    source than the collection's) are harder than the samples.
    """
    estimated = np.where(np.isfinite(exact), estimated, -np.inf).astype(np.float32)
    n = exact.shape[1]
    rough = _top_error(exact, estimated)
    if rough <= 0:
        return 0.0
    grid = rough * np.geomspace(0.1, 3.0, 24)
    ok = np.ones(len(grid), bool)
    for w in sorted({max(K, width // 2), max(K, width), max(K, 2 * width)}):
        if w >= n:
            continue
        actual, predicted = [], np.zeros(len(grid))
        for x, e in zip(exact, estimated):
            keep = np.argpartition(-e, w - 1)[:w]
            found = np.sort(x[keep])[::-1][:K]
            truth = np.partition(x, n - K)[n - K]
            actual.append(float(np.count_nonzero(found >= truth - 1e-6)) / K)
            predicted += [estimated_recall(expected_missed(e, keep, float(found[-1]), g), K) for g in grid]
        ok &= predicted / len(exact) <= np.mean(actual) + 0.005
    chosen = float(grid[np.argmax(ok)] if ok.any() else grid[-1])
    return round(max(chosen, floor * rough), 6)


def _top_error(exact: np.ndarray, estimated: np.ndarray) -> float:
    """Root mean square of ``estimated - exact`` over each row's best exact scores (the points
    near a k-th score); -inf entries skipped."""
    n = exact.shape[1]
    top = min(n, max(TOP_ERROR_POINTS, n // 200))
    best = np.argpartition(-exact, top - 1, axis=1)[:, :top]
    diff = np.take_along_axis(estimated, best, axis=1) - np.take_along_axis(exact, best, axis=1)
    diff = diff[np.isfinite(diff)]
    return float(np.sqrt(np.mean(np.square(diff, dtype=np.float64)))) if diff.size else 0.0


def _kind_factors(codes, stored, distance, rows, truth, ef, sigma, rng) -> tuple[dict[str, float], dict[str, float]]:
    """Candidates each query kind needs for the target recall, relative to a nearest search, and
    the error of each kind's estimated scores near its best (see :func:`_top_error`)."""
    n = len(stored)
    picks = min(KIND_SAMPLES, len(rows))
    longest = max(K, n // 4)
    factors, errors = {}, {}
    for kind in ("best_score", "best_score_negatives", "sum_scores", "discover", "context"):
        made = [_sample_request(kind, stored, distance, rows[i], truth[i], rng) for i in range(picks)]
        vectors = np.vstack([query.vectors for _, query in made])
        sims, ests = similarity(vectors, stored, distance), codes.estimate(vectors)  # one pass each
        per_request, exacts, estimated, start = [], [], [], 0
        for used, query in made:
            stop = start + len(query.vectors)
            exact = query.combine(sims[start:stop])
            exact[used] = -np.inf
            exacts.append(exact)
            estimated.append(query.combine(ests[start:stop]))
            allowed = np.ones(n, bool)
            allowed[used] = False
            kth = np.partition(exact, n - K)[n - K]
            per_request.append(_ranks_of_good(query, ests[start:stop], sigma, exact, kth, allowed, longest))
            start = stop
        factors[kind] = round(max(1.0, _needed(per_request, n) / ef), 2)
        width = int(np.ceil(ef * factors[kind]))
        floor = ERROR_FLOOR if kind == "sum_scores" else 0.0  # best/discover/context: not sums
        errors[kind] = calibrated_error(np.vstack(exacts), np.vstack(estimated), width, floor)
    return factors, errors


def _ranks_of_good(query, estimates, sigma, exact, kth, allowed, longest) -> np.ndarray:
    """Positions, in the candidate order :func:`select` produces, of the first K points scoring
    at least the exact K-th score (padded with ``n`` when fewer are among ``longest``)."""
    n = len(exact)
    order = select(query, estimates, sigma, longest, allowed)
    ranks = np.flatnonzero(exact[order] >= kth)[:K]
    return np.concatenate([ranks, np.full(K - len(ranks), n)])


def _needed(good_ranks: list[np.ndarray], n: int) -> int:
    """Smallest candidate count whose mean recall over the requests reaches the target."""
    lo, hi = K, n
    while lo < hi:
        mid = (lo + hi) // 2
        recall = np.mean([min(K, int(np.searchsorted(r, mid))) / K for r in good_ranks])
        if recall >= TARGET_RECALL:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _sample_request(kind, stored, distance, row, near, rng):
    """A request like a user's: positives are a point and one of its neighbours, negatives and
    context negatives random points, the target a point."""
    n = len(stored)
    a, b = int(row), int(near[rng.integers(len(near))])
    c, d = (int(x) for x in rng.integers(0, n, 2))
    pick = lambda *r: preprocess(stored[list(r)], distance)  # noqa: E731
    if kind == "best_score":
        return [a, b, c], ScoringQuery("best_score", pick(a, b, c), n_positive=2, n_negative=1)
    if kind == "best_score_negatives":
        return [c, d], ScoringQuery("best_score", pick(c, d), n_positive=0, n_negative=2)
    if kind == "sum_scores":
        return [a, b, c], ScoringQuery("sum_scores", pick(a, b, c), n_positive=2, n_negative=1)
    e = int(rng.integers(0, n))
    if kind == "discover":
        return [e, a, c, b, d], ScoringQuery("discover", pick(e, a, c, b, d), n_pairs=2)
    return [a, c, b, d], ScoringQuery("context", pick(a, c, b, d), n_pairs=2)


def _tune_annoy(forest: "Forest", queries, rows, truth, stored, distance):
    n_trees, n = forest.n_trees, len(stored)
    ef, started = MIN_EF, time.perf_counter()
    while True:
        hits, start = 0, time.perf_counter()
        for q, row, true in zip(queries, rows, truth):
            found = forest.nns(q, 2 * K + 16, ef * n_trees)
            found = found[found != row]
            best = _rescore_top(q, found, stored, distance)
            hits += len(np.intersect1d(best, true))
        ms = (time.perf_counter() - start) * 1e3 / len(queries)
        recall = hits / truth.size
        if recall >= TARGET_RECALL or ef >= n or time.perf_counter() - started > _ANNOY_BUDGET_S:
            return ef, recall, ms
        ef = _round_up(ef * 1.5)


def _rescore_top(q, found, stored, distance):
    if len(found) == 0:
        return found
    s = exact_similarity(q[None, :], stored[found], distance)[0]
    return found[np.argsort(-s, kind="stable")[:K]]


def _exact(q, stored, distance):
    s = similarity(q[None, :], stored, distance)[0]
    return np.argpartition(-s, K)[:K]


def _codes_search(q, codes, stored, distance, ef):
    est = codes.estimate(q[None, :])[0]
    return _rescore_top(q, top_k(est, ef), stored, distance)


def _median_ms(fn, queries, repeat: int = 5) -> float:
    fn(queries[0])  # warm up
    times = []
    for q in queries[:repeat]:
        start = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def _round_up(x: float) -> int:
    """Up to a number in {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8} x 10^k."""
    x = max(1.0, float(x))
    scale = 10 ** int(np.floor(np.log10(x)))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * scale >= x:
            return int(round(step * scale))
    return int(10 * scale)
