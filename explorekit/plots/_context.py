"""Context search on the map: every point coloured by its context loss, zero loss stands out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from explorekit.analysis import zones
from explorekit.analysis.projection import DEFAULT_PROJECTION, projection_argument
from explorekit.plots import _base
from explorekit.plots._query import draws_field, field_trace, finish_zones, query_view
from explorekit.query.display import format_score

if TYPE_CHECKING:
    from explorekit.collection import Collection

ZERO = "#e6550d"
LOSS_SCALE = [[0.0, "#08306b"], [0.5, "#4292c6"], [1.0, "#b9d9ee"]]  # most negative -> just below 0


def context(
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
    """Context search: points coloured by loss, the zero-loss points (and region) highlighted.

    A point's context loss is ``sum_k fs(min(sim(p_k, x) - sim(n_k, x) - EPS, 0))``: 0 on the
    positive side of every pair (all of those tie at the top of a context search), more
    negative the further it is on the wrong side. Values from :func:`explorekit.analysis.zones.points`.

    Parameters
    ----------
    result : what ``col.discover(context=...)`` (no target) returned, or the REST body.
    field : for 2-D vectors drawn as they are, the loss over the plane with the zero-loss region
        filled and the exact pair boundaries (default on there).
    projection, resolution, hover_data, zoom, max_points, seed : as in :func:`discovery`.

    Examples
    --------
    >>> import explorekit as ek
    >>> col = ek.Collection.from_arrays([[0, 0], [4, 0], [1, 0], [3, 1]], distance="euclid")
    >>> fig = ek.plots.context(col, col.discover(context=[(0, 1)]))
    >>> {t.name: t.customdata[:, 0].tolist() for t in fig.data if t.meta["role"] == "points"}
    {'zero loss': [0, 2], 'loss below 0': [1, 3]}
    """
    projection = projection_argument(projection, method, "plots.context")
    _base.check_size("width", width)
    _base.check_size("height", height)
    q = query_view(col, result, projection, max_points, seed, ("context",), "context")
    z = zones.points(col, q.request)
    pairs = len(q.request.context)
    loss = z["loss"].to_numpy()
    low = float(min(loss.min(), -1e-6)) if len(loss) else -1.0
    fig = go.Figure()
    grid = zones.grid(col, q.request, resolution=resolution) if draws_field(q, field) else None
    if grid is not None:
        fig.add_trace(field_trace(grid, "loss", colorscale=LOSS_SCALE, zmin=low, zmax=0.0, opacity=0.3))
        zero = grid.copy()
        zero["zero"] = np.where(grid["zero_loss"].to_numpy(), 1.0, np.nan)
        fig.add_trace(
            field_trace(
                zero,
                "zero",
                colorscale=[[0, ZERO], [1, ZERO]],
                zmin=0,
                zmax=1,
                opacity=0.28,
                role="zero_loss_region",
                name="zero-loss region",
            )
        )
    rows = q.m.drawn
    columns = _base.hover_columns(col, hover_data)
    satisfied = z["satisfied"].to_numpy()[rows]
    head = [
        f"loss {format_score(v)}: no loss on {s} of {pairs} pair{'s' * (pairs != 1)}"
        for v, s in zip(loss[rows].tolist(), satisfied.tolist())
    ]
    text = _base.hover_text(col, rows, columns, head=head)
    x, y = q.m.xy(rows)
    is_zero = z["zero_loss"].to_numpy()[rows]
    fig.add_trace(
        go.Scattergl(  # zero loss first, so the losses draw over it
            x=x[is_zero],
            y=y[is_zero],
            mode="markers",
            name="zero loss",
            meta={"role": "points", "zero_loss": True},
            customdata=_base.customdata(col, rows[is_zero]),
            text=text[is_zero],
            hoverinfo="text",
            marker=dict(color=ZERO, size=6),
        )
    )
    fig.add_trace(
        go.Scattergl(
            x=x[~is_zero],
            y=y[~is_zero],
            mode="markers",
            name="loss below 0",
            meta={"role": "points", "zero_loss": False},
            customdata=_base.customdata(col, rows[~is_zero]),
            text=text[~is_zero],
            hoverinfo="text",
            marker=dict(
                color=loss[rows][~is_zero].astype(np.float32),
                colorscale=LOSS_SCALE,
                cmin=low,
                cmax=0.0,
                size=6,
                colorbar=dict(title=dict(text="context loss"), thickness=14),
            ),
        )
    )
    total = int(z["zero_loss"].sum())
    default = f"context search: {pairs} pair{'s' * (pairs != 1)}, {total:,} point{'s' * (total != 1)} with zero loss"
    sub = "Colour: context loss (0 = positive side of every pair, in orange); results ringed and numbered."
    if grid is not None:
        sub += " Background: loss over the plane, zero-loss region filled."
    return finish_zones(
        fig,
        q,
        grid,
        ("positive", "negative"),
        title=title or default,
        subtitle=sub,
        width=width,
        height=height,
        zoom=zoom,
    )
