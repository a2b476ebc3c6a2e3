"""The query methods shared by every collection object (local, or backed by a Qdrant server).

A subclass provides ``_run(requests) -> list[DataFrame]``; everything here only checks the
arguments and builds :class:`~explorekit.query.requests.Request` objects, so a local collection and a
Qdrant one accept the same calls and raise the same errors.

Examples
--------
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[1.0, 0.0], [0.0, 1.0]])
>>> [len(frame) for frame in col.search_batch([{"query": [1, 0], "limit": 1}, {"query": 0}])]
[1, 1]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from explorekit._support.errors import ExploreError, RequestError, short_repr
from explorekit.query.keywords import qdrant_names
from explorekit.query.requests import Request
from explorekit.query.rest import is_rest_body, parse_body


class QueryMethods:
    """search, recommend, discover, their batches and ``query(body)``, over ``self._run``."""

    def _run(self, requests: list[Request]) -> list[pd.DataFrame]:  # pragma: no cover - abstract
        raise NotImplementedError

    def answer(self, requests: list[Request]) -> list[pd.DataFrame]:
        """Result frames of already-built :class:`~explorekit.query.requests.Request` objects.

        What every query method ends in; views and analyses that hold a Request call it directly.
        """
        return self._run(list(requests))

    @qdrant_names
    def search(
        self,
        query: Any = None,
        *,
        using: str | None = None,
        filter: Any = None,
        limit: int = 10,
        offset: int = 0,
        score_threshold: float | None = None,
        params: Any = None,
        with_payload: Any = True,
        with_vectors: Any = False,
    ) -> pd.DataFrame:
        """Nearest points to a vector, or to a stored point given by id (which is left out).

        For euclid and manhattan the score is the distance (smaller first), as in Qdrant.
        """
        return self._run(
            [
                Request.build(
                    "search",
                    query=query,
                    using=using,
                    filter=filter,
                    limit=limit,
                    offset=offset,
                    score_threshold=score_threshold,
                    params=params,
                    with_payload=with_payload,
                    with_vectors=with_vectors,
                )
            ]
        )[0]

    @qdrant_names
    def recommend(
        self,
        positive: Any = (),
        negative: Any = (),
        *,
        strategy: str = "average_vector",
        using: str | None = None,
        lookup_from: Any = None,
        filter: Any = None,
        limit: int = 10,
        offset: int = 0,
        score_threshold: float | None = None,
        params: Any = None,
        with_payload: Any = True,
        with_vectors: Any = False,
    ) -> pd.DataFrame:
        """Points like the positive examples and unlike the negative ones (ids and/or vectors).

        ``strategy``: ``"average_vector"`` (a nearest search with ``2 avg(P) - avg(N)``),
        ``"best_score"`` (each point scored by its closest example) or ``"sum_scores"``.
        Ids given as examples are left out of the results.
        """
        return self._run(
            [
                Request.build(
                    "recommend",
                    positive=positive,
                    negative=negative,
                    strategy=strategy,
                    using=using,
                    lookup_from=lookup_from,
                    filter=filter,
                    limit=limit,
                    offset=offset,
                    score_threshold=score_threshold,
                    params=params,
                    with_payload=with_payload,
                    with_vectors=with_vectors,
                )
            ]
        )[0]

    @qdrant_names
    def discover(
        self,
        target: Any = None,
        context: Any = (),
        *,
        using: str | None = None,
        lookup_from: Any = None,
        filter: Any = None,
        limit: int = 10,
        offset: int = 0,
        score_threshold: float | None = None,
        params: Any = None,
        with_payload: Any = True,
        with_vectors: Any = False,
    ) -> pd.DataFrame:
        """Discovery search (a target and context pairs), or context search when ``target=None``.

        ``context``: ``[(positive, negative), ...]`` or ``[{"positive": p, "negative": n}, ...]``.
        """
        kind = "discover" if target is not None else "context"
        return self._run(
            [
                Request.build(
                    kind,
                    target=target,
                    context=context,
                    using=using,
                    lookup_from=lookup_from,
                    filter=filter,
                    limit=limit,
                    offset=offset,
                    score_threshold=score_threshold,
                    params=params,
                    with_payload=with_payload,
                    with_vectors=with_vectors,
                )
            ]
        )[0]

    @qdrant_names
    def search_batch(self, requests: Sequence[Mapping[str, Any]]) -> list[pd.DataFrame]:
        """Several searches in one pass over the vectors; a list of DataFrames in order."""
        return self._run(self._batch("search", requests))

    @qdrant_names
    def recommend_batch(self, requests: Sequence[Mapping[str, Any]]) -> list[pd.DataFrame]:
        """Several recommendations in one pass over the vectors; a list of DataFrames in order."""
        return self._run(self._batch("recommend", requests))

    @qdrant_names
    def discover_batch(self, requests: Sequence[Mapping[str, Any]]) -> list[pd.DataFrame]:
        """Several discovery/context searches in one pass; a list of DataFrames in order."""
        return self._run(self._batch("discover", requests))

    def _batch(self, kind: str, requests: Sequence[Mapping[str, Any]]) -> list[Request]:
        if isinstance(requests, Mapping) or not isinstance(requests, Sequence):
            raise RequestError(f"{kind}_batch: expected a list of requests (dicts), got {type(requests).__name__}.")
        out = []
        for i, item in enumerate(requests):
            if isinstance(item, Request):
                out.append(item)
            elif isinstance(item, Mapping):
                try:
                    out.append(from_kwargs_or_body(kind, self._item_keywords(kind, item)))
                except ExploreError as err:
                    raise type(err)(f"requests[{i}]: {err}") from None
            else:
                raise RequestError(f"requests[{i}]: {short_repr(item)} is not a dict of query arguments.")
        return out

    def _item_keywords(self, kind: str, item: Mapping[str, Any]) -> dict[str, Any]:
        """A batch item written as keyword arguments, in the method's own names (REST bodies as given)."""
        if is_rest_body(kind, item):
            return dict(item)
        method = getattr(QueryMethods, kind)
        return method.keywords.rename(self, (), item)[1]

    @qdrant_names
    def query(
        self,
        body: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
        *,
        query: Any = None,
        using: str | None = None,
        prefetch: Any = None,
        filter: Any = None,
        params: Any = None,
        limit: int | None = None,
        offset: int | None = None,
        score_threshold: float | None = None,
        lookup_from: Any = None,
        with_payload: Any = None,
        with_vectors: Any = None,
    ) -> Any:
        """Run a Qdrant REST body of ``/points/search``, ``/points/recommend``,
        ``/points/recommend/batch``, ``/points/discover`` or ``/points/query``, or
        qdrant-client's ``query_points`` keywords.

        The endpoint is recognised from the body's keys (or given as ``endpoint``); a batch body
        (``{"searches": [...]}``) returns a list of DataFrames. Without a body, the keywords of
        ``client.query_points`` make a ``/points/query`` body: ``col.query(query=models.
        RecommendQuery(recommend=models.RecommendInput(positive=[1])), query_filter=..., limit=5)``.
        """
        keywords = {
            "query": query,
            "using": using,
            "prefetch": prefetch,
            "filter": filter,
            "params": params,
            "limit": limit,
            "offset": offset,
            "score_threshold": score_threshold,
            "lookup_from": lookup_from,
            "with_payload": with_payload,
            "with_vector": with_vectors,
        }
        keywords = {key: value for key, value in keywords.items() if value is not None}
        if keywords:
            if body is not None:
                raise RequestError(
                    f"query: got a body and the keywords {sorted(keywords)}. Put everything in the body, "
                    "or pass only keywords (as qdrant-client's query_points takes them)."
                )
            body, endpoint = keywords, endpoint or "/points/query"
        elif body is None:
            raise RequestError(
                "query: nothing to run. Pass a Qdrant REST body, e.g. col.query({'query': [0.1, 0.2], "
                "'limit': 5}), or query_points keywords, e.g. col.query(query=[0.1, 0.2], limit=5)."
            )
        requests, batch = parse_body(body, endpoint)
        results = self._run(requests)
        return results if batch else results[0]


def from_kwargs_or_body(kind: str, item: dict) -> Request:
    if is_rest_body(kind, item):
        requests, _ = parse_body(
            item, {"search": "/points/search", "recommend": "/points/recommend", "discover": "/points/discover"}[kind]
        )
        return requests[0]
    if kind == "discover":
        kind = "discover" if item.get("target") is not None else "context"
    return Request.build(kind, **item)
