"""The exact score along the straight path from a negative example to a positive one.

A map of high-dimensional vectors shows exact scores only at the points themselves; between
them it shows nothing true. One line through the vector space can be scored exactly
everywhere: the segment from a negative example ``n`` to a positive example ``p``,

    ``x(t) = n + t * (p - n)``,  ``t = 0`` at the negative, ``t = 1`` at the positive,

by default for ``t`` in ``[-0.25, 1.25]`` (:data:`SPAN`), widened to take in the results and
examples that lie within ``[-1, 2]`` (:data:`WIDEST`). Each ``x(t)`` is scored as the engine would score a point stored with that vector
(:func:`explorekit.analysis.zones.score_at`: ``col.prepare``, ``exact_similarity``,
``ScoringQuery.combine``): discovery its rank + target term, context its loss, recommend the
strategy's score (``average_vector``: the similarity to the averaged query, as a distance for
euclid and manhattan, as the query shows it).

``p`` and ``n`` are the examples as the engine scores them. For **cosine** those are unit
vectors; the path is the straight chord between them and each ``x(t)`` is normalised when it is
scored (every stored vector is), so the scores are those along the great-circle arc from
``n`` to ``p`` (uneven in angle: faster near ``t = 0.5``). ``t`` of the collection's points is
their orthogonal projection onto the line, ``(x - n) . (p - n) / |p - n|**2``, with ``offset``
their distance from it; for cosine, which scores directions, a point's ``t`` is where the line
meets the ray from the origin through the point's projection onto the plane of ``n`` and ``p``,
and ``offset`` its distance from that point of the arc (NaN ``t`` for a point whose projection
points away from the line). A point on the path lands on the curve; a point with a small
offset scores close to it.

Examples
--------
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[0, 0], [4, 0], [1, 0], [3, 1]], distance="euclid")
>>> path = score_path(col, col.discover(context=[(1, 0)]), span=(0, 1), steps=3)
>>> path.curve[["t", "score"]].astype(float).round(3).values.tolist()     # loss at n, midway, p
[[0.0, -0.941], [0.5, -0.0], [1.0, 0.0]]
>>> path.points[["id", "role", "t", "offset"]].values.tolist()
[[3, 'result', 0.75, 1.0], [2, 'result', 0.25, 0.0], [1, 'positive', 1.0, 0.0], [0, 'negative', 0.0, 0.0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from explorekit._support.errors import ExploreError, RequestError, short_repr
from explorekit.analysis import zones
from explorekit.analysis.explain import as_request, examples
from explorekit.query.requests import Request

if TYPE_CHECKING:
    from explorekit.collection import Collection

SPAN = (-0.25, 1.25)  #: default range of t: a quarter beyond each example
WIDEST = (-1.0, 2.0)  #: the default range widens to results and examples up to here, no further
STEPS = 301  #: default number of scored positions along the path (plus t = 0 and t = 1 exactly)
_PROJECT_ROWS = 8_192  # rows per block when placing points along the path
_MARGIN = 0.05  # of the span, beyond the outermost result or example
_SCORE_NAMES = {
    "discover": "discovery score (rank + target term)",
    "context": "context loss",
    "best_score": "best_score score",
    "sum_scores": "sum_scores score",
}


@dataclass(frozen=True)
class ScorePath:
    """The exact score along ``x(t) = n + t (p - n)`` and where the points lie along it.

    Attributes
    ----------
    curve : DataFrame, one row per position: ``t``, ``score`` and the other columns of
        :func:`explorekit.analysis.zones.points` for that query kind (discover: ``rank``,
        ``satisfied``, ``target``, ``pair_0`` ...; context: ``loss``, ``zero_loss`` ...).
    points : DataFrame, one row per result (best first), then per example, then per other point
        of the collection: ``id`` (None for a raw-vector example), ``role`` (``result``,
        ``positive``, ``negative``, ``target``, ``average``, ``point``), ``label``,
        ``result_rank`` (0-based, <NA> but for results), ``t``, ``offset`` (distance from the
        path; both as the module says, NaN for cosine points with no place), ``score`` (the point's own exact score) and the zone columns as in ``curve``.
    negative, positive : the labels of the two examples the path joins.
    distance : the vector space's distance.
    kind : ``discover``, ``context``, or the recommend strategy.
    score_name : what ``score`` is, in words (for an axis title).
    """

    curve: pd.DataFrame
    points: pd.DataFrame
    negative: str
    positive: str
    distance: str
    kind: str
    score_name: str
    query: dict


def score_path(
    col: "Collection",
    source: Any = None,
    *,
    pair: int | tuple[int, int] | None = None,
    span: tuple[float, float] | None = None,
    steps: int = STEPS,
    **kwargs: Any,
) -> ScorePath:
    """The exact score of the query along the path from a negative example to a positive one.

    Parameters
    ----------
    col : the collection the query ran on.
    source : a result frame, a REST body or a Request (or give the query as keywords), of a
        discover, context or recommend query.
    pair : which examples the path joins. Discover and context: the context pair ``k``
        (default 0). Recommend: ``(i, j)``, positive ``i`` and negative ``j`` (default
        ``(0, 0)``).
    span : ``(t0, t1)``, the range of ``t``; default :data:`SPAN` widened to the results and
        examples within :data:`WIDEST` (with a 5% margin).
    steps : positions scored evenly over the span (2 to 100,000); ``t = 0`` and ``t = 1`` are
        always among them.

    Examples
    --------
    >>> import explorekit as ek
    >>> col = ek.Collection.from_arrays([[1, 0], [0, 1], [0.6, 0.8]], distance="dot")
    >>> result = col.recommend(positive=[0], negative=[1], strategy="sum_scores")
    >>> path = score_path(col, result)
    >>> path.curve.set_index("t").loc[[0.0, 1.0], "score"].tolist()    # at n, at p
    [-1.0, 1.0]
    """
    request = as_request(col, source, **kwargs)
    frame = source if isinstance(source, pd.DataFrame) else col.answer([request])[0]
    ex = examples(col, request)
    chosen = _chosen(request, ex, pair)
    negative, positive = (ex.loc[i] for i in chosen)
    n = np.asarray(negative["vector"], np.float64)
    direction = np.asarray(positive["vector"], np.float64) - n
    length = float(direction @ direction)
    if not length > 0:
        raise ExploreError(
            f"The path from {negative['label']} to {positive['label']} has no length: both are the "
            "same vector (as scored). Choose another pair with pair=..."
        )
    plan = col.prepare(request)
    stored = plan.space.stored
    distance = plan.space.distance
    point_t = _project(stored, n, direction, length, distance)
    example_t = _project(np.vstack(ex["vector"].tolist()), n, direction, length, distance)
    result_rows = col.store.ids.rows(frame["id"].tolist(), what="result id") if len(frame) else np.empty(0, np.int64)
    t = _positions(span, steps, np.concatenate([point_t[0][result_rows], example_t[0]]))
    curve = pd.DataFrame({"t": t, **zones.score_at(plan, n + t[:, None] * direction)})
    points = _points(col, request, frame, ex, result_rows, (point_t, example_t), plan)
    strategy = request.strategy if request.kind == "recommend" else request.kind
    return ScorePath(
        curve,
        points,
        str(negative["label"]),
        str(positive["label"]),
        plan.space.distance,
        strategy,
        _score_name(strategy, plan.space.distance),
        request.to_body(),
    )


def _chosen(request: Request, ex: pd.DataFrame, pair: Any) -> tuple[int, int]:
    """The rows of ``ex`` (negative, positive) that the path joins."""
    if request.kind == "search":
        raise RequestError(
            "A search has one query vector, so there is no path from a negative to a positive "
            "example. Use a recommend query with negative=..., or discover / context search."
        )
    if request.kind == "recommend":
        i, j = (0, 0) if pair is None else _index_pair(pair)
        if not len(request.negative):
            raise RequestError(
                "This recommend query has no negative example; the path runs from a negative to a "
                "positive. Add one, e.g. col.recommend(positive=[...], negative=[...])."
            )
        return (
            _row(ex, "negative", "example", j, len(request.negative), "pair[1]"),
            _row(ex, "positive", "example", i, len(request.positive), "pair[0]"),
        )
    k = 0 if pair is None else pair
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise RequestError(f"pair: {short_repr(pair)} is not the number of a context pair. Pass pair=0 for the first.")
    if not len(request.context):
        raise RequestError("This query has no context pair, so there is no path. Add context=[(positive, negative)].")
    return (
        _row(ex, "negative", "pair", int(k), len(request.context), "pair"),
        _row(ex, "positive", "pair", int(k), len(request.context), "pair"),
    )


def _index_pair(pair: Any) -> tuple[int, int]:
    ok = (
        isinstance(pair, (tuple, list))
        and len(pair) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)
    )
    if not ok:
        raise RequestError(
            f"pair: {short_repr(pair)} is not (positive index, negative index) for a recommend query. "
            "Pass e.g. pair=(0, 0)."
        )
    return int(pair[0]), int(pair[1])


def _row(ex: pd.DataFrame, role: str, column: str, k: int, count: int, name: str) -> int:
    if not 0 <= k < count:
        what = "context pair" if column == "pair" else f"{role} example"
        raise RequestError(f"{name}: {k} is out of range; this query has {count} {what}(s) (0 to {count - 1}).")
    hits = ex.index[(ex["role"] == role) & (ex[column] == k)]
    return int(hits[0])


def _project(
    vectors: np.ndarray, n: np.ndarray, direction: np.ndarray, length: float, distance: str
) -> tuple[np.ndarray, np.ndarray]:
    """``t`` of each vector's place along the line, and its distance from the path.

    Cosine scores directions, so a vector's place is where the line meets the ray from the
    origin through its projection onto the plane of ``n`` and ``p`` (a point of the scored arc
    lands at its own ``t``), and ``offset`` is the distance from its unit vector to that point
    of the arc; a vector whose projection points away from the line (or is 0) has no place: NaN.
    Other distances: the orthogonal projection onto the line and the distance from it. In
    float64, in blocks of rows.
    """
    basis = np.vstack([n, direction])
    gram = basis @ basis.T
    by_direction = distance == "cosine" and np.linalg.det(gram) > 1e-9 * gram[0, 0] * gram[1, 1]
    parts = []
    for start in range(0, len(vectors), _PROJECT_ROWS):
        x = np.asarray(vectors[start : start + _PROJECT_ROWS], np.float64)
        if by_direction:  # cos(x, its projection) = |projection| / |x|; 2 - 2 cos = |unit gap|^2
            a, b = np.linalg.solve(gram, basis @ x.T)
            squared = np.einsum("ij,ij->i", x, x)
            inside = gram[0, 0] * a * a + 2 * gram[0, 1] * a * b + gram[1, 1] * b * b
            placed = (a > 1e-9) & (squared > 0)
            t = np.where(placed, b / np.where(placed, a, 1.0), np.nan)
            cos = np.sqrt(np.maximum(inside, 0.0) / np.where(placed, squared, 1.0))
            offset = np.where(placed, np.sqrt(np.maximum(2.0 - 2.0 * cos, 0.0)), np.nan)
        else:
            shifted = x - n
            t = shifted @ direction / length
            offset = np.sqrt(np.maximum(np.einsum("ij,ij->i", shifted, shifted) - t * t * length, 0.0))
        parts.append((t, offset))
    if not parts:
        return np.empty(0), np.empty(0)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _positions(span: Any, steps: Any, focus: np.ndarray) -> np.ndarray:
    """The t values scored: ``steps`` evenly over the span, with 0 and 1 exactly."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 2 <= steps <= 100_000:
        raise ExploreError(f"steps: {short_repr(steps)} is not an integer from 2 to 100,000. Try steps={STEPS}.")
    if span is None:
        low, high = SPAN
        focus = focus[np.isfinite(focus) & (focus >= WIDEST[0]) & (focus <= WIDEST[1])]
        if len(focus):
            margin = _MARGIN * (max(high, focus.max()) - min(low, focus.min()))
            low, high = min(low, float(focus.min()) - margin), max(high, float(focus.max()) + margin)
    else:
        try:
            low, high = (float(v) for v in span)
        except (TypeError, ValueError):
            raise ExploreError(
                f"span: {short_repr(span)} is not (t0, t1). Pass two numbers, e.g. span=(-0.5, 1.5)."
            ) from None
        if not (np.isfinite([low, high]).all() and low < high):
            raise ExploreError(f"span: {short_repr(span)} needs finite t0 < t1, e.g. span=(-0.25, 1.25).")
    return np.union1d(np.linspace(low, high, int(steps)), [0.0, 1.0])


def _points(
    col: "Collection",
    request: Request,
    frame: pd.DataFrame,
    ex: pd.DataFrame,
    result_rows: np.ndarray,
    placed: tuple,
    plan: Any,
) -> pd.DataFrame:
    """Results (best first), examples, then the other points: where each lies along the path."""
    (point_t, point_offset), (example_t, example_offset) = placed
    z = zones.points(col, request).drop(columns=["eligible"])
    example_scores = pd.DataFrame(zones.score_at(plan, np.vstack(ex["vector"].tolist())))
    local_examples = [i for i, local in zip(ex["example_id"], ex["local"]) if local]
    example_rows = col.store.ids.rows(local_examples) if local_examples else np.empty(0, np.int64)
    others = np.setdiff1d(np.arange(len(z)), np.concatenate([result_rows, example_rows]))
    parts = [
        _frame(z, result_rows, "result", point_t, point_offset, request.offset + np.arange(len(result_rows))),
        pd.DataFrame(
            {
                "id": ex["example_id"].to_numpy(object),
                "role": ex["role"].to_numpy(object),
                "label": ex["label"].to_numpy(object),
                "result_rank": pd.array([None] * len(ex), dtype="Int64"),
                "t": example_t,
                "offset": example_offset,
                **{c: example_scores[c].to_numpy() for c in example_scores.columns},
            }
        ),
        _frame(z, others, "point", point_t, point_offset, None),
    ]
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else parts[0]
    return out


def _frame(
    z: pd.DataFrame, rows: np.ndarray, role: str, t: np.ndarray, offset: np.ndarray, ranks: np.ndarray | None
) -> pd.DataFrame:
    part = z.iloc[rows]
    return pd.DataFrame(
        {
            "id": part["id"].to_numpy(object),
            "role": np.full(len(rows), role, dtype=object),
            "label": np.full(len(rows), "", dtype=object),
            "result_rank": pd.array(ranks if ranks is not None else [None] * len(rows), dtype="Int64"),
            "t": t[rows],
            "offset": offset[rows],
            **{c: part[c].to_numpy() for c in part.columns if c != "id"},
        }
    )


def _score_name(kind: str, distance: str) -> str:
    if kind == "average_vector":
        shown = "distance" if distance in ("euclid", "manhattan") else "similarity"
        return f"{shown} to the averaged query"
    return _SCORE_NAMES.get(kind, "score")
