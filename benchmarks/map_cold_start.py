"""Cold start of the first UMAP map of a bundled set: load -> drawn figure, in a new process.

Usage (from the repository root; run it a few times, each run is a new process)::

    PYTHONPATH=. python benchmarks/map_cold_start.py                # stdlib_docs, umap
    PYTHONPATH=. python benchmarks/map_cold_start.py digits pca

Prints the import time and the seconds from ``ek.datasets.load(name, as_collection=True)`` to
the figure of ``ek.plots.map(col, projection=...)`` serialised to JSON (what a front end draws).
"""

from __future__ import annotations

import sys
import time

start = time.perf_counter()
import explorekit as ek  # noqa: E402

imported = time.perf_counter() - start


def main(name: str = "stdlib_docs", projection: str = "umap") -> None:
    t0 = time.perf_counter()
    col = ek.datasets.load(name, as_collection=True)
    loaded = time.perf_counter() - t0
    fig = ek.plots.map(col, projection=projection)
    fig.to_json()
    total = time.perf_counter() - t0
    print(
        f"{name} projection={projection}: import {imported:.2f} s, load {loaded:.2f} s, load -> drawn map {total:.2f} s"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
