"""The map: every point of a vector space on its 2-D projection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from explorekit._support.errors import ExploreError, short_repr
from explorekit.analysis.clusters import map_clusters
from explorekit.analysis.projection import DEFAULT_PROJECTION, projection_argument
from explorekit.plots import _base, _clusters

if TYPE_CHECKING:
    from explorekit.collection import Collection


def map(
    col: "Collection",
    using: str | None = None,
    *,
    projection: str = DEFAULT_PROJECTION,
    color: str | bool | None = None,
    clusters: Any = None,
    size: str | None = None,
    hover_data: Any = None,
    thumbnails: Any = None,
    max_thumbnails: int = 60,
    max_points: int = _base.MAX_POINTS,
    seed: int = 0,
    title: str | None = None,
    width: int | None = None,
    height: int | None = None,
    method: str | None = None,
) -> go.Figure:
    """The points of one vector space on its map, coloured or sized by payload columns.

    Parameters
    ----------
    col, using : the collection and vector name.
    projection : how the map is made (:func:`explorekit.analysis.projection.project`):
        ``"auto"`` (default: PCA, the plane itself for 2-D vectors), ``"pca"``, ``"umap"`` or
        ``"identity"``; computed once and cached. ``method=`` is its deprecated old name.
    color : payload column; numbers get a colour scale, anything else one legend entry per
        value (the 19 most common, then "other"), in light colours that overlays stand out on.
        None (default): the collection's categorical field
        (:func:`explorekit.query.display.category_field`: the first column of 2-12 distinct
        values), one colour when it has none; ``color=False``: one colour.
    clusters : ``ek.analysis.clusters(col, ...)`` (or a frame with ``id`` and ``cluster``):
        colour by cluster instead (the default colour is then not used), each cluster labelled
        at the middle of its points; noise and points outside the clustered sample are grey.
        ``True``: keep the colours and label the clusters that
        :func:`explorekit.analysis.clusters.map_clusters` finds (HDBSCAN of the distance
        matrix, else k-means on the map; the subtitle says which), as ``ek.Explorer(col,
        clusters=True)`` does.
    size : numeric payload column scaled to 3-14 px.
    hover_data : payload columns shown on hover (default: up to four short ones).
    thumbnails : column of image data URIs (detected when None; False: none); up to
        ``max_thumbnails`` of them are drawn on the map, spread by a seeded sample.
    max_points : above this many points a seeded sample is drawn, and the figure says so.
    seed : sample seed.

    Returns
    -------
    plotly ``go.Figure`` of ``Scattergl`` traces; ``customdata[:, 0]`` holds point ids.

    Examples
    --------
    >>> import explorekit as ek
    >>> col = ek.Collection.from_arrays([[0, 0], [1, 1], [2, 0]], distance="euclid",
    ...                                 payload=[{"kind": "a"}, {"kind": "b"}, {"kind": "a"}])
    >>> fig = ek.plots.map(col)                     # coloured by "kind", its categorical field
    >>> [(t.name, t.customdata[:, 0].tolist()) for t in fig.data]
    [('a', [0, 2]), ('b', [1])]
    >>> fig.layout.legend.title.text
    'kind'
    >>> len(ek.plots.map(col, color=False).data)   # one colour
    1
    >>> ek.plots.map(col, clusters=True).layout.title.subtitle.text.split("<br>")[-1][:30]
    'Cluster labels: k-means (k=2) '
    """
    projection = projection_argument(projection, method, "plots.map")
    _base.check_size("width", width)
    _base.check_size("height", height)
    if isinstance(max_thumbnails, bool) or not isinstance(max_thumbnails, (int, np.integer)) or max_thumbnails < 0:
        raise ExploreError(f"max_thumbnails: {short_repr(max_thumbnails)} is not a non-negative integer.")
    labelled = clusters is True  # label the clusters over the colours
    clusters = None if clusters is False or labelled else clusters
    if clusters is not None and color not in (None, False):
        raise ExploreError(f"map: pass color={color!r} or clusters=, not both (both colour the points).")
    color = None if clusters is not None else _base.map_color(col, color)
    m = _base.build_map(col, using, projection, max_points, seed)
    if clusters is not None:
        fig = go.Figure(_clusters.cluster_traces(m, m.drawn, clusters, hover_data=hover_data))
        _clusters.add_cluster_labels(fig, m, clusters)
        height = height or _clusters.map_height(len(fig.data))
    else:
        fig = go.Figure(
            _base.point_traces(
                m,
                m.drawn,
                color=color,
                size=size,
                hover_data=hover_data,
                base_color="#4c78a8" if color is None else _base.GREY,
            )
        )
    column = _base.thumbnail_column(col, thumbnails)
    if column is not None and max_thumbnails:
        count = min(int(max_thumbnails), len(m.drawn))
        rows = np.sort(np.random.default_rng(seed).choice(m.drawn, size=count, replace=False))
        _base.add_thumbnails(fig, m, rows, column)
    space = col.space(using)
    name = f"{col.name}: " if col.name else ""
    vector = f"vector {space.name!r}, " if space.name else ""
    default = f"{name}{len(col):,} points, {vector}{space.dim}-d {space.distance}"
    fig = _base.finish(fig, m, title=title or default, width=width, height=height)
    if color is not None:
        fig.update_layout(legend_title_text=color)
    if labelled:
        _clusters.label_clusters(fig, m, map_clusters(col, using, projection, seed=seed))
    return fig
