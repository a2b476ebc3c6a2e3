"""Precomputed nearest neighbours that a saved report shows when a point is clicked.

A report has no kernel, so the neighbours of every point a map shows are computed when the
figure is added: exact top-``k`` with the collection's own scores, one ``search`` per point
(``col.search_batch`` with ``params={"exact": True}``), the clicked point itself left out as
``col.search(id)`` does. At most ``max_points`` points get neighbours (a seeded random sample
beyond that, said in the figure's caption); the rest show "not precomputed" when clicked.

Points are identified by the ids the plots put in ``customdata`` (the first column when
``customdata`` has several), so this works for any figure that follows that convention.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from explorekit._support.errors import ExploreError, short_repr, unknown

#: payload columns tried, in order, for the text shown next to an id
LABEL_COLUMNS = ("label", "title", "qualname", "name", "text", "fruit", "digit")
_SEED = 0


def json_id(value: Any) -> Any:
    """A point id as plain JSON (numpy scalars and integral floats become int)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (int, str)):
        return value
    return str(value)


def trace_ids(trace: Any) -> list[Any] | None:
    """Point ids of one trace from its ``customdata`` (first column), or None."""
    data = getattr(trace, "customdata", None)
    if data is None:
        return None
    arr = np.asarray(data, dtype=object)
    if arr.ndim == 0 or arr.size == 0:
        return None
    if arr.ndim == 2:
        arr = arr[:, 0]
    elif arr.ndim > 2:
        return None
    return [json_id(v) for v in arr.tolist()]


def trace_xy(trace: Any) -> tuple[np.ndarray, np.ndarray] | None:
    x, y = getattr(trace, "x", None), getattr(trace, "y", None)
    if x is None or y is None:
        return None
    try:
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def pick_label(payload_columns: list[str], label: str | None) -> str | None:
    if label is not None:
        if label not in payload_columns:
            raise ExploreError(unknown("label column", label, payload_columns,
                                       f"label= must name a payload column: one of {payload_columns[:20]}, or None."))
        return label
    for name in LABEL_COLUMNS:
        if name in payload_columns:
            return name
    return None


def pick_image(payload: pd.DataFrame) -> str | None:
    """The first payload column whose values are ``data:image/...`` URIs (thumbnails)."""
    for name in payload.columns:
        column = payload[name]
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            first = column.dropna().head(3).tolist()
            if first and all(isinstance(v, str) and v.startswith("data:image/") for v in first):
                return name
    return None


def precompute(fig_traces: list[Any], col: Any, *, using: str | None, k: int, max_points: int,
               label: str | None) -> dict[str, Any]:
    """The JSON the report's click handler reads for one figure.

    Returns ``{"ids": [[id per point] or None per trace], "xy": {id: [x, y]}, "neighbours":
    {id: [[id, score], ...]}, "labels": {id: text}, "images": {id: uri}, "k", "distance",
    "computed", "shown", "note"}`` (ids as JSON keys are strings).
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ExploreError(f"k: {short_repr(k)} is not a positive integer. Pass k=5 for five neighbours per point.")
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 0:
        raise ExploreError(f"max_points: {short_repr(max_points)} is not an integer >= 0.")
    distance = col.distance(using)          # checks `using` before any work
    known = set(json_id(v) for v in col.ids.tolist())
    ids_per_trace, xy, order = [], {}, []
    for trace in fig_traces:
        ids = trace_ids(trace)
        coords = trace_xy(trace)
        if ids is None or not any(i in known for i in ids):
            ids_per_trace.append(None)
            continue
        ids_per_trace.append(ids)
        for pos, pid in enumerate(ids):
            if pid in known and str(pid) not in xy:
                order.append(pid)
                if coords is not None and pos < len(coords[0]):
                    xy[str(pid)] = [float(coords[0][pos]), float(coords[1][pos])]
    if not order:
        raise ExploreError("add(figure, collection=...): no trace of this figure holds ids of the collection "
                           "in its customdata, so there is nothing to precompute. Draw the figure with "
                           "explorekit.plots (which puts point ids in customdata), or leave out collection=.")
    chosen = order
    if len(order) > max_points:
        rng = np.random.default_rng(_SEED)
        keep = np.sort(rng.choice(len(order), size=max_points, replace=False))
        chosen = [order[i] for i in keep]
    neighbours: dict[str, list[list[Any]]] = {}
    if chosen:
        requests = [{"query": pid, "using": using, "limit": k, "params": {"exact": True},
                     "with_payload": False} for pid in chosen]
        for pid, frame in zip(chosen, col.search_batch(requests)):
            neighbours[str(pid)] = [[json_id(i), round(float(s), 6)]
                                    for i, s in zip(frame["id"].tolist(), frame["score"].tolist())]
    wanted = list(dict.fromkeys(order + [n[0] for rows in neighbours.values() for n in rows]))
    labels, images = _labels(col, wanted, label)
    note = (f"Click a point to see its {k} nearest neighbours (exact, {distance} "
            f"{'distance, smaller is closer' if distance in ('euclid', 'manhattan') else 'score'}).")
    if len(chosen) < len(order):
        note += (f" Neighbours were precomputed for {len(chosen):,} of the {len(order):,} points "
                 f"(a random sample, seed {_SEED}; raise max_points= to cover more).")
    return {"ids": ids_per_trace, "xy": xy, "neighbours": neighbours, "labels": labels, "images": images,
            "k": int(k), "distance": distance, "using": using, "computed": len(chosen),
            "shown": len(order), "note": note}


def _labels(col: Any, ids: list[Any], label: str | None) -> tuple[dict[str, str], dict[str, str]]:
    payload_cols = list(col.retrieve(ids[:1]).columns[1:]) if ids else []
    name = pick_label(payload_cols, label)
    probe = col.retrieve(ids[:3]) if ids else pd.DataFrame()
    image = pick_image(probe.drop(columns=["id"])) if len(probe) else None
    fields = [c for c in (name, image) if c is not None]
    if not fields:
        return {}, {}
    frame = col.retrieve(ids, with_payload=fields)
    keys = [str(json_id(i)) for i in frame["id"].tolist()]
    labels = {} if name is None else {key: _text(v) for key, v in zip(keys, frame[name].tolist())}
    images = {} if image is None else {key: v for key, v in zip(keys, frame[image].tolist()) if isinstance(v, str)}
    return labels, images


def _text(value: Any, limit: int = 160) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
