"""Interactive widgets (ipywidgets + plotly ``FigureWidget``) over a plain-Python selection model.

``Explorer`` is the map to click examples on, with the query they make and its results;
``Selection`` and ``ExplorerState`` are the model under it (no ipywidgets), usable on their own.

Examples
--------
>>> import explorekit as ek
>>> col = ek.datasets.load("clusters2d", as_collection=True)
>>> explorer = ek.Explorer(col, projection="auto", color="fruit")    # doctest: +SKIP
"""

from explorekit.widgets._model import KINDS, MODES, Selection
from explorekit.widgets._state import ExplorerState
from explorekit.widgets.explorer import Explorer

__all__ = ["KINDS", "MODES", "Explorer", "ExplorerState", "Selection"]
