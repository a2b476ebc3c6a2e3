"""The neighbour graph (Qdrant Web UI's graph view): nodes, edges by score, a force layout.

The numbers come from :func:`explorekit.analysis.graph.neighbour_graph`; this module only
places and draws them. Nodes are placed by networkx's spring layout (edges pull harder the
closer their points are), or at given map coordinates (``positions=``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from explorekit._support.errors import ExploreError, short_repr, unknown
from explorekit._support.lazy import lazy_module
from explorekit.analysis.graph import MAX_NODES, NeighbourGraph, neighbour_graph
from explorekit.analysis.projection import project
from explorekit.plots import _base
from explorekit.query.display import format_score

nx = lazy_module("networkx")  # the graph tab's layout only: not paid by the first map

DISTANCES = ("euclid", "manhattan")  # smaller score = closer
EDGE_BINS = 4
EDGE_WIDTHS = (1.0, 2.0, 3.5, 5.5)
DEPTH_COLORS = ("#111111", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")
NODE_COLUMNS = ("id", "depth", "expanded")


def graph(
    col: Any,
    start: Any = None,
    limit: int = 3,
    depth: int = 2,
    using: str | None = None,
    *,
    filter: Any = None,
    data: NeighbourGraph | None = None,
    positions: Any = None,
    label: str | None = None,
    hover_data: Any = None,
    max_nodes: int = MAX_NODES,
    seed: int = 0,
    title: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> go.Figure:
    """The neighbour graph of ``start``: its ``limit`` nearest, theirs, ``depth`` levels deep.

    Parameters
    ----------
    col, using : the collection (or a QdrantCollection) and vector name.
    start : the id of the start point.
    limit, depth, filter, max_nodes : as in :func:`explorekit.analysis.graph.neighbour_graph`.
    data : a ready graph (``neighbour_graph(...)`` or ``expand(...)``) instead of ``start``.
    positions : None (spring layout, seeded), a frame with ``id``, ``x``, ``y`` (e.g.
        ``ek.projection.project(col)``: the graph sits on the map), or a projection method
        (``"pca"``, ``"umap"``, ``"auto"``) of a local collection.
    label : payload column written next to each node (default: its id).
    hover_data : payload columns shown on hover (default: up to four).
    seed : the layout's seed.

    Returns
    -------
    plotly ``go.Figure``: node traces (``meta["role"] == "nodes"``, one per depth, ids in
    ``customdata[:, 0]``), edge traces (``"edges"``, one per band of scores: wider and darker
    is closer) and the edges' hover points (``"edge_labels"``). ``layout.meta["graph"]`` holds
    the start, limit, depth, using and distance.

    Examples
    --------
    >>> import explorekit as ek
    >>> col = ek.Collection.from_arrays([[0.0], [1.0], [3.0], [7.0]], distance="euclid")
    >>> fig = ek.plots.graph(col, start=3, limit=1, depth=3)
    >>> [(t.name, t.customdata[:, 0].tolist()) for t in fig.data if t.meta["role"] == "nodes"]
    [('start', [3]), ('1 hop', [2]), ('2 hops', [1]), ('3 hops', [0])]
    """
    _base.check_size("width", width)
    _base.check_size("height", height)
    if data is None:
        if start is None:
            raise ExploreError("graph: pass start= (the id of the start point) or data= (a neighbour_graph(...)).")
        data = neighbour_graph(col, start, limit, depth, using=using, filter=filter, max_nodes=max_nodes)
    elif not isinstance(data, NeighbourGraph):
        raise ExploreError(
            f"graph: data={short_repr(data)} is not a NeighbourGraph. Pass ek.analysis.graph.neighbour_graph(...)."
        )
    nodes, edges = data
    settings = nodes.attrs.get("graph", {})
    xy = layout(data, positions=_positions(col, settings.get("using", using), positions), seed=seed)
    fig = go.Figure([*edge_traces(data, xy), *node_traces(data, xy, label=label, hover_data=hover_data)])
    return _finish(fig, data, title=title, width=width, height=height)


def strength(edges: pd.DataFrame, distance: str) -> np.ndarray:
    """How close each edge's points are, from 0 (the farthest pair in the graph) to 1 (the closest).

    >>> strength(pd.DataFrame({"score": [0.9, 0.5, 0.7]}), "cosine").round(2).tolist()
    [1.0, 0.0, 0.5]
    >>> strength(pd.DataFrame({"score": [1.0, 3.0]}), "euclid").tolist()
    [1.0, 0.0]
    """
    score = edges["score"].to_numpy(np.float64)
    closeness = -score if distance in DISTANCES else score
    if not len(closeness):
        return closeness
    low, high = float(closeness.min()), float(closeness.max())
    return (closeness - low) / (high - low) if high > low else np.ones_like(closeness)


def layout(
    data: NeighbourGraph, positions: pd.DataFrame | None = None, seed: int = 0, initial: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``id``, ``x``, ``y`` of every node: from ``positions``, or networkx's spring layout.

    The spring layout weighs each edge by its :func:`strength` (closer points pull harder);
    ``initial`` (an earlier layout of some of the nodes) is where those nodes start from, so a
    grown graph keeps its shape.
    """
    nodes, edges = data
    ids = nodes["id"].tolist()
    if positions is not None:
        where = dict(zip(positions["id"].tolist(), zip(positions["x"].tolist(), positions["y"].tolist())))
        absent = [i for i in ids if i not in where]
        if absent:
            raise ExploreError(
                f"positions: no coordinates for node(s) {short_repr(absent[:5])}. Pass a frame with id, x, y "
                "for every point (e.g. ek.projection.project(col)), or positions=None for a spring layout."
            )
        coords = np.array([where[i] for i in ids], dtype=np.float64).reshape(-1, 2)
    else:
        g = nx.Graph()
        g.add_nodes_from(range(len(ids)))
        index = {pid: i for i, pid in enumerate(ids)}
        weights = 0.2 + 0.8 * strength(edges, nodes.attrs.get("graph", {}).get("distance", "cosine"))
        for s, t, w in zip(edges["source"].tolist(), edges["target"].tolist(), weights.tolist()):
            g.add_edge(index[s], index[t], weight=w)
        start = None
        if initial is not None and len(initial):
            was = dict(zip(initial["id"].tolist(), zip(initial["x"].tolist(), initial["y"].tolist())))
            rng = np.random.default_rng(seed)
            source = dict(zip(edges["target"].tolist(), edges["source"].tolist()))  # a new node starts by its source
            start = {
                i: np.asarray(was[pid] if pid in was else was.get(source.get(pid), (0.0, 0.0)), np.float64)
                + (0 if pid in was else rng.normal(scale=0.05, size=2))
                for pid, i in index.items()
            }
        placed = nx.spring_layout(g, pos=start, weight="weight", seed=seed) if len(ids) > 1 else {0: (0.0, 0.0)}
        coords = np.array([placed[i] for i in range(len(ids))], dtype=np.float64).reshape(-1, 2)
    return pd.DataFrame({"id": pd.Series(ids, dtype=object), "x": coords[:, 0], "y": coords[:, 1]})


def edge_traces(data: NeighbourGraph, xy: pd.DataFrame) -> list[go.Scatter]:
    """Each pair of linked nodes once, in bands of :func:`strength` (wider, darker = closer),
    plus one invisible hover point per pair at its middle."""
    nodes, edges = data
    distance = nodes.attrs.get("graph", {}).get("distance", "cosine")
    where = dict(zip(xy["id"].tolist(), zip(xy["x"].tolist(), xy["y"].tolist())))
    pairs = _undirected(edges)
    if not len(pairs):
        return []
    power = strength(pairs, distance)
    band = np.minimum((power * EDGE_BINS).astype(int), EDGE_BINS - 1)
    colours = sample_colorscale("Blues", [0.35 + 0.6 * b / (EDGE_BINS - 1) for b in range(EDGE_BINS)])
    traces = []
    for b in range(EDGE_BINS):
        chosen = pairs[band == b]
        if not len(chosen):
            continue
        x: list[Any] = []
        y: list[Any] = []
        for s, t in zip(chosen["source"].tolist(), chosen["target"].tolist()):
            x += [where[s][0], where[t][0], None]
            y += [where[s][1], where[t][1], None]
        scores = chosen["score"]
        traces.append(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                line=dict(width=EDGE_WIDTHS[b], color=colours[b]),
                hoverinfo="skip",
                name=f"score {format_score(scores.min())}\u2013{format_score(scores.max())}",
                legendgroup="edges",
                meta={"role": "edges"},
            )
        )
    mid_x = [(where[s][0] + where[t][0]) / 2 for s, t in zip(pairs["source"], pairs["target"])]
    mid_y = [(where[s][1] + where[t][1]) / 2 for s, t in zip(pairs["source"], pairs["target"])]
    arrow = np.where(pairs["mutual"].to_numpy(bool), "\u2194", "\u2192")
    text = [
        f"{s} {a} {t}<br>score {format_score(score)}"
        for s, a, t, score in zip(pairs["source"], arrow, pairs["target"], pairs["score"])
    ]
    traces.append(
        go.Scatter(
            x=mid_x,
            y=mid_y,
            mode="markers",
            marker=dict(size=10, opacity=0),
            text=text,
            hoverinfo="text",
            showlegend=False,
            name="edges",
            meta={"role": "edge_labels"},
        )
    )
    return traces


def node_traces(
    data: NeighbourGraph, xy: pd.DataFrame, *, label: str | None = None, hover_data: Any = None
) -> list[go.Scatter]:
    """One trace of nodes per depth (the start first); ids in ``customdata[:, 0]``."""
    nodes = data.nodes.reset_index(drop=True)
    payload = [c for c in nodes.columns if c not in NODE_COLUMNS]
    columns = _hover_columns(nodes, payload, hover_data)
    if label is not None and label not in payload:
        raise ExploreError(unknown("payload column (label)", label, payload, f"label= takes one of {payload[:20]}."))
    shown = nodes["id"].astype(str) if label is None else nodes[label].astype(str).str.slice(0, 24)
    head = [f"{_hop(d)}" + ("" if e else " (not expanded)") for d, e in zip(nodes["depth"], nodes["expanded"])]
    hover = _base.frame_hover_text(nodes["id"].tolist(), nodes[columns], columns, head=head)
    traces = []
    for d in sorted(set(nodes["depth"].tolist())):
        rows = np.flatnonzero(nodes["depth"].to_numpy() == d)
        traces.append(
            go.Scatter(
                x=xy["x"].to_numpy()[rows],
                y=xy["y"].to_numpy()[rows],
                mode="markers+text",
                customdata=_base.id_customdata(nodes["id"].iloc[rows].tolist()),
                text=shown.iloc[rows].tolist(),
                textposition="top center",
                hovertext=hover[rows].tolist(),
                hoverinfo="text",
                name=_hop(d),
                marker=dict(
                    size=20 if d == 0 else 13,
                    symbol="star" if d == 0 else "circle",
                    color=DEPTH_COLORS[min(d, len(DEPTH_COLORS) - 1)],
                    line=dict(color="white", width=1),
                ),
                meta={"role": "nodes", "depth": int(d)},
            )
        )
    return traces


def _hop(depth: int) -> str:
    return "start" if depth == 0 else f"{depth} hop" + ("" if depth == 1 else "s")


def _hover_columns(nodes: pd.DataFrame, payload: list[str], hover_data: Any) -> list[str]:
    if hover_data is None:
        simple = [c for c in payload if not nodes[c].map(lambda v: isinstance(v, (list, dict, np.ndarray))).any()]
        return simple[:4]
    names = [hover_data] if isinstance(hover_data, str) else list(hover_data)
    for name in names:
        if name not in payload:
            raise ExploreError(
                unknown("payload column (hover_data)", name, payload, f"hover_data takes {payload[:20]}.")
            )
    return names


def _undirected(edges: pd.DataFrame) -> pd.DataFrame:
    """Each linked pair once (the first edge found between them)."""
    keys = [frozenset((repr(s), repr(t))) for s, t in zip(edges["source"], edges["target"])]
    return edges.loc[~pd.Series(keys).duplicated().to_numpy()].reset_index(drop=True)


def _positions(col: Any, using: str | None, positions: Any) -> pd.DataFrame | None:
    if positions is None or isinstance(positions, pd.DataFrame):
        if isinstance(positions, pd.DataFrame) and not {"id", "x", "y"} <= set(positions.columns):
            raise ExploreError(
                f"positions: a frame with columns id, x, y is needed, got {list(positions.columns)[:10]}. "
                "Pass ek.projection.project(col), or None for a spring layout."
            )
        return positions
    if isinstance(positions, str):
        return project(col, using=using, method=positions)
    raise ExploreError(f"positions: {short_repr(positions)} is not a frame (id, x, y), a projection method or None.")


def _finish(
    fig: go.Figure, data: NeighbourGraph, *, title: str | None, width: int | None, height: int | None
) -> go.Figure:
    nodes, edges = data
    settings = nodes.attrs.get("graph", {})
    depth = int(nodes["depth"].max()) if len(nodes) else 0
    distance = settings.get("distance", "")
    closer = "smaller" if distance in DISTANCES else "larger"
    notes = [
        f"An edge links a point to one of its {settings.get('limit')} nearest (exact {distance}, {closer} score "
        f"is closer);<br>wider and darker edges are closer pairs. {len(nodes)} nodes, {len(edges)} edges."
    ]
    if settings.get("truncated"):
        notes.append(f"The graph stopped at max_nodes={settings.get('max_nodes')} nodes.")
    fig.update_layout(
        template="plotly_white",
        width=width,
        height=height or 600,
        title=dict(
            text=title or f"Neighbours of {settings.get('start')}",
            subtitle=dict(text="<br>".join(notes), font=dict(size=11)),
        ),
        margin=dict(t=90 + 14 * "<br>".join(notes).count("<br>"), l=20, r=20, b=40),
        showlegend=True,
        legend=dict(itemsizing="constant", orientation="h", x=0, xanchor="left", y=-0.02, yanchor="top"),
        hovermode="closest",
        clickmode="event",
        meta={
            "graph": {
                "start": _jsonable(settings.get("start")),
                "limit": settings.get("limit"),
                "depth": depth,
                "using": settings.get("using"),
                "distance": distance,
            }
        },
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    return fig


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (int, str)) or value is None else str(value)
