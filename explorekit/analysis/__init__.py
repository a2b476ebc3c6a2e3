"""analysis: the numbers behind the figures (explain, zones, projections, rescoring, stages).

``explorekit.analysis.stages(result)`` explains a multi-stage query
(:mod:`explorekit.analysis.stages`).
"""

from explorekit.analysis.stages import stage_ranks, stages

__all__ = ["stage_ranks", "stages"]
