"""Shared helpers of the benchmarks: data, timing, peers, and the report table."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def data(n: int, dim: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """(stored vectors, held-out queries, description).

    For 384-d runs: the large real set (MiniLM embeddings of 100,000 package descriptions,
    Debian's and PyPI's, built once by ``python benchmarks/large_set.py --build``; never built
    from here). A larger ``n`` is filled with perturbed copies (Gaussian noise of 0.02 per
    component, re-normalised), and the description says how many. Otherwise, or when the set is
    not built, an anisotropic random stand-in, also said in the description.
    """
    note = ""
    if dim == 384:
        sys.path.insert(0, str(HERE))
        try:
            from large_set import load_large

            large = load_large(build_if_missing=False)
            vectors, queries = np.asarray(large.vectors, np.float32), np.asarray(large.queries, np.float32)
            real = min(n, len(vectors))
            out = vectors[:real]
            if n > real:
                rng = np.random.default_rng(seed)
                extra = vectors[rng.integers(0, len(vectors), n - real)]
                extra = extra + rng.normal(scale=0.02, size=extra.shape).astype(np.float32)
                extra /= np.linalg.norm(extra, axis=1, keepdims=True)
                out = np.vstack([out, extra.astype(np.float32)])
                return (
                    out,
                    queries,
                    (
                        f"{n} x {dim}: {real} real MiniLM embeddings of package descriptions "
                        f"+ {n - real} perturbed copies; 200 held-out real queries"
                    ),
                )
            return (
                out,
                queries,
                f"{n} x {dim} real MiniLM embeddings of package descriptions (Debian + PyPI); 200 held-out queries",
            )
        except (FileNotFoundError, ImportError) as err:
            note = f" (large set not built: {type(err).__name__})"
    rng = np.random.default_rng(seed)
    scales = np.linspace(2.0, 0.2, dim).astype(np.float32)
    vectors = rng.normal(size=(n, dim)).astype(np.float32) * scales + 0.3
    queries = rng.normal(size=(200, dim)).astype(np.float32) * scales + 0.3
    return vectors, queries, f"{n} x {dim} anisotropic random stand-in{note}"


def timeit(fn: Callable[[], Any], *, repeat: int = 7, warmup: int = 1) -> float:
    """Median seconds of ``repeat`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def edge_shard(vectors: np.ndarray, distance: str = "cosine", payload=None, quantization=None, hnsw=False):
    """A qdrant-edge shard holding the vectors (ids 0..n-1)."""
    import qdrant_edge as qe

    dist = {
        "cosine": qe.Distance.Cosine,
        "dot": qe.Distance.Dot,
        "euclid": qe.Distance.Euclid,
        "manhattan": qe.Distance.Manhattan,
    }[distance]
    path = tempfile.mkdtemp(prefix="bench-edge-")
    params = qe.EdgeVectorParams(size=vectors.shape[1], distance=dist, quantization_config=quantization)
    shard = qe.EdgeShard.create(path, qe.EdgeConfig(vectors=params))
    step = 2000
    for start in range(0, len(vectors), step):
        chunk = vectors[start : start + step]
        points = [
            qe.Point(start + i, row.tolist(), payload[start + i] if payload else {}) for i, row in enumerate(chunk)
        ]
        shard.update(qe.UpdateOperation.upsert_points(points))
    if hnsw or quantization is not None:
        shard.optimize()
    return shard


def local_client(vectors: np.ndarray, distance: str = "cosine", payload=None):
    """qdrant-client local mode holding the vectors (ids 0..n-1)."""
    from qdrant_client import QdrantClient, models

    client = QdrantClient(":memory:")
    dist = {
        "cosine": models.Distance.COSINE,
        "dot": models.Distance.DOT,
        "euclid": models.Distance.EUCLID,
        "manhattan": models.Distance.MANHATTAN,
    }[distance]
    client.create_collection("bench", vectors_config=models.VectorParams(size=vectors.shape[1], distance=dist))
    client.upload_collection("bench", vectors=vectors, payload=payload, ids=list(range(len(vectors))), batch_size=2048)
    return client


def report(name: str, rows: list[dict], meta: dict) -> None:
    """Print a table and write JSON under benchmarks/results/."""
    RESULTS.mkdir(exist_ok=True)
    print(f"\n== {name}: {meta.get('data', '')}")
    if rows:
        keys = list(dict.fromkeys(k for r in rows for k in r))
        widths = {k: max(len(k), *(len(_fmt(r.get(k))) for r in rows)) for k in keys}
        print("  ".join(k.ljust(widths[k]) for k in keys))
        for r in rows:
            print("  ".join(_fmt(r.get(k)).ljust(widths[k]) for k in keys))
    (RESULTS / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=str))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def threads() -> str:
    return os.environ.get("OMP_NUM_THREADS", "default")
