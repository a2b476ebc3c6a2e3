"""Precomputed nearest neighbours that a saved report shows when a point is clicked.

A report has no kernel, so the neighbours of every point a map shows are computed when the
figure is added: exact top-``k`` with the collection's own scores, one ``search`` per point
(``col.search_batch`` with ``params={"exact": True}``), the clicked point itself left out as
``col.search(id)`` does. At most ``max_points`` points get neighbours (a seeded random sample
beyond that, said in the figure's caption); the rest show "not precomputed" when clicked.

Points are identified by the ids the plots put in ``customdata`` (the first column when
``customdata`` has several), so this works for any figure that follows that convention. In the
page's JSON a point is named by :func:`point_key`, which keeps the id's kind: the integer ``5``
and the string ``"5"`` are two points of a collection and two keys of the page.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np
import pandas as pd

from explorekit._support.errors import ExploreError, short_repr
from explorekit._support.progress import progress
from explorekit._support.text import clean_rst, shorten
from explorekit.data.images import SAMPLE as IMAGE_SAMPLE
from explorekit.data.images import is_image, is_image_column
from explorekit.data.jsonvalues import is_top_missing
from explorekit.query.display import SAMPLE, category_field, label_field

_SEED = 0
_BATCH = 256  # searches per search_batch call: a step of the progress bar


def json_id(value: Any) -> Any:
    """A point id as plain JSON (numpy scalars and integral floats become int)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (int, str)):
        return value
    return str(value)


def point_key(value: Any) -> str:
    """The key of a point id in the page's data: its kind and its value, so ``5`` and ``"5"`` differ.

    An integer keeps its decimal text, a UUID is ``"u:"`` and its canonical form, any other
    string is ``"s:"`` and the string. The page shows an id as its key without the prefix.

    >>> point_key(5), point_key(np.uint64(5)), point_key("5"), point_key(uuid.UUID(int=1))
    ('5', '5', 's:5', 'u:00000000-0000-0000-0000-000000000001')
    """
    pid = json_id(value)
    if isinstance(pid, int):
        return str(pid)
    return ("u:" if _is_uuid(pid) else "s:") + pid


def _is_uuid(text: str) -> bool:
    """A UUID in the canonical form ``normalize_id`` gives (other strings name other points)."""
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


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
    """The x and y coordinates of one trace as float arrays, or None when they are not numbers."""
    x, y = getattr(trace, "x", None), getattr(trace, "y", None)
    if x is None or y is None:
        return None
    try:
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def pick_image(payload: pd.DataFrame) -> str | None:
    """The first payload column of image data URIs (thumbnails), judged on these (sampled) rows."""
    return next((name for name in payload.columns if is_image_column(payload[name].tolist())), None)


def precompute(
    fig_traces: list[Any], col: Any, *, using: str | None, k: int, max_points: int, label: str | None
) -> dict[str, Any]:
    """The JSON the report's click handler reads for one figure.

    Returns ``{"ids": [[key per point] or None per trace], "xy": {key: [x, y]}, "neighbours":
    {key: [[key, score], ...]}, "labels": {key: text}, "images": {key: uri}, "categories": {key:
    text}, "label_field", "category_field", "k", "distance", "computed", "shown", "note"}``, every
    point named by its :func:`point_key`. A point whose coordinates are not finite has no ``xy``
    (the figure does not draw it). The label field is :func:`explorekit.query.display.label_field`'s
    choice (``label`` when given), the category field :func:`~explorekit.query.display.category_field`'s:
    the same rules as the Explorer's, so the page's search box and panel name points alike.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ExploreError(f"k: {short_repr(k)} is not a positive integer. Pass k=5 for five neighbours per point.")
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 0:
        raise ExploreError(f"max_points: {short_repr(max_points)} is not an integer >= 0.")
    distance = col.distance(using)  # checks `using` before any work
    known = set(json_id(v) for v in col.ids.tolist())
    keys_per_trace: list[list[str] | None] = []
    xy: dict[str, list[float]] = {}
    order: dict[str, Any] = {}  # key -> id, in the order the figure shows them
    for trace in fig_traces:
        ids = trace_ids(trace)
        if ids is None or not any(i in known for i in ids):
            keys_per_trace.append(None)
            continue
        keys = [point_key(i) for i in ids]
        keys_per_trace.append(keys)
        coords = trace_xy(trace)
        for pos, (pid, key) in enumerate(zip(ids, keys)):
            if pid not in known:
                continue
            order.setdefault(key, pid)
            if key not in xy and coords is not None and pos < min(len(coords[0]), len(coords[1])):
                x, y = float(coords[0][pos]), float(coords[1][pos])
                if math.isfinite(x) and math.isfinite(y):
                    xy[key] = [x, y]
    if not order:
        raise ExploreError(
            "add(figure, collection=...): no trace of this figure holds ids of the collection "
            "in its customdata, so there is nothing to precompute. Draw the figure with "
            "explorekit.plots (which puts point ids in customdata), or leave out collection=."
        )
    if label is not None:  # a misspelt label fails before the searches, not after
        label_field(col.retrieve(list(order.values())[:1]), label)
    chosen = list(order.items())
    if len(chosen) > max_points:
        rng = np.random.default_rng(_SEED)
        keep = np.sort(rng.choice(len(chosen), size=max_points, replace=False))
        chosen = [chosen[i] for i in keep]
    neighbours: dict[str, list[list[Any]]] = {}
    wanted = dict(order)  # every point shown or listed, for its label
    if chosen:
        requests = [
            {"query": pid, "using": using, "limit": k, "params": {"exact": True}, "with_payload": False}
            for _, pid in chosen
        ]
        frames = [
            frame
            for start in progress(
                range(0, len(requests), _BATCH), desc=f"report: nearest neighbours of {len(requests):,} points"
            )
            for frame in col.search_batch(requests[start : start + _BATCH])
        ]
        for (key, _), frame in zip(chosen, frames):
            rows = []
            for pid, score in zip(frame["id"].tolist(), frame["score"].tolist()):
                rows.append([point_key(pid), _score(score)])
                wanted.setdefault(point_key(pid), json_id(pid))
            neighbours[key] = rows
    names = point_names(col, list(wanted.values()), label)
    note = (
        f"Click a point to see its {k} nearest neighbours (exact, {distance} "
        f"{'distance, smaller is closer' if distance in ('euclid', 'manhattan') else 'score'})."
    )
    if len(chosen) < len(order):
        note += (
            f" Neighbours were precomputed for {len(chosen):,} of the {len(order):,} points "
            f"(a random sample, seed {_SEED}; raise max_points= to cover more)."
        )
    return {
        "ids": keys_per_trace,
        "xy": xy,
        "neighbours": neighbours,
        **names,
        "k": int(k),
        "distance": distance,
        "using": using,
        "computed": len(chosen),
        "shown": len(order),
        "note": note,
    }


def _score(value: float) -> float | str:
    """A score for the page's JSON: 9 significant digits (a float32 score exactly, so the page's
    4-digit ``formatScore`` prints what :func:`~explorekit.query.display.format_score` prints for the
    same score; rounding to 6 decimals first moved about 1 score in 200 across a rounding tie), or
    its text when it is not finite (JSON has no inf).

    >>> _score(0.76124996), _score(float("inf"))
    (0.76124996, 'inf')
    """
    value = float(value)
    return float(f"{value:.9g}") if math.isfinite(value) else str(value)


def point_names(col: Any, ids: list[Any], label: str | None = None) -> dict[str, Any]:
    """How the page names the points ``ids``: ``{"labels": {key: text}, "images": {key: uri},
    "categories": {key: text}, "label_field": name or None, "category_field": name or None}``.

    The fields are chosen on the payload of the collection's first points (``label`` when given,
    checked), whichever ``ids`` are named, as the Explorer and the maps choose them: a few ids alone
    would make a column that merely differs among them look like names. The category field is
    never the label field (for fruit named by ``fruit``, it is ``family``).

    >>> import explorekit as ek
    >>> col = ek.Collection.from_arrays([[1, 0], [0, 1], [1, 1], [2, 1]], payload=pd.DataFrame(
    ...     {"module": ["json", "json", "os", "os"], "name": ["dumps", "loads", "walk", "sep"]}))
    >>> names = point_names(col, [0, 1, 2, 3])
    >>> names["labels"]["2"], names["categories"]["2"], names["label_field"], names["category_field"]
    ('walk', 'os', 'name', 'module')
    """
    probe = col.scroll(limit=SAMPLE) if ids else pd.DataFrame({"id": []})
    name = label_field(probe, label) if label is not None or len(probe) else None
    # the colour field says something the name does not: chosen among the other fields
    category = category_field(probe.drop(columns=[name]) if name else probe) if len(probe) else None
    image = pick_image(probe.iloc[:IMAGE_SAMPLE].drop(columns=["id"])) if len(probe) else None
    fields = list(dict.fromkeys(c for c in (name, category, image) if c is not None))
    found = col.retrieve(ids, with_payload=fields) if fields else pd.DataFrame({"id": []})
    keys = [point_key(i) for i in found["id"].tolist()]

    def texts(column: str | None, limit: int) -> dict[str, str]:
        if column is None:
            return {}
        return {key: text for key, v in zip(keys, found[column].tolist()) if (text := _text(v, limit))}

    images = {} if image is None else {key: v for key, v in zip(keys, found[image].tolist()) if is_image(v)}
    return {
        "labels": texts(name, 160),
        "images": images,
        "categories": texts(category, 60),
        "label_field": name,
        "category_field": category,
    }


def _text(value: Any, limit: int = 160) -> str:
    """A label: empty for a missing value, else its text cut to ``limit`` characters."""
    return "" if is_top_missing(value) else shorten(clean_rst(str(value)), limit)
