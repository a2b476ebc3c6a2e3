"""Exact queries: explorekit against qdrant-edge (exact), qdrant-client local mode and raw numpy.

Reports median latency per query kind and the ratios the issues ask for:
explorekit / edge-exact (goal <= 1.5), local-mode / explorekit (goal >= 20), and the per-request
speed-up of recommend_batch(100) over 100 single calls (goal >= 3), plus the three-condition
payload filter time over the whole payload (goal < 20 ms at 100k).

    python benchmarks/bench_core.py            # 100,000 x 384
    python benchmarks/bench_core.py --small    # 5,000 x 64, for CI
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data, edge_shard, local_client, report, timeit  # noqa: E402

import explorekit as ek  # noqa: E402
from explorekit.query.filters import filter_mask  # noqa: E402
from explorekit.scoring.distances import preprocess  # noqa: E402


def payload_for(n: int, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    sections = np.array(["python", "libs", "net", "doc", "games", "math", "web", "admin"])
    sec = sections[rng.integers(0, len(sections), n)]
    size = rng.integers(1, 10_000, n)
    tags = rng.integers(0, 50, size=(n, 3))
    return [{"section": str(sec[i]), "size": int(size[i]), "tags": tags[i].tolist()} for i in range(n)]


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__).parse_known_args(argv)  # --help
    small = "--small" in (argv if argv is not None else sys.argv[1:])
    n, dim = (5_000, 64) if small else (100_000, 384)
    vectors, queries, what = data(n, dim)
    payload = payload_for(n)
    col = ek.Collection.from_arrays(vectors, payload=payload)
    stored = col.vectors()
    q = queries[:8]
    rows = []

    import qdrant_edge as qe
    from qdrant_client import models

    shard = edge_shard(vectors)
    exact = qe.SearchParams(exact=True)
    local = local_client(vectors, payload=payload) if (small or n <= 100_000) else None
    kinds = {
        "search": (
            dict(query=q[0]),
            lambda: qe.Query.Nearest(q[0].tolist()),
            lambda: models.NearestQuery(nearest=q[0].tolist()),
        ),
        "best_score": (
            dict(positive=[q[0], q[1]], negative=[q[2]], strategy="best_score"),
            lambda: qe.Query.RecommendBestScore(qe.RecommendQuery([q[0].tolist(), q[1].tolist()], [q[2].tolist()])),
            lambda: models.RecommendQuery(
                recommend=models.RecommendInput(
                    positive=[q[0].tolist(), q[1].tolist()], negative=[q[2].tolist()], strategy="best_score"
                )
            ),
        ),
        "sum_scores": (
            dict(positive=[q[0], q[1]], negative=[q[2]], strategy="sum_scores"),
            lambda: qe.Query.RecommendSumScores(qe.RecommendQuery([q[0].tolist(), q[1].tolist()], [q[2].tolist()])),
            lambda: models.RecommendQuery(
                recommend=models.RecommendInput(
                    positive=[q[0].tolist(), q[1].tolist()], negative=[q[2].tolist()], strategy="sum_scores"
                )
            ),
        ),
        "discover": (
            dict(target=q[3], context=[(q[4], q[5]), (q[6], q[7])]),
            lambda: qe.Query.Discover(
                qe.DiscoverQuery(
                    q[3].tolist(),
                    [qe.ContextPair(q[4].tolist(), q[5].tolist()), qe.ContextPair(q[6].tolist(), q[7].tolist())],
                )
            ),
            lambda: models.DiscoverQuery(
                discover=models.DiscoverInput(
                    target=q[3].tolist(),
                    context=[
                        models.ContextPair(positive=q[4].tolist(), negative=q[5].tolist()),
                        models.ContextPair(positive=q[6].tolist(), negative=q[7].tolist()),
                    ],
                )
            ),
        ),
        "context": (
            dict(target=None, context=[(q[4], q[5]), (q[6], q[7])]),
            lambda: qe.Query.Context(
                qe.ContextQuery(
                    [qe.ContextPair(q[4].tolist(), q[5].tolist()), qe.ContextPair(q[6].tolist(), q[7].tolist())]
                )
            ),
            lambda: models.ContextQuery(
                context=[
                    models.ContextPair(positive=q[4].tolist(), negative=q[5].tolist()),
                    models.ContextPair(positive=q[6].tolist(), negative=q[7].tolist()),
                ]
            ),
        ),
    }
    for kind, (kwargs, edge_query, local_query) in kinds.items():
        method = col.search if kind == "search" else col.recommend if "score" in kind else col.discover
        t_ek = timeit(lambda: method(**kwargs, limit=10, params={"exact": True}, with_payload=False))
        t_edge = timeit(
            lambda: shard.query(
                qe.QueryRequest(limit=10, query=edge_query(), params=exact, with_payload=False, with_vector=False)
            )
        )
        t_local = (
            timeit(lambda: local.query_points("bench", query=local_query(), limit=10, with_payload=False), repeat=3)
            if local
            else float("nan")
        )
        row = {
            "kind": kind,
            "explorekit_ms": t_ek * 1e3,
            "edge_exact_ms": t_edge * 1e3,
            "local_mode_ms": t_local * 1e3,
            "ek/edge": t_ek / t_edge,
            "local/ek": t_local / t_ek,
        }
        if kind == "search":
            query = preprocess(q[:1], "cosine")[0]
            row["raw_numpy_ms"] = timeit(lambda: np.argpartition(-(stored @ query), 10)[:10]) * 1e3
        rows.append(row)

    requests = [
        dict(
            positive=[queries[i % len(queries)]],
            negative=[queries[(i + 1) % len(queries)]],
            strategy="best_score",
            limit=10,
            params={"exact": True},
            with_payload=False,
        )
        for i in range(100)
    ]
    t_batch = timeit(lambda: col.recommend_batch(requests), repeat=3)
    t_single = timeit(lambda: [col.recommend(**r) for r in requests], repeat=3)
    rows.append(
        {
            "kind": "recommend_batch(100)",
            "explorekit_ms": t_batch * 1e3 / 100,
            "edge_exact_ms": float("nan"),
            "local_mode_ms": float("nan"),
            "ek/edge": float("nan"),
            "local/ek": float("nan"),
            "batch_speedup_per_request": t_single / t_batch,
        }
    )

    flt = {
        "must": [
            {"key": "section", "match": {"value": "python"}},
            {"key": "size", "range": {"gte": 100, "lt": 5000}},
            {"key": "tags", "match": {"any": [1, 2, 3]}},
        ]
    }
    t_filter = timeit(lambda: filter_mask(flt, col._payload, col._ids))
    rows.append(
        {
            "kind": "filter(3 conditions)",
            "explorekit_ms": t_filter * 1e3,
            "edge_exact_ms": float("nan"),
            "local_mode_ms": float("nan"),
            "ek/edge": float("nan"),
            "local/ek": float("nan"),
        }
    )
    report("core" + ("_small" if small else ""), rows, {"data": what, "n": n, "dim": dim})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
