"""Why each result scored what it did: one row per result and example.

:func:`explain` takes a result frame (its ``attrs["query"]`` says what was asked) or a request
and recomputes every result's score with the engine's own code (``col.prepare``,
``distances.exact_similarity``, ``ScoringQuery.combine``), keeping each example's part:

============== ============================================================================
kind           ``contribution`` of an example (the contributions of a result add up to
               its score) and which example ``decides``
============== ============================================================================
search         the query: the score
average_vector each example's share of the similarity to the averaged query
               (``w * sim(e, x) / |q|``, cosine and dot; NaN for euclid and manhattan);
               the averaged query (role ``average``) decides
best_score     the score on the deciding example: the closest positive when it beats the
               closest negative, else the closest negative; 0 elsewhere
sum_scores     ``+sim`` per positive, ``-sim`` per negative; the largest in size decides
discover       ``sig(sim(target, x))`` on the target; per pair ``+1`` on the positive or
               ``-1`` on the negative example, whichever side the point is on (0 on a tie)
context        per pair its loss ``fs(min(sim(p) - sim(n) - EPS, 0))`` on the negative
               example (which decides when the loss is below 0), 0 on the positive
============== ============================================================================

``similarity`` is Qdrant's internal similarity of the example to the result (higher is
closer; ``-d**2`` for euclid, ``-L1`` for manhattan).

Examples
--------
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[1, 0], [0, 1], [0.6, 0.8], [0.8, 0.6]])
>>> result = col.recommend(positive=[0], negative=[1], strategy="best_score", limit=2)
>>> why = explain(col, result)
>>> why[why["decides"]][["id", "label", "contribution"]].round(3).values.tolist()
[[3, 'positive[0] (id 0)', 0.722], [2, 'negative[0] (id 1)', -0.722]]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from explorekit._support.errors import RequestError, UnknownCollectionError, short_repr
from explorekit.engine.prepare import average_query
from explorekit.query.requests import Request, parse_lookup
from explorekit.query.rest import parse_body
from explorekit.scoring.distances import EPS, display, exact_similarity, preprocess
from explorekit.scoring.formulas import pair_losses, pair_ranks, scaled_fast_sigmoid

if TYPE_CHECKING:
    from explorekit.collection import Collection

COLUMNS = [
    "rank",
    "id",
    "score",
    "role",
    "pair",
    "example",
    "label",
    "example_id",
    "similarity",
    "contribution",
    "decides",
]
_KINDS = {
    "target": "discover",
    "context": "discover",
    "positive": "recommend",
    "negative": "recommend",
    "strategy": "recommend",
    "query": "search",
}


def as_request(col: "Collection", source: Any = None, **kwargs: Any) -> Request:
    """The request behind ``source``: a result frame, a REST body, a Request, or keywords.

    A result frame carries its request in ``attrs["query"]``; a boolean-mask filter is not kept
    there, so it is dropped (explanations do not need it). ``lookup_from=`` given here replaces
    the one recorded, for ids looked up in an unnamed collection.
    """

    lookup = kwargs.pop("lookup_from", None)
    if isinstance(source, Request):
        request = source
    elif isinstance(source, pd.DataFrame):
        body = source.attrs.get("query")
        if not isinstance(body, Mapping):
            raise RequestError(
                "The DataFrame has no attrs['query'] (pandas drops attrs in concat and merge). "
                "Pass the result of a query method, or the request itself as a REST body."
            )
        request = _from_body(body, parse_body)
    elif isinstance(source, Mapping):
        request = _from_body(source, parse_body)
    elif source is None and kwargs:
        kind = next((k for key, k in _KINDS.items() if key in kwargs), None)
        if kind is None:
            raise RequestError(
                f"No query in the arguments {sorted(kwargs)}: give query=, positive=/negative= "
                "or target=/context=, or a result frame."
            )
        if kind == "discover" and kwargs.get("target") is None:
            kind = "context"
        return Request.build(kind, lookup_from=lookup, **kwargs)
    else:
        raise RequestError(
            f"{short_repr(source)} is not a result frame, a REST body or a Request. "
            "Pass what a query method returned, e.g. explain(col, col.recommend(...))."
        )
    if kwargs:
        request = request.replace(**kwargs)
    if lookup is not None:
        request = request.replace(lookup=parse_lookup(lookup))
    elif request.lookup is not None and request.lookup.collection == "<unnamed collection>":
        raise UnknownCollectionError(
            "The query looked ids up in an unnamed collection (lookup_from), which a "
            "result frame cannot name. Pass it again: lookup_from=other_collection."
        )
    return request


def _from_body(body: Mapping[str, Any], parse_body: Any) -> Request:
    body = dict(body)
    if body.get("filter") == "<boolean mask>":
        body.pop("filter")
    requests, batch = parse_body(body)
    if batch:
        raise RequestError("A batch body holds several requests; explain one of them: body['searches'][i].")
    return requests[0]


def examples(col: "Collection", source: Any = None, **kwargs: Any) -> pd.DataFrame:
    """The examples of a request, one row each, with the vectors they are scored with.

    Columns: ``role``, ``pair``, ``example``, ``label``, ``example_id`` (the id, or None for a
    raw vector), ``local`` (an id of this collection, so it has a map position), ``vector``
    (float32, preprocessed as the engine scores it). An average_vector request adds the
    averaged query (role ``average``); a search has one row, role ``query``.
    """
    request = as_request(col, source, **kwargs)
    rows = _examples(col, request)[0]
    frame = pd.DataFrame(rows, columns=["role", "pair", "example", "label", "example_id", "local", "vector"])
    frame["pair"] = pd.array([r[1] for r in rows], dtype="Int64")
    frame["example_id"] = pd.Series([r[4] for r in rows], dtype=object)  # ids stay ids (no NaN/float)
    return frame


def _examples(col: "Collection", request: Request) -> tuple[list[tuple], dict]:
    plan = col.prepare(request)
    space = plan.space
    resolver = plan.resolver
    same = not resolver.external

    def row(role, pair, i, ex, where, vector=None):
        raw = resolver.stored(ex, where) if vector is None else vector
        label = where + (f" (id {ex.id})" if ex is not None and ex.is_id else "")
        return (
            role,
            pair,
            i,
            label,
            ex.id if ex is not None and ex.is_id else None,
            bool(same and ex is not None and ex.is_id),
            preprocess(raw, space.distance)[0],
        ), raw

    rows, extra = [], {"plan": plan}
    if request.kind == "search":
        rows.append(row("query", None, 0, request.query, "query")[0])
    elif request.kind == "recommend":
        raws = []
        for role, items in (("positive", request.positive), ("negative", request.negative)):
            for i, ex in enumerate(items):
                entry, raw = row(role, None, i, ex, f"{role}[{i}]")
                rows.append(entry)
                raws.append(raw)
        extra["raw"] = raws
        if request.strategy == "average_vector":
            q = plan.query.vectors[0]
            rows.append(("average", None, 0, _average_label(request), None, False, q))
            extra["average_raw"] = average_query(raws[: len(request.positive)], raws[len(request.positive) :])
    else:
        if request.target is not None:
            rows.append(row("target", None, 0, request.target, "target")[0])
        for k, (p, n) in enumerate(request.context):
            rows.append(row("positive", k, k, p, f"context[{k}].positive")[0])
            rows.append(row("negative", k, k, n, f"context[{k}].negative")[0])
    return rows, extra


def _average_label(request: Request) -> str:
    p, n = len(request.positive), len(request.negative)
    return f"average of {p} positive{'s' * (p != 1)}" + (f" and {n} negative{'s' * (n != 1)}" if n else "")


def explain(col: "Collection", source: Any = None, **kwargs: Any) -> pd.DataFrame:
    """Per result and per example: similarity, contribution to the score, and what decided it.

    Parameters
    ----------
    col : the collection the query ran on.
    source : a result frame (uses its ``id`` column and ``attrs["query"]``), or a REST body /
        Request / keyword arguments (the query is run first, with ``col.query``).

    Returns
    -------
    DataFrame with one row per (result, example), results in rank order: ``rank`` (0-based, as
    the result frame's index plus offset), ``id``, ``score`` (recomputed, shown form),
    ``role`` (query, average, positive, negative, target), ``pair`` (context pair number or
    <NA>), ``example`` (index within its role, or the pair), ``label``, ``example_id``,
    ``similarity``, ``contribution``, ``decides`` (bool).
    """
    request = as_request(col, source, **kwargs)
    if isinstance(source, pd.DataFrame):
        ids = source["id"].tolist() if "id" in source.columns else []
    else:
        ids = col.answer([request])[0]["id"].tolist()
    return explain_ids(col, request, ids)


def explain_ids(col: "Collection", request: Request, ids: list) -> pd.DataFrame:
    """:func:`explain` for a Request and the result ids, ranked from ``request.offset``."""
    entries, extra = _examples(col, request)
    plan = extra["plan"]
    space = plan.space
    rows = col.store.ids.rows(ids, what="result id") if ids else np.empty(0, np.int64)
    points = space.stored[rows]
    if len(entries) and len(rows):
        vectors = np.vstack([e[6] for e in entries]).astype(np.float32)
        sims = exact_similarity(vectors, points, space.distance)  # (examples, results)
    else:
        sims = np.zeros((len(entries), len(rows)), np.float32)
    scores = (
        plan.query.combine(exact_similarity(plan.query.vectors, points, space.distance))
        if len(plan.query.vectors) and len(rows)
        else np.zeros(len(rows), np.float32)
    )
    if plan.query.kind == "nearest":
        scores = display(scores, space.distance)
    contribution, decides = _parts(request, plan, entries, sims, scores, points, extra)
    m, k = len(rows), len(entries)
    frame = pd.DataFrame(
        {
            "rank": np.repeat(request.offset + np.arange(m), k),
            "id": np.repeat(np.asarray(ids, dtype=object), k) if m else np.empty(0, object),
            "score": np.repeat(scores.astype(np.float64), k),
            "role": np.tile(np.asarray([e[0] for e in entries], dtype=object), m),
            "pair": pd.array([e[1] for e in entries] * m, dtype="Int64"),
            "example": np.tile(np.asarray([e[2] for e in entries], dtype=np.int64), m),
            "label": np.tile(np.asarray([e[3] for e in entries], dtype=object), m),
            "example_id": np.tile(np.asarray([e[4] for e in entries], dtype=object), m),
            "similarity": sims.T.ravel().astype(np.float64),
            "contribution": contribution.T.ravel(),
            "decides": decides.T.ravel(),
        },
        columns=COLUMNS,
    )
    if m and col.store.ids.all_int:
        frame["id"] = frame["id"].astype(np.int64)
    frame.attrs["query"] = request.to_body()
    return frame


def _parts(
    request: Request, plan: Any, entries: list, sims: np.ndarray, scores: np.ndarray, points: np.ndarray, extra: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Contribution (float64) and decides (bool), shape (examples, results)."""
    k, m = sims.shape
    contribution = np.zeros((k, m))
    decides = np.zeros((k, m), bool)
    roles = np.array([e[0] for e in entries])
    if m == 0 or k == 0:
        return contribution, decides
    if request.kind == "search":
        contribution[0], decides[0] = scores, True
    elif request.kind == "recommend" and request.strategy == "average_vector":
        decides[roles == "average"] = True
        contribution[:-1] = _average_shares(request, plan.space.distance, extra, points)
        contribution[-1] = np.nan
    elif request.kind == "recommend":
        pos, neg = roles == "positive", roles == "negative"
        signed = np.where(pos[:, None], sims, -sims).astype(np.float64)
        if request.strategy == "sum_scores":
            contribution = signed
            decides[np.abs(signed).argmax(axis=0), np.arange(m)] = True
        else:
            best_pos = np.where(pos[:, None], sims, -np.inf).max(axis=0)
            best_neg = np.where(neg[:, None], sims, -np.inf).max(axis=0)
            winner = np.where(
                best_pos > best_neg,
                np.where(pos[:, None], sims, -np.inf).argmax(axis=0),
                np.where(neg[:, None], sims, -np.inf).argmax(axis=0),
            )
            decides[winner, np.arange(m)] = True
            contribution[winner, np.arange(m)] = scores
    else:
        start = 1 if request.kind == "discover" else 0
        pairs = sims[start:]
        if request.kind == "discover":
            contribution[0] = scaled_fast_sigmoid(sims[0])
            decides[0] = True
            ranks = pair_ranks(pairs).astype(np.float64)  # (pairs, results)
            contribution[start::2] = np.where(ranks > 0, ranks, 0.0)
            contribution[start + 1 :: 2] = np.where(ranks < 0, ranks, 0.0)
            decides[start::2], decides[start + 1 :: 2] = ranks > 0, ranks < 0
        else:
            losses = pair_losses(pairs).astype(np.float64)
            contribution[start + 1 :: 2] = losses
            decides[start + 1 :: 2] = losses < 0
    return contribution, decides


def _average_shares(request: Request, distance: str, extra: dict, points: np.ndarray) -> np.ndarray:
    """Linear shares of the averaged query's similarity (cosine, dot); NaN otherwise.

    ``q = sum(w_i e_i)`` over the examples as resolved (raw vectors as given, ids as stored),
    so ``sim(q, x) = sum(w_i e_i . x) / |q|`` (cosine divides by ``|q|``, as the engine
    normalises ``q``; dot does not).
    """
    raws = np.vstack(extra["raw"]).astype(np.float64)
    if distance not in ("cosine", "dot"):
        return np.full((len(raws), len(points)), np.nan)
    n_pos, n_neg = len(request.positive), len(request.negative)
    weights = np.concatenate([np.full(n_pos, (2.0 if n_neg else 1.0) / n_pos), np.full(n_neg, -1.0 / max(n_neg, 1))])
    scale = 1.0
    if distance == "cosine":
        q = np.asarray(extra["average_raw"], np.float32)
        squared = float(np.dot(q, q))
        if squared >= EPS and abs(squared - 1.0) > 1e-6:
            scale = float(np.sqrt(squared))
    return weights[:, None] * (raws @ points.astype(np.float64).T) / scale
