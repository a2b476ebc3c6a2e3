"""How sure an approximate answer is: the expected share of the true top ``k`` it holds.

The sign codes estimate every point's score; the best ``width`` estimates are rescored exactly.
A point left out could still belong in the answer if its exact score reaches the ``k``-th exact
score found. Each estimate is taken as the exact score plus an error of standard deviation
``sigma`` (measured per query kind when the index is built: :mod:`._tune`), so a left-out point
with estimate ``e`` beats the ``k``-th score ``s`` with probability ``Phi((e - s) / sigma)``.
Their sum is the expected number of answers missed; ``1 - missed / k`` the estimated recall.

The planner widens the candidates until that estimate reaches :data:`GOAL`, or answers with the
exact scan when widening would cost as much (:mod:`explorekit.engine.approximate`).

Examples
--------
>>> import numpy as np
>>> estimates = np.array([0.9, 0.8, 0.5, 0.1], np.float32)
>>> missed = expected_missed(estimates, np.array([0, 1]), kth=0.8, sigma=0.1)
>>> round(missed, 4)                       # the 0.5 is 3 sigmas below 0.8, the 0.1 is 7
0.0013
>>> round(estimated_recall(missed, need=2), 4)
0.9993
"""

from __future__ import annotations

import numpy as np

from explorekit._support.lazy import lazy_module

special = lazy_module("scipy.special")  # ndtr: loaded by the first approximate search, not by import

GOAL = 0.97  # estimated recall a default approximate answer must reach (the promise is 0.95)
TAIL_SIGMAS = 6.0  # points estimated further below the k-th score than this (in sigmas) are not counted
MIN_SIGMA = 1e-9  # an error this small is no error (and would overflow the division)


def expected_missed(estimates: np.ndarray, chosen: np.ndarray, kth: float, sigma: float) -> float:
    """Expected number of points not in ``chosen`` whose exact score is at least ``kth``.

    ``estimates`` are the estimated scores of every position (``-inf`` where a point may not be
    chosen: filtered out, or an example itself), ``chosen`` the positions rescored exactly.
    With ``sigma <= 0`` the estimates are taken as exact.

    >>> expected_missed(np.array([1.0, 0.5]), np.array([0]), kth=0.5, sigma=0.0)
    1.0
    """
    sigma = sigma if sigma > MIN_SIGMA else 0.0
    floor = kth - TAIL_SIGMAS * sigma
    near = np.flatnonzero(estimates >= floor)
    near = near[~np.isin(near, chosen, assume_unique=False)]
    if len(near) == 0:
        return 0.0
    if sigma <= 0:
        return float(np.count_nonzero(estimates[near] >= kth))
    return float(special.ndtr((estimates[near].astype(np.float64) - kth) / sigma).sum())


def estimated_recall(missed: float, need: int) -> float:
    """``1 - missed / need`` within [0, 1]; 1 when nothing is needed.

    >>> estimated_recall(2.5, 10)
    0.75
    """
    if need <= 0:
        return 1.0
    return float(min(1.0, max(0.0, 1.0 - missed / need)))
