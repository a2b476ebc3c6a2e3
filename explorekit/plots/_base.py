"""Pieces every figure shares: the map, sampling, ids, hover text, colours, thumbnails, layout.

Conventions (all figures): plain ``go.Figure``; the points are WebGL (``Scattergl``) traces;
``customdata[:, 0]`` holds the point id of every marker; every trace has
``meta={"role": ...}`` (``points``, ``results``, ``positive``, ``negative``, ``average``,
``query``, ``target``, ``pair``, ``decision``, ``field``, ``boundary`` ...) so code can find it
without relying on trace order or names.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from explorekit._support.errors import ExploreError, short_repr, unknown
from explorekit._support.text import clean_rst
from explorekit.analysis.projection import place, project
from explorekit.data.images import SAMPLE, is_image, is_image_column
from explorekit.query import display

if TYPE_CHECKING:
    from explorekit.collection import Collection

MAX_POINTS = 100_000  # drawn smoothly by a WebGL trace (exploration-peers.md §5.2)
MAX_CATEGORIES = 20
PALETTE = qualitative.D3 + qualitative.Pastel  # lines and bars (strong colours on white)
# Map points by category: light colours, drawn at BASE_OPACITY, so that the overlays drawn on top
# (black result rings, examples in ROLE_STYLE's strong colours with a dark outline) stay visible
# on every category; none of the overlay colours is in this palette (tests/test_map_colours.py).
# (19 light qualitative colours, each at least 60 apart in RGB from every overlay colour: no
# strong orange, red, green or purple, which mark results and examples).
CATEGORY_PALETTE = [
    *(qualitative.Pastel[i] for i in (0, 3, 4, 5, 6, 7, 8, 9)),
    *(qualitative.Pastel1[i] for i in (0, 4)),
    *(qualitative.Set2[i] for i in (2,)),
    *(qualitative.Set3[i] for i in (9,)),
    *(qualitative.Set2[i] for i in (3,)),
    *(qualitative.Pastel1[i] for i in (6,)),
    *(qualitative.Pastel2[i] for i in (1,)),
    *(qualitative.Set3[i] for i in (1, 7, 10)),
    *(qualitative.Set2[i] for i in (0,)),
]
BASE_OPACITY = 0.8
GREY = "rgba(150, 150, 150, 0.35)"
MISSING = "(missing)"  # the category of points without a value
OTHER_COLOUR = "rgb(200, 200, 200)"  # the "other (n values)" and "(missing)" categories
OUTLINE = "#111111"  # the dark outline of every overlay marker
RING = dict(symbol="circle-open", color=OUTLINE, size=14, line=dict(width=2.5))  # a result, ringed
ROLE_STYLE = {
    "positive": dict(symbol="triangle-up", color="#1a9850", size=15),
    "negative": dict(symbol="triangle-down", color="#d73027", size=15),
    "average": dict(symbol="diamond", color="#7b3294", size=15),
    "query": dict(symbol="star", color="#7b3294", size=17),
    "target": dict(symbol="star", color="#f1a340", size=19),
}


@dataclass
class Map:
    """The projected points of one vector space, and which of them are drawn."""

    col: "Collection"
    using: str | None
    method: str
    coords: np.ndarray  # (n, 2) every point
    info: dict  # projection attrs
    drawn: np.ndarray  # rows drawn in the background (all, or a seeded sample)
    note: str

    def xy(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.coords[rows, 0], self.coords[rows, 1]

    def place(self, vectors: list) -> np.ndarray:
        """Map positions of example vectors (ids of this collection: their own position)."""
        if not len(vectors):
            return np.zeros((0, 2), np.float32)
        return place(self.col, vectors, using=self.using, projection=self.method)


def build_map(col: "Collection", using: str | None, projection: str, max_points: int, seed: int) -> Map:
    """Project (cached) and choose the drawn rows: all, or a seeded sample above max_points."""
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise ExploreError(
            f"max_points: {short_repr(max_points)} is not a positive integer. "
            f"The default, {MAX_POINTS:,}, stays smooth in a browser."
        )
    frame = project(col, using=using, projection=projection)
    coords = np.column_stack([frame["x"].to_numpy(np.float32), frame["y"].to_numpy(np.float32)])
    n = len(coords)
    if n > max_points:
        drawn = np.sort(np.random.default_rng(seed).choice(n, size=int(max_points), replace=False))
        note = f"Showing {max_points:,} of {n:,} points (random sample, seed {seed}); every query ran on all points."
    else:
        drawn, note = np.arange(n), ""
    return Map(col, using, frame.attrs["projection"]["method"], coords, frame.attrs["projection"], drawn, note)


def customdata(col: "Collection", rows: np.ndarray, *extra: np.ndarray) -> np.ndarray:
    """``(len(rows), 1 + len(extra))``: ids first (int32 when they fit, so they travel binary)."""
    values = col.store.ids.take(rows)
    return _id_columns(values, col.store.ids.all_int and (not values or max(values) < 2**31), extra)


def id_customdata(values: list, *extra: np.ndarray) -> np.ndarray:
    """``customdata`` for these point ids (as :func:`customdata`, from the ids themselves)."""
    values = list(values)
    small = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v < 2**31 for v in values)
    return _id_columns(values, small, extra)


def _id_columns(values: list, small: bool, extra: tuple) -> np.ndarray:
    if small:
        ids = np.asarray(values, dtype=np.int32)
        if not extra:
            return ids.reshape(-1, 1)
    else:
        ids = np.asarray(values, dtype=object)
    return np.column_stack([ids.astype(object), *extra]) if extra else ids.astype(object).reshape(-1, 1)


def hover_columns(col: "Collection", hover_data: Any) -> list[str]:
    """Payload columns for hover text: the given ones, else up to four short ones."""
    columns = list(col.store.payload.columns)
    if hover_data is None:
        kinds = col.store.payload.kinds()
        picks = [c for c in columns if kinds[c] != "json" and not _is_image_column(col, c)]
        return picks[:4]
    names = [hover_data] if isinstance(hover_data, str) else list(hover_data)
    for name in names:
        if name not in columns:
            raise ExploreError(
                unknown("payload column (hover_data)", name, columns, f"hover_data takes names from {columns[:20]}.")
            )
    return names


def hover_text(col: "Collection", rows: np.ndarray, columns: list[str], head: list[str] | None = None) -> np.ndarray:
    """One hover string per row: optional head lines, ``id``, then ``column: value`` lines."""
    values = col.store.payload.select(rows, columns) if columns else None
    return frame_hover_text(col.store.ids.take(rows), values, columns, head)


def frame_hover_text(
    ids: list, values: pd.DataFrame | None, columns: list[str], head: list[str] | None = None
) -> np.ndarray:
    """The hover strings of :func:`hover_text` from ids and a frame of their payload values."""
    text = "id " + pd.Series(list(ids), dtype=object).astype(str)
    if head is not None:
        text = pd.Series(head, dtype=object).astype(str) + "<br>" + text
    if columns and values is not None:
        values = values.reset_index(drop=True)
        for name in columns:
            shown = [html.escape(_cell_text(value), quote=False) for value in values[name].tolist()]
            text = text + f"<br>{html.escape(name)}: " + np.asarray(shown, dtype=object)
    return text.to_numpy(dtype=object)


def _cell_text(value: Any) -> str:
    """A payload value as hover text (at most 80 characters); a missing one (None, NaN, <NA>) is ``-``.

    Done value by value: pandas 3 keeps missing values missing through ``astype(str)``, and
    ``"..." + NaN`` made the whole hover string NaN, or a TypeError when every value was missing.

    >>> _cell_text(None), _cell_text(float("nan")), _cell_text([1, 2])
    ('-', '-', '[1, 2]')
    """
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return "-"
    return clean_rst(str(value))[:80]  # docstrings without their reStructuredText markup


def column_values(col: "Collection", rows: np.ndarray, name: str, what: str) -> pd.Series:
    if name not in col.store.payload.columns:
        raise ExploreError(
            unknown(
                f"payload column ({what})",
                name,
                col.store.payload.columns,
                f"{what}= takes a payload column, one of {list(col.store.payload.columns)[:20]}.",
            )
        )
    return col.store.payload.select(rows, [name])[name]


def map_color(col: "Collection", color: Any) -> str | None:
    """The payload column a map is coloured by: ``color`` itself when it names one; for None the
    collection's categorical field (:func:`explorekit.query.display.category_field`, judged on its
    first points), if it has one; for False none (one colour).

    >>> import explorekit as ek
    >>> col = ek.Collection.from_arrays([[0, 0], [1, 1], [2, 0]], payload=[{"kind": k} for k in "aba"])
    >>> map_color(col, None), map_color(col, False), map_color(col, "kind")
    ('kind', None, 'kind')
    """
    if color is False:
        return None
    if isinstance(color, str):
        return color
    if color is not None:
        raise ExploreError(
            f"color: {short_repr(color)} is not a payload column. Pass a column name, None "
            "(colour by the collection's categorical field, if it has one) or False (one colour)."
        )
    payload = col.store.payload
    if not len(payload.columns) or not len(col):
        return None
    return display.category_field(payload.select(np.arange(min(len(col), display.SAMPLE)), list(payload.columns)))


def is_numeric(values: pd.Series) -> bool:
    return (
        pd.api.types.is_numeric_dtype(values)
        and not pd.api.types.is_bool_dtype(values)
        and values.nunique(dropna=True) > MAX_CATEGORIES
    )


def point_traces(
    m: Map,
    rows: np.ndarray,
    *,
    color: str | None = None,
    size: str | None = None,
    hover_data: Any = None,
    name: str = "points",
    base_color: str = GREY,
    marker_size: float = 5,
) -> list[go.Scattergl]:
    """Background traces of the drawn points: one grey trace, one continuous colour scale, or
    one trace per category (at most 20; the rest become "other")."""
    col = m.col
    columns = hover_columns(col, hover_data)
    sizes = _sizes(column_values(col, rows, size, "size")) if size is not None else marker_size
    x, y = m.xy(rows)
    text = hover_text(col, rows, columns)
    common = dict(mode="markers", hoverinfo="text", meta={"role": "points"})
    if color is None:
        return [
            go.Scattergl(
                x=x,
                y=y,
                customdata=customdata(col, rows),
                text=text,
                name=name,
                marker=dict(color=base_color, size=sizes, opacity=1.0 if base_color == GREY else BASE_OPACITY),
                **common,
            )
        ]
    values = column_values(col, rows, color, "color")
    if is_numeric(values):
        numbers = values.to_numpy(np.float64, na_value=np.nan)
        ok = np.isfinite(numbers)
        traces = [
            go.Scattergl(
                x=x[ok],
                y=y[ok],
                customdata=customdata(col, rows[ok]),
                text=text[ok],
                name=color,
                marker=dict(
                    color=numbers[ok].astype(np.float32),
                    colorscale="Viridis",
                    size=sizes if np.isscalar(sizes) else sizes[ok],
                    showscale=True,
                    colorbar=dict(title=dict(text=color), thickness=14),
                    opacity=BASE_OPACITY,
                ),
                showlegend=False,
                **common,
            )
        ]
        if not ok.all():
            traces.append(
                go.Scattergl(
                    x=x[~ok],
                    y=y[~ok],
                    customdata=customdata(col, rows[~ok]),
                    text=text[~ok],
                    name=f"{color} missing",
                    marker=dict(color=GREY, size=marker_size),
                    **common,
                )
            )
        return traces
    labels = values.map(_label).astype(str).to_numpy(dtype=object)
    counts = pd.Series(labels).value_counts(sort=True)
    keep = list(counts.index[: MAX_CATEGORIES - 1]) if len(counts) > MAX_CATEGORIES else list(counts.index)
    if len(counts) > MAX_CATEGORIES:
        other = f"other ({len(counts) - len(keep)} values)"
        labels = np.where(np.isin(labels, keep), labels, other).astype(object)
        keep.append(other)
    traces = []
    ordered = sorted(keep, key=lambda v: (v.startswith("other (") or v == MISSING, v))
    for label, colour in zip(ordered, category_colours(ordered)):
        sel = labels == label
        traces.append(
            go.Scattergl(
                x=x[sel],
                y=y[sel],
                customdata=customdata(col, rows[sel]),
                text=text[sel],
                name=label,
                legendgroup=label,
                marker=dict(color=colour, size=sizes if np.isscalar(sizes) else sizes[sel], opacity=BASE_OPACITY),
                **common,
            )
        )
    return traces


def category_colours(labels: list[str]) -> list[str]:
    """One colour per category label: :data:`CATEGORY_PALETTE` in order, light grey for
    "other (n values)" and "(missing)".

    >>> category_colours(["a", "(missing)"]) == [CATEGORY_PALETTE[0], OTHER_COLOUR]
    True
    """
    out, i = [], 0
    for label in labels:
        if label == MISSING or label.startswith("other ("):
            out.append(OTHER_COLOUR)
        else:
            out.append(CATEGORY_PALETTE[i % len(CATEGORY_PALETTE)])
            i += 1
    return out


def _label(value: Any) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(map(str, value)) if len(value) else "(empty)"
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return MISSING
    return str(value)


def _sizes(values: pd.Series) -> np.ndarray:
    numbers = values.to_numpy(np.float64, na_value=np.nan)
    finite = numbers[np.isfinite(numbers)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    scaled = (numbers - low) / (high - low) if high > low else np.zeros_like(numbers)
    return np.where(np.isfinite(scaled), 3.0 + 11.0 * scaled, 3.0).astype(np.float32)


def _is_image_column(col: "Collection", name: str) -> bool:
    """Judged on the collection's first points (:mod:`explorekit.data.images`)."""
    if col.store.payload.kinds().get(name) != "str":
        return False
    return is_image_column(col.store.payload.select(np.arange(min(SAMPLE, len(col))), [name])[name].tolist())


def thumbnail_column(col: "Collection", thumbnails: Any) -> str | None:
    """The payload column of image data URIs: given, detected (None), or off (False)."""
    if thumbnails is False:
        return None
    if isinstance(thumbnails, str):
        if thumbnails not in col.store.payload.columns:
            raise ExploreError(
                unknown(
                    "payload column (thumbnails)",
                    thumbnails,
                    col.store.payload.columns,
                    "thumbnails= takes a column of image data URIs, None (detect) or False.",
                )
            )
        return thumbnails
    if thumbnails not in (None, True):
        raise ExploreError(f"thumbnails: {short_repr(thumbnails)} is not a column name, None or False.")
    return next((c for c in col.store.payload.columns if _is_image_column(col, c)), None)


def add_thumbnails(
    fig: go.Figure,
    m: Map,
    rows: np.ndarray,
    column: str,
    scale: float = 0.045,
    span: np.ndarray | None = None,
    beside: bool = False,
) -> None:
    """Images of these points at their map positions (layout images, ``scale`` of ``span``).

    ``span`` is the shown (width, height) in map units (default: the whole map); ``beside``
    puts each image to the upper right of its marker instead of over it.
    """
    if not len(rows):
        return
    span = np.ptp(m.coords, axis=0) if span is None else np.asarray(span, np.float64)
    sizex, sizey = float(span[0] * scale or 1), float(span[1] * scale or 1)
    sources = column_values(m.col, rows, column, "thumbnails").tolist()
    x, y = m.xy(rows)
    for xi, yi, source in zip(x.tolist(), y.tolist(), sources):
        if is_image(source):
            fig.add_layout_image(
                source=source,
                x=xi + (0.25 * sizex if beside else 0.0),
                y=yi + (0.25 * sizey if beside else 0.0),
                xref="x",
                yref="y",
                sizex=sizex,
                sizey=sizey,
                xanchor="left" if beside else "center",
                yanchor="bottom" if beside else "middle",
                layer="above",
                sizing="contain",
                opacity=0.95,
            )


def axis_titles(m: Map) -> tuple[str, str]:
    if m.method == "pca":
        share = m.info.get("explained_variance", [0, 0])
        return f"PC1 ({100 * share[0]:.1f}%)", f"PC2 ({100 * share[1]:.1f}%)"
    if m.method == "umap":
        return "UMAP 1", "UMAP 2"
    return "dimension 0", "dimension 1"


def finish(
    fig: go.Figure,
    m: Map,
    *,
    title: str | None,
    subtitle: str = "",
    width: int | None = None,
    height: int | None = None,
) -> go.Figure:
    """Title, note (sampling, projection), axes and size; equal axis scales except for UMAP."""
    notes = [t for t in (subtitle, _projection_note(m), m.note) if t]
    xt, yt = axis_titles(m)
    fig.update_layout(
        template="plotly_white",
        width=width,
        height=height or 640,
        title=dict(text=title or "", subtitle=dict(text="<br>".join(notes), font=dict(size=11))),
        margin=dict(t=90 + 14 * max(0, len(notes) - 1), l=60, r=30, b=60),
        # at the bottom of the figure, not of the plot: plotly makes room for it below the x-axis
        # title at any height (y=-0.12 of the plot covered the title of a 520-px Explorer map)
        legend=dict(
            itemsizing="constant", orientation="h", x=0, xanchor="left", yref="container", y=0, yanchor="bottom"
        ),
        hovermode="closest",
    )
    fig.update_xaxes(title_text=xt, zeroline=False)
    fig.update_yaxes(title_text=yt, zeroline=False)
    if m.method != "umap":
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def _projection_note(m: Map) -> str:
    info = m.info
    name = {"pca": "PCA", "umap": "UMAP", "identity": "the plane itself"}[m.method]
    fitted = info.get("fitted_on", info.get("points"))
    if m.method == "identity":
        return "Map: the 2-D vectors as they are."
    if fitted and fitted < info.get("points", fitted):
        return (
            f"Map: {name} fitted on {fitted:,} of {info['points']:,} points (seed {info.get('seed', 0)}), "
            "the rest placed."
        )
    return f"Map: {name} of {info.get('points', 0):,} points."


def check_size(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 50):
        raise ExploreError(f"{name}: {short_repr(value)} is not a size in pixels (an integer >= 50, or None).")
