"""Where the results of a multi-stage query came from: a slope chart through every stage."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorekit._support.errors import ExploreError, short_repr, unknown
from explorekit.analysis.stages import FROM, SIMILARITY, TERM, stage_ranks
from explorekit.analysis.stages import stages as stage_table
from explorekit.plots import _base
from explorekit.plots._rescoring import slope_chart
from explorekit.query.display import format_score

#: role -> (colour, legend name); drawn in this order (the returned points on top).
_ROLES = {
    "dropped": ("rgba(150, 150, 150, 0.55)", "not returned"),
    "same": ("#4575b4", "returned, same rank as in the first stage"),
    "down": ("#f46d43", "returned, moved down"),
    "up": ("#1a9850", "returned, moved up"),
}
_KIND_NAMES = {
    "nearest": "nearest",
    "recommend": "recommend",
    "discover": "discover",
    "context": "context",
    "fusion": "fusion",
    "formula": "formula",
    "mmr": "MMR",
    "order_by": "order by",
    "sample": "sample",
    "scroll": "scroll",
}


def stages(
    result: pd.DataFrame,
    col: Any = None,
    *,
    k: int | None = None,
    label: str | None = None,
    payload: list[str] | None = None,
    title: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> go.Figure:
    """Slope chart of a multi-stage query: each candidate's rank in every stage, the final answer last.

    Parameters
    ----------
    result : the DataFrame of a multi-stage ``col.query(...)`` (with ``attrs["stages"]``), or
        the frame :func:`explorekit.analysis.stages` made of it.
    col : the collection it was asked of; gives hover payload (and formula terms) for the
        candidates the result does not show.
    k : ranks drawn, a positive int (default, or more than there are: all); candidates ranked beyond it, or not returned by a stage,
        sit on the bottom row "not ranked".
    label : a payload field that names each candidate (e.g. a title): written beside the final
        ranks and first in the hover text.
    payload : payload fields shown on hover (default: every payload column of the result).

    Returns
    -------
    ``go.Figure``: x = the stages (children before parents, readable names such as
    ``prefetch[0]: nearest using "small"``), y = the 0-based rank (labelled 1, 2, ...), one line
    per candidate. ``customdata[:, 0]`` = id; ``meta["role"]`` is ``up``/``down``/``same`` (a
    returned point: final rank against its rank in the first stage that had it) or
    ``dropped``. Hover: id, label, each stage's rank and score, the formula terms and payload
    values. A dashed line marks the final ``limit``.
    """
    _base.check_size("width", width)
    _base.check_size("height", height)
    long = _long_frame(result, col)
    wide = stage_ranks(long)
    order = list(wide.attrs["columns"])
    values = np.column_stack(
        [wide[path].to_numpy(np.float64, na_value=np.nan) for path in order] or [np.zeros((len(wide), 0))]
    )
    moved = _first_rank(values) - wide["final_rank"].to_numpy(np.float64, na_value=np.nan)
    returned = wide["returned"].to_numpy(bool)
    roles = {
        "dropped": ~returned,
        "same": returned & (moved == 0),
        "down": returned & (moved < 0),
        "up": returned & (moved > 0),
    }
    extra = _hover_values(result, col, wide, label, payload)
    if label is not None and label not in extra.columns:
        raise ExploreError(
            unknown(
                "label field",
                label,
                extra.columns,
                "label= names a payload field of the candidates: pass the collection (col) or a result "
                "with that field in its payload, or label=None.",
            )
        )
    names = {path: _stage_name(long, path) for path in order}
    by_id = _by_id(long)
    hover = [_hover(by_id.get(ident, {}), wide, i, order, names, extra, label) for i, ident in enumerate(wide["id"])]
    limit = long.attrs.get("limit")
    return slope_chart(
        values,
        ids=wide["id"].tolist(),
        groups=[(role, *_ROLES[role], mask) for role, mask in roles.items()],
        columns=[names[path] for path in order],
        hover=hover,
        labels=None if label is None else extra[label].tolist(),
        k=k,
        limit=limit,
        title=title or "Where the results came from, stage by stage",
        subtitle="Each line is one candidate: its rank in every stage of the query (cheap stages "
        "left, the final answer right); green moved up, orange moved down.",
        width=width,
        height=height,
    )


def _long_frame(result: Any, col: Any) -> pd.DataFrame:
    """The :func:`explorekit.analysis.stages` frame of ``result`` (or ``result`` if it already is one)."""
    if isinstance(result, pd.DataFrame) and {"stage", "source_rank", "final_rank"} <= set(result.columns):
        return result
    if not isinstance(result, pd.DataFrame):
        raise ExploreError(
            f"stages: expected the DataFrame of a multi-stage col.query(...) or of "
            f"explorekit.analysis.stages(...); got {short_repr(result)}."
        )
    return stage_table(result, col)


def _first_rank(values: np.ndarray) -> np.ndarray:
    """Each row's rank in the first column where it has one (NaN: none)."""
    out = np.full(len(values), np.nan)
    for column in range(values.shape[1]):
        out = np.where(np.isnan(out), values[:, column], out)
    return out


def _stage_name(long: pd.DataFrame, path: str) -> str:
    """``prefetch[0]: nearest using "small"``, ``final: fusion``, ``nearest order (before MMR)``..."""
    if path.endswith(SIMILARITY):
        stage = path[: -len(SIMILARITY)]
        return "nearest order (before MMR)" if stage == "query" else f"{stage}: nearest order (before MMR)"
    row = long[long["stage"] == path].head(1)
    kind = str(row["kind"].iloc[0]) if len(row) else ""
    using = row["using"].iloc[0] if len(row) else None
    where = "final" if path == "query" else path
    text = f"{where}: {_KIND_NAMES.get(kind, kind)}"
    if isinstance(using, str) and using:
        text += f' using "{using}"'
    return text


def _hover_values(
    result: pd.DataFrame, col: Any, wide: pd.DataFrame, label: str | None, payload: list[str] | None
) -> pd.DataFrame:
    """Payload values per candidate of ``wide`` (rows aligned), from the collection or the result."""
    if col is not None and len(wide):
        table = col.retrieve(wide["id"].tolist())
    elif isinstance(result, pd.DataFrame) and "id" in result.columns and "stage" not in result.columns:
        table = result.drop_duplicates(subset="id")
    else:
        return pd.DataFrame(index=wide.index)
    skip = {"id", "score", "group", "vector", "stage"}
    fields = [c for c in table.columns if c not in skip]
    if payload is not None:
        fields = [c for c in fields if c in set(payload) or c == label]
    where = {v: i for i, v in enumerate(table["id"].tolist())}
    picked = [where.get(v) for v in wide["id"].tolist()]
    return pd.DataFrame(
        {f: [None if p is None else table[f].iloc[p] for p in picked] for f in fields}, index=wide.index
    )


def _by_id(long: pd.DataFrame) -> dict[Any, dict[str, dict[str, Any]]]:
    """id -> stage path -> that row of the stage table (one pass, for the hover texts)."""
    out: dict[Any, dict[str, dict[str, Any]]] = {}
    for record in long.to_dict("records"):
        out.setdefault(record["id"], {})[record["stage"]] = record
    return out


def _hover(
    rows: dict[str, dict[str, Any]],
    wide: pd.DataFrame,
    i: int,
    order: list[str],
    names: dict[str, str],
    extra: pd.DataFrame,
    label: Any,
) -> str:
    row = wide.iloc[i]
    parts = [f"<b>id {row['id']}</b>"]
    if label is not None and label in extra.columns and _present(extra[label].iloc[i]):
        parts.append(f"{label}: {str(extra[label].iloc[i])[:60]}")
    for path in order:
        at = rows.get(path)
        name = "final" if path == "query" else path
        if path.endswith(SIMILARITY):
            rank = wide[path].iloc[i]
            parts.append(f"{names[path]}: {'-' if pd.isna(rank) else int(rank) + 1}")
        elif at is not None:
            parts.append(f"{name}: rank {int(at['rank']) + 1}, score {format_score(at['score'])}")
        else:
            parts.append(f"{name}: -")
    for column in [c for c in wide.columns if c.startswith(TERM)]:
        value = row[column]
        if _present(value):
            parts.append(f"formula term {column[len(TERM) :]} = {format_score(value)}")
    for path in order:
        at = rows.get(path) or {}
        for column, value in at.items():
            if column.startswith(FROM) and _present(value):
                where = "" if path == "query" else f" (in {path})"
                parts.append(f"{column}{where}: +{format_score(value)}")
    for column in extra.columns:
        value = extra[column].iloc[i]
        if column != label and _present(value):
            parts.append(f"{column}: {str(value)[:60]}")
    return "<br>".join(parts)


def _present(value: Any) -> bool:
    if value is None:
        return False
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, dicts
        return True
