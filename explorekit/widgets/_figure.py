"""``LeanFigureWidget``: plotly's ``FigureWidget`` without its ~5 MB JavaScript in the widget state.

plotly's ``FigureWidget`` is an anywidget whose ``_esm`` trait is plotly's whole widget bundle
(plotly.js and the figure view, about 5 MB); the bundle is part of every figure's widget state,
so each figure adds 5 MB to a notebook saved with its widgets. Here ``_esm`` is a small loader
(``_assets/lean_figure.js``, a few kB): the first figure of a browser page asks its kernel for
plotly's bundle once (a custom message, the bytes as a binary buffer), imports it, and every later
figure on the page reuses the module. Each figure is then plotly's own widget, unchanged: the
same Python API (``on_click``, ``batch_update``, ...) and the same front end code.

Hover events stay in the page (the loader does not send them to the kernel: nothing in explorekit
listens, and each would cost a round trip queued ahead of the next click), so ``on_hover``
callbacks do not fire; clicks and selections travel as in plotly.

Changes sent from Python draw without recalculating the figure: plotly's view marks them with
``_doNotReportToPy`` inside the data it hands to plotly.js, which took the mark for an unknown
attribute and recalculated and redrew every trace (the Explorer's whole map for a change of its
overlay shapes). The loader makes the mark non-enumerable, so plotly.js does not see it; plotly's
event then reports the change back, and such an echo of a shapes-only change is ignored here
(:meth:`LeanFigureWidget._handler_js2py_relayout`): the page never edits shapes itself, and a late
echo would put back shapes Python has replaced since.

Without a kernel (a notebook opened from its saved widget state, an HTML export) the figure
shows a note instead of the plot; ``Report`` pages are the offline form.

Messages that plotly sends before the front end has the bundle (a cell that changes the figure
right after the cell that showed it) find no plotly model to apply them to; the front end says
when it is ready (``on_ready``), and the owner re-sends what changed since construction.

Examples
--------
>>> fig = LeanFigureWidget(data=[{"type": "scatter", "x": [1, 2], "y": [3, 4]}])
>>> len(fig._esm) < 10_000, fig.data[0].type
(True, 'scatter')
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.basewidget import BaseFigureWidget
from traitlets import observe

LOADER = (Path(__file__).resolve().parent / "_assets" / "lean_figure.js").read_text(encoding="utf-8")
ASK, TAKE, READY = "explorekit:plotly-bundle?", "explorekit:plotly-bundle", "explorekit:figure-ready"


@functools.cache
def plotly_bundle() -> bytes:
    """plotly's own widget code (what ``go.FigureWidget`` would put in its state), read once."""
    return str(BaseFigureWidget._esm).encode("utf-8")


class LeanFigureWidget(go.FigureWidget):
    """A ``go.FigureWidget`` whose front end code comes from the kernel once per page, not in its state."""

    _esm = LOADER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ready_callbacks: list[Callable[[], None]] = []
        self._bundles_sent = 0
        self.on_msg(self._on_front_end_message)

    @property
    def bundles_sent(self) -> int:
        """How often a front end asked this figure for plotly's code (once per page at most)."""
        return self._bundles_sent

    def on_ready(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` each time a front end has plotly's code and draws this figure."""
        self._ready_callbacks.append(callback)

    @observe("_js2py_relayout")
    def _handler_js2py_relayout(self, change: dict) -> None:
        """A relayout from the page: applied as plotly does, except the echo of a shapes-only change
        made here (the page sends it back, see the module notes)."""
        message = change["new"]
        if message and set(message.get("relayout_data") or {}) == {"shapes"}:
            self._js2py_relayout = None
            return
        super()._handler_js2py_relayout(change)

    def _on_front_end_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == ASK:
            self.send({"type": TAKE}, buffers=[plotly_bundle()])
            self._bundles_sent += 1
        elif kind == READY:
            for callback in self._ready_callbacks:
                callback()
