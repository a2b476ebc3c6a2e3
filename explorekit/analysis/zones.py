"""Discovery zones and context loss, over the collection's points and over the plane.

Discovery ranks a point by ``sum_k sign(sim(p_k, x) - sim(n_k, x))`` (on which side of each
context pair it lies) and then by ``sig(sim(target, x))``; context search scores it by its
summed pair losses, 0 for points on the positive side of every pair
(docs/qdrant-semantics.md, "Discovery" and "Context"). These functions compute those parts for
every point (:func:`points`), for every cell of a grid over a 2-D vector space (:func:`grid`:
the exact zone field, as if a point sat at the cell centre) and as half-planes
(:func:`boundaries`), with the engine's own code: the examples are resolved by
``col.prepare``, similarities come from ``distances.exact_similarity`` and scores from
``ScoringQuery.combine``, so ``score`` equals what the query returns for every point it returns.

Examples
--------
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[0, 0], [4, 0], [1, 0], [3, 0]], distance="euclid")
>>> z = points(col, target=2, context=[(0, 1)])
>>> z[["id", "rank", "eligible"]].values.tolist()
[[0, 1, False], [1, -1, False], [2, 1, False], [3, -1, True]]
>>> boundaries(col, context=[(0, 1)])[["a", "b", "c"]].values.tolist()
[[-8.0, 0.0, -16.0]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from explorekit._support.errors import ExploreError, short_repr
from explorekit.analysis.explain import as_request
from explorekit.scoring.distances import display, exact_similarity, preprocess
from explorekit.scoring.formulas import pair_losses, pair_ranks, scaled_fast_sigmoid

if TYPE_CHECKING:
    from explorekit.collection import Collection

_BLOCK_ROWS = 65_536


def points(col: "Collection", source: Any = None, **kwargs: Any) -> pd.DataFrame:
    """Per point of the collection: its score and, for discover and context, each pair's part.

    ``source`` is a result frame, a REST body or a Request; or give the query as keywords
    (``target=``, ``context=``, ``positive=`` ...). Any query kind works (``score`` is the
    exact score every point would get); discover and context add the zone columns.

    Returns
    -------
    DataFrame, one row per point in collection order: ``id``, ``score`` (float32, as the query
    shows it), ``eligible`` (passes the filter and is not an example, so it can be returned);
    discover: ``rank`` (sum of pair ranks), ``satisfied`` (pairs whose positive side it is on),
    ``target`` (``sig(sim(target, x))``), ``pair_0`` ... (+1, 0, -1); context: ``loss`` (=
    score), ``satisfied`` (pairs with no loss), ``zero_loss`` (all pairs), ``pair_0`` ... (loss).
    """
    request = as_request(col, source, **kwargs)
    plan = col.prepare(request)
    stored = plan.space.stored
    parts = [_parts(plan, stored[start : start + _BLOCK_ROWS]) for start in range(0, max(len(stored), 1), _BLOCK_ROWS)]
    columns = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]} if parts else {}
    eligible = np.ones(len(col), bool) if plan.mask is None else plan.mask.copy()
    frame = pd.DataFrame({"id": col.ids.to_numpy(), "score": columns.pop("score"), "eligible": eligible, **columns})
    frame.attrs["query"] = request.to_body()
    return frame


def grid(
    col: "Collection", source: Any = None, *, bounds: Any = None, resolution: int = 200, **kwargs: Any
) -> pd.DataFrame:
    """The zone field of a 2-D vector space: every column of :func:`points` at each cell centre.

    Parameters
    ----------
    bounds : ``(x0, x1, y0, y1)``; default: the points and examples with a 5% margin.
    resolution : cells along each axis (2 to 2,000).

    Returns
    -------
    DataFrame of ``resolution**2`` cells, ``x`` varying fastest (``values.reshape(ny, nx)``
    gives an image, row 0 at ``y0``), with ``x``, ``y`` and the columns of :func:`points`
    except ``id`` and ``eligible``; ``attrs["grid"]`` holds ``nx``, ``ny`` and the bounds.
    """
    request, plan = _plane_plan(
        col,
        source,
        "grid",
        "a zone field is drawn only for 2-D vectors. Use zones.points(...) to score the points themselves.",
        **kwargs,
    )
    space = plan.space
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or not 2 <= resolution <= 2000:
        raise ExploreError(
            f"resolution: {short_repr(resolution)} is not an integer from 2 to 2000. Try resolution=200."
        )
    x0, x1, y0, y1 = _bounds(bounds, space.stored, plan.query.vectors)
    xs = np.linspace(x0, x1, int(resolution), dtype=np.float64)
    ys = np.linspace(y0, y1, int(resolution), dtype=np.float64)
    gx, gy = np.meshgrid(xs, ys)
    cells = np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float32)
    columns = score_at(plan, cells)
    frame = pd.DataFrame({"x": cells[:, 0], "y": cells[:, 1], **columns})
    frame.attrs["grid"] = {"nx": int(resolution), "ny": int(resolution), "bounds": [x0, x1, y0, y1]}
    frame.attrs["query"] = request.to_body()
    return frame


def _plane_plan(col: "Collection", source: Any, what: str, hint: str, **kwargs: Any):
    """The request and its prepared plan, for a function that needs 2-D vectors."""
    request = as_request(col, source, **kwargs)
    plan = col.prepare(request)
    if plan.space.dim != 2:
        raise ExploreError(f"{what}: {plan.space.label} has {plan.space.dim} dimensions; {hint}")
    return request, plan


def boundaries(col: "Collection", source: Any = None, **kwargs: Any) -> pd.DataFrame:
    """Each context pair of a 2-D query as a half-plane: positive side ``a*x + b*y > c``.

    Exact for cosine and dot (lines through the origin) and euclid (the perpendicular
    bisector); manhattan boundaries are not straight lines, so they are left out (empty frame).
    Columns ``pair``, ``a``, ``b``, ``c``.
    """
    request, plan = _plane_plan(col, source, "boundaries", "pair boundaries are drawn only for 2-D vectors.", **kwargs)
    space = plan.space
    start = 1 if plan.query.kind == "discover" else 0
    if plan.query.kind not in ("discover", "context") or space.distance == "manhattan":
        return pd.DataFrame({"pair": pd.Series([], dtype=np.int64), "a": [], "b": [], "c": []})
    vectors = plan.query.vectors[start:].astype(np.float64)
    pos, neg = vectors[0::2], vectors[1::2]
    if space.distance == "euclid":  # -|x-p|^2 > -|x-n|^2  <=>  2(p-n).x > |p|^2 - |n|^2
        normal, offset = 2.0 * (pos - neg), (pos**2).sum(axis=1) - (neg**2).sum(axis=1)
    else:  # cosine (unit p, n) and dot: (p-n).x > 0
        normal, offset = pos - neg, np.zeros(len(pos))
    return pd.DataFrame({"pair": np.arange(len(pos)), "a": normal[:, 0], "b": normal[:, 1], "c": offset})


def score_at(plan: Any, vectors: np.ndarray) -> dict[str, np.ndarray]:
    """Every column of :func:`points` (but ``id`` and ``eligible``) for vectors that are not points.

    ``plan`` is ``col.prepare(request)``; each row of ``vectors`` (raw, shape ``(m, dim)``) is
    preprocessed as the engine stores a point (cosine: normalised) and scored as that point
    would be, so a point upserted with such a vector gets exactly this score.

    >>> import explorekit as ek
    >>> from explorekit.query.requests import Request
    >>> col = ek.Collection.from_arrays([[0, 0], [4, 0]], distance="euclid")
    >>> plan = col.prepare(Request.build("context", context=[(1, 0)]))
    >>> score_at(plan, np.array([[3.0, 0.0], [1.0, 0.0]]))["zero_loss"].tolist()
    [True, False]
    """
    return _parts(plan, preprocess(np.asarray(vectors, np.float32), plan.space.distance))


def _parts(plan: Any, stored: np.ndarray) -> dict[str, np.ndarray]:
    query, distance = plan.query, plan.space.distance
    n = len(stored)
    if len(query.vectors) == 0:  # context search without pairs: every point scores 0
        return {
            "score": np.zeros(n, np.float32),
            "loss": np.zeros(n, np.float32),
            "satisfied": np.zeros(n, np.int16),
            "zero_loss": np.ones(n, bool),
        }
    sims = exact_similarity(query.vectors, stored, distance)
    score = query.combine(sims)
    if query.kind == "nearest":
        return {"score": display(score, distance)}
    if query.kind == "discover":
        ranks = pair_ranks(sims[1:])
        out = {
            "score": score,
            "rank": ranks.sum(axis=0, dtype=np.int16),
            "satisfied": (ranks > 0).sum(axis=0, dtype=np.int16),
            "target": scaled_fast_sigmoid(sims[0]),
        }
        out.update({f"pair_{k}": ranks[k] for k in range(len(ranks))})
        return out
    if query.kind == "context":
        losses = pair_losses(sims)
        out = {
            "score": score,
            "loss": score,
            "satisfied": (losses == 0).sum(axis=0, dtype=np.int16),
            "zero_loss": score == 0,
        }
        out.update({f"pair_{k}": losses[k] for k in range(len(losses))})
        return out
    return {"score": score}


def _bounds(bounds: Any, stored: np.ndarray, examples: np.ndarray) -> tuple[float, float, float, float]:
    if bounds is not None:
        try:
            x0, x1, y0, y1 = (float(v) for v in bounds)
        except (TypeError, ValueError):
            raise ExploreError(
                f"bounds: {short_repr(bounds)} is not (x0, x1, y0, y1). "
                "Pass four numbers, e.g. bounds=(-10, 10, -5, 5)."
            ) from None
        if not (np.isfinite([x0, x1, y0, y1]).all() and x0 < x1 and y0 < y1):
            raise ExploreError(f"bounds: {short_repr(bounds)} needs finite x0 < x1 and y0 < y1.")
        return x0, x1, y0, y1
    everything = np.vstack([stored, examples]) if len(examples) else stored
    low, high = everything.min(axis=0).astype(np.float64), everything.max(axis=0).astype(np.float64)
    margin = np.maximum((high - low) * 0.05, 1e-3)
    return float(low[0] - margin[0]), float(high[0] + margin[0]), float(low[1] - margin[1]), float(high[1] + margin[1])
