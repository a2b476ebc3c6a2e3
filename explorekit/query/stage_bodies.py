"""Multi-stage ``/points/query`` bodies built from a single query: diversity (MMR) and payload boosts.

The Explorer's "diversity" and "boost by payload" controls turn the query the examples make
into one of these bodies, and ``col.query(body)`` answers it (so the same body runs anywhere,
a Qdrant server included):

* :func:`mmr_body`: the nearest query with ``"mmr": {"diversity": d, "candidates_limit": n}``
  (Qdrant's maximal marginal relevance: ``n`` nearest candidates, ``limit`` of them picked
  for relevance and diversity);
* :func:`boost_body`: the query as a prefetch of ``n`` candidates, re-ordered by the formula
  ``$score + weight * key`` (``defaults: {key: 0}``, so points without the field keep their score);
* :func:`staged_body`: both, or either, or neither (the body unchanged).

Examples
--------
>>> base = {"query": {"nearest": 7}, "using": "text", "limit": 5, "with_payload": True}
>>> mmr_body(base, 0.5)["query"]
{'nearest': 7, 'mmr': {'diversity': 0.5, 'candidates_limit': 20}}
>>> body = boost_body(base, "stars", 0.1)
>>> body["prefetch"], body["query"]
([{'query': {'nearest': 7}, 'using': 'text', 'limit': 20}], {'formula': {'sum': ['$score', {'mult': [0.1, 'stars']}]}, 'defaults': {'stars': 0}})
>>> body["limit"], body["with_payload"]
(5, True)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from explorekit._support.errors import RequestError, short_repr
from explorekit.query.pipeline import DEFAULT_LIMIT, MMR_CANDIDATES_LIMIT_MAX

__all__ = ["CANDIDATES_PER_RESULT", "boost_body", "mmr_body", "staged_body"]

#: Candidates fetched per result for the rescoring stage (MMR's candidates_limit, a boost's prefetch).
CANDIDATES_PER_RESULT = 4
_STAGE_KEYS = ("prefetch", "query", "using", "filter", "params", "score_threshold", "lookup_from")


def _limit(body: Mapping[str, Any]) -> int:
    limit = body.get("limit")
    return DEFAULT_LIMIT if limit is None else int(limit)


def _candidates(body: Mapping[str, Any], candidates: int | None) -> int:
    if candidates is None:
        return min(MMR_CANDIDATES_LIMIT_MAX, CANDIDATES_PER_RESULT * _limit(body))
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
        raise RequestError(f"candidates: {short_repr(candidates)} is not a positive integer. Use e.g. 40.")
    return candidates


def _base(body: Any) -> dict[str, Any]:
    if not isinstance(body, Mapping) or "query" not in body:
        raise RequestError(
            f"the query to rescore: {short_repr(body, 80)} is not a /points/query body with a 'query'. "
            "Pass e.g. {'query': {'nearest': 7}, 'limit': 10} (what explorer.query or result.attrs['query'] hold)."
        )
    return copy.deepcopy(dict(body))


def mmr_body(body: Mapping[str, Any], diversity: float, *, candidates: int | None = None) -> dict[str, Any]:
    """``body``'s nearest query diversified with MMR (``diversity`` 0 = plain relevance, 1 = most diverse).

    ``candidates`` (default ``4 * limit``) nearest points are considered. An ``average_vector``
    recommend query with one positive and no negative is its example's nearest query. Raises RequestError for a
    diversity outside 0..1 or another query kind (Qdrant's MMR diversifies nearest queries only).
    """
    if isinstance(diversity, bool) or not isinstance(diversity, (int, float)) or not 0.0 <= diversity <= 1.0:
        raise RequestError(f"diversity: {short_repr(diversity)} is not a number from 0 to 1. Use e.g. 0.5.")
    out = _base(body)
    query = out["query"]
    if isinstance(query, Mapping) and "nearest" in query:
        nearest = query["nearest"]
    elif _single_positive(query) is not None:
        nearest = _single_positive(query)  # recommend with one positive and no negative: its nearest
    elif isinstance(query, (list, int, str)):
        nearest = query
    else:
        kind = next(iter(query)) if isinstance(query, Mapping) and query else short_repr(query, 40)
        raise RequestError(
            f"diversity: MMR diversifies a nearest query (one example), not {kind}. "
            "Keep one positive example (query kind search), or set diversity to 0."
        )
    mmr = {"diversity": float(diversity), "candidates_limit": _candidates(out, candidates)}
    out["query"] = {"nearest": nearest, "mmr": mmr}
    return out


def _single_positive(query: Any) -> Any:
    """The example of an ``average_vector`` recommend query with one positive and no negative (else None).

    Its query vector is that example's vector, and Qdrant leaves the example out of both
    answers, so the nearest query of it has the same answer, scores included (``best_score``
    and ``sum_scores`` rank the same points but report other scores, so they stay as they are).
    """
    recommend = query.get("recommend") if isinstance(query, Mapping) else None
    if not isinstance(recommend, Mapping) or recommend.get("strategy", "average_vector") not in (
        None,
        "average_vector",
    ):
        return None
    positive, negative = recommend.get("positive") or [], recommend.get("negative") or []
    return positive[0] if len(positive) == 1 and not negative else None


def boost_body(body: Mapping[str, Any], key: str, weight: float, *, candidates: int | None = None) -> dict[str, Any]:
    """``body`` as a prefetch of ``candidates`` (default ``4 * limit``), re-ordered by ``$score + weight * key``.

    ``key`` is a payload field (a number; points without it count 0); ``weight`` a finite
    number (negative pushes large values down).
    """
    if not isinstance(key, str) or not key.strip():
        raise RequestError(f"boost: the payload field {short_repr(key)} is not a field name. Use e.g. 'stars'.")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise RequestError(f"boost: weight {short_repr(weight)} is not a finite number. Use e.g. 0.1.")
    out = _base(body)
    stage = {k: out.pop(k) for k in _STAGE_KEYS if k in out}
    stage["limit"] = _candidates(out, candidates)
    if isinstance(stage.get("query"), Mapping) and "mmr" in stage["query"]:
        stage["limit"] = _limit(out)  # the diverse results, re-ordered by the boost
    formula = {"formula": {"sum": ["$score", {"mult": [weight, key]}]}, "defaults": {key: 0}}
    return {"prefetch": [stage], "query": formula, **out}


def staged_body(
    body: Mapping[str, Any],
    *,
    diversity: float | None = None,
    boost: tuple[str, float] | None = None,
    candidates: int | None = None,
) -> dict[str, Any]:
    """``body`` with MMR (``diversity`` > 0) and/or a payload ``boost=(key, weight)``; unchanged without.

    With both, MMR picks the diverse ``limit`` results and the boost re-orders them.

    >>> staged_body({"query": {"nearest": [1.0, 0.0]}, "limit": 2})
    {'query': {'nearest': [1.0, 0.0]}, 'limit': 2}
    >>> staged_body({"query": {"nearest": 3}, "limit": 2}, diversity=0.3, boost=("pop", 2))["prefetch"][0]["query"]
    {'nearest': 3, 'mmr': {'diversity': 0.3, 'candidates_limit': 8}}
    """
    out = _base(body)
    if diversity:
        out = mmr_body(out, diversity, candidates=candidates)
    if boost is not None:
        if not isinstance(boost, (tuple, list)) or len(boost) != 2:
            raise RequestError(f"boost: {short_repr(boost)} is not a (payload field, weight) pair. Use ('stars', 0.1).")
        out = boost_body(out, boost[0], boost[1], candidates=candidates)
    return out
