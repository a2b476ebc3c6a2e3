"""The neighbour graph of Qdrant's Web UI: a point, its nearest neighbours, theirs, and so on.

From a start point, :func:`neighbour_graph` asks for its ``limit`` nearest neighbours
(``col.search(id)``, exact, so the start point itself is left out as Qdrant does), then for
theirs, ``depth`` levels deep (breadth first, one ``search_batch`` per level). Each search is a
directed edge ``source -> target`` ("target is among source's ``limit`` nearest") with the
collection's own score. :func:`expand` adds one node's neighbours, which is what a click on
the Web UI's graph does. Only public query methods are called, so a
:class:`~explorekit.backends.qdrant.QdrantCollection` gives its server's graph.

The answer is two DataFrames (:class:`NeighbourGraph`); :func:`explorekit.plots.graph` draws
them.

``nodes``  ``id``, ``depth`` (hops from the start: 0 for the start), ``expanded`` (its
           neighbours were asked for), then the payload columns (a payload key named
           ``depth`` or ``expanded`` becomes ``payload.depth`` / ``payload.expanded``).
``edges``  ``source``, ``target``, ``score`` (as ``col.search`` gives it: a similarity, or a
           distance for euclid and manhattan), ``rank`` (1 = the source's nearest),
           ``mutual`` (the reverse edge is in the graph too).

Examples
--------
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[0.0], [1.0], [3.0], [7.0]], distance="euclid")
>>> nodes, edges = neighbour_graph(col, 3, limit=1, depth=3)      # 7 -> 3 -> 1 -> 0
>>> nodes[["id", "depth"]].values.tolist()
[[3, 0], [2, 1], [1, 2], [0, 3]]
>>> edges[["source", "target", "score"]].values.tolist()
[[3, 2, 4.0], [2, 1, 2.0], [1, 0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import pandas as pd

from explorekit._support.errors import RequestError, short_repr
from explorekit._support.validation import check_count

EDGE_COLUMNS = ["source", "target", "score", "rank", "mutual"]
NODE_KEYS = ("id", "depth", "expanded")
_RENAMED = ("payload.depth", "payload.expanded")
MAX_NODES = 1_000  # a graph stays readable (and its searches cheap) below this


class NeighbourGraph(NamedTuple):
    """Nodes and directed edges of a neighbour graph (unpack it: ``nodes, edges = ...``)."""

    nodes: pd.DataFrame
    edges: pd.DataFrame


def neighbour_graph(
    col: Any,
    start: Any,
    limit: int = 3,
    depth: int = 2,
    *,
    using: str | None = None,
    filter: Any = None,
    max_nodes: int = MAX_NODES,
    with_payload: bool | Sequence[str] = True,
) -> NeighbourGraph:
    """The start point and its neighbours, ``depth`` levels deep, as node and edge frames.

    Parameters
    ----------
    col : Collection or QdrantCollection
    start : the id of the start point.
    limit : neighbours asked for per node (Qdrant's ``limit``).
    depth : levels of expansion: 0 is the start alone, 1 adds its neighbours, 2 theirs...
    using : the vector name.
    filter : a filter the neighbours must pass (any filter ``col.search`` takes); the start
        point itself need not pass it.
    max_nodes : the graph stops growing at this many nodes (``nodes.attrs["truncated"]`` says
        so); edges to nodes already in the graph are still added.
    with_payload : payload columns of the nodes (as ``col.retrieve`` takes them).

    Returns
    -------
    NeighbourGraph ``(nodes, edges)``; ``nodes.attrs["graph"]`` holds the arguments, the
    collection's distance and ``truncated``.

    Raises
    ------
    UnknownIdError
        ``start`` is not in the collection.
    RequestError
        A bad ``limit``, ``depth`` or ``max_nodes``.
    """
    depth = check_count(depth, "depth", 0, 64)
    graph = start_graph(col, start, limit=limit, using=using, filter=filter, max_nodes=max_nodes)
    frontier = graph.nodes["id"].tolist()
    for _ in range(depth):
        before = set(graph.nodes["id"].tolist())
        graph = expand(col, graph, frontier, with_payload=False)
        frontier = [i for i in graph.nodes["id"].tolist() if i not in before]
        if not frontier:
            break
    return _with_payload(col, graph, with_payload)


def start_graph(
    col: Any,
    start: Any,
    *,
    limit: int = 3,
    using: str | None = None,
    filter: Any = None,
    max_nodes: int = MAX_NODES,
) -> NeighbourGraph:
    """The graph of the start point alone (depth 0), carrying the settings :func:`expand` uses."""
    limit = check_count(limit, "limit", 1, 10_000)
    max_nodes = check_count(max_nodes, "max_nodes", 1)
    distance = col.distance(using)  # checks `using` before any search
    first = col.retrieve([start], with_payload=False)["id"].tolist()[0]  # unknown id -> UnknownIdError
    nodes = pd.DataFrame({"id": pd.Series([first], dtype=object), "depth": [0], "expanded": [False]})
    nodes.attrs["graph"] = {
        "start": first,
        "limit": limit,
        "using": using,
        "filter": filter,
        "distance": distance,
        "max_nodes": max_nodes,
        "truncated": False,
    }
    return NeighbourGraph(nodes, _edges([]))


def expand(
    col: Any,
    graph: NeighbourGraph,
    ids: Sequence[Any],
    *,
    with_payload: bool | Sequence[str] = True,
) -> NeighbourGraph:
    """``graph`` with the neighbours of the nodes ``ids`` added (one ``search_batch``).

    The settings (``limit``, ``using``, ``filter``, ``max_nodes``) are the graph's own
    (``graph.nodes.attrs["graph"]``). Nodes already expanded are not searched again; a new
    node's depth is its source's plus one. Returns a new graph; ``graph`` is not changed.

    Examples
    --------
    >>> import explorekit as ek
    >>> col = ek.Collection.from_arrays([[0.0], [1.0], [3.0], [7.0]], distance="euclid")
    >>> g = neighbour_graph(col, 3, limit=1, depth=1, with_payload=False)
    >>> g.nodes["id"].tolist(), expand(col, g, [2]).nodes["id"].tolist()
    ([3, 2], [3, 2, 1])
    """
    settings = dict(graph.nodes.attrs["graph"])
    nodes = graph.nodes
    position = {pid: i for i, pid in enumerate(nodes["id"].tolist())}
    missing = [pid for pid in ids if pid not in position]
    if missing:
        raise RequestError(
            f"expand: {short_repr(missing[:5])} not in the graph. Expand nodes of the graph "
            f"(graph.nodes['id']), e.g. {short_repr(nodes['id'].tolist()[:5])}."
        )
    todo = list(dict.fromkeys(pid for pid in ids if not nodes["expanded"].iat[position[pid]]))
    if not todo:
        return graph
    depths = dict(zip(nodes["id"].tolist(), nodes["depth"].tolist()))
    requests = [
        {
            "query": pid,
            "using": settings["using"],
            "filter": settings["filter"],
            "limit": settings["limit"],
            "params": {"exact": True},
            "with_payload": False,
        }
        for pid in todo
    ]
    edges = graph.edges[["source", "target", "score", "rank"]].values.tolist()
    added: list[Any] = []
    for source, found in zip(todo, col.search_batch(requests)):
        for rank, (target, score) in enumerate(zip(found["id"].tolist(), found["score"].tolist()), start=1):
            if target not in depths:
                if len(depths) >= settings["max_nodes"]:
                    settings["truncated"] = True
                    continue
                depths[target] = depths[source] + 1
                added.append(target)
            edges.append([source, target, float(score), rank])
    expanded = set(todo)
    grown = pd.DataFrame(
        {
            "id": pd.Series(nodes["id"].tolist() + added, dtype=object),
            "depth": [depths[i] for i in nodes["id"].tolist() + added],
            "expanded": nodes["expanded"].tolist() + [False] * len(added),
        }
    )
    grown.loc[grown["id"].isin(expanded), "expanded"] = True
    grown.attrs["graph"] = settings
    payload_columns = [c.removeprefix("payload.") if c in _RENAMED else c for c in nodes.columns if c not in NODE_KEYS]
    result = NeighbourGraph(grown, _edges(edges))
    if with_payload is True and payload_columns:
        with_payload = payload_columns
    return _with_payload(col, result, with_payload)


def _edges(rows: list[list[Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "source": pd.Series([r[0] for r in rows], dtype=object),
            "target": pd.Series([r[1] for r in rows], dtype=object),
            "score": pd.Series([r[2] for r in rows], dtype="float64"),
            "rank": pd.Series([r[3] for r in rows], dtype="int64"),
        }
    )
    pairs = list(zip(frame["source"].tolist(), frame["target"].tolist()))
    present = set(pairs)
    frame["mutual"] = pd.Series([(t, s) in present for s, t in pairs], dtype=bool)
    return frame


def _with_payload(col: Any, graph: NeighbourGraph, with_payload: bool | Sequence[str]) -> NeighbourGraph:
    """The nodes with their payload columns (fetched again, so expanded graphs stay complete)."""
    nodes = graph.nodes[["id", "depth", "expanded"]]
    if with_payload is False or (not isinstance(with_payload, bool) and not len(with_payload)):
        frame = nodes.copy()
    else:
        payload = col.retrieve(nodes["id"].tolist(), with_payload=with_payload).drop(columns=["id"])
        payload = payload.rename(columns={c: f"payload.{c}" for c in ("depth", "expanded") if c in payload.columns})
        frame = pd.concat([nodes.reset_index(drop=True), payload.reset_index(drop=True)], axis=1)
    frame.attrs["graph"] = dict(graph.nodes.attrs["graph"])
    return NeighbourGraph(frame, graph.edges)
