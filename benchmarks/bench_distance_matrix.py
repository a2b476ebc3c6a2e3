"""Qdrant's Distance Matrix: ``col.distance_matrix(sample, limit=10)`` against qdrant-client local
mode and a plain numpy brute force over the same sample.

Reports seconds per call and, for local mode (which runs one filtered Python search per sampled
point over the whole collection, so it is only timed on small samples), the time at the same
sample for the ratio. The numpy brute force is what one would write by hand: one product per
block of sampled rows, ``argpartition`` per row, then a sort of the ``limit`` best.

    python benchmarks/bench_distance_matrix.py           # 10,000 and 100,000 x 384
    python benchmarks/bench_distance_matrix.py --whole   # also the whole 100,000 (approximate: the cells)
    python benchmarks/bench_distance_matrix.py --whole-only   # only those whole-collection rows
    python benchmarks/bench_distance_matrix.py --small   # 2,000 x 32, for CI
    python benchmarks/bench_distance_matrix.py --skip-local   # without local mode (7 minutes at 100,000)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data, local_client, report, threads  # noqa: E402

import explorekit as ek  # noqa: E402

LIMIT = 10
_BLOCK_FLOATS = 1 << 24


def numpy_brute_force(vectors: np.ndarray, sample: int, limit: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cosine top-``limit`` among ``sample`` random rows: the hand-written numpy version."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(vectors), size=sample, replace=False))
    x = vectors[rows] / np.linalg.norm(vectors[rows], axis=1, keepdims=True)
    neighbours = np.empty((sample, limit), np.int64)
    scores = np.empty((sample, limit), np.float32)
    block = max(1, _BLOCK_FLOATS // sample)
    for begin in range(0, sample, block):
        sims = x[begin : begin + block] @ x.T
        sims[np.arange(len(sims)), np.arange(begin, begin + len(sims))] = -np.inf
        part = np.argpartition(-sims, limit, axis=1)[:, :limit]
        best = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-best, axis=1)
        neighbours[begin : begin + block] = np.take_along_axis(part, order, axis=1)
        scores[begin : begin + block] = np.take_along_axis(best, order, axis=1)
    return neighbours, scores


def clustered_sets(n: int, dim: int = 384, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Whole-collection data with structure, as real embeddings have (unit length, cosine).

    The anisotropic random stand-in of :func:`_common.data` has none: no partition helps
    there, and the cells fall back to the exact matrix (minutes at 100,000).
    """
    rng = np.random.default_rng(seed)
    docs = ek.datasets.load("stdlib_docs", as_collection=True).store.space(None).stored
    copies = docs[rng.integers(0, len(docs), n)] + rng.normal(scale=0.02, size=(n, dim)).astype(np.float32)
    centres = rng.normal(size=(1_000, dim)).astype(np.float32)
    blobs = centres[rng.integers(0, len(centres), n)] + rng.normal(scale=0.5, size=(n, dim)).astype(np.float32)
    return [
        (f"{n:,} x {dim}: the bundled stdlib_docs MiniLM embeddings + Gaussian noise 0.02 per component", copies),
        (f"{n:,} x {dim}: 1,000 Gaussian clusters (centres N(0,1), spread 0.5)", blobs),
    ]


def recall_on_rows(vectors: np.ndarray, frame, limit: int, rows: int = 300, seed: int = 1) -> float:
    """Recall@limit of a whole-collection answer (ids 0..n-1), against numpy on ``rows`` random rows."""
    x = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    chosen = np.random.default_rng(seed).choice(len(x), size=rows, replace=False)
    sims = x[chosen] @ x.T
    sims[np.arange(rows), chosen] = -np.inf
    truth = np.argpartition(-sims, limit, axis=1)[:, :limit]
    found = frame[frame["a"].isin(chosen)].groupby("a")["b"].apply(set)
    return float(np.mean([len(found.get(int(a), set()) & set(t.tolist())) / limit for a, t in zip(chosen, truth)]))


def whole_rows(n: int = 100_000) -> list[dict]:
    """``distance_matrix(sample=n)`` on whole clustered collections: the approximate path."""
    rows = []
    for what, vectors in clustered_sets(n):
        col = ek.Collection.from_arrays(vectors, distance="cosine")
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        frame = col.distance_matrix(sample=n, limit=LIMIT, seed=0)
        seconds = time.perf_counter() - start
        row = {
            "data": what,
            "sample": n,
            "explorekit_s": seconds,
            "path": frame.attrs["path"],
            "nprobe": frame.attrs.get("nprobe"),
            "cells": frame.attrs.get("cells"),
            "estimated_recall": frame.attrs.get("estimated_recall"),
            "recall_300_rows": recall_on_rows(vectors, frame, LIMIT),
            "load_average": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}",
        }
        print(f"  {what}: {seconds:.1f} s, {row}", flush=True)
        rows.append(row)
    return rows


def once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--whole", action="store_true")
    parser.add_argument("--whole-only", action="store_true")
    parser.add_argument("--skip-local", action="store_true")
    args, _ = parser.parse_known_args(argv)
    if args.whole_only:
        report("distance_matrix_whole", whole_rows(), {"limit": LIMIT, "distance": "cosine", "threads": threads()})
        return 0
    if args.small:
        plan = [(2_000, 32, [200, 2_000], 50)]
    else:
        plan = [(10_000, 384, [1_000, 10_000], 100), (100_000, 384, [1_000, 10_000], 100)]
    rows = []
    described = []
    for n, dim, samples, local_sample in plan:
        vectors, _, what = data(n, dim)
        described.append(what)
        col = ek.Collection.from_arrays(vectors, distance="cosine")
        client = None if args.skip_local else local_client(vectors)
        local_s = (
            None
            if client is None
            else once(lambda: client.search_matrix_pairs("bench", sample=local_sample, limit=LIMIT))
        )
        ours_at_local = once(lambda: col.distance_matrix(sample=local_sample, limit=LIMIT, seed=0))
        rows.append(
            {
                "points": n,
                "dim": dim,
                "sample": local_sample,
                "explorekit_s": ours_at_local,
                "numpy_s": once(lambda: numpy_brute_force(vectors, local_sample, LIMIT)),
                "local_mode_s": local_s,
                "local/explorekit": None if local_s is None else local_s / ours_at_local,
            }
        )
        for sample in samples:
            start = time.perf_counter()
            path = col.distance_matrix(sample=sample, limit=LIMIT, seed=0).attrs["path"]
            ours = time.perf_counter() - start
            brute = once(lambda: numpy_brute_force(vectors, sample, LIMIT))
            rows.append(
                {
                    "points": n,
                    "dim": dim,
                    "sample": sample,
                    "explorekit_s": ours,
                    "path": path,
                    "numpy_s": brute,
                    "local_mode_s": None,
                    "local/explorekit": None,
                }
            )
            print(f"  {n} x {dim}, sample {sample}: explorekit {ours:.2f} s, numpy {brute:.2f} s", flush=True)
        if client is not None:
            client.close()
    if args.whole:
        report("distance_matrix_whole", whole_rows(), {"limit": LIMIT, "distance": "cosine", "threads": threads()})
    report(
        "distance_matrix_small" if args.small else "distance_matrix",
        rows,
        {"data": "; ".join(described), "limit": LIMIT, "distance": "cosine", "threads": threads()},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
