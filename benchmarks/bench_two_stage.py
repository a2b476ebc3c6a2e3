"""Two-stage queries (issue 21): a cheap prefetch of 100 candidates rescored with the full
vectors, against one exact query over the full vectors. Time per query and recall@10.

Data: 100,000 x 384 cosine (``--small``: 5,000 x 384), the large real set when it is built,
else the anisotropic stand-in (the table says which). Three ways to the top 10 of each query:

* ``exact``: ``col.search(q, using="full", params={"exact": True})``, one scan of 384-d floats;
* ``64-d then full``: a prefetch of 100 by an exact scan of the first 64 dimensions (a
  matryoshka-style "small" named vector, ``params.exact`` so no index is built), then the full
  384-d vectors score exactly those 100;
* ``binary then full``: a prefetch of 100 by binary-quantized codes of the full vectors without
  rescoring (``params.quantization.rescore = false``), then the full vectors score those 100.

Recall@10 is against the exact answer; times are medians over the queries (ms per query,
``col.query`` one body at a time, as a notebook runs it).

    python benchmarks/bench_two_stage.py           # 100k x 384
    python benchmarks/bench_two_stage.py --small   # CI size
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data, report, threads  # noqa: E402

import explorekit as ek  # noqa: E402

SMALL_DIM = 64
PREFETCH = 100
TOP = 10


def bodies(q: np.ndarray) -> dict[str, dict]:
    full = q.tolist()
    return {
        "exact": {"query": full, "using": "full", "limit": TOP, "params": {"exact": True}},
        "64-d then full": {
            "prefetch": {
                "query": q[:SMALL_DIM].tolist(),
                "using": "small",
                "limit": PREFETCH,
                "params": {"exact": True},
            },
            "query": full,
            "using": "full",
            "limit": TOP,
        },
        "binary then full": {
            "prefetch": {
                "query": full,
                "using": "full",
                "limit": PREFETCH,
                "params": {"quantization": {"rescore": False}},
            },
            "query": full,
            "using": "full",
            "limit": TOP,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="5,000 points (CI)")
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    n = 5_000 if args.small else 100_000
    vectors, queries, described = data(n, 384)
    queries = queries[: args.queries]
    col = ek.Collection.from_arrays({"full": vectors, "small": vectors[:, :SMALL_DIM]}, distance="cosine")
    col.quantize({"binary": {"always_ram": True}}, using="full")
    times: dict[str, list[float]] = {}
    found: dict[str, list[list]] = {}
    for q in queries:
        for name, body in bodies(q).items():
            start = time.perf_counter()
            answer = col.query(body)
            times.setdefault(name, []).append(time.perf_counter() - start)
            found.setdefault(name, []).append(answer["id"].tolist())
    rows = []
    for name in times:
        recall = statistics.mean(
            len(set(got) & set(want)) / TOP for got, want in zip(found[name], found["exact"], strict=True)
        )
        rows.append(
            {
                "query": name,
                "ms/query": 1000 * statistics.median(times[name]),
                "speed-up": statistics.median(times["exact"]) / statistics.median(times[name]),
                f"recall@{TOP}": recall,
            }
        )
    report("two_stage", rows, {"data": described, "queries": len(queries), "threads": threads()})


if __name__ == "__main__":
    main()
