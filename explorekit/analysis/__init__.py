"""analysis: the numbers behind the figures (no plotting libraries).

``neighbour_graph`` / ``expand`` (:mod:`.graph`): Qdrant Web UI's neighbour graph as frames.
"""

from explorekit.analysis.graph import NeighbourGraph, expand, neighbour_graph

__all__ = ["NeighbourGraph", "expand", "neighbour_graph"]
