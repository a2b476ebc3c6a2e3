"""The Explorer on 100,000 points: from a click to the new result and overlays ready (Python side).

A click is delivered the way the browser delivers it: the ``plotly_click`` message assigned to
the FigureWidget's ``_js2py_pointsCallback`` trait, which plotly dispatches to every base trace
and the Explorer turns into a public query plus one ``batch_update`` of the overlay traces.
Timed per click: the whole callback (query, overlays, results table, examples list, status),
and its parts (``query_ms``: the state change and the public query; ``view_ms``: everything
else, i.e. overlays, table, examples list and status). Also counted: the bytes of every message the figure would send to the browser
after construction, and whether any of them touches a base trace's data (goal: never).

Goal (issue 8): median click -> result + overlays <= 100 ms at 100,000 points.

    python benchmarks/bench_widget.py            # 100,000 x 384
    python benchmarks/bench_widget.py --small    # 5,000 x 64, for CI
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("EXPLOREKIT_PROGRESS", "0")  # no index-build status lines in the table
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data, report  # noqa: E402

import explorekit as ek  # noqa: E402

_MESSAGES = (
    "_py2js_update",
    "_py2js_restyle",
    "_py2js_relayout",
    "_py2js_addTraces",
    "_py2js_deleteTraces",
    "_py2js_moveTraces",
    "_py2js_animate",
)


def click_message(trace_index: int, point: int) -> dict:
    """What the front end assigns to ``_js2py_pointsCallback`` for a click on one marker."""
    return {
        "event_type": "plotly_click",
        "points": {"trace_indexes": [trace_index], "point_indexes": [point], "xs": [0.0], "ys": [0.0]},
        "device_state": {"alt": False, "ctrl": False, "meta": False, "shift": False, "button": 0, "buttons": 1},
        "selector": None,
    }


def _size(value: object) -> int:
    """Approximate bytes of a message: array buffers by nbytes, the rest as JSON."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(len(str(k)) + _size(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(_size(v) for v in value) + len(value)
    return len(json.dumps(value, default=str))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    small = "--small" in argv
    n, dim = (5_000, 64) if small else (100_000, 384)
    vectors, _, what = data(n, dim)
    rng = np.random.default_rng(7)
    sections = np.array(["python", "libs", "net", "doc", "games", "math", "web", "admin"])
    import pandas as pd

    payload = pd.DataFrame({"section": sections[rng.integers(0, len(sections), n)], "size": rng.integers(1, 10_000, n)})
    col = ek.Collection.from_arrays(vectors, payload=payload)

    start = time.perf_counter()
    explorer = ek.Explorer(col, projection="pca", color="section")
    build_s = time.perf_counter() - start
    fig = explorer.figure
    n_base = len(explorer._base_ids)
    sent: list[tuple[str, dict]] = []
    for name in _MESSAGES:
        fig.observe(
            lambda change, name=name: sent.append((name, change["new"])) if change["new"] else None, names=[name]
        )

    clicks = {
        "recommend average_vector": ("positive", "average_vector"),
        "recommend best_score": ("positive", "best_score"),
        "discover (target + 2 pairs)": ("target", None),
    }
    rows = []
    for label, (mode, strategy) in clicks.items():
        totals, queries, overlays = [], [], []
        for rep in range(12):
            explorer.examples = (
                {"positive": [], "negative": []}
                if mode == "positive"
                else {"context": [(int(a), int(b)) for a, b in rng.integers(0, n, (2, 2))]}
            )
            if strategy:
                explorer.strategy.value = strategy
            explorer.mode.value = mode
            picks = rng.integers(0, len(explorer._base_ids[0]), 3 if mode == "positive" else 1)
            for point in picks:
                t0 = time.perf_counter()
                fig._js2py_pointsCallback = click_message(0, int(point))
                elapsed = time.perf_counter() - t0
                if rep:  # the first round warms caches (and any index)
                    totals.append(elapsed)
                    queries.append(explorer.timings.get("query", float("nan")))
                    overlays.append(explorer.timings.get("overlays", float("nan")))
            assert explorer.result is not None, explorer.status.value
        rows.append(
            {
                "click": label,
                "median_ms": statistics.median(totals) * 1e3,
                "p90_ms": float(np.percentile(totals, 90)) * 1e3,
                "query_ms": statistics.median(queries) * 1e3,
                "overlays_ms": statistics.median(overlays) * 1e3,
                "view_ms": statistics.median(np.subtract(totals, queries)) * 1e3,
                "clicks": len(totals),
            }
        )
    touched = sorted(
        {
            i
            for _, msg in sent
            for i in (msg.get("style_traces") or msg.get("trace_indexes") or [])
            if isinstance(i, int) and i < n_base and "x" in (msg.get("style_data") or msg.get("restyle_data") or {})
        }
    )
    biggest = max((_size(msg) for _, msg in sent), default=0)
    meta = {
        "data": f"{what}; Explorer(projection='pca', color='section'): {n_base} base traces",
        "build_s": round(build_s, 2),
        "messages_after_build": len(sent),
        "largest_message_bytes": biggest,
        "base_traces_resent": touched,
        "goal": "median click -> result + overlays <= 100 ms at 100,000 points",
    }
    report("widget_click" + ("_small" if small else ""), rows, meta)
    print(
        f"build {build_s:.2f} s; {len(sent)} messages after build, largest {biggest:,} bytes; "
        f"base traces re-sent: {touched or 'none'}"
    )
    worst = max(r["median_ms"] for r in rows)
    print(
        f"median click -> result + overlays: {worst:.1f} ms (worst kind); goal <= 100 ms "
        f"{'met' if worst <= 100 else 'NOT met'}"
    )
    return 0 if not touched else 1


if __name__ == "__main__":
    raise SystemExit(main())
