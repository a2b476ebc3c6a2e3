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
from explorekit.plots._clusters import label_boxes
from explorekit.query.display import format_score
from explorekit.query.requests import Request

if TYPE_CHECKING:
    from explorekit.collection import Collection


FIGURE_PX, LEGEND_PX = 950, 190  # a figure's width in a notebook when not given; the legend beside it
RING_PX, MARKER_PX = 17.0, 15.0  # a result ring, an example marker (their sizes)
LABEL_SHRINK = np.array([0.8, 0.75])  # label_boxes sizes 11-px cluster labels with padding; numbers need less
NUMBERED = 30  # results numbered on the figure (the others are ringed; their hover gives the rank)
#: gaps (px) between a result and the edge of its number, tried in turn; the first needs no line back
RING_STEPS_PX = (9.0, 20.0, 32.0, 46.0, 62.0, 80.0, 100.0)


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


def example_traces(q: QueryView, roles: tuple[str, ...]) -> list[go.Scattergl]:
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
            go.Scattergl(
                x=part["x"].to_numpy(),
                y=part["y"].to_numpy(),
                mode="markers",
                name=_role_name(role, len(part)),
                text=short,  # written above the marker by add_labels
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


def results_trace(q: QueryView, *, ringed: bool, hover_extra: list[str] | None = None) -> go.Scattergl:
    """The results, ringed or filled; customdata = (id, rank, score). Their numbers (rank + 1) are
    written apart from each other by :func:`add_labels` once the axes are known."""
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
    return go.Scattergl(
        x=x,
        y=y,
        mode="markers",
        name=f"results ({len(q.rows)})",
        hovertext=text,
        hoverinfo="text",
        marker=marker,
        meta={"role": "results"},
        customdata=_base.customdata(q.col, q.rows, ranks.astype(object), scores.astype(object)),
    )


def pair_traces(q: QueryView) -> list[go.Scattergl]:
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
        go.Scattergl(
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


def boundary_traces(lines: pd.DataFrame, bounds: list[float]) -> list[go.Scattergl]:
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
        go.Scattergl(
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
    plane itself (2-D vectors drawn as they are, ``projection="identity"``). The field is in the
    vectors' own coordinates, so it is drawn on no other map."""
    if field and q.m.method != "identity":
        raise RequestError(
            f"field=True: the zone field is scored on the plane of 2-D vectors, and this map is a "
            f"{q.m.method.upper()} projection. Use projection='identity' (or 'auto') for 2-D vectors, "
            "or ek.plots.path(...) for the exact score along a line."
        )
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
    fig.add_trace(results_trace(q, ringed=True))
    fig.add_traces(example_traces(q, roles))  # over the results: an example is never hidden under one
    _base.finish(fig, q.m, title=title, subtitle=f"{subtitle}<br>{exactness_note(q)}", width=width, height=height)
    fig.update_layout(margin_t=fig.layout.margin.t + 14)  # the note's line
    legend_beside(fig)
    if zoom:
        zoom_to(fig, q)
    add_labels(fig, q, grid_bounds=None if grid is None else grid.attrs["grid"]["bounds"])
    return fig


def exactness_note(q: QueryView) -> str:
    """What a zone figure's colours are worth: exact everywhere on the plane itself; on a
    projection, exact at the points only (the one sentence every zone figure shows).

    >>> import explorekit as ek
    >>> col = ek.Collection.from_arrays([[0, 0, 1], [4, 0, 0], [1, 1, 0], [3, 1, 2]], distance="euclid")
    >>> exactness_note(query_view(col, col.discover(context=[(0, 1)]), "pca", 100, 0, ("context",), "context"))
    'Colours: exact scores of the points, drawn on a PCA projection of 3-D vectors; the plane between points is not scored (plots.path: the exact score along a line).'
    """
    if q.m.method == "identity":
        return "Colours are exact: the map is the 2-D vector space itself."
    name = {"pca": "PCA", "umap": "UMAP"}.get(q.m.method, q.m.method)
    dim = q.col.space(q.request.using).dim
    return (
        f"Colours: exact scores of the points, drawn on a {name} projection of {dim}-D vectors; "
        "the plane between points is not scored (plots.path: the exact score along a line)."
    )


def legend_beside(fig: go.Figure) -> None:
    """The legend right of the plot, top-aligned (never over the axes or their titles); a colour
    bar, when there is one, below it on the same side."""
    fig.update_layout(legend=dict(orientation="v", x=1.02, xanchor="left", y=1.0, yanchor="top", itemsizing="constant"))
    for trace in fig.data:
        marker = getattr(trace, "marker", None)
        if marker is not None and getattr(marker, "colorbar", None) is not None and marker.colorscale is not None:
            marker.colorbar.update(x=1.02, xanchor="left", y=0.0, yanchor="bottom", len=0.45)


def view_box(fig: go.Figure, q: QueryView, grid_bounds: list[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The (x0, y0), (x1, y1) the figure shows: its axis ranges when set (zoomed), else the drawn
    points, examples and zone field with 5% padding, which are then set as the ranges."""
    xr, yr = fig.layout.xaxis.range, fig.layout.yaxis.range
    if xr is not None and yr is not None:
        return np.array([xr[0], yr[0]], np.float64), np.array([xr[1], yr[1]], np.float64)
    parts = [q.m.coords[q.m.drawn], q.m.coords[q.rows], q.examples[["x", "y"]].to_numpy(np.float32)]
    if grid_bounds is not None:
        x0, x1, y0, y1 = grid_bounds
        parts.append(np.array([[x0, y0], [x1, y1]], np.float32))
    points = np.vstack([p.reshape(-1, 2) for p in parts]).astype(np.float64)
    low, high = points.min(axis=0), points.max(axis=0)
    pad = np.maximum(high - low, 1e-9) * 0.05
    fig.update_xaxes(range=[low[0] - pad[0], high[0] + pad[0]])
    fig.update_yaxes(range=[low[1] - pad[1], high[1] + pad[1]])
    return low - pad, high + pad


def units_per_pixel(fig: go.Figure, low: np.ndarray, high: np.ndarray, *, equal: bool) -> np.ndarray:
    """Map units per screen pixel along x and y, from the figure's size and margins (a figure
    without a width is taken as :data:`FIGURE_PX` wide, its legend as :data:`LEGEND_PX`)."""
    margin = fig.layout.margin
    width = (fig.layout.width or FIGURE_PX) - (margin.l or 0) - (margin.r or 0) - LEGEND_PX
    height = (fig.layout.height or 640) - (margin.t or 0) - (margin.b or 0)
    per = (high - low) / np.maximum([width, height], 50.0)
    return np.full(2, per.max()) if equal else per


def add_labels(fig: go.Figure, q: QueryView, *, grid_bounds: list[float] | None = None) -> None:
    """The examples' names (above their markers when there is room), then the first
    :data:`NUMBERED` results' numbers (1, 2, ...) beside their rings: each apart from the others,
    from the rings and from the example markers (:func:`place_apart`).

    Names and numbers are annotations (they draw above the WebGL points and carry a light
    background), named ``<role> <name>`` and ``rank <n>``; a number moved away from its ring gets
    a thin line back to it (the trace ``rank_lines``)."""
    low, high = view_box(fig, q, grid_bounds)
    scale = units_per_pixel(fig, low, high, equal=q.m.method != "umap")
    count = min(len(q.rows), NUMBERED)
    x, y = q.m.xy(q.rows)
    rings_px = np.column_stack([x, y]).astype(np.float64).reshape(-1, 2) / scale
    anchors = rings_px[:count]
    ex = q.examples[["x", "y"]].to_numpy(np.float64).reshape(-1, 2) / scale
    roles = q.examples["role"].tolist()
    names = [_short(role, k, pair) for role, k, pair in zip(roles, q.examples["example"], q.examples["pair"])]
    obstacles = [(ax, ay, RING_PX, RING_PX) for ax, ay in rings_px.tolist()]
    obstacles += [(ax, ay, MARKER_PX, MARKER_PX) for ax, ay in ex.tolist()]
    name_boxes = label_boxes(names, np.ones(2)) * LABEL_SHRINK
    name_spots, _ = place_apart(ex, name_boxes, obstacles, first=90.0)
    notes = [
        _note(sx, sy, name, f"{role} {name}", _base.ROLE_STYLE[role]["color"])
        for role, name, (sx, sy) in zip(roles, names, (name_spots * scale).tolist())
    ]
    if not count:
        fig.layout.annotations += tuple(notes)
        return
    obstacles += [(sx, sy, w, h) for (sx, sy), (w, h) in zip(name_spots.tolist(), name_boxes.tolist())]
    words = [str(r + 1) for r in q.request.offset + np.arange(count)]
    spots, rings = place_apart(anchors, label_boxes(words, np.ones(2)) * LABEL_SHRINK, obstacles)
    lines_x: list[float | None] = []
    lines_y: list[float | None] = []
    for (ax, ay), (sx, sy), ring in zip(anchors * scale, spots * scale, rings):
        if ring > 0:  # beyond the first ring: a line leads back to the result
            lines_x += [float(ax), float(sx), None]
            lines_y += [float(ay), float(sy), None]
    fig.add_trace(
        go.Scattergl(
            x=lines_x,
            y=lines_y,
            mode="lines",
            name="rank lines",
            showlegend=False,
            hoverinfo="skip",
            line=dict(color="rgba(40, 40, 40, 0.7)", width=1),
            meta={"role": "rank_lines"},
        )
    )
    notes += [_note(sx, sy, word, f"rank {word}", "#111111") for word, (sx, sy) in zip(words, (spots * scale).tolist())]
    fig.layout.annotations += tuple(notes)  # at once: fig.add_annotation checks every earlier one again


def _note(x: float, y: float, text: str, name: str, colour: str) -> go.layout.Annotation:
    return go.layout.Annotation(
        x=x,
        y=y,
        text=text,
        showarrow=False,
        font=dict(size=11, color=colour),
        bgcolor="rgba(255, 255, 255, 0.8)",
        borderpad=1,
        name=name,
    )


def place_apart(
    anchors: np.ndarray,
    boxes: np.ndarray,
    obstacles: list[tuple[float, float, float, float]],
    *,
    first: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(spots, rings)``: a spot per label (pixels, y up), in the given order, and the ring it is
    on. Rings of growing gap (:data:`RING_STEPS_PX`) between the anchor and the label's edge, 16
    directions each, from the direction ``first`` (degrees: 0 right, 90 above) counterclockwise; the first spot whose box covers neither an obstacle
    ``(x, y, width, height)`` nor a label placed before wins; with no free spot, the first one
    covering the fewest.

    >>> spots, rings = place_apart(np.zeros((2, 2)), np.array([[10.0, 10.0], [10.0, 10.0]]), [])
    >>> spots.round(1).tolist(), rings.tolist()
    ([[14.0, 0.0], [5.4, 12.9]], [0, 0])
    """
    taken = np.asarray(obstacles, np.float64).reshape(-1, 4)
    out = np.zeros((len(anchors), 2), np.float64)
    rings = np.zeros(len(anchors), np.int64)
    angles = np.deg2rad(first + np.arange(16) * 22.5)
    directions = np.tile(np.column_stack([np.cos(angles), np.sin(angles)]), (len(RING_STEPS_PX), 1))
    gaps = np.repeat(np.asarray(RING_STEPS_PX, np.float64), len(angles))[:, None]
    for i, ((ax, ay), (w, h)) in enumerate(zip(anchors.tolist(), boxes.tolist())):
        spots = np.array([ax, ay]) + directions * (gaps + [w / 2, h / 2])
        hits = (
            (np.abs(spots[:, None, 0] - taken[None, :, 0]) * 2 < w + taken[None, :, 2])
            & (np.abs(spots[:, None, 1] - taken[None, :, 1]) * 2 < h + taken[None, :, 3])
        ).sum(axis=1)
        best = int(np.argmin(hits))  # the first spot with the fewest (ideally no) hits
        out[i], rings[i] = spots[best], best // len(angles)
        taken = np.vstack([taken, [[spots[best][0], spots[best][1], w, h]]])
    return out, rings
