"""What the Explorer asks of the layers below for its explanation tab and its controls.

* :func:`explanation_figure`: the plot that explains the current result, chosen by query kind
  (:func:`explorekit.plots.recommendation` for search and recommend, ``plots.discovery`` and
  ``plots.context`` for discovery and context search), drawn over a sample of the map.
  A multi-stage result (diversity, boost) gets its stage chart (:func:`explorekit.plots.stages`).
* :func:`is_quantized`: whether the searched vector is quantized, so the quantization controls
  (rescore, oversampling, ignore) are worth showing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from explorekit import plots
from explorekit._support.errors import ExploreError
from explorekit.collection import Collection

EXPLAIN_POINTS = 2_000  # background points drawn under an explanation (a seeded sample; their hover
# text and drawing were most of the tab's time at 5,000)
_FIGURES = {"search": "recommendation", "recommend": "recommendation", "discover": "discovery", "context": "context"}


def _kind(result: pd.DataFrame) -> str:
    query = (result.attrs.get("query") or {}).get("query")
    name = next(iter(query)) if isinstance(query, dict) and query else "nearest"
    return {"nearest": "search"}.get(name, name)


def _note(text: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=13, color="#555")
    )
    fig.update_layout(template="plotly_white", height=380, xaxis_visible=False, yaxis_visible=False)
    return fig


def explanation_figure(col: Any, result: pd.DataFrame | None, method: str, using: str | None = None) -> go.Figure:
    """The figure explaining ``result`` on the map of ``method`` (a note when there is none)."""
    if result is None:
        return _note("No result yet: choose examples on the map.")
    if result.attrs.get("stages"):
        return plots.stages(result, col, height=420)
    if not isinstance(col, Collection):
        return _note("Explanations are computed on local collections; this one is answered by a server.")
    name = _FIGURES.get(_kind(result))
    builder = getattr(plots, name, None) if name else None
    if builder is None:
        return _note(f"No explanation figure for this query kind yet (plots.{name} is missing).")
    try:
        return builder(col, result, projection=method, max_points=EXPLAIN_POINTS, height=420)
    except ExploreError as err:
        return _note(f"No explanation: {err}")


def is_quantized(col: Any, using: str | None) -> bool:
    """True when the searched vector space has quantized codes (local) or a quantization config (Qdrant)."""
    if hasattr(col, "memory_usage"):
        usage = col.memory_usage()
        if "quantization" in usage.columns:
            names = list(usage.index)
            name = using if using is not None else ("" if "" in names else (names[0] if len(names) == 1 else None))
            return (
                name in names
                and usage.loc[name, "quantization"] is not None
                and not pd.isna(usage.loc[name, "quantization"])
            )
    info = getattr(col, "info", None)
    config = getattr(info, "config", None)
    if config is None:
        return False
    if getattr(config, "quantization_config", None) is not None:
        return True
    vectors = getattr(getattr(config, "params", None), "vectors", None)
    if isinstance(vectors, dict):
        params = vectors.get(using or "")
        return getattr(params, "quantization_config", None) is not None
    return getattr(vectors, "quantization_config", None) is not None
