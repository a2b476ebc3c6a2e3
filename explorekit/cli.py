"""The ``explorekit`` command: reports without a notebook.

::

    explorekit datasets                                   # the bundled datasets
    explorekit demo [--out PATH]                          # same as make demo
    explorekit report --dataset clusters2d --positive 1 2 --negative 200 \\
        --strategy best_score --out report.html           # a map, the query, its results

``report`` loads a bundled dataset (``--dataset``) or a saved collection (``--collection
PATH``, from ``col.save``), draws its map (clickable: every point's nearest neighbours are
precomputed), runs the queries given (``--search ID``, ``--positive``/``--negative`` for a
recommendation, ``--target``/``--context POS:NEG`` for discovery), adds each result table
with its request and a figure of why, and writes one offline HTML file. The report path is
printed on stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import explorekit as ek
from explorekit import demo
from explorekit.analysis.projection import DEFAULT_PROJECTION, METHODS


def _id(text: str) -> int | str:
    """Command-line ids: integers when they look like integers, else strings."""
    try:
        return int(text)
    except ValueError:
        return text


def _pair(text: str) -> tuple[int | str, int | str]:
    if ":" not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a context pair; write POSITIVE:NEGATIVE, e.g. 3:17")
    pos, neg = text.split(":", 1)
    return _id(pos), _id(neg)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="explorekit", description="Explore vector data; write offline HTML reports.")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list the bundled datasets")
    demo = sub.add_parser("demo", help="the quickstart on the bundled text set, as a report (make demo)")
    demo.add_argument("--out", default=None)
    demo.add_argument("--projection", default=DEFAULT_PROJECTION, choices=METHODS)
    rep = sub.add_parser("report", help="a report of a dataset or saved collection and some queries")
    source = rep.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="a bundled dataset (see `explorekit datasets`)")
    source.add_argument("--collection", help="a folder written by Collection.save")
    rep.add_argument("--out", required=True, help="the HTML file to write")
    rep.add_argument("--using", default=None, help="vector name (for collections with several)")
    rep.add_argument("--title", default=None)
    rep.add_argument(
        "--projection",
        default=DEFAULT_PROJECTION,
        choices=METHODS,
        help="how the map is made (auto: the plane for 2-D vectors, else PCA)",
    )
    rep.add_argument("--color", default=None, help="payload column to colour the map by")
    rep.add_argument("--search", nargs="+", type=_id, default=[], metavar="ID", help="search near these points")
    rep.add_argument("--positive", nargs="+", type=_id, default=[], metavar="ID")
    rep.add_argument("--negative", nargs="+", type=_id, default=[], metavar="ID")
    rep.add_argument("--strategy", default="average_vector", choices=["average_vector", "best_score", "sum_scores"])
    rep.add_argument("--target", type=_id, default=None, metavar="ID", help="discovery target")
    rep.add_argument("--context", nargs="+", type=_pair, default=[], metavar="POS:NEG", help="context pairs")
    rep.add_argument("--filter", default=None, help="a pandas query over the payload, e.g. \"kind == 'function'\"")
    rep.add_argument("--limit", type=int, default=10)
    rep.add_argument("--k", type=int, default=8, help="neighbours per point precomputed for the map")
    rep.add_argument("--max-points", type=int, default=5000, help="points that get neighbours (a sample beyond)")
    rep.add_argument("--label", default=None, help="payload column naming each point in the panel")
    return top


def report(args: argparse.Namespace, log: Any = print) -> Path:
    """Build and save the report described by parsed ``report`` arguments; returns its path."""
    if args.dataset:
        col = ek.datasets.load(args.dataset, as_collection=True)
        name = args.dataset
    else:
        col = ek.Collection.load(args.collection)
        name = Path(args.collection).name
    using, projection = args.using, args.projection
    log(f"{col!r}")
    common = {"using": using, "filter": args.filter, "limit": args.limit}
    queries: list[tuple[str, Any, str | None]] = []  # (title, result, figure kind)
    for pid in args.search:
        queries.append((f"Search near {pid!r}", col.search(pid, **common), "recommendation"))
    if args.positive or args.negative:
        result = col.recommend(positive=args.positive, negative=args.negative, strategy=args.strategy, **common)
        queries.append((f"Recommend ({args.strategy})", result, "recommendation"))
    if args.context or args.target is not None:
        result = col.discover(target=args.target, context=args.context, **common)
        queries.append(
            (
                "Discover" if args.target is not None else "Context search",
                result,
                "discovery" if args.target is not None else "context",
            )
        )
    title = args.title or f"explorekit report: {name}"
    rep = ek.Report(title, description=f"`{col!r}`")
    figure = ek.plots.map(col, using, projection=projection, color=args.color, title=f"{name}: the map")
    rep.add("## The map\nClick a point to see its nearest neighbours (precomputed, exact).")
    rep.add(figure, collection=col, using=using, k=args.k, max_points=args.max_points, label=args.label)
    for heading, result, kind in queries:
        rep.add(result, title=heading)
        options = {"color": args.color} if kind == "recommendation" else {}
        drawn = getattr(ek.plots, kind)(col, result, projection=projection, **options)  # maps the queried vector
        rep.add(
            drawn,
            title=f"{heading}: on the map",
            collection=col,
            using=using,
            k=args.k,
            max_points=args.max_points,
            label=args.label,
        )
    return rep.save(args.out)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``explorekit`` console script (and ``python -m explorekit``)."""
    args = parser().parse_args(argv)
    err = sys.stderr
    try:
        if args.command == "datasets":
            print(ek.datasets.list()[["name", "rows", "dims", "description"]].to_string(index=False))
            return 0
        if args.command == "demo":
            return demo.main((["--out", args.out] if args.out else []) + ["--projection", args.projection])
        path = report(args, log=lambda text: print(text, file=err))
    except ek.ExploreError as error:
        print(f"explorekit: {error}", file=err)
        return 2
    print(path)
    return 0
