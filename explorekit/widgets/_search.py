"""The Explorer's search box: find a point by name, ring it on the map, choose it as an example.

:class:`SearchBox` is a small anywidget (``_assets/find_box.js``): an input, and a list of hits
below it that Up/Down walk and Enter (or a mouse click) chooses; the matching runs in Python
(:func:`explorekit.widgets._find.match`). :class:`Finder` ties it to the map: it fills the list
from the typed text, or with the points around a click that landed on several of them
(:meth:`Finder.offer_near`), rings the shown hit (a layout shape named ``found``,
:func:`found_ring`) and centres the map on it, and hands a chosen point to the Explorer.

Examples
--------
>>> import explorekit as ek
>>> col = ek.datasets.load("stdlib_docs", as_collection=True)
>>> ex = ek.Explorer(col)
>>> ex.finder.box.text = "dumps"                 # what typing does
>>> ex.finder.box.hits[0]
{'name': 'dumps (2778)', 'note': 'function'}
>>> ex.finder.choose(0)                          # Enter: added in the current click mode
>>> ex.examples["positive"], ex.state.selection.entries()
([2778], [('positive', 0, 'dumps (2778)')])
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from explorekit.plots._base import hover_columns
from explorekit.query.display import category_field, label_field, name_with_id
from explorekit.widgets import _shapes
from explorekit.widgets._find import HITS, NEAR_PIXELS, data_per_pixel, fold, match, near
from explorekit.widgets._map import MapIndex

ESM = (Path(__file__).resolve().parent / "_assets" / "find_box.js").read_text(encoding="utf-8")
CSS = """
.ek-find { display: flex; align-items: flex-start; font-size: 13px; margin: 2px 0; }
.ek-find-caption { width: var(--jp-widgets-inline-label-width, 80px); flex: none; text-align: right;
  padding: 4px 8px 0 0; box-sizing: border-box; }
.ek-find-field { position: relative; width: 380px; }
.ek-find-input { width: 100%; box-sizing: border-box; padding: 3px 6px; }
.ek-find-list { position: absolute; z-index: 1000; left: 0; right: 0; max-height: 240px; overflow-y: auto;
  background: var(--jp-layout-color0, white); border: 1px solid #bbb; box-shadow: 0 2px 6px rgba(0,0,0,.2); }
.ek-find-note { padding: 2px 6px; color: #666; font-style: italic; }
.ek-find-hit { padding: 2px 6px; cursor: pointer; display: flex; gap: 8px; justify-content: space-between; }
.ek-find-hit.ek-active { background: #e7298a22; outline: 1px solid #e7298a; }
.ek-find-cat { color: #777; }
"""
RING = "#e7298a"  # the ring of the found point: a colour no role or result overlay uses
DEFAULT_WIDTH = 900  # plot width assumed when the figure has none (it fills the output area)


def label_columns(payload: pd.DataFrame, label: str | None, color: str | None) -> tuple[pd.Series, pd.Series | None]:
    """The label of every point (``label``, or :func:`~explorekit.query.display.label_field`'s
    choice) and the value shown beside it (the ``color`` column, else the category field), by id.

    An unknown ``label`` is a RequestError that names the payload fields.
    """
    name = label_field(payload, label)
    labels = payload[name] if name is not None else pd.Series(index=payload.index, dtype=object)
    note = color if color in payload.columns else category_field(payload)
    return labels, (None if note is None or note == name else payload[note])


def hover_with_label(col: Any, hover: Any, label: str | None) -> Any:
    """Hover columns of the map: the given ones, else the label first and then the map's defaults."""
    if hover is not None or label is None:
        return hover
    return [label, *[c for c in hover_columns(col, None) if c != label]][:4]


class SearchBox(anywidget.AnyWidget):
    """An input and a keyboard-walkable list of hits; the kernel fills ``hits`` from ``text``."""

    _esm = ESM
    _css = CSS
    text = traitlets.Unicode("").tag(sync=True)
    hits = traitlets.List(traitlets.Dict()).tag(sync=True)  # [{"name": "dumps (2778)", "note": "function"}]
    note = traitlets.Unicode("").tag(sync=True)  # one line above the hits
    active = traitlets.Int(0).tag(sync=True)  # the hit shown first as current
    focus = traitlets.Bool(False).tag(sync=True)  # the list came from a click: move the focus to the input
    placeholder = traitlets.Unicode("find by name: type, then \u2191\u2193 and Enter").tag(sync=True)


def found_ring(x: float, y: float, name: str) -> list[dict[str, Any]]:
    """The ring of the point the search box shows, its name above it: a layout shape named
    ``found`` (:mod:`explorekit.widgets._shapes`); none when the point has no place on the map."""
    if not (np.isfinite(x) and np.isfinite(y)):
        return []
    return [_shapes.ring(x, y, size=26, color=RING, width=3, name="found", text=name, font=dict(color=RING, size=13))]


class Finder:
    """The search box wired to the map: hits by name, rings, centring, and the choice.

    ``labels`` and ``notes`` are Series indexed by point id (the label field and the colour or
    category field); the shown point is ringed with :func:`found_ring`.
    ``on_choose(point, replaces)`` receives a chosen id, and for a list offered after a click
    the id that click chose (``replaces``), else None.
    """

    def __init__(
        self,
        figure: Any,
        index: MapIndex,
        labels: pd.Series,
        notes: pd.Series | None,
        on_choose: Callable[[Any, Any], None],
    ) -> None:
        self.figure, self.index = figure, index
        self.labels, self.notes, self.on_choose = labels, notes, on_choose
        self.folded = fold(labels)  # once: every keystroke matches against it
        self.ids: list[Any] = []  # the listed hits, by position
        self.replaces: Any = None  # the clicked point a list of close points offers alternatives to
        self.shown: Any = None  # the ringed point
        self.box = SearchBox()
        self.box.observe(lambda change: self.find(change["new"]), names="text")
        self.box.on_msg(self._on_message)
        figure.on_ready(self.resend)

    # ------------------------------------------------------------------ the list
    def name(self, point: Any) -> str:
        """``label (id)`` of a point (the id alone without a label)."""
        return name_with_id(self.labels.get(point), point)

    def _note(self, point: Any) -> str:
        value = None if self.notes is None else self.notes.get(point)
        return "" if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) else str(value)

    def _show(self, ids: list[Any], note: str, replaces: Any = None, focus: bool = False) -> None:
        self.ids, self.replaces = ids, replaces
        with self.box.hold_sync():
            self.box.note = note
            self.box.active = 0
            self.box.focus = focus
            self.box.hits = [{"name": self.name(i), "note": self._note(i)} for i in ids]

    def find(self, text: str) -> list[Any]:
        """List the points whose label matches ``text`` (:func:`~explorekit.widgets._find.match`)."""
        hits, total = match(self.labels, text, HITS, self.folded)
        ids = hits.index.tolist()
        if not str(text).strip():
            note = ""
        elif not ids:
            note = f"no label contains {str(text).strip()!r}"
        else:
            note = f"{total} match{'es' if total != 1 else ''}" + (f", first {len(ids)}" if total > len(ids) else "")
        self._show(ids, note)
        return ids

    def offer_near(self, point: Any) -> list[Any]:
        """After a click on ``point``: list it and the points within a few pixels of it, if any.

        "A few pixels" is :data:`~explorekit.widgets._find.NEAR_PIXELS` converted to map units with
        the map's current ranges and plot size (:meth:`radius`). Returns the listed ids ([] when the
        click was unambiguous: a list offered for an earlier click is cleared, typed hits stay).
        """
        rows = self.index.ids.get_indexer([point])
        if rows[0] < 0:
            return []
        found = near(self.index.x, self.index.y, int(rows[0]), self.radius())
        if len(found) < 2:
            if self.replaces is not None:  # the list offered for an earlier click is stale now
                self._show([], "")
            return []
        ids = self.index.take(found[:HITS].tolist())
        self._show(
            ids,
            f"{len(found) - 1} other point(s) within {NEAR_PIXELS} px of {self.name(point)}: "
            "\u2191\u2193 and Enter to take one instead",
            replaces=point,
            focus=True,
        )
        return ids

    # ------------------------------------------------------------------ the map
    def radius(self) -> float:
        """:data:`NEAR_PIXELS` in map units, from the axes' ranges (the points' extent before any
        zoom or pan) and the plot area (the figure's size less its margins)."""
        layout = self.figure.layout
        x_range, y_range = layout.xaxis.range, layout.yaxis.range
        if x_range is None or y_range is None:
            x_range, y_range = self._extent()
        margin = layout.margin
        width = (layout.width or DEFAULT_WIDTH) - (margin.l or 80) - (margin.r or 80)
        height = (layout.height or 450) - (margin.t or 100) - (margin.b or 80)
        return NEAR_PIXELS * data_per_pixel(x_range, y_range, width, height)

    def _extent(self) -> tuple[tuple[float, float], tuple[float, float]]:
        x, y = self.index.x, self.index.y
        if not len(x):
            return (0.0, 1.0), (0.0, 1.0)
        pad_x = 0.05 * float(np.nanmax(x) - np.nanmin(x)) or 1.0
        pad_y = 0.05 * float(np.nanmax(y) - np.nanmin(y)) or 1.0
        return (
            (float(np.nanmin(x)) - pad_x, float(np.nanmax(x)) + pad_x),
            (float(np.nanmin(y)) - pad_y, float(np.nanmax(y)) + pad_y),
        )

    def show(self, point: Any, centre: bool = True) -> None:
        """Ring ``point`` on the map (its name beside the ring) and, with ``centre``, centre the map on it."""
        x, y = self.index.xy([point])
        self.shown = point
        with self.figure.batch_update():
            _shapes.replace(self.figure, {"found": found_ring(x[0], y[0], html.escape(self.name(point)))})
            if centre and np.isfinite(x[0]) and np.isfinite(y[0]):
                self._centre(float(x[0]), float(y[0]))

    def _centre(self, x: float, y: float) -> None:
        """Centre the axes on ``(x, y)``, keeping the zoom (at most half the whole map's width)."""
        layout = self.figure.layout
        (x0, x1), (y0, y1) = self._extent()
        span_x, span_y = (x1 - x0) / 2, (y1 - y0) / 2
        if layout.xaxis.range is not None and layout.yaxis.range is not None:
            span_x = min(span_x, abs(layout.xaxis.range[1] - layout.xaxis.range[0]))
            span_y = min(span_y, abs(layout.yaxis.range[1] - layout.yaxis.range[0]))
        layout.xaxis.range = [x - span_x / 2, x + span_x / 2]
        layout.yaxis.range = [y - span_y / 2, y + span_y / 2]

    def resend(self) -> None:
        """A front end drew the map anew: send the ring again (plotly sends only changes)."""
        if self.shown is not None:
            _shapes.replace(self.figure, {"found": []})
            self.show(self.shown, centre=False)

    # ------------------------------------------------------------------ the choice
    def preview(self, position: int) -> None:
        """Up/Down reached hit ``position``: ring it (and centre on it, for hits of typed text)."""
        if 0 <= position < len(self.ids):
            self.show(self.ids[position], centre=self.replaces is None)

    def choose(self, position: int) -> None:
        """Enter (or a click) on hit ``position``: ring it and hand it to the Explorer."""
        if 0 <= position < len(self.ids):
            point = self.ids[position]
            self.show(point, centre=self.replaces is None)
            self.on_choose(point, self.replaces)

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("index"), int):
            return
        {"preview": self.preview, "choose": self.choose}.get(content.get("type"), lambda _: None)(content["index"])
