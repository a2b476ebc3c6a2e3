"""The Explorer's path tab: the exact score along the line from a negative example to a positive one.

Next to the map, whose colours on high-dimensional data are exact only at the points, this tab
shows :func:`explorekit.plots.path` for the current result: the query's score at every
``x(t) = n + t (p - n)`` and the points at their place along the line. A menu picks the pair
(discover and context: the context pair; recommend: a positive and a negative example). The
figure is built only while the tab shows, once per result and pair.

Examples
--------
>>> import explorekit as ek
>>> from explorekit.widgets._state import ExplorerState
>>> col = ek.Collection.from_arrays([[0, 0, 1], [4, 0, 0], [1, 1, 0], [3, 1, 2]], distance="euclid")
>>> state = ExplorerState(col)
>>> tab = PathTab(state)
>>> _ = state.set_examples({"context": [(1, 0)]})
>>> tab.show()
>>> tab.builds, [t.meta["role"] for t in tab.figure.data][:1]
(1, ['path'])
"""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import pandas as pd
import plotly.graph_objects as go

from explorekit import plots
from explorekit._support.errors import ExploreError
from explorekit.analysis.explain import as_request
from explorekit.collection import Collection
from explorekit.widgets._explain import _note
from explorekit.widgets._figure import LeanFigureWidget
from explorekit.widgets._state import ExplorerState

PATH_POINTS = 2_000  # other points drawn along the path: the closest to the line
MAX_PAIRS = 50  # recommend: positive x negative choices offered


def pair_options(col: Any, result: pd.DataFrame | None) -> list[tuple[str, Any]]:
    """The paths a result offers, as ``(text, pair)`` for :func:`explorekit.plots.path` (may be empty)."""
    if result is None or not isinstance(col, Collection):
        return []
    try:
        request = as_request(col, result)
    except ExploreError:
        return []
    if request.kind in ("discover", "context"):
        return [
            (f"pair {k + 1}: from {_name(n)} (negative) to {_name(p)} (positive)", k)
            for k, (p, n) in enumerate(request.context)
        ]
    if request.kind == "recommend":
        return [
            (f"from negative {_name(n)} to positive {_name(p)}", (i, j))
            for i, p in enumerate(request.positive)
            for j, n in enumerate(request.negative)
        ][:MAX_PAIRS]
    return []


def _name(example: Any) -> str:
    return str(example.id) if example.is_id else "a raw vector"


def path_figure(col: Any, result: pd.DataFrame | None, pair: Any) -> go.Figure:
    """``plots.path`` for ``result`` and ``pair``, or a note saying why there is none."""
    if result is None:
        return _note("No result yet: choose examples on the map.")
    if not isinstance(col, Collection):
        return _note("The path is computed on local collections; this one is answered by a server.")
    if not pair_options(col, result):
        return _note(
            "A path runs from a negative example to a positive one: use discovery or context search, "
            "or recommend with a negative example."
        )
    try:
        return plots.path(col, result, pair=pair, max_points=PATH_POINTS, height=440)
    except ExploreError as err:
        return _note(f"No path: {err}")


class PathTab(W.VBox):
    """The score along the path between two examples of the Explorer's current result.

    Parameters
    ----------
    state : ExplorerState
        The Explorer's state: its collection and current result.
    """

    def __init__(self, state: ExplorerState) -> None:
        self.state = state
        self.pair = W.Dropdown(options=[], description="path", layout=W.Layout(width="520px"))
        self.figure = LeanFigureWidget(layout=dict(height=440, margin=dict(l=40, r=10, t=60, b=40)))
        self.figure.on_ready(self._resend)
        self.builds = 0  # figures built (a tab that never shows builds none)
        self._drawn: tuple[Any, Any, go.Figure] | None = None  # (result, pair, figure)
        self._choosing = False
        self.pair.observe(lambda _change: None if self._choosing else self.show(), names="value")
        super().__init__([self.pair, self.figure])

    def show(self) -> None:
        """The tab is showing: draw the path of the current result (once per result and pair)."""
        result = self.state.result
        if self._drawn is not None and self._drawn[0] is result and self._drawn[1] == self.pair.value:
            return
        self._offer(result)
        if self._drawn is not None and self._drawn[0] is result and self._drawn[1] == self.pair.value:
            return
        self._drawn = (result, self.pair.value, self.current_figure())
        self._resend()

    def current_figure(self) -> go.Figure:
        """The path figure of the current result and pair, as a plain figure (built now)."""
        self.builds += 1
        return path_figure(self.state.col, self.state.result, self.pair.value)

    def snapshot(self) -> go.Figure | None:
        """The figure for a report: the one shown, or built now; None when the result has no path."""
        result = self.state.result
        if not pair_options(self.state.col, result):
            return None
        if self._drawn is not None and self._drawn[0] is result:
            return self._drawn[2]
        self._offer(result)
        return self.current_figure()

    def _offer(self, result: pd.DataFrame | None) -> None:
        """The pair menu for this result, keeping the chosen pair when the new result has it."""
        options = pair_options(self.state.col, result)
        values = [value for _, value in options]
        keep = self.pair.value if self.pair.value in values else (values[0] if values else None)
        self._choosing = True
        try:
            self.pair.options = options
            self.pair.value = keep
        finally:
            self._choosing = False
        self.pair.layout.display = None if options else "none"

    def _resend(self) -> None:
        if self._drawn is None:
            return
        figure = self._drawn[2]
        with self.figure.batch_update():
            self.figure.data = ()
        self.figure.add_traces(list(figure.data))
        self.figure.layout = figure.layout
