"""Shared helpers of the benchmarks: data, timing, peers, and the report table."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def data(n: int, dim: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """(stored vectors, held-out queries, description): the large real set when it is built and
    big enough, else an anisotropic random stand-in (said so in the description)."""
    sys.path.insert(0, str(HERE))
    try:
        from large_set import load_large  # built by `python benchmarks/large_set.py --build`
        vectors, queries = _large(load_large, n)
        if dim == vectors.shape[1] and len(vectors) >= n:
            return vectors[:n], queries, f"{n} x {dim} real MiniLM embeddings of Debian package descriptions"
    except Exception as err:  # noqa: BLE001 - the stand-in is the documented fallback
        note = f" (large set unavailable: {type(err).__name__})"
    else:
        note = ""
    rng = np.random.default_rng(seed)
    scales = np.linspace(2.0, 0.2, dim).astype(np.float32)
    vectors = (rng.normal(size=(n, dim)).astype(np.float32) * scales + 0.3)
    queries = (rng.normal(size=(200, dim)).astype(np.float32) * scales + 0.3)
    return vectors, queries, f"{n} x {dim} anisotropic random stand-in{note}"


def _large(load_large, n):
    loaded = load_large(n)
    if isinstance(loaded, tuple):
        frame_or_vectors, queries = loaded[0], loaded[1]
    else:
        frame_or_vectors, queries = loaded, None
    vectors = frame_or_vectors
    if hasattr(frame_or_vectors, "columns"):
        column = "embedding" if "embedding" in frame_or_vectors.columns else frame_or_vectors.columns[0]
        vectors = np.stack(frame_or_vectors[column].to_numpy())
    vectors = np.asarray(vectors, np.float32)
    if queries is None:
        queries = vectors[-200:]
        vectors = vectors[:-200]
    if hasattr(queries, "columns"):
        column = "embedding" if "embedding" in queries.columns else queries.columns[0]
        queries = np.stack(queries[column].to_numpy())
    return vectors, np.asarray(queries, np.float32)


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
    dist = {"cosine": qe.Distance.Cosine, "dot": qe.Distance.Dot, "euclid": qe.Distance.Euclid,
            "manhattan": qe.Distance.Manhattan}[distance]
    path = tempfile.mkdtemp(prefix="bench-edge-")
    params = qe.EdgeVectorParams(size=vectors.shape[1], distance=dist, quantization_config=quantization)
    shard = qe.EdgeShard.create(path, qe.EdgeConfig(vectors=params))
    step = 2000
    for start in range(0, len(vectors), step):
        chunk = vectors[start:start + step]
        points = [qe.Point(start + i, row.tolist(), payload[start + i] if payload else {})
                  for i, row in enumerate(chunk)]
        shard.update(qe.UpdateOperation.upsert_points(points))
    if hnsw or quantization is not None:
        shard.optimize()
    return shard


def local_client(vectors: np.ndarray, distance: str = "cosine", payload=None):
    """qdrant-client local mode holding the vectors (ids 0..n-1)."""
    from qdrant_client import QdrantClient, models
    client = QdrantClient(":memory:")
    dist = {"cosine": models.Distance.COSINE, "dot": models.Distance.DOT, "euclid": models.Distance.EUCLID,
            "manhattan": models.Distance.MANHATTAN}[distance]
    client.create_collection("bench", vectors_config=models.VectorParams(size=vectors.shape[1], distance=dist))
    client.upload_collection("bench", vectors=vectors, payload=payload, ids=list(range(len(vectors))),
                             batch_size=2048)
    return client


def report(name: str, rows: list[dict], meta: dict) -> None:
    """Print a table and write JSON under benchmarks/results/."""
    RESULTS.mkdir(exist_ok=True)
    print(f"\n== {name}: {meta.get('data', '')}")
    if rows:
        keys = list(rows[0])
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
