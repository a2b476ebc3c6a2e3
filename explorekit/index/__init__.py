"""The approximate path: an annoy forest and sign codes propose, Qdrant's formulas score.

The planner (:mod:`explorekit.planner`) calls three functions:

* :func:`choose_path` (``plan -> "exact" | "annoy" | "binary"``) decides how a request is
  answered and records it in ``plan.path`` and ``plan.reason`` (rules in :mod:`._plan`);
* :func:`index_candidates` returns the best rows with *exact* scores (see :mod:`._candidates`);
* :func:`build_index` builds the :class:`AnnIndex` of a vector space (``col.build_index``, or
  on the first request that needs it).

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

INDEXING_THRESHOLD_KB = 10_000     # Qdrant's default indexing_threshold: smaller data is scanned
FULL_SCAN_THRESHOLD_KB = 10_000    # Qdrant's default full_scan_threshold: filters keeping less, too

from ._ann import AnnIndex, build_index, default_n_trees, load_index
from ._ann import check_meta as check_index_meta
from ._candidates import index_candidates
from ._forest import METRICS
from ._plan import choose_path, estimate_costs

__all__ = ["FULL_SCAN_THRESHOLD_KB", "INDEXING_THRESHOLD_KB", "METRICS", "AnnIndex", "build_index",
           "check_index_meta", "choose_path", "default_n_trees", "estimate_costs", "index_candidates", "load_index"]

