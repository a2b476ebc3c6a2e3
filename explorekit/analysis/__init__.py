"""analysis: the numbers behind the figures (no plotting libraries).

``neighbour_graph`` / ``expand`` (:mod:`.graph`): Qdrant Web UI's neighbour graph as frames.
``clusters`` (:mod:`.clusters`): clusters of the distance matrix and what distinguishes them.
``stages(result)`` (:mod:`.stages`): where each result of a multi-stage query came from.
``score_path(col, result)`` (:mod:`.path`): the exact score along the line from a negative
example to a positive one, and where the points lie along it.
"""

from explorekit.analysis.clusters import Clusters, clusters
from explorekit.analysis.graph import NeighbourGraph, expand, neighbour_graph
from explorekit.analysis.path import ScorePath, score_path
from explorekit.analysis.stages import stage_ranks, stages

__all__ = [
    "Clusters",
    "NeighbourGraph",
    "ScorePath",
    "clusters",
    "expand",
    "neighbour_graph",
    "score_path",
    "stage_ranks",
    "stages",
]
