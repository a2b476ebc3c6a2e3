"""The map coloured by cluster (:func:`explorekit.analysis.clusters.clusters`), each cluster labelled.

One trace per cluster (its colour, its legend entry ``"<n> · <label> (<size>)"``), one for noise
and one for the points that were not in the clustered sample (those two drawn underneath). Each cluster's label is written
at the middle of its points (the median of their map positions); a label that would cover one
already written moves outwards, step by step, and an arrow points back to its cluster.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorekit._support.errors import ExploreError, short_repr
from explorekit.analysis.clusters import NOISE, Clusters
from explorekit.plots import _base

NOISE_COLOUR = "rgba(120, 120, 120, 0.55)"
CHAR_PX, LINE_PX = 6.6, 17.0  # the size of an 11-px label, for keeping labels apart
PLOT_PX = (800.0, 440.0)  # the plotting area the label sizes are judged against
LEGEND_ROW_PX = 19
RINGS = 8  # how far (in label sizes) a label may move away from its cluster


def cluster_frames(clusters: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(labels, summary)`` from a :class:`Clusters` or a frame with ``id`` and ``cluster``."""
    if isinstance(clusters, Clusters):
        return clusters.labels, clusters.summary
    if isinstance(clusters, pd.DataFrame) and {"id", "cluster"} <= set(clusters.columns):
        return clusters, pd.DataFrame(columns=["cluster", "size", "label"])
    raise ExploreError(
        f"clusters: {short_repr(clusters)} is not a clustering. Pass ek.analysis.clusters(col, ...) "
        "or a DataFrame with columns id and cluster."
    )


def cluster_traces(m: _base.Map, rows: np.ndarray, clusters: Any, hover_data: Any = None) -> list[go.Scattergl]:
    """Traces of the drawn rows by cluster: the points not in the sample and noise first (drawn
    underneath), then the clusters by size (the legend lists the clusters first)."""
    labels, summary = cluster_frames(clusters)
    col = m.col
    of = dict(zip(labels["id"].tolist(), labels["cluster"].tolist()))
    ids = col.store.ids.take(rows)
    cluster = np.array([of.get(i, NOISE - 1) for i in ids], dtype=np.int64)  # -2: not in the sample
    names = dict(zip(summary["cluster"].tolist(), summary["label"].tolist()))
    text = _base.hover_text(col, rows, _base.hover_columns(col, hover_data))
    x, y = m.xy(rows)
    traces = []
    for c in sorted(set(cluster.tolist())):  # drawn bottom up: unsampled, noise, clusters
        sel = cluster == c
        if c >= 0:
            label = names.get(c) or ""
            name = f"{c} \u00b7 {label} ({sel.sum():,})" if label else f"cluster {c} ({sel.sum():,})"
            marker = dict(color=_base.PALETTE[c % len(_base.PALETTE)], size=6)
        elif c == NOISE:
            name, marker = f"noise ({sel.sum():,})", dict(color=NOISE_COLOUR, size=4)
        else:
            name, marker = f"not in the sample ({sel.sum():,})", dict(color=_base.GREY, size=3)
        traces.append(
            go.Scattergl(
                x=x[sel],
                y=y[sel],
                customdata=_base.customdata(col, rows[sel]),
                text=np.asarray(text)[sel],
                mode="markers",
                hoverinfo="text",
                name=name,
                marker=marker,
                legendrank=1000 + c if c >= 0 else 2000 - c,  # the legend lists clusters first
                meta={"role": "points", "cluster": int(c)},
            )
        )
    return traces


def add_cluster_labels(fig: go.Figure, m: _base.Map, clusters: Any, *, coloured: bool = True) -> None:
    """Each cluster's label near the middle of its points, apart from the others (annotations);
    framed in its cluster's colour, or in grey on a see-through background when the points are
    coloured by something else and overlays may lie underneath (``coloured=False``)."""
    labels, summary = cluster_frames(clusters)
    rows_of = m.col.store.ids.rows(labels["id"].tolist(), what="clusters")
    coords = m.coords[rows_of]
    texts = dict(zip(summary["cluster"].tolist(), summary["label"].tolist()))
    found = [c for c in sorted(set(labels["cluster"].tolist())) if c >= 0]
    middles = np.array(
        [np.median(coords[labels["cluster"].to_numpy() == c], axis=0) for c in found], dtype=np.float64
    ).reshape(-1, 2)
    words = [f"{c} \u00b7 {texts[c].split(', ')[0]}" if texts.get(c) else f"cluster {c}" for c in found]
    span = np.ptp(m.coords[m.drawn], axis=0) if len(m.drawn) else np.ones(2)
    placed = place_labels(middles, words, units_per_px(span, equal=m.method != "umap"))
    for c, word, (mx, my), (lx, ly) in zip(found, words, middles, placed):
        moved = (lx, ly) != (mx, my)
        fig.add_annotation(
            x=mx,
            y=my,
            ax=lx,
            ay=ly,
            axref="x",
            ayref="y",
            text=word,
            showarrow=bool(moved),
            arrowhead=0,
            arrowcolor="#555555",
            arrowwidth=1,
            font=dict(size=11, color="#111111"),
            bgcolor="rgba(255, 255, 255, 0.8)" if coloured else "rgba(255, 255, 255, 0.55)",  # overlays show through
            bordercolor=_base.PALETTE[c % len(_base.PALETTE)] if coloured else "#555555",
            borderwidth=1.5 if coloured else 1,
            name=f"cluster {c}",
        )


def label_clusters(fig: go.Figure, m: _base.Map, clusters: Any) -> None:
    """Cluster labels over a map coloured by something else (the Explorer's ``clusters=True``):
    framed in a dark outline, placed apart as :func:`add_cluster_labels` places them, and the
    subtitle says where the clusters come from (:func:`clusters_note`)."""
    add_cluster_labels(fig, m, clusters, coloured=False)
    subtitle = fig.layout.title.subtitle.text or ""
    fig.layout.title.subtitle.text = "<br>".join(t for t in (subtitle, clusters_note(clusters)) if t)
    fig.layout.margin.t = (fig.layout.margin.t or 90) + (14 if subtitle else 0)


def clusters_note(clusters: Any) -> str:
    """Where cluster labels come from, said in one line (``labels.attrs["clusters"]``).

    >>> frame = pd.DataFrame({"id": [0], "cluster": [0]})
    >>> frame.attrs["clusters"] = {"method": "kmeans", "k": 4, "instead_of": "HDBSCAN ... found 1 cluster"}
    >>> clusters_note(frame)
    'Cluster labels: k-means (k=4) on this 2-D map (HDBSCAN ... found 1 cluster).'
    """
    labels, _ = cluster_frames(clusters)
    info = labels.attrs.get("clusters", {})
    method = info.get("method")
    if method == "kmeans":
        why = f" ({info['instead_of']})" if info.get("instead_of") else ""
        return f"Cluster labels: k-means (k={info.get('k')}) on this 2-D map{why}."
    if method in ("hdbscan", "dbscan"):
        return (
            f"Cluster labels: {method.upper()} of the distance matrix of {info.get('sample', len(labels)):,} "
            "sampled points (ek.analysis.clusters), each label at the middle of its cluster's points."
        )
    return "Cluster labels: the given clustering."


def map_height(legend_entries: int) -> int:
    """The figure's height: the map's usual 640 px, plus room for a legend of two columns
    (plotly takes a legend below the plot out of the plot's own height)."""
    return 640 + int(LEGEND_ROW_PX * np.ceil(legend_entries / 2))


def units_per_px(span: np.ndarray, *, equal: bool) -> np.ndarray:
    """Map units per screen pixel along x and y, for a plotting area of about ``PLOT_PX``
    (with equal axis scales the wider of the two rules both).

    >>> units_per_px(np.array([8.0, 1.0]), equal=True).tolist()
    [0.01, 0.01]
    """
    span = np.where(np.asarray(span, np.float64) > 0, span, 1.0)
    per = span / np.asarray(PLOT_PX)
    return np.full(2, per.max()) if equal else per


def label_boxes(words: list[str], scale: np.ndarray) -> np.ndarray:
    """The (width, height) of each label in map units (estimated from its length)."""
    width = np.array([len(w) * CHAR_PX + 10 for w in words]) * scale[0]
    height = np.full(len(words), (LINE_PX + 6) * scale[1])
    return np.column_stack([width, height])


def place_labels(middles: np.ndarray, words: list[str], scale: np.ndarray) -> list[tuple[float, float]]:
    """A position per label, greedily in the given order: its middle if that covers no label
    already placed, else the nearest free spot on rings around it (eight directions, up to
    ``RINGS`` label sizes out); a label with no free spot stays at its middle. ``scale``: map
    units per pixel along x and y.

    >>> place_labels(np.array([[0.0, 0.0], [0.0, 0.0]]), ["a", "b"], np.array([1.0, 1.0]))
    [(0.0, 0.0), (0.0, 25.3)]
    """
    boxes = label_boxes(words, scale)
    taken: list[tuple[float, float, float, float]] = []
    out: list[tuple[float, float]] = []
    directions = [(0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)]
    for (mx, my), (w, h) in zip(middles.tolist(), boxes.tolist()):
        spots = [(mx, my)] + [
            (mx + dx * ring * w * 0.6, my + dy * ring * h * 1.1)
            for ring in range(1, RINGS + 1)
            for dx, dy in directions
        ]
        spot = next((s for s in spots if not any(_overlap(s, w, h, t) for t in taken)), (mx, my))
        taken.append((spot[0], spot[1], w, h))
        out.append((float(spot[0]), float(spot[1])))
    return out


def _overlap(spot: tuple[float, float], w: float, h: float, other: tuple[float, float, float, float]) -> bool:
    ox, oy, ow, oh = other
    return abs(spot[0] - ox) * 2 < w + ow and abs(spot[1] - oy) * 2 < h + oh
