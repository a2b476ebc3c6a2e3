"""Qdrant REST bodies -> requests, so bodies pasted from Qdrant's documentation just work.

Accepted: ``/points/search``, ``/points/recommend``, ``/points/recommend/batch``,
``/points/discover`` (and its batch) and ``/points/query`` (nearest, recommend, discover,
context, order_by, ``{"sample": "random"}``; and ``/points/query/batch``; without a query,
Qdrant's scroll form), ``/points/scroll`` (``offset`` is there the first id of the page; recognised
by ``order_by`` or given as ``endpoint``), and the whole-collection endpoints
``/points/search/matrix/pairs``, ``/points/search/matrix/offsets`` and ``/facet``
(:mod:`explorekit.query.overview`). ``null`` for any key means its default, as in Qdrant. The
endpoint is recognised from the body's keys or given explicitly: ``"key"`` means ``/facet``; a
top-level ``"sample"`` (a number, never a key of search or scroll bodies) means a distance matrix,
as pairs unless ``endpoint="/points/search/matrix/offsets"`` says offsets (the two bodies are the same).

Examples
--------
>>> requests, batch = parse_body({"positive": [100, 231], "negative": [718], "limit": 3})
>>> requests[0].kind, requests[0].strategy, batch
('recommend', 'average_vector', False)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from explorekit._support.errors import RequestError, short_repr, unknown
from explorekit.query.filter_parse import dump_model, is_model
from explorekit.query.overview import FACET_ENDPOINT, MATRIX_ENDPOINTS, parse_overview_body
from explorekit.query.requests import Request

_COMMON = {
    "filter",
    "limit",
    "offset",
    "with_payload",
    "with_vector",
    "with_vectors",
    "params",
    "score_threshold",
    "using",
    "lookup_from",
    "consistency",
    "shard_key",
    "timeout",
}
_KEYS = {
    "/points/search": _COMMON | {"vector"},
    "/points/recommend": _COMMON | {"positive", "negative", "strategy"},
    "/points/discover": _COMMON | {"target", "context"},
    "/points/query": _COMMON | {"query", "prefetch"},
    "/points/scroll": {
        "filter",
        "limit",
        "offset",
        "with_payload",
        "with_vector",
        "with_vectors",
        "order_by",
        "consistency",
        "shard_key",
        "timeout",
    },
}
ENDPOINTS = (
    "/points/search",
    "/points/search/batch",
    "/points/recommend",
    "/points/recommend/batch",
    "/points/discover",
    "/points/discover/batch",
    "/points/query",
    "/points/query/batch",
    "/points/scroll",
    *MATRIX_ENDPOINTS,
    FACET_ENDPOINT,
)


def is_rest_body(kind: str, body: Mapping[str, Any]) -> bool:
    """True when a batch item is written as a REST body rather than as keyword arguments."""
    return "with_vector" in body or (kind == "search" and "vector" in body) or "query" in body and kind != "search"


def detect_endpoint(body: Mapping[str, Any]) -> str:
    """Which endpoint a body belongs to, from its keys."""
    if "searches" in body:
        searches = body["searches"]
        if not isinstance(searches, list) or not searches:
            raise RequestError("searches: a batch body needs a non-empty list under 'searches'.")
        first = searches[0]
        if not isinstance(first, Mapping):
            raise RequestError(f"searches[0]: {short_repr(first)} is not a request body.")
        return detect_endpoint(first) + "/batch"
    if "query" in body or "prefetch" in body:
        return "/points/query"
    if "order_by" in body:
        return "/points/scroll"
    if "key" in body:
        return FACET_ENDPOINT
    if "sample" in body:
        return "/points/search/matrix/pairs"
    if "positive" in body or "negative" in body or "strategy" in body:
        return "/points/recommend"
    if "target" in body or "context" in body:
        return "/points/discover"
    if "vector" in body:
        return "/points/search"
    if set(body) <= _COMMON:  # no query at all: /points/query's scroll form
        return "/points/query"
    raise RequestError(
        f"Cannot tell which Qdrant endpoint the body {short_repr(body)} is for: it has "
        "none of 'query', 'vector', 'positive'/'negative', 'target'/'context', 'searches'. "
        "Pass endpoint='/points/query' (or another) explicitly."
    )


def parse_body(body: Mapping[str, Any], endpoint: str | None = None) -> tuple[list[Request], bool]:
    """Requests for one REST body, and whether the body was a batch."""
    if is_model(body):
        body = dump_model(body, "query: the request", RequestError)
    if not isinstance(body, Mapping):
        raise RequestError(f"query: the body must be a dict (a Qdrant REST JSON body), got {short_repr(body)}.")
    endpoint = _clean_endpoint(endpoint) if endpoint else detect_endpoint(body)
    if endpoint in MATRIX_ENDPOINTS or endpoint == FACET_ENDPOINT:
        return [parse_overview_body(body, endpoint)], False  # type: ignore[list-item]
    if endpoint.endswith("/batch"):
        searches = body.get("searches")
        if not isinstance(searches, list):
            raise RequestError(f"{endpoint}: the body needs a list under 'searches'.")
        single = endpoint[: -len("/batch")]
        if single in MATRIX_ENDPOINTS or single == FACET_ENDPOINT:
            raise RequestError(f"searches: {single} has no batch form; send each body on its own.")
        requests = []
        for i, item in enumerate(searches):
            if not isinstance(item, Mapping):
                raise RequestError(f"searches[{i}]: {short_repr(item)} is not a request body.")
            try:
                requests.append(_parse_single(item, single))
            except RequestError as err:
                raise RequestError(f"searches[{i}]: {err}") from None
        return requests, True
    return [_parse_single(body, endpoint)], False


def _clean_endpoint(endpoint: str) -> str:
    text = endpoint.strip()
    for prefix in ("POST ", "post "):
        text = text.removeprefix(prefix)
    if "/points/" in text:
        text = "/points/" + text.split("/points/", 1)[1]
    elif text.endswith(FACET_ENDPOINT):
        text = FACET_ENDPOINT
    if text not in ENDPOINTS:
        raise RequestError(unknown("endpoint", endpoint, ENDPOINTS, f"Use one of {list(ENDPOINTS)}."))
    return text


def _common(body: Mapping[str, Any], endpoint: str) -> dict[str, Any]:
    allowed = _KEYS[endpoint]
    for key in body:
        if key not in allowed:
            raise RequestError(
                unknown(
                    f"key in the {endpoint} body", key, sorted(allowed), f"The {endpoint} body takes {sorted(allowed)}."
                )
            )
    out: dict[str, Any] = {}
    for key in ("filter", "limit", "offset", "params", "score_threshold", "using", "lookup_from", "with_payload"):
        if body.get(key) is not None:  # null means the default, as in Qdrant
            out[key] = body[key]
    vectors = body.get("with_vector")
    vectors = body.get("with_vectors") if vectors is None else vectors
    if vectors is not None:
        out["with_vectors"] = vectors
    return out


def _parse_single(body: Mapping[str, Any], endpoint: str) -> Request:
    kwargs = _common(body, endpoint)
    if endpoint == "/points/search":
        vector = body.get("vector")
        if isinstance(vector, Mapping):  # {"name": "image", "vector": [...]}
            if "name" not in vector or "vector" not in vector:
                raise RequestError("vector: a named vector is written {'name': ..., 'vector': [...]}.")
            kwargs["using"], vector = vector["name"], vector["vector"]
        return Request.build("search", query=vector, **kwargs)
    if endpoint == "/points/recommend":
        return Request.build(
            "recommend",
            positive=body.get("positive") or [],
            negative=body.get("negative") or [],
            strategy=body.get("strategy"),
            lookup_default="default",
            **kwargs,
        )
    if endpoint == "/points/discover":
        if body.get("target") is None and not body.get("context"):
            raise RequestError("discover: target and/or context must be specified.")
        if "score_threshold" in kwargs:
            raise RequestError(
                "score_threshold: /points/discover has no score_threshold; "
                "use /points/query with {'discover': ...} for a threshold."
            )
        return Request.build(
            "discover", target=body.get("target"), context=body.get("context") or [], lookup_default="default", **kwargs
        )
    if endpoint == "/points/scroll":  # offset is the first id of the page; records have no score
        start = kwargs.pop("offset", None)
        return Request.build("scroll", order_by=body.get("order_by"), scroll_from=start, records=True, **kwargs)
    return _parse_query(body, kwargs)


def query_request(query: Any, kwargs: dict[str, Any]) -> Request:
    """The Request of one vector query (``nearest``, ``recommend``, ``discover``, ``context``, a
    vector or an id) with the other arguments in ``kwargs``; the stages of a multi-stage query
    (:mod:`explorekit.query.pipeline`) are built with it.

    >>> query_request({"nearest": [1.0, 0.0]}, {"limit": 3}).limit
    3
    """
    return _parse_query({"query": query}, dict(kwargs))


def _parse_query(body: Mapping[str, Any], kwargs: dict[str, Any]) -> Request:
    if body.get("prefetch"):
        raise RequestError(
            "prefetch: a multi-stage query (prefetch) is answered by col.query(body) as a whole; "
            "it cannot be one request of a search/recommend/discover batch."
        )
    query = body.get("query")
    if query is None:  # Qdrant's scroll form: filter, offset, limit; points in id order
        return Request.build("scroll", **kwargs)
    if not isinstance(query, Mapping):
        return Request.build("search", query=query, **kwargs)  # a vector or an id
    if len(query) != 1:
        raise RequestError(
            f"query: {short_repr(query)} must have exactly one of nearest, recommend, discover, context."
        )
    ((kind, value),) = query.items()
    if kind == "nearest":
        return Request.build("search", query=value, **kwargs)
    if kind == "order_by":  # points in the order of a payload value (query.order), score 1 as local mode
        return Request.build("scroll", order_by=value, **kwargs)
    if kind == "recommend":
        if not isinstance(value, Mapping):
            raise RequestError(
                f"query.recommend: {short_repr(value)} must be {{'positive': [...], 'negative': [...]}}."
            )
        extra = set(value) - {"positive", "negative", "strategy"}
        if extra:
            raise RequestError(f"query.recommend: unknown key(s) {sorted(extra)}; use positive, negative, strategy.")
        return Request.build(
            "recommend",
            positive=value.get("positive") or [],
            negative=value.get("negative") or [],
            strategy=value.get("strategy"),
            **kwargs,
        )
    if kind == "discover":
        if not isinstance(value, Mapping) or "target" not in value:
            raise RequestError("query.discover: needs {'target': ..., 'context': [...]}.")
        return Request.build("discover", target=value["target"], context=value.get("context") or [], **kwargs)
    if kind == "context":
        if isinstance(value, Mapping) and "pairs" in value:
            value = value["pairs"]
        return Request.build("context", target=None, context=value if value is not None else [], **kwargs)
    raise RequestError(
        unknown(
            "query kind",
            kind,
            ["nearest", "recommend", "discover", "context", "order_by"],
            "explorekit runs nearest, recommend, discover, context and order_by queries.",
        )
    )
