"""Discovery search on the map: every point coloured by its discovery rank."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from explorekit.analysis import zones
from explorekit.analysis.projection import DEFAULT_PROJECTION, projection_argument
from explorekit.plots import _base
from explorekit.plots._query import draws_field, field_trace, finish_zones, query_view, stepped_scale
from explorekit.query.display import format_score

if TYPE_CHECKING:
    from explorekit.collection import Collection


def discovery(
    col: "Collection",
    result: Any,
    *,
    projection: str = DEFAULT_PROJECTION,
    field: bool | None = None,
    resolution: int = 200,
    hover_data: Any = None,
    zoom: bool = False,
    max_points: int = _base.MAX_POINTS,
    seed: int = 0,
    title: str | None = None,
    width: int | None = None,
    height: int | None = None,
    method: str | None = None,
) -> go.Figure:
    """Where the discovery zones lie: points coloured by rank, pairs, target and results.

    A point's rank is ``sum_k sign(sim(p_k, x) - sim(n_k, x))``: +K on the positive side of
    every pair, -K on the negative side of all (the integer part of its discovery score; the
    target orders points of equal rank). Colours come from :func:`explorekit.analysis.zones.points`,
    computed in the full vector space and drawn at the map positions.

    Parameters
    ----------
    result : what ``col.discover(target=..., context=...)`` returned, or the REST body.
    field : draw the zones as a background field with the exact pair boundaries; default on
        when the map is the plane itself (2-D vectors, ``projection="auto"`` or ``"identity"``).
    resolution : field cells per axis.
    zoom : start zoomed on the examples and results (default: the whole map, where the zones are).
    projection, hover_data, max_points, seed : as in :func:`map`
        (``method=``: the deprecated old name of ``projection=``).

    Examples
    --------
    >>> import explorekit as ek
    >>> col = ek.Collection.from_arrays([[0, 0], [4, 0], [1, 0], [3, 1], [2, 2]], distance="euclid")
    >>> fig = ek.plots.discovery(col, col.discover(target=4, context=[(0, 1)]))
    >>> fig.data[1].marker.color.tolist()      # ranks of points 0..4
    [1.0, -1.0, 1.0, -1.0, 0.0]
    """
    projection = projection_argument(projection, method, "plots.discovery")
    _base.check_size("width", width)
    _base.check_size("height", height)
    q = query_view(col, result, projection, max_points, seed, ("discover",), "discovery")
    z = zones.points(col, q.request)
    pairs = len(q.request.context)
    colours = sample_colorscale("RdYlBu", [0.5] if pairs == 0 else list(np.linspace(0.08, 0.92, 2 * pairs + 1)))
    scale = stepped_scale(colours)
    cmin, cmax = -pairs - 0.5, pairs + 0.5
    fig = go.Figure()
    grid = zones.grid(col, q.request, resolution=resolution) if draws_field(q, field) else None
    if grid is not None:
        fig.add_trace(field_trace(grid, "rank", colorscale=scale, zmin=cmin, zmax=cmax))
    rows = q.m.drawn
    rank = z["rank"].to_numpy()[rows]
    satisfied, target = z["satisfied"].to_numpy()[rows].tolist(), z["target"].to_numpy()[rows].tolist()
    head = [
        f"rank {r:+d}: positive side of {s} of {pairs} pair{'s' * (pairs != 1)}<br>target term {format_score(t)}"
        for r, s, t in zip(rank.tolist(), satisfied, target)
    ]
    x, y = q.m.xy(rows)
    fig.add_trace(
        go.Scattergl(
            x=x,
            y=y,
            mode="markers",
            name="points by rank",
            showlegend=False,
            meta={"role": "points"},
            customdata=_base.customdata(col, rows),
            text=_base.hover_text(col, rows, _base.hover_columns(col, hover_data), head=head),
            hoverinfo="text",
            marker=dict(
                color=rank.astype(np.float32),
                colorscale=scale,
                cmin=cmin,
                cmax=cmax,
                size=6,
                line=dict(width=0),
                colorbar=dict(title=dict(text="discovery rank"), thickness=14, tickvals=list(range(-pairs, pairs + 1))),
            ),
        )
    )
    default = f"discover: {len(q.rows)} results, target and {pairs} context pair{'s' * (pairs != 1)}"
    sub = (
        "Colour: discovery rank (+1 per pair whose positive side a point is on, -1 per negative side); "
        "results ringed and numbered."
    )
    if grid is not None:
        sub += " Background: the exact zones of the plane."
    return finish_zones(
        fig,
        q,
        grid,
        ("target", "positive", "negative"),
        title=title or default,
        subtitle=sub,
        width=width,
        height=height,
        zoom=zoom,
    )
