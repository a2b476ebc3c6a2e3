"""The Explorer's graph tab: Qdrant Web UI's graph view of a point and its neighbours.

The graph starts at a point (typed, or the Explorer's first example or result) with its
``limit`` nearest. A click on a node then, by the chosen action, expands it (its neighbours
join the graph, :func:`explorekit.analysis.graph.expand`) or adds it to the Explorer's examples
as a positive or negative. The numbers come from :mod:`explorekit.analysis.graph` (the
collection's own exact searches, with the Explorer's filter) and the figure from
:func:`explorekit.plots.graph`; nothing here scores.

Examples
--------
>>> import explorekit as ek
>>> from explorekit.widgets._state import ExplorerState
>>> col = ek.Collection.from_arrays([[0.0], [1.0], [3.0], [7.0]], distance="euclid")
>>> tab = GraphTab(ExplorerState(col), on_example=lambda role, point: None)
>>> tab.start(3)
>>> tab.graph.nodes["id"].tolist()
[3, 2, 1, 0]
>>> tab.click(2)                                 # expand: 2's nearest are in already
>>> tab.graph.nodes["expanded"].tolist()
[True, True, False, False]
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import pandas as pd

from explorekit import plots
from explorekit._support.errors import ExploreError
from explorekit.analysis.graph import NeighbourGraph, expand, neighbour_graph
from explorekit.plots._graph import layout
from explorekit.widgets._figure import LeanFigureWidget
from explorekit.widgets._state import ExplorerState

ACTIONS = ("expand", "positive", "negative")


class GraphTab(W.VBox):
    """A neighbour graph to grow by clicks; clicks can also pick examples for the Explorer.

    Parameters
    ----------
    state : ExplorerState
        The Explorer's state: its collection, vector name and filter, and where a graph starts.
    on_example : callable ``(role, id)``
        What a click does in the ``positive`` / ``negative`` actions (the Explorer adds the example).
    limit : int, default 3
        Neighbours per node.
    """

    def __init__(self, state: ExplorerState, on_example: Callable[[str, Any], Any], *, limit: int = 3) -> None:
        self.state, self.on_example = state, on_example
        self.graph: NeighbourGraph | None = None
        self._xy: pd.DataFrame | None = None
        self.action = W.ToggleButtons(
            options=list(ACTIONS),
            value="expand",
            description="click",
            style={"button_width": "86px", "description_width": "40px"},
        )
        self.limit = W.BoundedIntText(value=limit, min=1, max=50, description="limit", layout=W.Layout(width="140px"))
        self.start_box = W.Text(
            placeholder="start: an id, or qualname == 'json.dumps'",
            continuous_update=False,
            description="start",
            layout=W.Layout(width="320px"),
        )
        self.status = W.HTML()
        self.figure = LeanFigureWidget(layout=dict(height=460, margin=dict(l=10, r=10, t=60, b=10)))
        self.figure.on_ready(self._draw)
        self.start_box.observe(self._on_start_text, names="value")
        super().__init__([W.HBox([self.start_box, self.limit, self.action]), self.status, self.figure])

    # ------------------------------------------------------------------ actions
    def show(self) -> None:
        """The tab is showing: start from the Explorer's first example or result, once."""
        if self.graph is None:
            start = self.suggested_start()
            if start is not None:
                self._try(lambda: self.start(start))

    def suggested_start(self) -> Any:
        """The first example that is a point id, else the first result, else None."""
        ids = self.state.selection.ids()
        if ids:
            return ids[0]
        result = self.state.result
        return result["id"].iloc[0] if result is not None and len(result) else None

    def start(self, point: Any) -> None:
        """A new graph: ``point`` and its ``limit`` nearest (exact, with the Explorer's filter)."""
        self.graph = neighbour_graph(
            self.state.col, point, int(self.limit.value), 1, using=self.state.using, filter=self.state.filter
        )
        self._xy = None
        self._draw()

    def click(self, point: Any) -> None:
        """A click on a node: expand it, or hand it to the Explorer as a positive or negative example."""
        if self.action.value != "expand":
            self.on_example(self.action.value, point)
            self.status.value = f"{html.escape(str(point))} added as a {self.action.value} example"
            return
        if self.graph is None:
            return
        before = len(self.graph.nodes)
        self.graph = expand(self.state.col, self.graph, [point])
        self._draw()
        self.status.value = f"{len(self.graph.nodes) - before} new node(s) around {html.escape(str(point))}"

    # ------------------------------------------------------------------ drawing
    def _draw(self) -> None:
        if self.graph is None:
            return
        self._xy = layout(self.graph, initial=self._xy)
        fig = plots.graph(self.state.col, data=self.graph, positions=self._xy, height=460)
        with self.figure.batch_update():
            self.figure.data = ()
            self.figure.add_traces(list(fig.data))
            self.figure.layout = fig.layout
        for trace in self.figure.data:
            if (trace.meta or {}).get("role") == "nodes":
                trace.on_click(self._on_click)

    def _on_click(self, trace: Any, points: Any, _state: Any) -> None:
        if points.point_inds:
            point = trace.customdata[points.point_inds[0]][0]
            self._try(lambda: self.click(point.item() if hasattr(point, "item") else point))

    def _on_start_text(self, change: dict) -> None:
        """Typed ids (the first starts the graph) or a pandas query (its first point by id)."""
        text = str(change["new"] or "").strip()
        if text:
            self._try(lambda: self.start(self.state.find(text, cap=1)[0][0]))

    def _try(self, action: Callable[[], Any]) -> None:
        """Run ``action``; bad input shows in the tab's status line instead of raising."""
        try:
            action()
        except ExploreError as err:
            self.status.value = f'<span style="color:#b2182b">&#9888; {html.escape(str(err))}</span>'
