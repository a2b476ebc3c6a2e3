"""Figures of vector data and of the queries on it: plain plotly ``go.Figure`` objects.

They show in notebooks (JupyterLab, Notebook 7, VS Code), export with ``fig.write_html`` and
serialise with ``fig.to_json``; none calls ``show()``. Points are WebGL traces whose
``customdata[:, 0]`` is the point id, and every trace names its part in ``meta["role"]``.
Above ``max_points`` (100,000) a seeded sample is drawn and the figure says so; queries and
colours are always computed on the whole collection.

=================== ==========================================================================
``map``             the points on their 2-D map (PCA, UMAP or the plane), coloured/sized by
                    payload, hover text, thumbnails
``recommendation``  examples, results, and a line from each result to the example that
                    decided its score
``discovery``       points coloured by discovery rank, pairs, target, results; the exact zones
                    as a background on 2-D data
``context``         points coloured by context loss, zero-loss points and region highlighted
``rescoring``       slope chart of quantized rank against rank after rescoring
``recall_curve``    recall@k against oversampling
``graph``           a point's nearest neighbours and theirs as a force-directed graph (Qdrant
                    Web UI's graph view), edges by score
``stages``          slope chart of a multi-stage query: each candidate's rank in every stage
``path``            the exact score along the line from a negative example to a positive one
                    (1-D, exact in any dimension), with the points at their place along it
=================== ==========================================================================

Examples
--------
>>> import explorekit as ek
>>> col = ek.datasets.load("clusters2d", as_collection=True)
>>> fig = ek.plots.map(col, color="fruit")
>>> sum(len(t.x) for t in fig.data) == len(col)
True
"""

from explorekit.plots._context import context
from explorekit.plots._discovery import discovery
from explorekit.plots._graph import graph
from explorekit.plots._map import map
from explorekit.plots._path import path
from explorekit.plots._recommend import recommendation
from explorekit.plots._rescoring import recall_curve, rescoring
from explorekit.plots._stages import stages

__all__ = [
    "context",
    "discovery",
    "graph",
    "map",
    "path",
    "recall_curve",
    "recommendation",
    "rescoring",
    "stages",
]
