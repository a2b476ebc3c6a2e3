"""The Explorer's map switch: PCA at once, UMAP on request, swapped into the same figure.

A new collection's first map is PCA (the default ``projection="auto"``: instant). The switch
offers UMAP beside it. Choosing it computes the UMAP map with
:func:`explorekit.analysis.projection.project` (cached on the vector space, so it is fitted
once per collection) and then moves the points of the map that is on screen: the base traces'
``x``/``y`` in one ``batch_update``, the Explorer's :class:`~explorekit.widgets._map.MapIndex`
(clicks, overlays, the explanation use the new map), axis titles and the projection note, and
a new ``uirevision`` so the view refits. No trace is added or removed, so clicks keep working.
A map that is already there (the bundled sets ship theirs; a map fitted earlier in the
process) swaps at once.

The fit runs in the callback of the switch, with its progress bars (the same bars as every
long task, :mod:`explorekit._support.progress`, and UMAP's epochs) shown in the switch.
Why not a thread: those bars are displayed by IPython from the thread that makes them, and an
output area (a cell, an ``Output`` widget) takes display messages only while the request it
belongs to is running; from a background thread they would go nowhere and the user would see
no progress. The synchronous form shows them, keeps the PCA map on screen meanwhile, and no
click can read a half-swapped map. The kernel is busy for as long as the fit takes (tens of
seconds for the first UMAP in a process, which compiles numba code).

Examples
--------
>>> import explorekit as ek
>>> col = ek.datasets.load("digits", as_collection=True)
>>> ex = ek.Explorer(col, using="pixels")
>>> ex.map_switch.value
'pca'
>>> ex.map_switch.value = "umap"        # the bundled set ships its UMAP map: swapped at once
>>> ex.method, ex.figure.layout.xaxis.title.text
('umap', 'UMAP 1')
"""

from __future__ import annotations

import html
from types import SimpleNamespace
from typing import Any

import ipywidgets as W

from explorekit._support.errors import ExploreError
from explorekit.analysis.projection import cached, resolve_method
from explorekit.plots import _base
from explorekit.widgets import _map

OFFERED = (("PCA", "pca"), ("UMAP", "umap"))  # (label, projection) of the switch's buttons
MAP_SHARE, SIDE_SHARE = "56%", "43%"  # of the output's width: the map, and the tabs beside it
BESIDE = ("results", "inspect")  # tabs of tables, shown beside the map; figures get the whole width


def first_screen(figure: Any, tabs: W.Tab) -> W.Box:
    """The map and the tabs side by side while a table shows (results, inspect), so the results
    are on the first screen beside the map and a PCA cloud (equal scales, about as wide as tall)
    fills the map's width; a tab of figures (explanation, graph, ...) takes the whole width below.

    The shares are of the output's width, and each box is a column (its child stretches to the
    box's width): so the width is definite before plotly draws and the figure sizes itself to it
    (a child sized by its content would keep plotly's default 700 px).
    """
    side = W.VBox([tabs], layout=W.Layout(width=SIDE_SHARE, min_width="0"))

    def place(_change: Any = None) -> None:
        index = tabs.selected_index
        beside = index is None or tabs.titles[index] in BESIDE
        side.layout.width = SIDE_SHARE if beside else "100%"

    tabs.observe(place, names="selected_index")
    place()
    return W.HBox(
        [W.VBox([figure], layout=W.Layout(width=MAP_SHARE, min_width="0", overflow="hidden")), side],
        layout=W.Layout(flex_flow="row wrap", align_items="flex-start", justify_content="space-between", width="100%"),
    )


def offered(space: Any, method: str) -> bool:
    """Whether the switch is worth showing: a map of more than two dimensions (2-D vectors are
    mapped as they are, exactly) that is one of the offered projections."""
    return space.dim > 2 and resolve_method(method, space) in dict(OFFERED).values()


def swap_coordinates(figure: Any, base_ids: list[list[Any]], index: _map.MapIndex, info: dict) -> None:
    """Move every base trace of ``figure`` to the positions ``index`` gives its point ids, in one
    update, and say which map it now is (axis titles, projection note, equal scales for PCA).

    ``info`` is the projection's description (``project(...).attrs["projection"]``).
    """
    method = info["method"]
    shape = SimpleNamespace(method=method, info=info)  # what the figure notes read of a map
    xtitle, ytitle = _base.axis_titles(shape)
    note = _base._projection_note(shape)
    with figure.batch_update():
        for trace, ids in zip(figure.data, base_ids):
            if ids:
                trace.x, trace.y = index.xy(ids)
        figure.layout.xaxis.title.text, figure.layout.yaxis.title.text = xtitle, ytitle
        figure.layout.xaxis.autorange = figure.layout.yaxis.autorange = True
        figure.layout.yaxis.scaleanchor = None if method == "umap" else "x"
        figure.layout.uirevision = f"explorer-{method}"  # a new view: plotly refits the axes
        subtitle = figure.layout.title.subtitle.text
        if subtitle:
            lines = [line for line in subtitle.split("<br>") if not line.startswith("Map: ")]
            figure.layout.title.subtitle.text = "<br>".join([*lines[:-1], note, *lines[-1:]] if lines else [note])


class MapSwitch(W.HBox):
    """Toggle buttons "PCA" / "UMAP" above the map, a note, and room for progress bars.

    ``on_switch(method)`` makes the switch (computes or reads the map, swaps it in); a failure
    (an :class:`~explorekit._support.errors.ExploreError`) is shown in the note and the buttons
    go back to the map on screen. ``value`` is the projection shown.
    """

    def __init__(self, space: Any, method: str, on_switch: Any) -> None:
        self.space, self.on_switch = space, on_switch
        shown = offered(space, method)
        self.buttons = W.ToggleButtons(
            options=list(OFFERED),
            value=resolve_method(method, space) if shown else None,
            description="map",
            tooltips=["principal components: at once", "UMAP: computed once per collection (progress below)"],
            style={"button_width": "64px"},
        )
        self.note = W.HTML()
        self.progress = W.Output(layout=W.Layout(width="100%"))
        self._shown = self.buttons.value
        self.buttons.observe(self._on_choice, names="value")
        super().__init__(
            [self.buttons, W.VBox([self.note, self.progress])],
            layout=W.Layout(display="flex" if shown else "none", align_items="center"),
        )
        self._say_ready()

    @property
    def value(self) -> str | None:
        """The projection of the map on screen (``"pca"`` or ``"umap"``), None when not offered."""
        return self.buttons.value

    @value.setter
    def value(self, method: str) -> None:
        self.buttons.value = method

    def _say_ready(self) -> None:
        if cached(self.space, "umap") is None and self._shown != "umap":
            self.note.value = "<small>UMAP is computed on request (once per collection; progress shows here)</small>"
        else:
            self.note.value = ""

    def _on_choice(self, change: dict) -> None:
        method = change["new"]
        if method is None or method == self._shown:
            return
        if cached(self.space, method) is None:
            self.note.value = f"<small>computing the {html.escape(method.upper())} map of {len(self.space.stored):,} points&hellip;</small>"
        try:
            with self.progress:
                self.on_switch(method)
        except ExploreError as err:
            self.note.value = f'<span style="color:#b2182b">&#9888; {html.escape(str(err))}</span>'
            self.buttons.value = self._shown  # back to the map on screen (this callback returns at once)
            return
        self._shown = method
        if self.progress.outputs:  # the bars of a fit: done (outside a kernel nothing was captured)
            self.progress.outputs = ()
        self._say_ready()
