"""``ek.Explorer``: click examples on a map of the collection and see the query's results.

The view (ipywidgets + plotly ``FigureWidget``) over :class:`~explorekit.widgets._state.ExplorerState`.
It holds no scoring: every result comes from the collection's public query methods, every
explanation from :func:`explorekit.analysis.explain.explain` and :mod:`explorekit.plots`.

Examples
--------
>>> import explorekit as ek
>>> col = ek.datasets.load("clusters2d", as_collection=True)
>>> ex = ek.Explorer(col, projection="auto", color="fruit")
>>> ex                                   # doctest: +SKIP
>>> ex.examples = {"positive": [0, 1], "negative": [200]}
>>> ex.result["fruit"].tolist()[:3]
['pear', 'pear', 'pear']
>>> col.query(ex.query).equals(ex.result)                # the next cell continues from the clicks
True
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorekit._support.errors import ExploreError
from explorekit.analysis.projection import DEFAULT_PROJECTION
from explorekit.query.requests import STRATEGIES
from explorekit.query.results import results_text
from explorekit.report import Report
from explorekit.widgets import _map, _search, _shapes
from explorekit.widgets._explain import explanation_figure, is_quantized
from explorekit.widgets._figure import LeanFigureWidget
from explorekit.widgets._graph import GraphTab
from explorekit.widgets._layout_switch import MapSwitch, first_screen, swap_coordinates
from explorekit.widgets._model import KINDS, MODES
from explorekit.widgets._path import PathTab
from explorekit.widgets._stage_controls import StageControls
from explorekit.widgets._state import ExplorerState
from explorekit.widgets._table import first_columns, to_html
from explorekit.widgets._text_query import TextQueryBox

INSPECT_CAP = 1_000  # points a typed query selects in inspect mode


class Explorer(W.VBox):
    """A map of the collection to pick examples on, the query they make, and its results.

    Parameters
    ----------
    collection : Collection or QdrantCollection
        Anything with the query API (``search``, ``recommend``, ``discover``, ``retrieve``, ``scroll``).
    using : str, optional
        The vector name to map and query (None: the only or unnamed vector).
    projection : {"auto", "pca", "umap", "identity"}, default "auto"
        How the map is made (:func:`explorekit.analysis.projection.project`); the default, as in
        ``ek.plots.map``, is PCA at once (the plane itself for 2-D vectors); ``"umap"`` on request.
    color : str or False, optional
        A payload column to colour the map by; None (default): the collection's categorical
        field if it has one (as ``ek.plots.map``); False: one colour.
    hover : list of str, optional
        Payload columns shown when hovering a point.
    limit : int, default 10
        Results per query.
    height : int, default 520
        Height of the map in pixels.
    label : str, optional
        The payload field that names a point (default: the first text field of short, mostly
        distinct values, :func:`explorekit.query.display.label_field`): the search box finds
        points by it, and examples, notes, hovers and result rings show it beside the id.

    max_points : int, default 100,000
        Above this many points the map draws a seeded sample (queries still use every point).
    encoder : callable, optional
        ``texts -> vectors`` (e.g. ``ek.encoders.for_dataset("stdlib_docs")``): shows a text box
        whose text is embedded, placed on the map and added as an example
        (:mod:`explorekit.widgets._text_query`). Without it the box is not shown.
    clusters : bool or clustering, default None
        ``True``: label the map's clusters (HDBSCAN of the distance matrix, else k-means on the
        map; the map's subtitle says which), placed apart; or pass ``ek.analysis.clusters(col)``.
        The clustering is kept in ``explorer.clusters``.

    Attributes
    ----------
    result : DataFrame or None
        The current result, exactly as the public query method returned it.
    examples : dict
        The chosen examples per role; assigning a dict updates the widget.
    selection : DataFrame
        The points of the last box/lasso selection (or click) in inspect mode, with payload.
    query : dict or None
        The request as a Qdrant ``/points/query`` body: ``col.query(explorer.query)`` repeats it.

    Notes
    -----
    The "find" box lists the points whose label starts with, then contains, the typed text;
    Up/Down ring and centre a hit, Enter adds it in the click mode. A click takes plotly's
    nearest point to the cursor; when others lie within a few pixels of it, the box lists them
    to take one instead.
    Clicks and selections on the map, typed ids, queries and filters that are wrong show a
    message in the status line and change nothing. The base map is sent to the browser once;
    a click updates only the overlays (examples, result rings, context-pair lines), which are
    layout shapes: plotly.js redraws the shapes, not the map's points (:mod:`~explorekit.widgets._shapes`).
    A click on a result ring picks the ringed point (the ring lets the click through).
    Both figures keep plotly's front end code out of the widget state (``LeanFigureWidget``).
    More views go below the map with :meth:`add_tab` (built only while their tab shows).
    """

    def __init__(
        self,
        collection: Any,
        using: str | None = None,
        projection: str = DEFAULT_PROJECTION,
        color: str | None = None,
        hover: Any = None,
        *,
        limit: int = 10,
        height: int = 520,
        max_points: int = 100_000,
        label: str | None = None,
        encoder: Any = None,
        clusters: Any = None,
    ) -> None:
        self.method = projection
        self.map_col = _map.map_collection(collection)
        payload = self.map_col.payload
        self.labels, notes = _search.label_columns(payload, label, color)  # RequestError names the fields
        hover = _search.hover_with_label(self.map_col, hover, self.labels.name)
        self.state = ExplorerState(collection, using, names=self.labels)
        self.state.set_limit(limit)  # checked here: a bad limit raises RequestError
        self.points = _map.project_points(self.map_col, using, projection)
        self.index = _map.MapIndex(self.points, collection, self.map_col, using, projection)
        self.clusters = _map.explorer_clusters(self.map_col, using, projection, clusters)
        base = _map.base_figure(self.map_col, using, projection, color, hover, height, max_points, self.clusters)
        self._base_ids = [_map.trace_ids(trace) for trace in base.data]
        self.figure = LeanFigureWidget(data=base.data, layout=base.layout)  # overlays: layout shapes
        self.figure.update_layout(clickmode="event", dragmode="pan", uirevision="explorer")
        self.figure.on_ready(self._resend_overlays)
        self.finder = _search.Finder(self.figure, self.index, self.labels, notes, self._on_found)
        for trace in self.figure.data:  # a click on a ring reaches the ringed point underneath
            trace.on_click(self._on_click)
            trace.on_selection(self._on_selection)
            trace.on_deselect(self._on_deselect)
        self._selected: list[Any] = []  # ids of the last inspect-mode box/lasso selection
        self._gathering: list[Any] = []  # ids of one selection event, gathered over base traces
        self._explained: Any = None  # (result identity, figure) of the last explanation
        self.map_switch = MapSwitch(self.map_col.space(using), projection, self._switch_map)  # PCA | UMAP
        self.timings: dict[str, float] = {}

        self.mode = W.ToggleButtons(
            options=list(MODES), value="positive", description="click adds", style={"button_width": "104px"}
        )
        self.kind = W.Dropdown(options=list(KINDS), value="auto", description="query", layout=W.Layout(width="190px"))
        self.strategy = W.Dropdown(
            options=list(STRATEGIES), value="average_vector", description="strategy", layout=W.Layout(width="250px")
        )
        self.limit = W.BoundedIntText(value=limit, min=1, max=1000, description="limit", layout=W.Layout(width="150px"))
        self.add_box = W.Text(
            placeholder="ids (3, 17) or a pandas query (digit == 3)",
            continuous_update=False,
            description="add",
            layout=W.Layout(width="380px"),
        )
        self.add_button = W.Button(description="add", layout=W.Layout(width="60px"))
        self.filter_box = W.Text(
            placeholder='pandas query (ink > 300) or Qdrant JSON {"must": [...]}',
            continuous_update=False,
            description="filter",
            layout=W.Layout(width="460px"),
        )
        self.rescore = W.Dropdown(
            options=[("default", None), ("on", True), ("off", False)],
            value=None,
            description="rescore",
            layout=W.Layout(width="170px"),
        )
        self.oversampling = W.BoundedFloatText(
            value=1.0,
            min=1.0,
            max=100.0,
            step=0.5,
            description="oversampling",
            layout=W.Layout(width="190px"),
            style={"description_width": "90px"},
        )
        self.ignore = W.Checkbox(value=False, description="ignore quantization", indent=False)
        quantized = is_quantized(collection, using)
        self.quantization = W.HBox(
            [self.rescore, self.oversampling, self.ignore], layout=W.Layout(display="flex" if quantized else "none")
        )
        self.stage_controls = StageControls(
            collection, lambda settings: self._apply(lambda: self.state.set_stages(**settings))
        )
        self.clear_button = W.Button(description="clear examples", layout=W.Layout(width="130px"))
        self.text_query = TextQueryBox(self.state, encoder, mode=lambda: self.mode.value, apply=self._apply)
        self.example_list = W.VBox(layout=W.Layout(max_height="150px", overflow="auto"))
        self.status = W.HTML()
        self.table = W.HTML(to_html(None))
        self._first_columns = first_columns(self.map_col.payload.head(5_000))  # label, category: the first screen
        self.all_columns = W.Checkbox(value=False, description="all columns", indent=False)
        self.all_columns.observe(lambda _: self._refresh_table(), names="value")
        self.explanation = LeanFigureWidget(layout=dict(height=380, margin=dict(l=40, r=10, t=40, b=40)))
        self.explanation.on_ready(self._refresh_explanation)
        self.inspect = W.HTML("<i>Inspect mode: click a point, or box/lasso points, to read them here.</i>")
        self.tabs = W.Tab()
        self._on_show: dict[str, Callable[[], None]] = {}  # tab title -> what to build when it shows
        self.add_tab(
            "results", W.VBox([self.all_columns, self.table], layout=W.Layout(max_height="420px", overflow="auto"))
        )
        self.add_tab("explanation", self.explanation, on_show=self._refresh_explanation)
        self.add_tab("inspect", self.inspect)
        self.graph_tab = GraphTab(
            self.state, on_example=lambda role, point: self._apply(lambda: self.state.click(role, point))
        )
        self.add_tab("graph", self.graph_tab, on_show=self.graph_tab.show)
        self.path_tab = PathTab(self.state)  # the exact score along a line, next to the map
        self.add_tab("path", self.path_tab, on_show=self.path_tab.show)

        self.mode.observe(self._on_mode, names="value")
        self.kind.observe(lambda ch: self._apply(lambda: self.state.set_kind(ch["new"])), names="value")
        self.strategy.observe(lambda ch: self._apply(lambda: self.state.set_strategy(ch["new"])), names="value")
        self.limit.observe(lambda ch: self._apply(lambda: self.state.set_limit(int(ch["new"]))), names="value")
        self.add_box.observe(self._on_add_text, names="value")
        self.add_button.on_click(lambda _: self._on_add_text({"new": self.add_box.value}))
        self.filter_box.observe(lambda ch: self._apply(lambda: self.state.set_filter(ch["new"])), names="value")
        for control in (self.rescore, self.oversampling, self.ignore):
            control.observe(self._on_params, names="value")
        self.clear_button.on_click(lambda _: self._apply(self.state.clear))
        self.tabs.observe(lambda ch: self._refresh_shown_tab(), names="selected_index")

        super().__init__(
            [
                self.mode,
                self.finder.box,
                W.HBox([self.kind, self.strategy, self.limit]),
                W.HBox([self.add_box, self.add_button, self.clear_button]),
                self.text_query,
                self.filter_box,
                self.quantization,
                self.stage_controls,
                self.example_list,
                self.status,
                self.map_switch,
                first_screen(self.figure, self.tabs),
            ]
        )
        self._refresh()

    # ------------------------------------------------------------------ Python side
    @property
    def result(self) -> pd.DataFrame | None:
        """The current result (the DataFrame the public query method returned), or None."""
        return self.state.result

    @property
    def examples(self) -> dict[str, Any]:
        """The chosen examples: ``{"positive", "negative", "target", "context"}``. Assign to change them."""
        return self.state.selection.as_dict()

    @examples.setter
    def examples(self, value: dict[str, Any]) -> None:
        try:
            self.state.set_examples(value)
        except ExploreError as err:
            self._show_error(err)
            raise
        self._refresh()

    @property
    def selection(self) -> pd.DataFrame:
        """Points of the last box/lasso selection in inspect mode (``id`` and payload)."""
        return self.state.col.retrieve(list(self._selected))

    @property
    def query(self) -> dict | None:
        """The current request as a Qdrant ``/points/query`` body: ``col.query(explorer.query)``."""
        return self.state.query

    # ------------------------------------------------------------------ tabs
    def add_tab(self, title: str, widget: W.Widget, *, on_show: Callable[[], None] | None = None) -> None:
        """Add a tab below the map; ``on_show()`` runs when it is showing and after every change of
        the examples or the result while it shows (build costly views only when they are seen).

        A figure in a tab should be a :class:`~explorekit.widgets._figure.LeanFigureWidget` (no second
        copy of plotly's code); call ``on_show`` again from its ``on_ready`` to redraw on a new page.
        """
        self.tabs.children = (*self.tabs.children, widget)
        self.tabs.set_title(len(self.tabs.children) - 1, title)
        if on_show is not None:
            self._on_show[title] = on_show

    def show_tab(self, title: str) -> None:
        """Bring the tab ``title`` to the front."""
        self.tabs.selected_index = list(self.tabs.titles).index(title)

    def shown_tab(self) -> str | None:
        """The title of the tab in front (None when none is)."""
        index = self.tabs.selected_index
        return None if index is None else self.tabs.titles[index]

    def _refresh_shown_tab(self) -> None:
        on_show = self._on_show.get(self.shown_tab() or "")
        if on_show is not None:
            on_show()

    # ------------------------------------------------------------------ browser side
    def _apply(self, change: Any) -> bool:
        """Run a state change; show bad input in the status line instead of raising."""
        start = time.perf_counter()
        try:
            change()
        except ExploreError as err:
            self._show_error(err)
            return False
        self.timings["query"] = time.perf_counter() - start
        self._refresh()
        self.timings["total"] = time.perf_counter() - start
        return True

    def _ids_of(self, points: Any) -> list[Any]:
        ids = self._base_ids[points.trace_index]
        return [ids[k] for k in points.point_inds if k < len(ids)]

    def _on_click(self, trace: Any, points: Any, _state: Any) -> None:
        """A click on the map: plotly calls this once per base trace; one of them has the point
        (plotly's nearest point to the cursor, hovermode "closest"). When other points lie within
        a few pixels of it, the search box lists them to take one instead (:meth:`Finder.offer_near`)."""
        chosen = self._ids_of(points)
        if not chosen:
            return
        point = chosen[0]
        if self.mode.value == "inspect":
            self._show_selection([point])
        else:
            self._apply(lambda: self.state.click(self.mode.value, point))
        self.finder.offer_near(point)

    def _on_found(self, point: Any, replaces: Any) -> None:
        """A point chosen in the search box: add it in the click mode (in place of the clicked
        ``replaces``, when the list offered the points around a click); in inspect mode, show it."""
        if self.mode.value == "inspect":
            self._show_selection([point])
        elif replaces is None:
            self._apply(lambda: self.state.add(self.mode.value, [point]))
        elif replaces != point:
            self._apply(lambda: self.state.swap(self.mode.value, replaces, point))

    def _on_selection(self, trace: Any, points: Any, _selector: Any) -> None:
        """A box or lasso: plotly calls this once per base trace, in order; act after the last one."""
        self._gathering += self._ids_of(points)
        if points.trace_index != len(self._base_ids) - 1:
            return
        ids, self._gathering = self._gathering, []
        if self.mode.value == "inspect":
            self._show_selection(ids)
            return
        with self.figure.batch_update():  # the box chose examples; drop its highlight
            for trace in self.figure.data[: len(self._base_ids)]:
                trace.selectedpoints = None
        if ids:
            self._apply(lambda: self.state.add(self.mode.value, ids))

    def _show_selection(self, ids: list[Any]) -> None:
        """Inspect mode: list the points in the inspect tab; the examples and the result stay."""
        self._selected = ids
        try:
            self.inspect.value = to_html(self.selection)
        except ExploreError as err:
            self._show_error(err)
            return
        self.show_tab("inspect")
        self.status.value = f"{len(ids)} point(s) selected: read them with <code>explorer.selection</code>"

    def _on_deselect(self, trace: Any, points: Any) -> None:
        if self.mode.value == "inspect":
            self._selected = []

    def _on_mode(self, change: dict) -> None:
        if change["new"] == "inspect":
            self.figure.layout.dragmode = "lasso"
        tips = {
            "context pair": "click the positive side of a pair, then its negative side",
            "inspect": "click a point to read it; box or lasso to select points (explorer.selection)",
        }
        self.status.value = html.escape(tips.get(change["new"], f"clicks add {change['new']} examples"))

    def _on_add_text(self, change: dict) -> None:
        text = change["new"]
        if not text or not str(text).strip():
            return
        if self.mode.value == "inspect":  # typed ids or a query: read them
            try:
                ids, _ = self.state.find(text, cap=INSPECT_CAP)
            except ExploreError as err:
                self._show_error(err)
                return
            self._show_selection(ids)
            self.add_box.value = ""
        elif self._apply(lambda: self.state.add_text(self.mode.value, text)):
            self.add_box.value = ""

    def _on_params(self, _change: dict) -> None:
        quant = {
            "rescore": self.rescore.value,
            "ignore": self.ignore.value or None,
            "oversampling": self.oversampling.value if self.oversampling.value > 1.0 else None,
        }
        quant = {k: v for k, v in quant.items() if v is not None}
        self._apply(lambda: self.state.set_params({"quantization": quant} if quant else None))

    # ------------------------------------------------------------------ drawing
    def _show_error(self, err: Exception) -> None:
        self.status.value = f'<span style="color:#b2182b">&#9888; {html.escape(str(err))}</span>'

    def _refresh(self) -> None:
        state = self.state
        self._refresh_overlays()
        self._refresh_table()
        self._refresh_examples()
        kind = state.resolved_kind()
        self.strategy.disabled = kind != "recommend"
        parts = [html.escape(state.note)] if state.note else []
        if state.result is not None:
            parts.append(f"{kind}: {html.escape(results_text(state.result))}")  # ties said out loud
            unused = state.unused()
            if unused:
                parts.append(f"not used by {kind}: {', '.join(unused)}")
            self.status.value = " &middot; ".join(parts)
        elif state.hint:
            parts.append(html.escape(state.hint))
            self.status.value = f'<span style="color:#8c510a">{" &middot; ".join(parts)}</span>'
        else:
            self.status.value = " &middot; ".join(parts)
        self._refresh_shown_tab()

    def _refresh_table(self) -> None:
        columns = None if self.all_columns.value else self._first_columns
        self.table.value = to_html(self.state.result, columns=columns)

    def _refresh_overlays(self) -> None:
        start = time.perf_counter()
        ex = _map.example_overlay(self.index, self.state.selection)
        rx, ry = (
            self.index.xy(self.state.result["id"].tolist())
            if self.state.result is not None
            else (np.empty(0, np.float32), np.empty(0, np.float32))
        )
        # one relayout of the shapes: plotly.js redraws them, not the map's points (_shapes)
        _shapes.replace(self.figure, _map.overlay_shapes(ex, rx, ry))
        self.timings["overlays"] = time.perf_counter() - start

    def _resend_overlays(self) -> None:
        """A front end has just drawn the map: send again what changed since it was built.

        plotly only sends changes, so the overlays are emptied and refilled (nothing is sent when
        they are empty), and the drag mode is set back and forth.
        """
        _shapes.replace(self.figure, {"pair": [], "results": [], "examples": []})
        self._refresh_overlays()
        dragmode = self.figure.layout.dragmode
        if dragmode != "pan":
            self.figure.layout.dragmode = "pan"
            self.figure.layout.dragmode = dragmode

    def _refresh_examples(self) -> None:
        """The chosen examples, one row with a remove button each; rows are reused, not rebuilt."""
        entries = self.state.selection.entries()
        if getattr(self, "_entries", None) == entries:
            return
        self._entries = entries
        rows = list(self.example_list.children)
        while len(rows) < len(entries):
            slot = len(rows)
            button = W.Button(
                description="\u2715", tooltip="remove this example", layout=W.Layout(width="32px", height="24px")
            )
            button.on_click(lambda _, slot=slot: self._remove_slot(slot))
            rows.append(W.HBox([button, W.HTML()]))
        for slot, row in enumerate(rows):
            shown = slot < len(entries)
            if shown:
                role, _, text = entries[slot]
                row.children[1].value = f"<b>{role}</b> {html.escape(text)}"
            row.layout.display = None if shown else "none"
        if len(rows) != len(self.example_list.children):
            self.example_list.children = rows

    def _remove_slot(self, slot: int) -> None:
        if slot < len(self._entries):
            role, index, _ = self._entries[slot]
            self._apply(lambda: self.state.remove(role, index))

    def _switch_map(self, method: str) -> None:
        """Show the ``method`` map in the same figure (:mod:`explorekit.widgets._layout_switch`)."""
        points = _map.project_points(self.map_col, self.state.using, method)
        self.index = _map.MapIndex(points, self.state.col, self.map_col, self.state.using, method)
        self.method, self._explained = method, None
        swap_coordinates(self.figure, self._base_ids, self.index, points.attrs["projection"])
        self._refresh_overlays()
        self._refresh_shown_tab()

    def _refresh_explanation(self) -> None:
        """Build the explanation of the current result when its tab is showing (it costs a query)."""
        if self.shown_tab() != "explanation":
            return
        figure = self.explanation_figure()
        with self.explanation.batch_update():
            self.explanation.data = ()
        self.explanation.layout = figure.layout  # on the empty figure: only the traces draw points
        self.explanation.add_traces(list(figure.data))

    def explanation_figure(self) -> go.Figure:
        """The explanation of the current result as a plain figure (see :mod:`explorekit.analysis.explain`)."""
        result = self.state.result
        if self._explained is None or self._explained[0] is not result:
            self._explained = (result, explanation_figure(self.state.col, result, self.method, self.state.using))
        return self._explained[1]

    # ------------------------------------------------------------------ hand-off
    def snapshot(self) -> dict[str, Any]:
        """The current state as plain objects, for a report or a later cell.

        Returns
        -------
        dict with ``map`` (``go.Figure`` of the map with its overlays), ``explanation``
        (``go.Figure``), ``result`` (DataFrame copy or None), ``query`` (``/points/query`` body or
        None) and ``examples`` (every role as a list: ``target`` is ``[]`` or ``[id]``); ``path``
        (``go.Figure``, the exact score along the line from a negative example to a positive one)
        when the result has such a pair.
        """
        examples = self.examples
        examples["target"] = [] if examples["target"] is None else [examples["target"]]
        snap = {
            "map": go.Figure(self.figure),
            "explanation": self.explanation_figure(),
            "result": None if self.result is None else self.result.copy(),
            "query": self.query,
            "examples": examples,
        }
        path = self.path_tab.snapshot()
        if path is not None:
            snap["path"] = path
        return snap

    def to_report(self, report: Any = None, *, title: str | None = None) -> Any:
        """Add the current state (map, examples, result, explanation) to an ``ek.Report``.

        ``report=None`` starts a new one titled ``title``; returns the report, so
        ``explorer.to_report().save("explore.html")`` writes a page that works without a kernel.
        """
        report = Report(title or "explorekit: Explorer") if report is None else report
        return report.add(self, title=title)
