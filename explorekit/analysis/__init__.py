"""analysis: the numbers behind the figures (no plotting libraries).

``neighbour_graph`` / ``expand`` (:mod:`.graph`): Qdrant Web UI's neighbour graph as frames.
``clusters`` (:mod:`.clusters`): clusters of the distance matrix and what distinguishes them.
"""

from explorekit.analysis.clusters import Clusters, clusters
from explorekit.analysis.graph import NeighbourGraph, expand, neighbour_graph

__all__ = ["Clusters", "NeighbourGraph", "clusters", "expand", "neighbour_graph"]
