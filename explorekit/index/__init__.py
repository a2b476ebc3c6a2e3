"""The approximate path: an annoy forest and sign codes propose, Qdrant's formulas score.

This package holds the structures only: :func:`build_index` builds the :class:`AnnIndex` of a
vector space (``col.build_index``, or in the background after the first request that needs
it: see :func:`background_builds`), :func:`load_index`
reads a saved one, and :func:`select` picks candidates from sign-code estimates. The planner
(:mod:`explorekit.engine.planner`) decides when to use them, and
:mod:`explorekit.engine.approximate` turns their candidates into exact answers.

Search effort: ``params={"hnsw_ef": ef}``. For annoy, ``search_k = ef x n_trees`` per probe
(annoy's own default is ``search_k = n x n_trees`` for ``n`` results, so ``ef`` plays the part
of HNSW's candidate list size); for the sign codes, ``ef`` candidates are rescored exactly.
Both are scaled by ``max(1, (limit + offset) / 10)``. Left unset, ``ef`` is the value tuned at
build time to reach recall@10 >= 0.98 on sample queries. ``params={"exact": True}`` bypasses
the index.

Examples
--------
>>> import numpy as np, explorekit as ek
>>> from explorekit import index
>>> vectors = np.random.default_rng(0).normal(size=(3000, 16)).astype(np.float32)
>>> col = ek.Collection.from_arrays(vectors).build_index(n_trees=10)
>>> old, index.INDEXING_THRESHOLD_KB = index.INDEXING_THRESHOLD_KB, 0   # index even tiny data
>>> approx = col.search(vectors[0], limit=5)
>>> exact = col.search(vectors[0], limit=5, params={"exact": True})
>>> index.INDEXING_THRESHOLD_KB = old
>>> bool((approx["score"].to_numpy() >= exact["score"].to_numpy()[-1] - 1e-6).all())
True
"""

from __future__ import annotations

import os

from explorekit.index._ann import AnnIndex, build_index, default_n_trees, load_index
from explorekit.index._ann import check_meta as check_index_meta
from explorekit.index._codes import combined_estimates, select
from explorekit.index._forest import ANNOY_FIX, METRICS, annoy_available, annoy_missing_error
from explorekit.index._recall import GOAL, estimated_recall, expected_missed

INDEXING_THRESHOLD_KB = 10_000  # Qdrant's default indexing_threshold: smaller data is scanned
FULL_SCAN_THRESHOLD_KB = 10_000  # Qdrant's default full_scan_threshold: filters keeping less, too
BACKGROUND_ENVIRONMENT = "EXPLOREKIT_BACKGROUND_INDEX"  # 0/off: never build an index unasked


def background_builds() -> bool:
    """Whether a query that finds no index starts building one in a background thread.

    On unless ``EXPLOREKIT_BACKGROUND_INDEX`` is ``0``/``off``/``false``/``no`` (read at each
    query). Either way the query itself answers exactly at once; with it off, only
    ``col.build_index()`` builds an index.

    >>> background_builds() in (True, False)
    True
    """
    return os.environ.get(BACKGROUND_ENVIRONMENT, "").strip().lower() not in ("0", "off", "false", "no")


__all__ = [
    "ANNOY_FIX",
    "GOAL",
    "combined_estimates",
    "estimated_recall",
    "expected_missed",
    "BACKGROUND_ENVIRONMENT",
    "FULL_SCAN_THRESHOLD_KB",
    "INDEXING_THRESHOLD_KB",
    "METRICS",
    "AnnIndex",
    "annoy_available",
    "annoy_missing_error",
    "background_builds",
    "build_index",
    "check_index_meta",
    "default_n_trees",
    "load_index",
    "select",
]
