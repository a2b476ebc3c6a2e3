"""Figures and projections: map build time at 100,000 points, UMAP cold and cached.

Measured:

* ``plots.map`` on 100,000 x 384 points coloured by a payload column (the PCA map cached, as
  after the first call), plus ``to_json`` / ``to_html`` and a discovery figure at that size;
  the PCA fit itself is timed separately.
* UMAP of the bundled text set (6,041 x 384) in a fresh process, from ``import explorekit``
  to coordinates: with numba's on-disk cache as a previous run left it (a new kernel) and
  with an empty cache (the very first run after installing); then from the in-memory cache
  and from a saved collection. ``cold_cpu_s`` is the process's CPU time for the cold part:
  on a busy machine it tells what the wall time would be on an idle one (UMAP runs on one
  thread when seeded).

Goals (issue 7): map of 100,000 points < 2 s; UMAP of the text set < 60 s cold on 2 cores,
< 1 s cached.

    python benchmarks/bench_plots.py            # the sizes above
    python benchmarks/bench_plots.py --small    # 5,000-point map, UMAP of digits (CI)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data, report, timeit  # noqa: E402

import explorekit as ek  # noqa: E402

_UMAP_RUN = """
import json, sys, time
start = time.perf_counter()
import explorekit as ek
from explorekit.analysis.projection import project
col = ek.datasets.load({name!r}, as_collection=True)
loaded = time.perf_counter()
project(col, using={using!r}, projection="umap")
cold = time.perf_counter()
cpu = time.process_time()
project(col, using={using!r}, projection="umap")
cached = time.perf_counter()
col.save({path!r})
again = ek.Collection.load({path!r})
t = time.perf_counter()
project(again, using={using!r}, projection="umap")
reloaded = time.perf_counter() - t
print(json.dumps({{"import_and_load_s": loaded - start, "umap_s": cold - loaded, "total_cold_s": cold - start,
                   "cold_cpu_s": cpu, "cached_s": cached - cold, "after_load_s": reloaded}}))
"""


def map_rows(n: int, dim: int) -> tuple[list[dict], str]:
    vectors, _, description = data(n, dim)
    rng = np.random.default_rng(0)
    payload = pd.DataFrame(
        {
            "section": rng.choice([f"section {i}" for i in range(12)], size=n),
            "size": rng.integers(1, 10_000, size=n),
            "text": [f"package {i}: a short description of what it does" for i in range(n)],
        }
    )
    col = ek.Collection.from_arrays(vectors, payload=payload, distance="cosine")
    rows = []
    start = time.perf_counter()
    ek.projection.project(col, projection="pca")
    rows.append({"what": f"PCA fit + project, {n:,} x {dim}", "seconds": time.perf_counter() - start, "note": ""})
    fig = None

    def build():
        nonlocal fig
        fig = ek.plots.map(col, color="section")

    rows.append(
        {
            "what": f"plots.map, {n:,} points, 12 colour groups",
            "seconds": timeit(build, repeat=5),
            "note": "PCA map cached",
        }
    )
    rows.append(
        {"what": "plots.map, numeric colour", "seconds": timeit(lambda: ek.plots.map(col, color="size"), repeat=3)}
    )
    rows.append(
        {"what": "fig.to_json()", "seconds": timeit(fig.to_json, repeat=3), "note": f"{len(fig.to_json()):,} bytes"}
    )
    page = fig.to_html(include_plotlyjs=True)
    rows.append(
        {
            "what": "fig.to_html(include_plotlyjs=True)",
            "seconds": timeit(lambda: fig.to_html(include_plotlyjs=True), repeat=3),
            "note": f"{len(page):,} bytes",
        }
    )
    result = col.discover(target=0, context=[(1, 2), (3, 4), (5, 6)], limit=10, params={"exact": True})
    rows.append(
        {"what": "plots.discovery (3 pairs)", "seconds": timeit(lambda: ek.plots.discovery(col, result), repeat=3)}
    )
    big = ek.Collection.from_arrays(np.vstack([vectors, vectors[: n // 5]]), distance="cosine")
    ek.projection.project(big, projection="pca")
    sampled = ek.plots.map(big, max_points=n)
    rows.append(
        {
            "what": f"plots.map, {len(big):,} points, max_points={n:,}",
            "seconds": timeit(lambda: ek.plots.map(big, max_points=n), repeat=3),
            "note": f"{len(sampled.data[0].x):,} drawn, with a note",
        }
    )
    for row in rows:
        row.setdefault("note", "")
    return rows, description


def umap_rows(name: str, using: str | None) -> list[dict]:
    rows = []
    for label, env in (("numba cache warm (new kernel)", {}), ("numba cache empty (first run)", None)):
        with tempfile.TemporaryDirectory() as tmp:
            import os

            environ = dict(os.environ)
            if env is None:
                environ["NUMBA_CACHE_DIR"] = str(Path(tmp) / "numba")
            script = _UMAP_RUN.format(name=name, using=using, path=str(Path(tmp) / "saved"))
            out = subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, env=environ, check=True
            )
            timing = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append({"what": f"UMAP of {name}, {label}", **{k: round(v, 3) for k, v in timing.items()}})
    return rows


def main() -> None:
    small = "--small" in sys.argv
    n, dim = (5_000, 64) if small else (100_000, 384)
    rows, description = map_rows(n, dim)
    report(f"plots_map{'_small' if small else ''}", rows, {"data": description, "goal": "map of 100,000 points < 2 s"})
    name, using = ("digits", "pca") if small else ("stdlib_docs", None)
    report(
        f"plots_umap{'_small' if small else ''}",
        umap_rows(name, using),
        {"data": f"bundled {name}", "goal": "cold < 60 s on 2 cores, cached < 1 s"},
    )


if __name__ == "__main__":
    main()
