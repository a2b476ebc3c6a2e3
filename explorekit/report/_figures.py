"""Points without finite coordinates, left out of a report's figure and counted in its caption.

A NaN or an infinity among a trace's coordinates has no place on a map; plotly.js skips such a
point, but the page's own data (the positions that clicks ring) must not carry it, since JSON
has no NaN. The report blanks these coordinates (sets them to NaN, which plotly writes as
``null`` or inside a binary array, both valid JSON) so every per-point array of the trace
(``customdata``, ``text``, ``marker.color``, ...) keeps its length and order, and says in the
figure's caption how many points are not drawn and why.

>>> import plotly.graph_objects as go
>>> fig = go.Figure(go.Scatter(x=[0, float("nan"), 2], y=[0, 1, float("inf")]))
>>> drop_non_finite(fig.data)
2
>>> fig.data[0].x.tolist(), fig.data[0].y.tolist()
([0.0, nan, nan], [0.0, nan, nan])
>>> left_out_note(2)
'2 points are not drawn: a coordinate of each is not a finite number (NaN or infinity).'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: trace types whose x, y (and z) hold one coordinate per point
POINT_TRACES = {"scatter": ("x", "y"), "scattergl": ("x", "y"), "scatter3d": ("x", "y", "z")}


def _numbers(values: Any) -> np.ndarray | None:
    """A 1-D float array of one axis' values, or None when they are not all numbers (categories,
    dates): those axes have no NaN to drop."""
    if values is None:
        return None
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array if array.ndim == 1 else None


def non_finite_rows(trace: Any) -> np.ndarray | None:
    """A mask of the points of a scatter-like trace with a NaN or infinite coordinate, or None.

    A trace drawn as lines only has no points: its gaps (``None`` between the segments of a
    graph's edges) are how plotly breaks a line, not points left out.
    """
    axes = POINT_TRACES.get(getattr(trace, "type", None) or "")
    if axes is None or getattr(trace, "mode", None) == "lines":
        return None
    columns = [c for c in (_numbers(getattr(trace, axis, None)) for axis in axes) if c is not None]
    if not columns or len({len(c) for c in columns}) != 1:
        return None
    mask = np.zeros(len(columns[0]), dtype=bool)
    for column in columns:
        mask |= ~np.isfinite(column)
    return mask


def has_non_finite(traces: Sequence[Any]) -> bool:
    """Whether some point of these traces has a NaN or infinite coordinate."""
    return any(mask is not None and mask.any() for mask in map(non_finite_rows, traces))


def drop_non_finite(traces: Sequence[Any]) -> int:
    """Blank (set to NaN) every coordinate of the points that have a non-finite one, in place;
    returns how many points that was. Pass the traces of the report's own copy of a figure."""
    dropped = 0
    for trace in traces:
        mask = non_finite_rows(trace)
        if mask is None or not mask.any():
            continue
        for axis in POINT_TRACES[trace.type]:
            column = _numbers(getattr(trace, axis, None))
            if column is not None:
                column = column.copy()
                column[mask] = np.nan
                setattr(trace, axis, column)
        dropped += int(mask.sum())
    return dropped


def left_out_note(count: int) -> str:
    """The caption sentence for ``count`` points that are not drawn."""
    subject = "1 point is" if count == 1 else f"{count:,} points are"
    return f"{subject} not drawn: a coordinate of each is not a finite number (NaN or infinity)."


def graph_settings(fig: Any) -> dict[str, Any]:
    """The settings a neighbour graph (``explorekit.plots.graph``) keeps in ``layout.meta["graph"]``,
    or ``{}`` for any other figure.

    >>> import plotly.graph_objects as go
    >>> graph_settings(go.Figure(layout={"meta": {"graph": {"limit": 3}}})), graph_settings(go.Figure())
    ({'limit': 3}, {})
    """
    meta = fig.layout.meta
    graph = meta.get("graph") if isinstance(meta, dict) else None
    return dict(graph) if isinstance(graph, dict) else {}
