"""Screenshots of every figure, for review: static HTML rendered by headless Chromium, offline.

Each figure of :mod:`explorekit.plots` is built on a bundled dataset, written with
``fig.write_html(include_plotlyjs=True)`` (plotly.js inlined: no network), opened in Debian's
Chromium through Playwright (never a downloaded browser) with every non-``file://`` request
blocked, and saved as ``docs/images/<name>.png``. The PNGs are for people to look at; tests
check the figures' data, not pixels. A page error or a blocked request fails the script.

    python benchmarks/screenshots.py                 # all figures -> docs/images/
    python benchmarks/screenshots.py --only map      # names containing "map"
    python benchmarks/screenshots.py --out /tmp/shots

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``). UMAP maps compile numba code on
the first call, so the first run takes a minute.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import plotly.graph_objects as go

import explorekit as ek

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SIZE = {"width": 1000, "height": 720}


def figures() -> dict[str, Callable[[], go.Figure]]:
    """name -> a function building the figure (lazily, so --only skips the others' cost)."""
    fruit = ek.datasets.load("clusters2d", as_collection=True)
    text = ek.datasets.load("stdlib_docs", as_collection=True)
    digits = ek.datasets.load("digits", as_collection=True)

    def quantized():
        col = ek.Collection.from_arrays(
            text.vectors(), ids=text.ids.tolist(), payload=text.payload.reset_index(drop=True), distance="cosine"
        )
        return col.quantize({"binary": {}})

    def rescoring():
        from explorekit.analysis.rescoring import rescoring_effect

        frame = rescoring_effect(
            quantized(),
            "recommend",
            positive=[2196, 5992],
            negative=[2778],
            strategy="best_score",
            limit=10,
            oversampling=3,
        )
        return ek.plots.rescoring(frame, title="Binary quantization: recommend (best_score), limit 10, oversampling 3")

    def recall():
        from explorekit.analysis.rescoring import recall_by_oversampling

        col = quantized()
        queries = [{"query": v.tolist()} for v in text.vectors()[::200]]
        frame = recall_by_oversampling(col, queries, oversampling=(1, 1.5, 2, 3, 4, 6, 8))
        return ek.plots.recall_curve(
            frame, title=f"recall@10 against oversampling, binary quantization, {len(queries)} queries of the text set"
        )

    return {
        "map_text_umap": lambda: ek.plots.map(
            text, projection="umap", color="kind", title="stdlib_docs: 6,041 docstrings (UMAP of MiniLM embeddings)"
        ),
        "map_digits_thumbnails": lambda: ek.plots.map(
            digits, using="pixels", projection="umap", color="label", max_thumbnails=80
        ),
        "map_fruit": lambda: ek.plots.map(fruit, color="fruit", size="sweetness"),
        "recommendation_text_best_score": lambda: ek.plots.recommendation(
            text,
            text.recommend(positive=[2196, 5992], negative=[2778], strategy="best_score", limit=12),
            projection="umap",
            title="Like gzip.open and zipfile.ZipFile, unlike json.dumps (best_score)",
        ),
        "recommendation_fruit_average": lambda: ek.plots.recommendation(
            fruit, fruit.recommend(positive=[10, 60], negative=[130], limit=8), color="fruit"
        ),
        "recommendation_digits_thumbnails": lambda: ek.plots.recommendation(
            digits,
            digits.recommend(positive=[3, 13], negative=[8], strategy="best_score", using="pixels", limit=8),
            projection="umap",
            color="label",
        ),
        "discovery_fruit_zones": lambda: ek.plots.discovery(
            fruit, fruit.discover(target=150, context=[(50, 120), (200, 280)], limit=8)
        ),
        "discovery_text": lambda: ek.plots.discovery(
            text, text.discover(target=5076, context=[(4459, 3695), (2196, 2205)], limit=10), projection="umap"
        ),
        "context_fruit_zones": lambda: ek.plots.context(
            fruit, fruit.discover(context=[(50, 120), (200, 280)], limit=8)
        ),
        "context_text": lambda: ek.plots.context(
            text, text.discover(context=[(2196, 2778), (5992, 1365)], limit=10), projection="umap"
        ),
        "rescoring_slope": rescoring,
        "recall_curve": recall,
    }


def shoot(pages: dict[str, Path], out: Path) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} not found: apt-get update && apt-get install -y chromium (never `playwright install`).")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for name, page_path in pages.items():
                page = browser.new_page(viewport=SIZE)
                blocked, errors = [], []
                page.route(
                    "**/*",
                    lambda route: (
                        route.continue_()
                        if route.request.url.startswith("file://")
                        else (blocked.append(route.request.url), route.abort())
                    ),
                )
                page.on("pageerror", lambda err: errors.append(str(err)))
                page.goto(page_path.as_uri())
                page.wait_for_function(
                    "() => { const p = document.querySelector('.js-plotly-plot');"
                    " return p && p._fullLayout && p.querySelector('.main-svg'); }",
                    timeout=60_000,
                )
                page.wait_for_timeout(700)  # WebGL traces draw on the next frames
                page.screenshot(path=str(out / f"{name}.png"), full_page=True)
                page.close()
                if blocked or errors:
                    raise SystemExit(f"{name}: blocked requests {blocked[:3]}, page errors {errors[:3]}")
                print(f"  {name}.png", flush=True)
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--only", default="", help="build only figures whose name contains this")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pages = {}
        for name, build in figures().items():
            if args.only not in name:
                continue
            start = time.perf_counter()
            fig = build()
            fig.update_layout(width=SIZE["width"], height=max(fig.layout.height or 640, 560))
            pages[name] = Path(tmp) / f"{name}.html"
            fig.write_html(pages[name], include_plotlyjs=True, full_html=True)
            print(f"built {name} in {time.perf_counter() - start:.1f} s", flush=True)
        shoot(pages, args.out)
    print(f"{len(pages)} screenshots in {args.out}")


if __name__ == "__main__":
    main()
