"""Exact queries against the single-scan floor, and the per-call cost of small collections.

Issue 17 ("exact at the floor"): every exact query kind reads the vectors once, so its time is
compared with numpy's ``X @ q`` for one vector in the same process (the floor: one memory-bound
scan). Goals: search <= 1.1x the floor; best_score, sum_scores, discover, context <= 1.5x.
Each repeat times the floor and the query back to back and the table gives the median of those
ratios (robust to a busy machine; the load average is in the table's meta).

The second table is the per-call cost on small collections (1,000-10,000 points), where the
scan is cheap and the call's own overhead shows, against qdrant-edge's exact query on the
same vectors (goal: explorekit no slower).

Data: the bundled ``stdlib_docs`` vectors (6,041 MiniLM embeddings) tiled to 100,000 rows with
Gaussian noise (0.02 a component, re-normalised); queries are other noisy copies.

    python benchmarks/bench_exact_floor.py            # 100,000 x 384 + the small table
    python benchmarks/bench_exact_floor.py --small    # 20,000 x 384 + the small table (CI)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import edge_shard, report  # noqa: E402

os.environ.setdefault("EXPLOREKIT_BACKGROUND_INDEX", "0")  # no index build competing with the timed calls

import explorekit as ek  # noqa: E402
from explorekit.datasets import path as dataset_path  # noqa: E402

GOALS = {"search": 1.1, "best_score": 1.5, "sum_scores": 1.5, "discover": 1.5, "context": 1.5}


def tiled(n: int, dim: int = 384, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy copies of the stdlib_docs vectors (384-d) or, for another ``dim``, random
    normal vectors; plus 8 queries made the same way."""
    rng = np.random.default_rng(seed)
    if dim != 384:
        return rng.normal(size=(n, dim)).astype(np.float32), rng.normal(size=(8, dim)).astype(np.float32)
    base = np.load(dataset_path("stdlib_docs") / "embedding.npy").astype(np.float32)
    out = []
    for size in (n, 8):
        rows = base[rng.integers(0, len(base), size)] + rng.normal(scale=0.02, size=(size, dim)).astype(np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        out.append(rows.astype(np.float32))
    return out[0], out[1]


def calls(col: ek.Collection, q: np.ndarray, **extra) -> dict[str, Callable[[], object]]:
    """One call per kind; ``extra`` goes to every call (e.g. ``params={"exact": True}``)."""
    return {
        "search": lambda: col.search(query=q[0], limit=10, with_payload=False, **extra),
        "best_score": lambda: col.recommend(
            positive=[q[0], q[1]], negative=[q[2]], strategy="best_score", limit=10, with_payload=False, **extra
        ),
        "sum_scores": lambda: col.recommend(
            positive=[q[0], q[1]], negative=[q[2]], strategy="sum_scores", limit=10, with_payload=False, **extra
        ),
        "discover": lambda: col.discover(
            target=q[3], context=[(q[4], q[5]), (q[6], q[7])], limit=10, with_payload=False, **extra
        ),
        "context": lambda: col.discover(
            target=None, context=[(q[4], q[5]), (q[6], q[7])], limit=10, with_payload=False, **extra
        ),
    }


def edge_calls(shard, q: np.ndarray) -> dict[str, Callable[[], object]]:
    import qdrant_edge as qe

    v = [row.tolist() for row in q]
    pairs = [qe.ContextPair(v[4], v[5]), qe.ContextPair(v[6], v[7])]
    queries = {
        "search": qe.Query.Nearest(v[0]),
        "best_score": qe.Query.RecommendBestScore(qe.RecommendQuery([v[0], v[1]], [v[2]])),
        "sum_scores": qe.Query.RecommendSumScores(qe.RecommendQuery([v[0], v[1]], [v[2]])),
        "discover": qe.Query.Discover(qe.DiscoverQuery(v[3], pairs)),
        "context": qe.Query.Context(qe.ContextQuery(pairs)),
    }
    params = qe.SearchParams(exact=True)

    def one(query):
        return lambda: shard.query(
            qe.QueryRequest(limit=10, query=query, params=params, with_payload=False, with_vector=False)
        )

    return {kind: one(query) for kind, query in queries.items()}


def paired(floor: Callable[[], object], fn: Callable[[], object], repeat: int) -> tuple[float, float, float]:
    """Median ms of ``floor`` and ``fn`` and the median of their per-repeat ratios."""
    for _ in range(2):
        floor(), fn()
    a, b, ratios = [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        floor()
        middle = time.perf_counter()
        fn()
        end = time.perf_counter()
        a.append(middle - start)
        b.append(end - middle)
        ratios.append((end - middle) / (middle - start))
    return statistics.median(a) * 1e3, statistics.median(b) * 1e3, statistics.median(ratios)


def floor_table(n: int, repeat: int) -> list[dict]:
    vectors, q = tiled(n)
    col = ek.Collection.from_arrays(vectors)
    stored = col.vectors()
    q0 = (q[0] / np.linalg.norm(q[0])).astype(np.float32)
    rows = []
    for kind, fn in calls(col, q, params={"exact": True}).items():
        floor_ms, ms, ratio = paired(lambda: stored @ q0, fn, repeat)
        rows.append(
            {
                "kind": kind,
                "explorekit_ms": ms,
                "floor_ms": floor_ms,
                "ratio": ratio,
                "goal": GOALS[kind],
                "met": "yes" if ratio <= GOALS[kind] else "no",
                "path": fn().attrs["path"],
            }
        )
    return rows


def small_table(repeat: int) -> list[dict]:
    rows = []
    for n, dim in ((1_000, 64), (5_000, 64), (10_000, 384)):
        vectors, q = tiled(n, dim)
        col = ek.Collection.from_arrays(vectors)
        shard = edge_shard(vectors)
        mine, theirs = calls(col, q), edge_calls(shard, q)
        for kind in ("search", "best_score", "discover"):
            edge_ms, ms, ratio = paired(theirs[kind], mine[kind], repeat)
            rows.append(
                {
                    "size": f"{n:,} x {dim}",
                    "kind": kind,
                    "explorekit_ms": ms,
                    "edge_ms": edge_ms,
                    "ek/edge": ratio,
                    "path": mine[kind]().attrs["path"],
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="20,000 x 384 and few repeats (CI)")
    args, _ = parser.parse_known_args(argv)
    n, repeat = (20_000, 5) if args.small else (100_000, 31)
    meta = {
        "data": f"{n:,} x 384: stdlib_docs tiled with noise (0.02), cosine, float32",
        "repeats": repeat,
        "load_average_before": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    rows = floor_table(n, repeat)
    meta["load_average_after"] = os.getloadavg()
    report("exact_floor" + ("_small" if args.small else ""), rows, meta)
    small = small_table(5 if args.small else 51)
    report(
        "exact_small_calls" + ("_small" if args.small else ""),
        small,
        {
            "data": "stdlib_docs tiled (384-d) or random normal (64-d), cosine; default calls",
            "load_average": os.getloadavg(),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
