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

In a live kernel the first figure carries plotly's code in its ``_bundle`` trait (a binary
buffer of the comm that opens it), so that the page imports the code (2-3 s for 5 MB of
JavaScript) while the kernel still builds the rest of the cell, instead of asking for it after
the cell has finished; when that cell ends the trait is emptied (IPython's ``post_run_cell``),
so a notebook saved with its widgets stays small, also when no page is there (nbclient, nbconvert). Every other figure, and any figure outside a kernel, asks as above.

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

from explorekit._support.lazy import defer_import

# plotly's renderers import nbformat (-> jsonschema -> rfc3987_syntax, ~2 s of CPU building a
# grammar) for ``fig.show()`` only: loaded when first used, not by the first map in a fresh kernel.
defer_import("nbformat")

import plotly.graph_objects as go  # noqa: E402
import traitlets  # noqa: E402
from IPython import get_ipython  # noqa: E402
from plotly.basewidget import BaseFigureWidget  # noqa: E402
from traitlets import observe  # noqa: E402

LOADER = (Path(__file__).resolve().parent / "_assets" / "lean_figure.js").read_text(encoding="utf-8")
ASK, TAKE, READY = "explorekit:plotly-bundle?", "explorekit:plotly-bundle", "explorekit:figure-ready"


@functools.cache
def plotly_bundle() -> bytes:
    """plotly's own widget code (what ``go.FigureWidget`` would put in its state), read once."""
    return str(BaseFigureWidget._esm).encode("utf-8")


_CARRIED: list[bool] = []  # a figure of this process has carried plotly's code in its state


def bundle_to_carry(live: bool) -> bytes:
    """plotly's code for the first figure made in a live kernel (``live``), else nothing.

    >>> bundle_to_carry(live=False)
    b''
    """
    if not live or _CARRIED:
        return b""
    _CARRIED.append(True)
    return plotly_bundle()


def in_live_kernel() -> bool:
    """True inside a Jupyter kernel (a front end may draw the figure), False in scripts and tests."""
    return type(get_ipython()).__name__ == "ZMQInteractiveShell"


class LeanFigureWidget(go.FigureWidget):
    """A ``go.FigureWidget`` whose front end code comes from the kernel once per page, not in its state."""

    _esm = LOADER
    _bundle = traitlets.Bytes().tag(sync=True)  # plotly's code: the first figure of a kernel, until its cell ends
    _carried = False  # this figure's state brought plotly's code to the page

    @traitlets.default("_bundle")
    def _first_figure_carries_plotly(self) -> bytes:
        bundle = bundle_to_carry(in_live_kernel())
        if bundle:
            self._carried = True
            get_ipython().events.register("post_run_cell", self._drop_bundle)
        return bundle

    def _drop_bundle(self, *_: Any) -> None:
        """After the cell that made this figure: the page has imported the code (or will ask)."""
        get_ipython().events.unregister("post_run_cell", self._drop_bundle)
        self._bundle = b""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ready_callbacks: list[Callable[[], None]] = []
        self._bundles_sent = 0
        self.on_msg(self._on_front_end_message)

    @property
    def bundles_sent(self) -> int:
        """How often a front end got plotly's code from this figure (asked, or in its state; once per page at most)."""
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
            if self._carried:  # the page took plotly's code from this figure's state
                self._carried = False
                self._bundles_sent += 1
            for callback in self._ready_callbacks:
                callback()
