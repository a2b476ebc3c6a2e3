"""What quantization and rescoring do to a ranking: a slope chart and a recall curve."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorekit._support.errors import ExploreError, short_repr, unknown
from explorekit._support.text import shorten
from explorekit._support.validation import check_count
from explorekit.plots import _base
from explorekit.query.display import format_score

LABEL_ROOM, LABEL_CHARS = 0.9, 28  # x room (in columns) right of the last column for names; their length

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
    label : a column (e.g. a payload field asked for with ``with_payload=``) that names each
        point: written at the end of its line (right of the last column) and first on hover.

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
    if label is not None and label not in frame.columns:
        raise ExploreError(
            unknown(
                "label column",
                label,
                frame.columns,
                f"label= names a column of the frame ({list(frame.columns)}); ask rescoring_effect for it "
                f"with with_payload=[{label!r}], or pass label=None.",
            )
        )
    status = np.where(_flag(frame, "rescued"), "rescued", np.where(_flag(frame, "lost"), "lost", "kept"))
    what = frame.attrs.get("quantization")
    return slope_chart(
        values,
        ids=frame["id"].tolist(),
        groups=[(key, *_STATUS[key], status == key) for key in ("kept", "rescued", "lost")],
        columns=[_title(c) for c in columns],
        hover=[_hover(frame, i, columns, label) for i in range(len(frame))],
        labels=None if label is None else frame[label].tolist(),
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
    labels: Sequence[Any] | None = None,
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
    instead. A dashed line marks ``limit`` when it cuts the ranks shown. ``labels`` (one per
    point, None for none) are written right of the last column, beside the points ranked there
    (one text trace, ``meta["role"] == "labels"``).
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
    if labels is not None:
        fig.add_trace(_label_trace(ys[:, -1], ids, labels, outside, len(columns) - 1))
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
        range=[-0.3, len(columns) - 1 + (0.3 if labels is None else LABEL_ROOM)],
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


def _label_trace(last: np.ndarray, ids: list[Any], labels: Sequence[Any], outside: float, x: int) -> go.Scatter:
    """The names of the points ranked in the last column, written just right of it."""
    keep = [i for i, (y, text) in enumerate(zip(last.tolist(), labels)) if y != outside and _shown(text)]
    return go.Scatter(
        x=[x + 0.04] * len(keep),
        y=[float(last[i]) for i in keep],
        text=[shorten(str(labels[i]), LABEL_CHARS) for i in keep],
        mode="text",
        textposition="middle right",
        textfont=dict(size=10, color="#333333"),
        hoverinfo="skip",
        showlegend=False,
        name="labels",
        customdata=np.asarray([ids[i] for i in keep], dtype=object).reshape(-1, 1),
        meta={"role": "labels"},
    )


def _shown(text: Any) -> bool:
    return text is not None and not (isinstance(text, float) and np.isnan(text)) and str(text) != ""


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
    ``go.Figure``: ``Scatter`` lines, x sorted within each group, named in words
    (:func:`group_name`: "binary, no rescoring"), ``meta={"role": "recall", "group": "method=binary,
    rescore=False"}``; the y range fitted to the values (:func:`fitted_range`).
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
        [(y, y, frame)]
        if not group
        else [
            (group_name(group, _as_tuple(key)), ", ".join(f"{g}={v}" for g, v in zip(group, _as_tuple(key))), part)
            for key, part in frame.groupby(group, sort=True)
        ]
    )
    for i, (name, key, part) in enumerate(parts):
        part = part.sort_values(x)
        fig.add_trace(
            go.Scatter(
                x=part[x].to_numpy(np.float64),
                y=part[y].to_numpy(np.float64),
                mode="lines+markers",
                name=str(name),
                meta={"role": "recall", "group": str(key)},
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
    fig.update_yaxes(title_text=y, range=fitted_range(frame[y]))
    return fig


def _as_tuple(key: Any) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def group_name(columns: Sequence[str], values: Sequence[Any]) -> str:
    """A legend name for one group of measurements, in words: the method as it is, rescoring
    as "rescored" / "no rescoring", other columns as ``column value``.

    >>> group_name(["method", "rescore"], ["binary", False])
    'binary, no rescoring'
    >>> group_name(["quantization", "rescore", "k"], ["scalar", True, 10])
    'scalar, rescored, k 10'
    """
    words = []
    for column, value in zip(columns, values):
        if column == "rescore" and isinstance(value, (bool, np.bool_)):
            words.append("rescored" if value else "no rescoring")
        elif column in ("method", "quantization", "config"):
            words.append(str(value))
        else:
            words.append(f"{column} {value}")
    return ", ".join(words)


def fitted_range(values: Any, *, margin: float = 0.08, least: float = 0.01) -> list[float]:
    """A y range around the finite ``values``: their span plus ``margin`` of it on each side (at
    least ``least``), so 0.77 ... 1.0 fills the chart instead of a sliver of 0 ... 1.

    >>> [round(v, 4) for v in fitted_range([0.77, 1.0])]
    [0.7516, 1.0184]
    """
    data = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64, na_value=np.nan)
    data = data[np.isfinite(data)]
    if not len(data):
        return [0.0, 1.0]
    low, high = float(data.min()), float(data.max())
    pad = max((high - low) * margin, least)
    return [low - pad, high + pad]
