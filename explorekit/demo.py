"""``python -m explorekit.demo`` (``make demo``): the quickstart on the bundled text set, as a report.

Loads the 6,041 Python standard-library docstrings (MiniLM vectors, 384-d, cosine), maps them,
runs a search and two recommendations, draws why the results were recommended, and writes
one offline HTML report (clicking a point of its map lists that docstring's nearest
neighbours with their scores). Prints the report's path last, on its own line.

Usage (tested in tests/test_report.py)::

    from explorekit.demo import build
    build("build/demo/report.html", projection="pca")   # -> PosixPath('.../build/demo/report.html')
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import explorekit as ek
from explorekit.analysis.projection import DEFAULT_PROJECTION, METHODS

DEFAULT_OUT = Path("build") / "demo" / "report.html"


def _find(col: Any, module: str, qualname: str) -> int:
    """The id of one documented object, e.g. ``("json", "dumps")``."""
    payload = col.payload
    hits = payload.index[(payload["module"] == module) & (payload["qualname"] == qualname)]
    if not len(hits):
        raise ek.ExploreError(f"demo: {module}.{qualname} is not in the stdlib_docs dataset.")
    return int(hits[0])


def _names(frame: Any) -> list[str]:
    """``module.qualname`` of each row (just the module for a module's own docstring)."""
    return [
        m if kind == "module" else f"{m}.{q}" for m, q, kind in zip(frame["module"], frame["qualname"], frame["kind"])
    ]


def build(
    out: str | Path = DEFAULT_OUT,
    *,
    projection: str = DEFAULT_PROJECTION,
    k: int = 8,
    log: Callable[[str], None] = print,
) -> Path:
    """Run the quickstart and write the report; returns its absolute path."""
    started = time.perf_counter()

    def step(text: str) -> None:
        log(f"[{time.perf_counter() - started:5.1f} s] {text}")

    step("loading the bundled text set: Python standard-library docstrings")
    col = ek.datasets.load("stdlib_docs", as_collection=True)
    step(f"{col!r}")

    dumps, pdumps, remove = _find(col, "json", "dumps"), _find(col, "pickle", "dumps"), _find(col, "os", "remove")
    search = col.search(dumps, limit=10, with_payload=["module", "qualname", "kind", "first_line"])
    step(f"search near json.dumps: {', '.join(_names(search))}")
    examples = {"positive": [dumps, pdumps], "negative": [remove]}
    best = col.recommend(
        **examples, strategy="best_score", limit=10, with_payload=["module", "qualname", "kind", "first_line"]
    )
    average = col.recommend(
        **examples, strategy="average_vector", limit=10, with_payload=["module", "qualname", "kind", "first_line"]
    )
    step("recommend like json.dumps and pickle.dumps, unlike os.remove (best_score and average_vector)")

    slow = " (UMAP compiles numba code on first use)" if projection == "umap" else ""
    step(f"projecting {len(col):,} points to 2-D with {projection}{slow}")
    step("labelling the clusters of the map (ek.analysis.clusters: HDBSCAN of the distance matrix)")
    the_map = ek.plots.map(  # coloured by the first categorical field (kind), its clusters labelled
        col,
        projection=projection,
        clusters=True,
        hover_data=["module", "qualname", "first_line"],
        title="6,041 standard-library docstrings, by kind, with their clusters",
        height=620,
    )
    why = ek.plots.recommendation(col, best, projection=projection, color="kind", height=620)

    step(f"precomputing the {k} nearest neighbours of every point for the report")
    report = (
        ek.Report(
            "explorekit demo: the Python standard library as vectors",
            description=(
                "Every documented module, class and function of Python's standard library, "
                "embedded with all-MiniLM-L6-v2 (384-d, cosine). Made by `make demo` "
                "(`python -m explorekit.demo`); works offline."
            ),
        )
        .add(
            "## The map\nEach dot is one docstring; nearby dots say similar things. **Click any dot**: the "
            f"panel lists its {k} nearest docstrings in the full 384-d space (exact cosine scores, computed "
            "when this report was written), and rings them on the map. The 2-D map is only a projection, "
            "so true neighbours are sometimes far apart on it."
        )
        .add(the_map, collection=col, k=k, max_points=len(col), label="text")
        .add("## Search\n`col.search(id_of_json_dumps, limit=10)`: the point itself is left out, as in Qdrant.")
        .add(search, title="Nearest to json.dumps")
        .add(
            "## Recommend\nPositive examples `json.dumps` and `pickle.dumps`, negative example `os.remove`. "
            "**best_score** scores each point by its closest example (a point closer to the negative scores "
            "below zero); **average_vector** searches near `2·avg(positives) − avg(negatives)`. Click a row "
            "to see that point on the map above."
        )
        .add(best, title="best_score")
        .add(average, title="average_vector")
        .add(
            why,
            title="Why these results (best_score)",
            caption="Each result is joined to the example that decided its score.",
        )
    )
    path = report.save(out)
    step(f"wrote {path.stat().st_size / 1e6:.1f} MB: one offline HTML file")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m explorekit.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"report path (default {DEFAULT_OUT})")
    parser.add_argument(
        "--projection",
        default=DEFAULT_PROJECTION,
        choices=METHODS,
        help=f"how the map is made (default {DEFAULT_PROJECTION}: PCA, at once; umap takes tens of seconds)",
    )
    parser.add_argument("--k", type=int, default=8, help="neighbours per point in the report (default 8)")
    args = parser.parse_args(argv)
    try:
        path = build(
            args.out, projection=args.projection, k=args.k, log=lambda text: print(text, file=sys.stderr, flush=True)
        )
    except ek.ExploreError as err:
        print(f"explorekit demo: {err}", file=sys.stderr)
        return 2
    print(f"Report written. Open it in a browser (no network needed):\n{path}", file=sys.stderr, flush=True)
    print(path, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
