"""Top-k selection with one documented tie rule: equal scores keep row (insertion) order.

Qdrant itself leaves the order of equal scores to chance (a heap inside a shard), so any
fixed rule is correct; ours is the earliest-inserted point first.

Examples
--------
>>> import numpy as np
>>> top_k(np.array([0.5, 0.9, 0.5, 0.1], np.float32), 3).tolist()
[1, 0, 2]
"""

from __future__ import annotations

import numpy as np

_SORT_ALL = 256     # up to this many scores, sort them all (the same order, fewer numpy calls)


def top_k(scores: np.ndarray, k: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Positions of the ``k`` largest scores, best first, ties by row (``rows`` or position).

    ``-inf`` marks positions that must never be returned.
    """
    n = len(scores)
    if n <= _SORT_ALL:                 # a few candidates: one sort beats partition + fix-ups
        chosen = np.flatnonzero(scores > -np.inf)
        order_rows = chosen if rows is None else rows[chosen]
        return chosen[np.lexsort((order_rows, -scores[chosen]))][:max(k, 0)]
    valid = int(np.count_nonzero(scores > -np.inf))
    k = min(k, valid)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k < n:
        part = np.argpartition(-scores, k - 1)[:k]
        kth = scores[part].min()
        above = np.flatnonzero(scores > kth)
        ties = np.flatnonzero(scores == kth)
        if rows is not None:
            ties = ties[np.argsort(rows[ties], kind="stable")]
        ties = ties[: k - len(above)]
        chosen = np.concatenate([above, ties])
    else:
        chosen = np.flatnonzero(scores > -np.inf)
    order_rows = chosen if rows is None else rows[chosen]
    return chosen[np.lexsort((order_rows, -scores[chosen].astype(np.float64)))]


def merge_top_k(rows_a: np.ndarray, scores_a: np.ndarray, rows_b: np.ndarray,
                scores_b: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge two candidate lists (row ids + scores) into the best ``k``."""
    rows = np.concatenate([rows_a, rows_b])
    scores = np.concatenate([scores_a, scores_b])
    keep = top_k(scores, k, rows)
    return rows[keep], scores[keep]
