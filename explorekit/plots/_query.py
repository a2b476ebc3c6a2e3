"""What the query figures share: the request, its results and its examples on the map."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorekit._support.errors import RequestError
from explorekit.analysis import zones
from explorekit.analysis.explain import as_request, examples
from explorekit.plots import _base
from explorekit.query.display import format_score
from explorekit.query.requests import Request

if TYPE_CHECKING:
    from explorekit.collection import Collection


@dataclass
class QueryView:
    col: "Collection"
    request: Request
    result: pd.DataFrame  # the result frame (id, score, ...)
    rows: np.ndarray  # result rows in the collection
    m: _base.Map
    examples: pd.DataFrame  # explain.examples + x, y


def query_view(
    col: "Collection", result: Any, projection: str, max_points: int, seed: int, kinds: tuple[str, ...], figure: str
) -> QueryView:
    """Resolve the request (a result frame, REST body or Request), run it if needed, place it."""
    request = as_request(col, result)
    if request.kind not in kinds:
        other = {
            "search": "recommendation",
            "recommend": "recommendation",
            "discover": "discovery",
            "context": "context",
        }[request.kind]
        raise RequestError(
            f"plots.{figure}: got a {request.kind} query; this figure draws {' or '.join(kinds)} "
            f"queries. Use plots.{other}() for it."
        )
    frame = result if isinstance(result, pd.DataFrame) else col.answer([request])[0]
    rows = col.store.ids.rows(frame["id"].tolist(), what="result id") if len(frame) else np.empty(0, np.int64)
    m = _base.build_map(col, request.using, projection, max_points, seed)
    ex = examples(col, request)
    xy = np.zeros((len(ex), 2), np.float32)
    local = ex["local"].to_numpy(bool)
    if local.any():
        xy[local] = m.coords[col.store.ids.rows(ex.loc[local, "example_id"].tolist())]
    if (~local).any():
        xy[~local] = m.place(np.vstack(ex.loc[~local, "vector"].tolist()))
    ex["x"], ex["y"] = xy[:, 0], xy[:, 1]
    return QueryView(col, request, frame, rows, m, ex)


def example_traces(q: QueryView, roles: tuple[str, ...]) -> list[go.Scatter]:
    """One trace per example role, styled by role; customdata[:, 0] = the example id or label."""
    traces = []
    for role in roles:
        part = q.examples[q.examples["role"] == role]
        if not len(part):
            continue
        style = _base.ROLE_STYLE[role]
        ident = [i if i is not None else label for i, label in zip(part["example_id"], part["label"])]
        short = [_short(role, k, pair) for k, pair in zip(part["example"], part["pair"])]
        traces.append(
            go.Scatter(
                x=part["x"].to_numpy(),
                y=part["y"].to_numpy(),
                mode="markers+text",
                name=_role_name(role, len(part)),
                text=short,
                textposition="top center",
                textfont=dict(color=style["color"], size=11),
                hovertext=part["label"].tolist(),
                hoverinfo="text",
                customdata=np.asarray(ident, dtype=object).reshape(-1, 1),
                meta={"role": role},
                marker=dict(
                    symbol=style["symbol"], color=style["color"], size=style["size"], line=dict(color="black", width=1)
                ),
            )
        )
    return traces


def _short(role: str, k: int, pair: Any) -> str:
    if pair is not None and not pd.isna(pair):
        return f"{int(pair) + 1}{'+' if role == 'positive' else '−'}"
    return {"positive": f"P{k + 1}", "negative": f"N{k + 1}", "target": "target", "average": "avg", "query": "query"}[
        role
    ]


def _role_name(role: str, count: int) -> str:
    return {"average": "averaged query vector", "query": "query", "target": "target"}.get(
        role, f"{role} example{'s' * (count != 1)}"
    )


def results_trace(q: QueryView, *, ringed: bool, hover_extra: list[str] | None = None) -> go.Scatter:
    """The results: numbered 1, 2, ... (rank + 1), ringed or filled; customdata = (id, rank, score)."""
    x, y = q.m.xy(q.rows)
    ranks = q.request.offset + np.arange(len(q.rows))
    scores = q.result["score"].to_numpy(np.float64) if "score" in q.result.columns else np.full(len(q.rows), np.nan)
    head = [
        f"result #{r + 1}, score {format_score(s)}" + (f"<br>{e}" if hover_extra else "")
        for r, s, e in zip(ranks, scores, hover_extra or [""] * len(ranks))
    ]
    text = _base.hover_text(q.col, q.rows, _base.hover_columns(q.col, None), head=head) if len(q.rows) else []
    marker = (
        dict(symbol="circle-open", size=17, color="black", line=dict(width=2.5))
        if ringed
        else dict(symbol="circle", size=12, color="#fdb863", line=dict(color="black", width=1.5))
    )
    return go.Scatter(
        x=x,
        y=y,
        mode="markers+text",
        name=f"results ({len(q.rows)})",
        text=[str(r + 1) for r in ranks],
        textposition="middle right",
        textfont=dict(size=11),
        hovertext=text,
        hoverinfo="text",
        marker=marker,
        meta={"role": "results"},
        customdata=_base.customdata(q.col, q.rows, ranks.astype(object), scores.astype(object)),
    )


def pair_traces(q: QueryView) -> list[go.Scatter]:
    """Each context pair as a dashed segment from its positive to its negative example."""
    pairs = q.examples[q.examples["pair"].notna()]
    xs, ys, ids = [], [], []
    for k, part in pairs.groupby("pair", sort=True):
        pos, neg = part[part["role"] == "positive"].iloc[0], part[part["role"] == "negative"].iloc[0]
        xs += [pos["x"], neg["x"], None]
        ys += [pos["y"], neg["y"], None]
        ids += [int(k), int(k), None]
    if not xs:
        return []
    return [
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            name="context pairs",
            hoverinfo="skip",
            meta={"role": "pair"},
            customdata=np.asarray(ids, dtype=object).reshape(-1, 1),
            line=dict(color="rgba(60, 60, 60, 0.8)", width=1.5, dash="dash"),
        )
    ]


def segment_bounds(a: float, b: float, c: float, bounds: list[float]) -> tuple[list[float], list[float]] | None:
    """The part of the line ``a x + b y = c`` inside ``(x0, x1, y0, y1)``."""
    x0, x1, y0, y1 = bounds
    points = []
    if abs(b) > 1e-12:
        for x in (x0, x1):
            y = (c - a * x) / b
            if y0 - 1e-9 <= y <= y1 + 1e-9:
                points.append((x, y))
    if abs(a) > 1e-12:
        for y in (y0, y1):
            x = (c - b * y) / a
            if x0 - 1e-9 <= x <= x1 + 1e-9:
                points.append((x, y))
    points = sorted(set((round(px, 12), round(py, 12)) for px, py in points))
    if len(points) < 2:
        return None
    (ax, ay), (bx, by) = points[0], points[-1]
    return [ax, bx], [ay, by]


def field_trace(
    grid: pd.DataFrame,
    column: str,
    *,
    colorscale: Any,
    zmin: float,
    zmax: float,
    role: str = "field",
    opacity: float = 0.35,
    name: str = "zone field",
) -> go.Heatmap:
    """A column of :func:`explorekit.analysis.zones.grid` as a background image (cell centres exact)."""
    info = grid.attrs["grid"]
    nx, ny = info["nx"], info["ny"]
    values = grid[column].to_numpy(np.float32).reshape(ny, nx)
    xs = grid["x"].to_numpy()[:nx]
    ys = grid["y"].to_numpy()[::nx]
    return go.Heatmap(
        x=xs,
        y=ys,
        z=values,
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax,
        opacity=opacity,
        showscale=False,
        hoverinfo="skip",
        name=name,
        meta={"role": role},
        zsmooth=False,
    )


def boundary_traces(lines: pd.DataFrame, bounds: list[float]) -> list[go.Scatter]:
    """Each pair's exact boundary (from :func:`explorekit.analysis.zones.boundaries`), clipped to the field."""
    xs, ys, ids = [], [], []
    for pair, a, b, c in lines[["pair", "a", "b", "c"]].itertuples(index=False):
        segment = segment_bounds(float(a), float(b), float(c), bounds)
        if segment is not None:
            xs += segment[0] + [None]
            ys += segment[1] + [None]
            ids += [int(pair), int(pair), None]
    if not xs:
        return []
    return [
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            name="pair boundaries (exact)",
            hoverinfo="skip",
            customdata=np.asarray(ids, dtype=object).reshape(-1, 1),
            meta={"role": "boundary"},
            line=dict(color="rgba(40, 40, 40, 0.7)", width=1, dash="dot"),
        )
    ]


def stepped_scale(colours: list[str]) -> list:
    """A colour scale of equal solid bands, one per colour (for integer-valued colours)."""
    n = len(colours)
    scale = []
    for i, colour in enumerate(colours):
        scale += [[i / n, colour], [(i + 1) / n, colour]]
    return scale


def zoom_to(fig: go.Figure, q: QueryView, margin: float = 0.3, minimum: float = 0.15) -> np.ndarray | None:
    """Axis ranges around the examples and results (at least ``minimum`` of the map's span);
    returns the (width, height) shown, in map units."""
    rows_xy = q.m.coords[q.rows] if len(q.rows) else np.zeros((0, 2), np.float32)
    focus = np.vstack([rows_xy, q.examples[["x", "y"]].to_numpy(np.float32)])
    if not len(focus) or not len(q.m.coords):
        return None
    span = np.ptp(q.m.coords, axis=0).astype(np.float64)
    low, high = focus.min(axis=0).astype(np.float64), focus.max(axis=0).astype(np.float64)
    size = np.maximum((high - low) * (1 + 2 * margin), minimum * np.where(span > 0, span, 1.0))
    centre = (low + high) / 2
    fig.update_xaxes(range=[centre[0] - size[0] / 2, centre[0] + size[0] / 2])
    fig.update_yaxes(range=[centre[1] - size[1] / 2, centre[1] + size[1] / 2])
    return size


def draws_field(q: QueryView, field: bool | None) -> bool:
    """Whether a zone figure draws its background field: as asked, else when the map is the
    plane itself (2-D vectors drawn as they are, ``projection="identity"``)."""
    return q.m.method == "identity" if field is None else bool(field)


def finish_zones(
    fig: go.Figure,
    q: QueryView,
    grid: pd.DataFrame | None,
    roles: tuple[str, ...],
    *,
    title: str,
    subtitle: str,
    width: int | None,
    height: int | None,
    zoom: bool,
) -> go.Figure:
    """The end every zone figure (discovery, context) shares, in this drawing order: the exact
    pair boundaries over the field (when ``grid`` was drawn), the pairs, the examples of
    ``roles``, the results ringed and numbered; then the titles and, with ``zoom``, the focus."""
    if grid is not None:
        fig.add_traces(boundary_traces(zones.boundaries(q.col, q.request), grid.attrs["grid"]["bounds"]))
    fig.add_traces(pair_traces(q))
    fig.add_traces(example_traces(q, roles))
    fig.add_trace(results_trace(q, ringed=True))
    _base.finish(fig, q.m, title=title, subtitle=subtitle, width=width, height=height)
    if zoom:
        zoom_to(fig, q)
    return fig
