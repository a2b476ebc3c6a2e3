"""A recommendation on the map: examples, results, and what decided each score."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from explorekit.analysis.explain import explain_ids
from explorekit.analysis.projection import DEFAULT_PROJECTION, projection_argument
from explorekit.plots import _base
from explorekit.plots._query import (
    add_labels,
    example_traces,
    legend_beside,
    query_view,
    results_trace,
    zoom_to,
)

if TYPE_CHECKING:
    from explorekit.collection import Collection

_LINE_COLOURS = {"positive": "#1a9850", "negative": "#d73027", "average": "#7b3294", "query": "#7b3294"}


def recommendation(
    col: "Collection",
    result: Any,
    *,
    projection: str = DEFAULT_PROJECTION,
    color: str | None = None,
    hover_data: Any = None,
    thumbnails: Any = None,
    zoom: bool = True,
    max_points: int = _base.MAX_POINTS,
    seed: int = 0,
    title: str | None = None,
    width: int | None = None,
    height: int | None = None,
    method: str | None = None,
) -> go.Figure:
    """Why these points were recommended: a line from each result to the example that decided it.

    Parameters
    ----------
    col : the collection queried.
    result : what ``col.recommend(...)`` (or ``col.search``) returned, or the request as a REST
        body; the examples and the strategy come from ``result.attrs["query"]``.
    zoom : start zoomed on the examples and results (double-click shows the whole map).
    projection, color, hover_data, thumbnails, max_points, seed : as in :func:`map`
        (``method=``: the deprecated old name of ``projection=``).

    The lines come from :func:`explorekit.analysis.explain.explain`: best_score joins each result to its
    closest positive (or, when a negative is closer, to that negative); average_vector to the
    averaged query vector (placed on the map); sum_scores to the example with the largest
    part of the score. Thumbnails (when the payload has images) mark examples and results.

    Examples
    --------
    >>> import explorekit as ek
    >>> col = ek.Collection.from_arrays([[1, 0], [0, 1], [0.6, 0.8], [0.8, 0.6]])
    >>> fig = ek.plots.recommendation(col, col.recommend(positive=[0], negative=[1], strategy="best_score"))
    >>> [t.meta["role"] for t in fig.data]
    ['points', 'decision', 'decision', 'results', 'positive', 'negative', 'rank_lines']
    """
    projection = projection_argument(projection, method, "plots.recommendation")
    _base.check_size("width", width)
    _base.check_size("height", height)
    q = query_view(col, result, projection, max_points, seed, ("recommend", "search"), "recommendation")
    why = explain_ids(col, q.request, q.result["id"].tolist())
    deciders = why[why["decides"]].drop_duplicates("rank")
    label_of = dict(zip(deciders["rank"], deciders["label"]))
    ranks = q.request.offset + np.arange(len(q.rows))
    fig = go.Figure(_base.point_traces(q.m, q.m.drawn, color=color, hover_data=hover_data))
    fig.add_traces(_decision_traces(q, deciders))
    fig.add_trace(results_trace(q, ringed=False, hover_extra=[f"decided by {label_of.get(r, '-')}" for r in ranks]))
    fig.add_traces(example_traces(q, ("positive", "negative", "average", "query")))  # never under a result
    column = _base.thumbnail_column(col, thumbnails)
    r = q.request
    if r.kind == "recommend":
        default = (
            f"recommend ({r.strategy}): {len(q.rows)} results from {len(r.positive)} positive and "
            f"{len(r.negative)} negative example{'s' * (len(r.negative) != 1)}"
        )
        how = {
            "average_vector": "lines join each result to the averaged query vector",
            "best_score": "lines join each result to the example that decided its score",
            "sum_scores": "lines join each result to the example with the largest part of its score",
        }[r.strategy]
    else:
        default, how = f"search: {len(q.rows)} results", "lines join each result to the query"
    _base.finish(fig, q.m, title=title or default, subtitle=how.capitalize() + ".", width=width, height=height)
    legend_beside(fig)
    shown = zoom_to(fig, q) if zoom else None
    add_labels(fig, q)
    if column is not None:
        local = q.examples[q.examples["local"]]
        rows = np.concatenate([col.store.ids.rows(local["example_id"].tolist()), q.rows]) if len(local) else q.rows
        _base.add_thumbnails(fig, q.m, rows, column, span=shown, beside=True)
    return fig


def _decision_traces(q, deciders) -> list[go.Scattergl]:
    """One line trace per deciding role; segment i joins result i to its deciding example."""
    traces = []
    ex = q.examples.set_index(["role", "example"])
    position = {int(r): i for i, r in enumerate(q.request.offset + np.arange(len(q.rows)))}
    for role, part in deciders.groupby("role", sort=False):
        xs, ys, ids = [], [], []
        for rank, example in zip(part["rank"], part["example"]):
            i = position[int(rank)]
            rx, ry = q.m.xy(q.rows[i : i + 1])
            e = ex.loc[(role, int(example))]
            xs += [float(rx[0]), float(e["x"]), None]
            ys += [float(ry[0]), float(e["y"]), None]
            ids += [q.col.store.ids.values[q.rows[i]], e["label"], None]
        name = f"decided by a {role}" if role in ("positive", "negative") else f"scored by the {role}"
        traces.append(
            go.Scattergl(
                x=xs,
                y=ys,
                mode="lines",
                hoverinfo="skip",
                meta={"role": "decision", "decider": role},
                name=name,
                customdata=np.asarray(ids, dtype=object).reshape(-1, 1),
                line=dict(color=_LINE_COLOURS[role], width=1.3),
            )
        )
    return traces
