"""The Explorer's map: the 2-D points (from :mod:`explorekit.analysis.projection`), the base trace built
once, and the overlays that change on every click.

The figure's traces are the base traces of :func:`explorekit.plots.map` (every point, Scattergl,
float32 x/y, ids in ``customdata[:, 0]``; one trace per colour category), never changed after
they are drawn. The overlays (context-pair lines, result rings, examples) are layout shapes
(:func:`overlay_shapes`, :mod:`explorekit.widgets._shapes`): updating them redraws the shapes
only, not the map's points; they take no pointer events, so clicks and hovers always reach the
base point underneath.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorekit._support.errors import ExploreError, short_repr
from explorekit.analysis.clusters import map_clusters
from explorekit.analysis.projection import place, project
from explorekit.collection import Collection
from explorekit.data.ids import is_id
from explorekit.plots import _base, _clusters
from explorekit.plots import map as plot_map
from explorekit.plots._base import OUTLINE, RING, ROLE_STYLE
from explorekit.widgets import _shapes

# role -> (colour, symbol), as the explanation figures draw them; context sides as positive/negative
STYLE = {role: (ROLE_STYLE[role]["color"], ROLE_STYLE[role]["symbol"]) for role in ("positive", "negative", "target")}
STYLE.update({"context+": STYLE["positive"], "context-": STYLE["negative"], "pending": ("#737373", "triangle-up")})
TEXT_SYMBOL = "hexagram"  # an example embedded from a typed text: its role's colour, this marker (targets are stars)

MAP_SAMPLE = 20_000  # points mapped from a remote collection (a sample; the rest is placed on need)


def map_collection(col: Any, sample: int = MAP_SAMPLE) -> Any:
    """The local collection the map is computed on: ``col`` itself, or a sample of a remote one."""
    if isinstance(col, Collection):
        return col
    if hasattr(col, "sample"):
        return col.sample(limit=sample)
    raise ExploreError(
        f"collection: {short_repr(col)} is neither an explorekit Collection nor a remote "
        "collection with sample(); pass ek.Collection or ek.connect(...)['name']."
    )


def project_points(map_col: Any, using: str | None, method: str) -> pd.DataFrame:
    """The map's points ``(id, x, y)`` from :func:`explorekit.analysis.projection.project` (cached there),
    with its ``attrs["projection"]``."""
    if not isinstance(method, str):
        raise ExploreError(
            f"projection: {short_repr(method)} is not a projection method. "
            "Use 'umap', 'pca', 'auto' or 'identity' (2-D vectors)."
        )
    points = project(map_col, using=using, projection=method)
    out = pd.DataFrame(
        {
            "id": points["id"].to_numpy(),
            "x": np.asarray(points["x"], np.float32),
            "y": np.asarray(points["y"], np.float32),
        }
    )
    out.attrs["projection"] = points.attrs["projection"]  # how the map was made (figure notes)
    return out


class MapIndex:
    """Where each point id sits on the map; looks up many ids at once (vectorised).

    Ids that are not on the map (a map of a remote collection's sample) and raw vectors are
    placed with :func:`explorekit.analysis.projection.place` on the map's own projection.
    """

    def __init__(
        self,
        points: pd.DataFrame,
        col: Any = None,
        map_col: Any = None,
        using: str | None = None,
        method: str | None = None,
    ) -> None:
        self.ids = pd.Index(points["id"].to_numpy())
        self.id_list = self.ids.tolist()  # python ints/strs, as the core's ids are
        self.x = np.ascontiguousarray(points["x"], dtype=np.float32)
        self.y = np.ascontiguousarray(points["y"], dtype=np.float32)
        self.col, self.map_col, self.using, self.method = col, map_col, using, method

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, point_inds: list[int]) -> list[Any]:
        """Ids of points of the base trace, by position in the trace."""
        return [self.id_list[i] for i in point_inds]

    def xy(self, examples: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Map positions of ids and raw vectors; NaN where a point cannot be placed."""
        x = np.full(len(examples), np.nan, np.float32)
        y = np.full(len(examples), np.nan, np.float32)
        if not examples:
            return x, y
        id_at = np.array([i for i, e in enumerate(examples) if is_id(e)], dtype=np.int64)
        place_at, place_what = [], []
        if len(id_at):
            rows = self.ids.get_indexer([examples[i] for i in id_at])
            found = rows >= 0
            x[id_at[found]], y[id_at[found]] = self.x[rows[found]], self.y[rows[found]]
            missing = id_at[~found].tolist()
            if missing and self.col is not None and hasattr(self.col, "vectors_of"):
                place_at += missing
                place_what += list(self.col.vectors_of([examples[i] for i in missing], using=self.using))
        vec_at = [i for i, e in enumerate(examples) if not is_id(e)]
        place_at += vec_at
        place_what += [np.asarray(examples[i], np.float32) for i in vec_at]
        if place_at and self.map_col is not None and self.method is not None:
            coords = place(self.map_col, np.stack(place_what), using=self.using, projection=self.method)
            x[place_at], y[place_at] = coords[:, 0], coords[:, 1]
        return x, y


def base_figure(
    map_col: Any,
    using: str | None,
    method: str,
    color: Any,
    hover: Any,
    height: int,
    max_points: int,
    clusters: Any = None,
) -> go.Figure:
    """The plain map (:func:`explorekit.plots.map`): its traces are the base, built once; with
    ``clusters`` (a clustering of ``map_col``) its labels on top (:func:`~explorekit.plots._clusters.label_clusters`)."""
    fig = plot_map(
        map_col, using=using, projection=method, color=color, hover_data=hover, height=height, max_points=max_points
    )
    fig.update_layout_images(layer="below")  # thumbnails under the points: they hid examples and rings
    if clusters is not None:
        _clusters.label_clusters(fig, _base.build_map(map_col, using, method, max_points, 0), clusters)
    return fig


def explorer_clusters(map_col: Any, using: str | None, method: str, clusters: Any) -> Any:
    """The Explorer's ``clusters=``: None/False (no labels), True (:func:`~explorekit.analysis.clusters.map_clusters`
    of the map's collection: HDBSCAN of the distance matrix, else k-means on the map), or a
    clustering (``ek.analysis.clusters(...)`` or a frame with ``id`` and ``cluster``) used as given."""
    if clusters is None or clusters is False:
        return None
    if clusters is True:
        return map_clusters(map_col, using, method)
    _clusters.cluster_frames(clusters)  # checks it: a clear error for anything else
    return clusters


def trace_ids(trace: Any) -> list[Any]:
    """Point ids of a base trace, by position (``customdata[:, 0]``, as every plot stores them)."""
    data = trace.customdata
    if data is None or not len(data):
        return []
    column = np.asarray(data)[:, 0] if np.ndim(data) == 2 else np.asarray(data)
    return column.tolist()


EXAMPLE_SIZE = 16  # pixels across an example mark
PAIR_LINE = dict(width=1.5, color="#636363", dash="dash")  # a context pair: its positive and negative side


def overlay_shapes(ex: dict[str, Any], rx: np.ndarray, ry: np.ndarray) -> dict[str, list[dict[str, Any]]]:
    """The overlays as layout shapes (:mod:`explorekit.widgets._shapes`), by group: context-pair
    lines (``pair``), result rings (``results``: dark open circles, :data:`~explorekit.plots._base.RING`,
    as the explanation figures ring them) and examples (``examples``: their role's colour and
    symbol with a dark outline), drawn in that order above the base map; none of these colours
    is a category colour of the base map, whose points are drawn lighter underneath. ``ex`` is
    :func:`example_overlay`; ``rx, ry`` the results' positions. Points that cannot be placed
    (NaN) are left out.
    """
    pairs = [
        _shapes.segment(
            ex["line_x"][k], ex["line_y"][k], ex["line_x"][k + 1], ex["line_y"][k + 1], line=PAIR_LINE, name="pair"
        )
        for k in range(0, len(ex["line_x"]), 3)
        if np.isfinite(ex["line_x"][k : k + 2]).all() and np.isfinite(ex["line_y"][k : k + 2]).all()
    ]
    rings = [
        _shapes.ring(x, y, size=RING["size"], color=RING["color"], width=RING["line"]["width"], name="results")
        for x, y in zip(rx, ry)
        if np.isfinite(x) and np.isfinite(y)
    ]
    marks = [
        _shapes.mark(x, y, symbol=symbol, size=EXAMPLE_SIZE, fill=colour, outline=OUTLINE, width=2, name="examples")
        for x, y, colour, symbol in zip(ex["x"], ex["y"], ex["color"], ex["symbol"])
        if np.isfinite(x) and np.isfinite(y)
    ]
    return {"pair": pairs, "results": rings, "examples": marks}


def example_overlay(index: MapIndex, selection: Any) -> dict[str, Any]:
    """x, y, colours and symbols of every chosen example, and the context-pair line segments."""
    items: list[tuple[str, Any]] = [("positive", e) for e in selection.positive]
    items += [("negative", e) for e in selection.negative]
    if selection.target is not None:
        items.append(("target", selection.target))
    for p, n in selection.context:
        items += [("context+", p), ("context-", n)]
    if selection.pending is not None:
        items.append(("pending", selection.pending))
    x, y = index.xy([e for _, e in items])
    n_pairs = len(selection.context)
    start = len(items) - 2 * n_pairs - (selection.pending is not None)
    lx = np.full(3 * n_pairs, np.nan, np.float32)
    ly = np.full(3 * n_pairs, np.nan, np.float32)
    lx[0::3], lx[1::3] = x[start : start + 2 * n_pairs : 2], x[start + 1 : start + 2 * n_pairs : 2]
    ly[0::3], ly[1::3] = y[start : start + 2 * n_pairs : 2], y[start + 1 : start + 2 * n_pairs : 2]
    return {
        "x": x,
        "y": y,
        "color": [STYLE[r][0] for r, _ in items],
        "symbol": [TEXT_SYMBOL if selection.text_of(e) is not None else STYLE[r][1] for r, e in items],
        "line_x": lx,
        "line_y": ly,
    }
