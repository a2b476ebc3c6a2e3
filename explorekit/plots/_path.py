"""The score along the path from a negative example to a positive one: a 1-D view that is exact.

On a map of high-dimensional vectors the zone colours are exact only at the points. This figure
scores one line of the vector space everywhere (:func:`explorekit.analysis.path.score_path`):
the curve is the query's exact score at ``x(t) = n + t (p - n)``, and the collection's points,
results and examples sit at their projection ``t`` onto that line with their own exact scores
(a point far from the line, large ``offset``, need not lie on the curve).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorekit._support.errors import ExploreError, short_repr
from explorekit.analysis.path import STEPS, ScorePath, score_path
from explorekit.plots import _base
from explorekit.query.display import format_score

if TYPE_CHECKING:
    from explorekit.collection import Collection

CURVE = "#2c7bb6"
NEAR_SCALE = [[0.0, "rgba(60, 60, 60, 0.75)"], [1.0, "rgba(200, 200, 200, 0.35)"]]  # near the line -> far


def path(
    col: "Collection",
    result: Any,
    *,
    pair: int | tuple[int, int] | None = None,
    span: tuple[float, float] | None = None,
    steps: int = STEPS,
    hover_data: Any = None,
    max_points: int = _base.MAX_POINTS,
    title: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> go.Figure:
    """The exact score of a query along the line from a negative example to a positive one.

    The curve is exact at every ``t`` (each ``x(t)`` scored as the engine scores a stored
    point; for cosine ``x(t)`` is normalised, so it follows the great-circle arc between the
    two unit vectors). Markers: results (numbered), examples and the other points at ``t`` =
    their orthogonal projection onto the line, at their own exact score; the closer a point
    lies to the line (darker), the closer its score to the curve's.

    Parameters
    ----------
    result : what ``col.discover(...)`` or ``col.recommend(..., negative=...)`` returned, or the
        REST body.
    pair : which examples the path joins: the context pair ``k`` (discover, context; default 0),
        or ``(i, j)`` = positive ``i``, negative ``j`` (recommend; default ``(0, 0)``).
    span, steps : the range of ``t`` and the positions scored (see
        :func:`explorekit.analysis.path.score_path`).
    max_points : the other points drawn: the ``max_points`` closest to the line.
    hover_data, title, width, height : as in :func:`map`.

    Examples
    --------
    >>> import explorekit as ek
    >>> col = ek.Collection.from_arrays([[0, 0, 0], [4, 0, 0], [1, 1, 0], [3, 0, 2]], distance="euclid")
    >>> fig = ek.plots.path(col, col.discover(context=[(1, 0)], limit=1))
    >>> [t.meta["role"] for t in fig.data]
    ['path', 'points', 'negative', 'positive', 'results']
    >>> fig.data[-1].x.tolist(), fig.data[1].x.tolist()     # the result and the other point, at their t
    ([0.75], [0.25])
    """
    _base.check_size("width", width)
    _base.check_size("height", height)
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 0:
        raise ExploreError(f"max_points: {short_repr(max_points)} is not an integer >= 0 (the points drawn).")
    found = score_path(col, result, pair=pair, span=span, steps=steps)
    points = found.points
    fig = go.Figure()
    fig.add_trace(_curve_trace(found))
    others = points[(points["role"] == "point") & points["t"].notna()]
    shown = others.nsmallest(int(max_points), "offset") if len(others) > max_points else others
    if len(shown):
        fig.add_trace(_points_trace(col, shown, hover_data))
    for role in ("target", "average", "negative", "positive"):
        part = points[points["role"] == role]
        if len(part):
            fig.add_trace(_example_trace(part, role))
    results = points[points["role"] == "result"]
    if len(results):
        fig.add_trace(_results_trace(col, results))
    for t, name in ((0.0, "negative"), (1.0, "positive")):
        fig.add_vline(x=t, line=dict(color=_base.ROLE_STYLE[name]["color"], width=1, dash="dot"))
    if found.kind == "context":
        fig.add_hline(y=0.0, line=dict(color="rgba(80, 80, 80, 0.6)", width=1, dash="dot"))
    low, high = float(found.curve["t"].min()), float(found.curve["t"].max())
    notes = [
        "Exact: the curve is the query's score at x(t) = n + t·(p − n), each scored as a stored point would be"
        + (" (cosine: x(t) normalised, the arc between the unit vectors)." if found.distance == "cosine" else "."),
        "Markers: points at their projection t onto the line, at their own exact score (darker: nearer the line).",
    ]
    counts = _counts(points, shown, len(others), low, high)
    if counts:
        notes.append(counts)
    fig.update_layout(
        template="plotly_white",
        width=width,
        height=height or 460,
        title=dict(
            text=title or f"{found.kind}: exact score along the path from {found.negative} to {found.positive}",
            subtitle=dict(text="<br>".join(notes), font=dict(size=11)),
        ),
        margin=dict(t=80 + 16 * len(notes), l=60, r=30, b=60),
        legend=dict(itemsizing="constant", orientation="h", x=0, xanchor="left", y=-0.16, yanchor="top"),
        hovermode="closest",
        meta={"path": {"negative": found.negative, "positive": found.positive, "kind": found.kind}},
    )
    fig.update_xaxes(title_text="t (0: negative example, 1: positive example)", zeroline=False, range=[low, high])
    fig.update_yaxes(title_text=found.score_name, zeroline=False)
    return fig


def _counts(points: pd.DataFrame, shown: pd.DataFrame, others: int, low: float, high: float) -> str:
    """One line on what is not in view: the sample, markers beyond the t shown, points with no t."""
    parts = []
    if len(shown) < others:
        parts.append(f"the {len(shown):,} of {others:,} other points closest to the line drawn")
    drawn = pd.concat([shown["t"], points.loc[points["role"] != "point", "t"]]).dropna()
    beyond = int(((drawn < low) | (drawn > high)).sum())
    if beyond:
        parts.append(f"{beyond:,} beyond t = {low:.2f} … {high:.2f} (zoom out)")
    unplaced = int(points["t"].isna().sum())
    if unplaced:
        parts.append(f"{unplaced:,} with no place along the line (their direction points away from it)")
    return ("Points: " + "; ".join(parts) + ".") if parts else ""


def _curve_trace(found: ScorePath) -> go.Scatter:
    curve = found.curve
    extra = ""
    if "rank" in curve.columns:
        extra = "<br>rank %{customdata[0]:+d}"
        data = curve[["rank"]].to_numpy(np.int64)
    else:
        data = None
    return go.Scatter(
        x=curve["t"].to_numpy(np.float64),
        y=curve["score"].to_numpy(np.float64),
        mode="lines",
        name="score along the path (exact)",
        line=dict(color=CURVE, width=2.5, shape="linear"),
        customdata=data,
        hovertemplate="t %{x:.3f}<br>score %{y:~.4g}" + extra + "<extra></extra>",
        meta={"role": "path"},
    )


def _head(part: pd.DataFrame) -> list[str]:
    return [
        f"t {t:.3f}, {o:.3g} from the line<br>score {format_score(s)}"
        for t, o, s in zip(part["t"].tolist(), part["offset"].tolist(), part["score"].astype(float).tolist())
    ]


def _rows(col: "Collection", part: pd.DataFrame) -> np.ndarray:
    return col.store.ids.rows(part["id"].tolist(), what="point id")


def _points_trace(col: "Collection", part: pd.DataFrame, hover_data: Any) -> go.Scattergl:
    rows = _rows(col, part)
    offset = part["offset"].to_numpy(np.float64)
    return go.Scattergl(
        x=part["t"].to_numpy(np.float64),
        y=part["score"].to_numpy(np.float64),
        mode="markers",
        name="other points (by distance from the line)",
        customdata=_base.customdata(col, rows),
        text=_base.hover_text(col, rows, _base.hover_columns(col, hover_data), head=_head(part)),
        hoverinfo="text",
        marker=dict(color=offset.astype(np.float32), colorscale=NEAR_SCALE, size=5, line=dict(width=0)),
        meta={"role": "points"},
    )


def _example_trace(part: pd.DataFrame, role: str) -> go.Scatter:
    style = _base.ROLE_STYLE[role]
    ident = [i if i is not None else label for i, label in zip(part["id"], part["label"])]
    return go.Scatter(
        x=part["t"].to_numpy(np.float64),
        y=part["score"].to_numpy(np.float64),
        mode="markers",
        name={"target": "target", "average": "averaged query"}.get(role, f"{role} examples"),
        hovertext=[f"{label}<br>{head}" for label, head in zip(part["label"], _head(part))],
        hoverinfo="text",
        customdata=np.asarray(ident, dtype=object).reshape(-1, 1),
        marker=dict(
            symbol=style["symbol"], color=style["color"], size=style["size"], line=dict(color="black", width=1)
        ),
        meta={"role": role},
    )


def _results_trace(col: "Collection", part: pd.DataFrame) -> go.Scatter:
    rows = _rows(col, part)
    ranks = part["result_rank"].to_numpy(np.int64)
    head = [f"result #{r + 1}, {h}" for r, h in zip(ranks, _head(part))]
    return go.Scatter(
        x=part["t"].to_numpy(np.float64),
        y=part["score"].to_numpy(np.float64),
        mode="markers+text",
        name=f"results ({len(part)})",
        text=[str(r + 1) for r in ranks],
        textposition="middle right",
        textfont=dict(size=11),
        hovertext=_base.hover_text(col, rows, _base.hover_columns(col, None), head=head),
        hoverinfo="text",
        customdata=_base.customdata(col, rows, ranks.astype(object), part["score"].to_numpy(np.float64).astype(object)),
        marker=dict(symbol="circle-open", size=15, color="black", line=dict(width=2)),
        meta={"role": "results"},
    )
