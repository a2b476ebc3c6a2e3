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
from explorekit.query.encode import Encoder, body_strings, body_texts_embedded, text_hint, texts_embedded
from explorekit.query.keywords import qdrant_names
from explorekit.query.overview import FacetRequest, MatrixRequest, OverviewRequest, SampleRequest
from explorekit.query.pipeline import Pipeline, from_kwargs, parse_pipeline, parse_query_body
from explorekit.query.requests import Request
from explorekit.query.rest import is_rest_body, parse_body


class QueryMethods:
    """search, recommend, discover, their batches and ``query(body)``, over ``self._run``."""

    def _run(self, requests: list[Request]) -> list[pd.DataFrame]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _scroll_request(self, request: Request) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def _overview(self, request: OverviewRequest) -> Any:  # pragma: no cover - abstract
        """The answer to a distance-matrix, facet or sample request (local or on the server)."""
        raise NotImplementedError

    def answer(self, requests: list[Request]) -> list[pd.DataFrame]:
        """Result frames of already-built :class:`~explorekit.query.requests.Request` objects.

        What every query method ends in; views and analyses that hold a Request call it directly.
        Query-less requests (kind ``"scroll"``) are answered by ``_scroll_request``, the others
        together by ``_run``.
        """
        requests = list(requests)
        scrolls = {i: self._scroll_request(r) for i, r in enumerate(requests) if r.kind == "scroll"}
        if not scrolls:
            return self._run(requests)
        others = iter(self._run([r for r in requests if r.kind != "scroll"]) if len(scrolls) < len(requests) else [])
        return [scrolls[i] if i in scrolls else next(others) for i in range(len(requests))]

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
        encoder: Encoder | None = None,
    ) -> pd.DataFrame:
        """Nearest points to a vector, or to a stored point given by id (which is left out).

        For euclid and manhattan the score is the distance (smaller first), as in Qdrant.

        ``encoder``: a callable ``texts -> vectors`` (list of str -> array ``(n, dim)``); with it
        a string ``query`` is a text, embedded first (:mod:`explorekit.query.encode` has the
        rules). Without it a string is a point id, as in Qdrant.

        >>> import explorekit as ek
        >>> col = ek.Collection.from_arrays([[1.0, 0.0], [0.0, 1.0]], payload=[{"w": "apple"}, {"w": "pear"}])
        >>> apple_or_pear = lambda texts: [[1.0, 0.0] if "apple" in t else [0.0, 1.0] for t in texts]
        >>> col.search("apple pie", encoder=apple_or_pear, limit=1)["w"].tolist()
        ['apple']
        """
        with texts_embedded(self, encoder, using, "search", query=query) as examples:
            return self._run(
                [
                    Request.build(
                        "search",
                        query=examples["query"],
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
        encoder: Encoder | None = None,
    ) -> pd.DataFrame:
        """Points like the positive examples and unlike the negative ones (ids and/or vectors).

        ``strategy``: ``"average_vector"`` (a nearest search with ``2 avg(P) - avg(N)``),
        ``"best_score"`` (each point scored by its closest example) or ``"sum_scores"``.
        Ids given as examples are left out of the results. With ``encoder`` (a callable
        ``texts -> vectors``) the strings among the examples are texts, embedded first
        (:mod:`explorekit.query.encode`); ids that are strings are then given as ``{"id": ...}``.
        """
        with texts_embedded(self, encoder, using, "recommend", positive=positive, negative=negative) as examples:
            return self._run(
                [
                    Request.build(
                        "recommend",
                        positive=examples["positive"],
                        negative=examples["negative"],
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
        encoder: Encoder | None = None,
    ) -> pd.DataFrame:
        """Discovery search (a target and context pairs), or context search when ``target=None``.

        ``context``: ``[(positive, negative), ...]`` or ``[{"positive": p, "negative": n}, ...]``.
        With ``encoder`` (a callable ``texts -> vectors``) the strings among the target and the
        context are texts, embedded first (:mod:`explorekit.query.encode`).
        """
        kind = "discover" if target is not None else "context"
        with texts_embedded(self, encoder, using, "discover", target=target, context=context) as examples:
            return self._run(
                [
                    Request.build(
                        kind,
                        target=examples["target"],
                        context=examples["context"],
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
                if "encoder" in item:
                    raise RequestError(
                        f"requests[{i}]: encoder= is taken by single calls ({kind}(..., encoder=...)), not by "
                        f"batches. Embed the texts first (vectors = encoder(texts)) and send the vectors."
                    )
                try:
                    out.append(from_kwargs_or_body(kind, self._item_keywords(kind, item)))
                except ExploreError as err:
                    raise type(err)(f"requests[{i}]: {err}") from None
            else:
                raise RequestError(f"requests[{i}]: {short_repr(item)} is not a dict of query arguments.")
        return out

    def _run_pipelines(self, pipelines: list[Pipeline]) -> list[pd.DataFrame]:  # pragma: no cover - abstract
        raise NotImplementedError

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
        encoder: Encoder | None = None,
    ) -> Any:
        """Run a Qdrant REST body of ``/points/search``, ``/points/recommend``,
        ``/points/recommend/batch``, ``/points/discover``, ``/points/query`` (with ``prefetch``
        stages, fusion, formula, MMR, order_by, sample; without ``query``, Qdrant's scroll form:
        points in id order, score 1, as local mode answers) or ``/points/query/groups``.

        The endpoint is recognised from the body's keys (or given as ``endpoint``); a batch body
        (``{"searches": [...]}``) returns a list of DataFrames. Without a body, the keyword
        arguments (qdrant-client's ``query_points`` names too) are the body:
        ``col.query(prefetch=[...], query={"fusion": "rrf"}, limit=5)``. As in ``query_points``,
        a first argument that is a vector or an id is the ``query``:
        ``col.query([0.1, 0.2], using="image", limit=5)``.
        A multi-stage answer carries each stage's candidates in ``attrs["stages"]``. A body with
        ``"key"`` is a facet (:meth:`facet`); one with a top-level ``"sample"`` a distance matrix
        (:meth:`distance_matrix`), as pairs unless ``endpoint`` names the offsets endpoint.

        ``encoder`` (a callable ``texts -> vectors``): the strings at the example positions of a
        ``/points/query`` body (its ``query``: a text, ``nearest``, ``recommend``, ``discover``,
        ``context``; in ``prefetch`` stages too) are texts, embedded first
        (:mod:`explorekit.query.encode`): ``col.query("parse a JSON string", encoder=enc, limit=5)``.
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
        if _is_positional_query(body, keywords):
            if "query" in keywords:
                raise RequestError(
                    f"query: got the query twice, positionally ({short_repr(body)}) and as query=. Pass it once."
                )
            body, keywords = None, {**keywords, "query": body}
        if keywords:
            if body is not None:
                raise RequestError(
                    f"query: got a body and the keywords {sorted(keywords)}. Put everything in the body, "
                    "or pass only keywords (as qdrant-client's query_points takes them): a query model "
                    "goes in as query=, e.g. col.query(query=models.NearestQuery(nearest=v), using='image')."
                )
            body, endpoint = from_kwargs(**keywords), endpoint or "/points/query"
        elif body is None:
            raise RequestError(
                "query: nothing to run. Pass a Qdrant REST body, e.g. col.query({'query': [0.1, 0.2], "
                "'limit': 5}), or query_points keywords, e.g. col.query(query=[0.1, 0.2], limit=5)."
            )
        with text_hint([] if encoder is not None else body_strings(body)):
            return self._query_body(body_texts_embedded(self, encoder, body), endpoint)

    def _query_body(self, body: Any, endpoint: str | None) -> Any:
        """The answer to a checked body of :meth:`query` (one request, a pipeline, a batch or an overview)."""
        items, batch = parse_query_body(body, endpoint)
        overviews = [item for item in items if isinstance(item, (MatrixRequest, FacetRequest, SampleRequest))]
        if overviews:
            if batch:
                raise RequestError("query: a batch cannot hold a distance matrix or facet body; send it on its own.")
            return self._overview(overviews[0])
        requests = [(i, item) for i, item in enumerate(items) if isinstance(item, Request)]
        pipelines = [(i, item) for i, item in enumerate(items) if not isinstance(item, Request)]
        results: list[Any] = [None] * len(items)
        for (i, _), frame in zip(requests, self.answer([r for _, r in requests]) if requests else []):
            results[i] = frame
        for (i, _), frame in zip(pipelines, self._run_pipelines([p for _, p in pipelines]) if pipelines else []):
            results[i] = frame
        return results if batch else results[0]

    @qdrant_names
    def query_groups(
        self,
        query: Any = None,
        *,
        group_by: str,
        group_size: int = 3,
        limit: int = 10,
        prefetch: Any = None,
        using: str | None = None,
        filter: Any = None,
        score_threshold: float | None = None,
        params: Any = None,
        lookup_from: Any = None,
        with_payload: Any = True,
        with_vectors: Any = False,
    ) -> pd.DataFrame:
        """Qdrant's ``query_points_groups``: the best points grouped by the payload key ``group_by``.

        At most ``group_size`` points per group and ``limit`` groups, in the order of their best
        point; a point whose key holds an array joins the group of each value; points without the
        key, or with a value that is not an integer or a string, join none. One row per hit, with
        the group's value in the first column, ``group``.
        """
        body = from_kwargs(
            query,
            group_by=group_by,
            group_size=group_size,
            limit=limit,
            prefetch=prefetch,
            using=using,
            filter=filter,
            score_threshold=score_threshold,
            params=params,
            lookup_from=lookup_from,
            with_payload=with_payload,
            with_vectors=with_vectors,
        )
        return self._run_pipelines([parse_pipeline(body, groups=True)])[0]

    # ------------------------------------------------------------------ the whole collection
    def distance_matrix(
        self,
        sample: int = 10,
        limit: int = 3,
        filter: Any = None,
        using: str | None = None,
        format: str = "pairs",
        seed: Any = None,
        exact: bool | None = None,
    ) -> Any:
        """Qdrant's Distance Matrix: ``sample`` random points (after ``filter``), each with its
        ``limit`` nearest among the sample (never itself).

        The sampled points come in id order, each with its neighbours best first; scores are
        similarities for cosine and dot, distances for euclid and manhattan (as a search shows
        them). Fewer than two points passing the filter give an empty answer, as in Qdrant.
        When ``sample`` is at least the number of passing points, the answer is deterministic.

        ``format="pairs"``: a DataFrame ``a, b, score``. ``format="offsets"``: a
        ``scipy.sparse.csr_matrix`` (row ``i``, column ``j`` index into ``ids``) and ``ids``.
        ``seed`` makes the random sample repeatable.

        Large samples are approximate, as on a Qdrant server (which answers from its HNSW
        index): when the exact matrix is estimated to take more than a few seconds (e.g. the
        whole of a 100,000 x 384 collection), the neighbours come from k-means cells, each
        compared with its nearest cells; every returned score is still exact for its pair, and
        ``attrs`` (of the frame, or of the csr_matrix) holds ``path`` (``"exact"`` or
        ``"cells"``), ``reason`` and ``estimated_recall``. ``exact=True`` forces the exact
        matrix, ``exact=False`` the approximate one; a Python-only keyword (Qdrant's REST body
        has none, and a Qdrant-backed collection ignores it: the server decides).

        >>> import explorekit as ek
        >>> col = ek.Collection.from_arrays([[0.0], [1.0], [5.0]], distance="euclid")
        >>> col.distance_matrix(limit=1).values.tolist()
        [[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [2.0, 1.0, 4.0]]
        """
        return self._overview(MatrixRequest.build(sample, limit, filter, using, format, seed, exact))

    def facet(self, key: str, filter: Any = None, limit: int = 10, exact: bool = True) -> pd.DataFrame:
        """Qdrant's Facet API: how many points (passing ``filter``) hold each value of ``key``.

        A DataFrame ``value, count``, largest count first (ties: booleans, integers, then
        strings, each ascending). Strings, integers and booleans are counted, each distinct
        value once per point; floats, objects, null and missing keys are not.

        >>> import explorekit as ek
        >>> col = ek.Collection.from_arrays([[1.0], [2.0], [3.0]], payload=[{"t": ["a", "b"]}, {"t": "a"}, {}])
        >>> col.facet("t").values.tolist()
        [['a', 2], ['b', 1]]
        """
        return self._overview(FacetRequest.build(key, filter, limit, exact))

    def sample(
        self,
        n: int = 10,
        filter: Any = None,
        seed: Any = None,
        with_payload: Any = True,
        with_vectors: Any = False,
    ) -> pd.DataFrame:
        """``n`` points drawn at random (without repeats) among those passing ``filter``, as a
        DataFrame like :meth:`scroll`'s; Qdrant's ``{"query": {"sample": "random"}}``.

        >>> import explorekit as ek
        >>> col = ek.Collection.from_arrays([[1.0], [2.0], [3.0]])
        >>> sorted(col.sample(5, seed=0)["id"].tolist())
        [0, 1, 2]
        """
        return self._overview(SampleRequest.build(n, filter, seed, with_payload, with_vectors))


def from_kwargs_or_body(kind: str, item: dict) -> Request:
    if is_rest_body(kind, item):
        requests, _ = parse_body(
            item, {"search": "/points/search", "recommend": "/points/recommend", "discover": "/points/discover"}[kind]
        )
        return requests[0]
    if kind == "discover":
        kind = "discover" if item.get("target") is not None else "context"
    return Request.build(kind, **item)


def _is_positional_query(body: Any, keywords: Mapping[str, Any]) -> bool:
    """Whether ``body`` is really qdrant-client's positional ``query`` (``query_points(name, query)``).

    A dict is a REST body (so is a query model: :func:`qdrant_names` has made it a dict by
    now). Anything else (a vector, an id, a numpy array) is the query; a pydantic model left
    (a ``QueryRequest``) is a request body when it comes alone, the query with keywords.

    >>> _is_positional_query([0.1, 0.2], {}), _is_positional_query({"query": [0.1]}, {"limit": 1})
    (True, False)
    """
    if body is None or isinstance(body, Mapping):
        return False
    return bool(keywords) or not hasattr(body, "model_dump")
