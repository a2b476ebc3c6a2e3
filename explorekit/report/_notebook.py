"""``setup_notebook()``: plotly's renderer for the notebook front end the kernel runs under.

Which front end it is, is read from the kernel's environment, with the rules plotly itself uses
for its default renderer (``plotly.io._renderers``) plus the markers plotly misses:

* **Colab** (``"colab"``): ``google.colab`` imported (Colab's kernel imports it at start), or the
  ``COLAB_RELEASE_TAG`` / ``COLAB_NOTEBOOK_ID`` variable. Colab draws each output in its own
  frame, so a figure must load plotly.js itself: plotly's ``colab`` renderer does (from its CDN).
* **VS Code** (``"vscode"``): ``VSCODE_PID`` (set when VS Code started the kernel) or
  ``VSCODE_CWD`` (also set in WSL and containers, where ``VSCODE_PID`` is not). VS Code draws
  plotly's own mimetype itself; plotly's ``vscode`` renderer sends only that.
* anything else (``"jupyter"``): JupyterLab, Notebook 7, nbclient and ``nbconvert --execute``.
  ``plotly_mimetype+explorekit``: the mimetype for the live front end, plus an HTML copy of
  each figure with plotly.js inlined once per notebook, so an exported page draws offline.

``PLOTLY_RENDERER`` set in the environment is the user's choice and is kept, as plotly keeps it.
A ``jupyter lab`` started from a VS Code terminal inherits ``VSCODE_PID``: pass ``renderer=``.

Examples
--------
>>> front_end({"VSCODE_PID": "4242"}, modules=())
'vscode'
>>> front_end({}, modules=("google.colab",))
'colab'
>>> front_end({}, modules=())
'jupyter'
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Collection, Mapping
from typing import Any

FRONT_END_RENDERERS = {"colab": "colab", "vscode": "vscode", "jupyter": "plotly_mimetype+explorekit"}
_COLAB_VARIABLES = ("COLAB_RELEASE_TAG", "COLAB_NOTEBOOK_ID")
_VSCODE_VARIABLES = ("VSCODE_PID", "VSCODE_CWD")
_MATHJAX = re.compile(
    r'<script src="https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[^"]*"></script>'
    r"(<script>if \(window\.MathJax[^<]*</script>)?"
)


def front_end(environ: Mapping[str, str] | None = None, modules: Collection[str] | None = None) -> str:
    """``"colab"``, ``"vscode"`` or ``"jupyter"``: the front end this kernel's output goes to.

    ``environ`` and ``modules`` default to ``os.environ`` and ``sys.modules``.
    """
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    if "google.colab" in modules or any(name in environ for name in _COLAB_VARIABLES):
        return "colab"
    if any(name in environ for name in _VSCODE_VARIABLES):
        return "vscode"
    return "jupyter"


def setup_notebook(renderer: str | None = None) -> str:
    """Choose plotly's renderer for this notebook's front end (call once, in the first cell); returns it.

    ``renderer=None`` picks by front end (:func:`front_end`): ``"colab"`` in Colab (each output
    is its own frame, so each figure loads plotly.js), ``"vscode"`` in VS Code (it draws plotly's
    mimetype), and elsewhere ``"plotly_mimetype+explorekit"``: JupyterLab and Notebook 7 draw the
    mimetype, and an HTML copy of each figure, with plotly.js inlined once per notebook, makes
    figures survive ``nbconvert`` offline (plotly's default there, the mimetype alone, is dropped
    by nbconvert's HTML export). ``"explorekit"`` is plotly's ``"notebook"`` renderer without the
    MathJax ``<script>`` it puts before every figure (a CDN download that fails offline, only
    needed for LaTeX in figure text). ``PLOTLY_RENDERER`` in the environment is kept. Any
    plotly renderer name may be passed, e.g. ``"plotly_mimetype+notebook"`` to keep MathJax.

    >>> import plotly.io as pio
    >>> before = pio.renderers.default
    >>> setup_notebook("plotly_mimetype+explorekit")
    'plotly_mimetype+explorekit'
    >>> pio.renderers.default = before
    """
    import plotly.io as pio

    if "explorekit" not in pio.renderers:
        pio.renderers["explorekit"] = _offline_notebook_renderer()
    if renderer is None:
        if os.environ.get("PLOTLY_RENDERER"):
            return pio.renderers.default
        renderer = FRONT_END_RENDERERS[front_end()]
    pio.renderers.default = renderer
    return renderer


def _offline_notebook_renderer() -> Any:
    import plotly.io as pio
    from plotly.io.base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):
        """plotly's notebook renderer minus the per-figure MathJax CDN script."""

        def to_mimebundle(self, fig_dict: Any) -> dict:
            bundle = super().to_mimebundle(fig_dict)
            if isinstance(bundle.get("text/html"), str):
                bundle["text/html"] = _MATHJAX.sub("", bundle["text/html"])
            return bundle

    return OfflineNotebookRenderer(config=dict(pio.renderers["notebook"].config or {}))
