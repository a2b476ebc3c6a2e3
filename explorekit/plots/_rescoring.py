"""What quantization and rescoring do to a ranking: a slope chart and a recall curve."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorekit._support.errors import ExploreError, short_repr
from explorekit._support.validation import check_count
from explorekit.plots import _base
from explorekit.query.display import format_score

_STATUS = {
    "rescued": ("#1a9850", "rescued by rescoring"),
    "lost": ("#d73027", "lost: exact top-k, not returned"),
    "kept": ("rgba(120, 120, 120, 0.7)", "other candidates"),
}


def rescoring(
    frame: pd.DataFrame,
    *,
    ranks: Sequence[str] = ("quantized_rank", "rescored_rank", "exact_rank"),
    k: int | None = None,
    label: str | None = None,
    title: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> go.Figure:
    """Slope chart: each point's rank by quantized score, after rescoring, and in the exact search.

    Parameters
    ----------
    frame : one row per point, as :func:`explorekit.analysis.rescoring.rescoring_effect` returns:
        ``id``, 0-based rank columns (<NA> where the point is not ranked on that side) and the
        bool columns ``rescued`` (returned only thanks to rescoring) and ``lost`` (in the exact
        top ``limit`` but not returned), when present; ``attrs["limit"]`` draws the cut.
    ranks : the rank columns, left to right (those present in the frame; at least two).
    k : ranks drawn, a positive int (default, or more than there are: all); points ranked beyond it, or not at all, sit on the
        bottom row "not ranked" in the first two columns; in later columns (the exact top
        ``limit``) their line simply ends.
    label : a column to show next to each id on hover.

    Returns
    -------
    ``go.Figure``: one line per point through its ranks (y = the 0-based rank, labelled
    1, 2, ...); ``customdata[:, 0]`` = id; ``meta["role"]`` is ``rescued``, ``lost`` or
    ``kept``.
    """
    _base.check_size("width", width)
    _base.check_size("height", height)
    if not isinstance(frame, pd.DataFrame):
        raise ExploreError(f"rescoring: expected a DataFrame (from rescoring_effect), got {short_repr(frame)}.")
    columns = [c for c in ranks if c in frame.columns]
    if "id" not in frame.columns or len(columns) < 2:
        raise ExploreError(
            f"rescoring: the frame needs an 'id' column and at least two of the rank columns "
            f"{list(ranks)}; it has {list(frame.columns)}. Pass the frame from "
            "explorekit.analysis.rescoring.rescoring_effect, or name the rank columns with ranks=."
        )
    values = np.column_stack(
        [pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64, na_value=np.nan) for c in columns]
    )
    status = np.where(_flag(frame, "rescued"), "rescued", np.where(_flag(frame, "lost"), "lost", "kept"))
    what = frame.attrs.get("quantization")
    return slope_chart(
        values,
        ids=frame["id"].tolist(),
        groups=[(key, *_STATUS[key], status == key) for key in ("kept", "rescued", "lost")],
        columns=[_title(c) for c in columns],
        hover=[_hover(frame, i, columns, label) for i in range(len(frame))],
        k=k,
        limit=frame.attrs.get("limit"),
        unranked_ends_after=2,
        title=title or f"Ranks before and after rescoring{f' ({what})' if what else ''}",
        subtitle="Each line is one point: its rank by quantized score, after rescoring the "
        "candidates with the original vectors, and in the exact search.",
        width=width,
        height=height,
    )


def slope_chart(
    values: np.ndarray,
    *,
    ids: list[Any],
    groups: Sequence[tuple[str, str, str, np.ndarray]],
    columns: Sequence[str],
    hover: Sequence[str],
    k: int | None = None,
    limit: Any = None,
    unranked_ends_after: int | None = None,
    title: str,
    subtitle: str,
    width: int | None = None,
    height: int | None = None,
) -> go.Figure:
    """The slope chart shared by :func:`rescoring` and :func:`explorekit.plots.stages`.

    ``values`` holds one row per point and one 0-based rank per column (NaN: not ranked there);
    ``groups`` are ``(role, colour, legend name, mask)``, one trace each (``meta["role"]``), in
    drawing order. ``k`` is a positive int (capped at the ranks there are; anything else
    raises :class:`RequestError`). Ranks from ``k`` on, and NaN, sit on the bottom row "not ranked" (the y
    range is fitted to it); from column ``unranked_ends_after`` on, a line simply ends there
    instead. A dashed line marks ``limit`` when it cuts the ranks shown.
    """
    finite = values[np.isfinite(values)]
    ranked = int(finite.max()) + 1 if len(finite) else 1  # every rank any candidate has
    top = ranked if k is None else min(check_count(k, "k", 1), ranked)
    outside = float(top)  # the "not ranked" row, just below the last rank
    ys = np.where(np.isfinite(values) & (values < top), values, outside)
    ends = len(columns) if unranked_ends_after is None else unranked_ends_after
    fig = go.Figure()
    if isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit < top:
        fig.add_trace(
            go.Scatter(
                x=[-0.15, len(columns) - 0.85],
                y=[limit - 0.5, limit - 0.5],
                mode="lines",
                name=f"limit {limit}: returned above the line",
                hoverinfo="skip",
                line=dict(color="rgba(0, 0, 0, 0.45)", dash="dash", width=1),
                meta={"role": "limit"},
            )
        )
    for key, colour, name, mask in groups:
        sel = np.flatnonzero(mask)
        if not len(sel):
            continue
        xs, yv, shown_ids, texts = [], [], [], []
        for i in sel:
            xs += list(range(len(columns))) + [None]
            yv += [None if j >= ends and y == outside else y for j, y in enumerate(ys[i].tolist())] + [None]
            shown_ids += [ids[i]] * len(columns) + [None]
            texts += [hover[i]] * len(columns) + [None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=yv,
                mode="lines+markers",
                name=f"{name} ({len(sel)})",
                line=dict(color=colour, width=1.2 if key in ("kept", "dropped") else 2.5),
                marker=dict(color=colour, size=7),
                hovertext=texts,
                hoverinfo="text",
                customdata=np.asarray(shown_ids, dtype=object).reshape(-1, 1),
                meta={"role": key},
            )
        )
    ticks = list(range(top)) + [outside]
    step = max(1, top // 25)
    shown = [t for t in ticks[:-1] if t % step == 0] + [outside]
    fig.update_layout(
        template="plotly_white",
        width=width,
        height=height or max(380, min(900, 18 * (top + 2) + 160)),
        title=dict(text=title, subtitle=dict(text=subtitle, font=dict(size=11))),
        margin=dict(t=90, l=60, r=30, b=60),
        hovermode="closest",
        legend=dict(orientation="h", x=0, y=-0.06, yanchor="top"),
    )
    fig.update_xaxes(
        tickvals=list(range(len(columns))),
        ticktext=list(columns),
        range=[-0.3, len(columns) - 0.7],
        showgrid=False,
        side="top",
    )
    fig.update_yaxes(
        range=[outside + 0.5, -0.5],
        tickvals=shown,
        ticktext=[str(int(t) + 1) for t in shown[:-1]] + ["not ranked"],
        title_text="rank",
        zeroline=False,
    )
    return fig


def _flag(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.zeros(len(frame), bool)
    return frame[name].fillna(False).to_numpy(bool)


def _title(column: str) -> str:
    return {"quantized_rank": "quantized", "rescored_rank": "after rescoring", "exact_rank": "exact"}.get(
        column, column.replace("_", " ")
    )


def _hover(frame: pd.DataFrame, i: int, columns: list[str], label: str | None) -> str:
    row = frame.iloc[i]
    parts = [f"id {row['id']}"]
    if label is not None and label in frame.columns:
        parts.append(f"{label}: {str(row[label])[:60]}")
    for column in columns:
        value = row[column]
        parts.append(f"{_title(column)} rank: {'-' if pd.isna(value) else int(value) + 1}")
    for column in ("quantized_score", "exact_score"):
        if column in frame.columns and not pd.isna(row[column]):
            parts.append(f"{column.replace('_', ' ')}: {format_score(row[column])}")
    return "<br>".join(parts)


def recall_curve(
    frame: pd.DataFrame,
    *,
    x: str = "oversampling",
    y: str = "recall",
    group: Any = None,
    title: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> go.Figure:
    """recall@k against oversampling (or any x), one line per group (e.g. quantization method).

    Parameters
    ----------
    frame : one row per measurement with columns ``x`` and ``y`` (recall in [0, 1]).
    group : column(s) splitting the lines; default those of ``quantization``, ``method``,
        ``rescore``, ``config``, ``k`` that vary (as :func:`explorekit.analysis.rescoring.recall_by_oversampling`
        returns: one line with rescoring, one without).

    Returns
    -------
    ``go.Figure``: ``Scatter`` lines, x sorted within each group (``meta={"role": "recall"}``).
    """
    _base.check_size("width", width)
    _base.check_size("height", height)
    if not isinstance(frame, pd.DataFrame):
        raise ExploreError(f"recall_curve: expected a DataFrame, got {short_repr(frame)}.")
    missing = [c for c in (x, y) if c not in frame.columns]
    if missing:
        raise ExploreError(
            f"recall_curve: the frame has no column(s) {missing}; it has {list(frame.columns)}. "
            "Name them with x= and y=."
        )
    if group is None:
        group = [
            c
            for c in ("quantization", "method", "rescore", "config", "k")
            if c in frame.columns and frame[c].nunique(dropna=False) > 1
        ]
    else:
        group = [group] if isinstance(group, str) else list(group)
        missing = [g for g in group if g not in frame.columns]
        if missing:
            raise ExploreError(f"recall_curve: group {missing} is not a column; it has {list(frame.columns)}.")
    fig = go.Figure()
    parts = (
        [(y, frame)]
        if not group
        else [
            (", ".join(f"{g}={v}" for g, v in zip(group, key if isinstance(key, tuple) else (key,))), part)
            for key, part in frame.groupby(group, sort=True)
        ]
    )
    for i, (name, part) in enumerate(parts):
        part = part.sort_values(x)
        fig.add_trace(
            go.Scatter(
                x=part[x].to_numpy(np.float64),
                y=part[y].to_numpy(np.float64),
                mode="lines+markers",
                name=str(name),
                meta={"role": "recall", "group": str(name)},
                line=dict(color=_base.PALETTE[i % len(_base.PALETTE)], width=2),
            )
        )
    fig.update_layout(
        template="plotly_white",
        width=width,
        height=height or 420,
        hovermode="x unified",
        title=dict(text=title or f"{y} against {x}"),
        margin=dict(t=70, l=60, r=30, b=50),
    )
    fig.update_xaxes(title_text=x)
    fig.update_yaxes(title_text=y, range=[0, 1.02])
    return fig
