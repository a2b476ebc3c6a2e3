"""Multi-stage queries (Qdrant's Query API with ``prefetch``): bodies parsed into a tree of stages.

A :class:`Stage` is one node of the tree: its own query (a vector query as a checked
:class:`~explorekit.query.requests.Request`, or fusion, formula, MMR, order_by, sample, or none),
its own ``filter``, ``limit``, ``score_threshold``, ``using``, ``lookup_from`` and ``params``,
and the stages it prefetches from. A :class:`Pipeline` is the top stage plus what only the top
has (``offset``, ``with_payload``, ``with_vectors``, grouping). Everything is checked here,
before any work; :mod:`explorekit.engine.stages` runs the tree.

Stage paths name every node: ``query`` for the top, ``prefetch[0]``,
``prefetch[0].prefetch[1]``, ... (``result.attrs["stages"]`` uses them).

Examples
--------
>>> p = parse_pipeline({"prefetch": [{"query": [0.1, 0.2], "using": "small", "limit": 100}],
...                     "query": [0.1, 0.2, 0.3], "using": "full", "limit": 5})
>>> p.top.kind, p.top.prefetch[0].kind, p.top.prefetch[0].path, p.top.limit
('nearest', 'nearest', 'prefetch[0]', 5)
>>> parse_pipeline({"prefetch": [{"query": [1.0]}, {"query": [2.0]}], "query": {"rrf": {"k": 60}}}).top.spec
{'method': 'rrf', 'k': 60, 'weights': None}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from explorekit._support.errors import ExploreError, RequestError, short_repr, unknown
from explorekit._support.validation import FLOAT32_MAX, check_count, check_name, check_real
from explorekit.query.filter_parse import dump_model, is_model
from explorekit.query.formula_parse import parse_formula
from explorekit.query.order import parse_order_by
from explorekit.query.requests import Request, parse_selectors
from explorekit.query.rest import parse_body, query_request
from explorekit.query.results import frame_from_columns

DEFAULT_LIMIT = 10  # Qdrant's default for the top and for every prefetch without a limit
MMR_CANDIDATES_LIMIT_MAX = 16384
MAX_DEPTH = 64  # prefetch levels (as filters: explorekit's bound, far beyond any real pipeline)  # Qdrant's bound on mmr.candidates_limit
VECTOR_KINDS = ("nearest", "recommend", "discover", "context")
MERGING_KINDS = ("fusion", "formula")  # need prefetches: they only combine candidates
KINDS = (*VECTOR_KINDS, "mmr", "fusion", "formula", "order_by", "sample", "scroll")
_STAGE_KEYS = {"prefetch", "query", "using", "filter", "params", "score_threshold", "limit", "lookup_from"}
_TOP_KEYS = _STAGE_KEYS | {
    "offset",
    "with_payload",
    "with_vector",
    "with_vectors",
    "consistency",
    "shard_key",
    "timeout",
}
_GROUP_KEYS = (_TOP_KEYS - {"offset"}) | {"group_by", "group_size", "with_lookup"}
_QUERY_KINDS = ("nearest", "recommend", "discover", "context", "fusion", "rrf", "formula", "order_by", "sample")


@dataclass(frozen=True)
class Stage:
    """One stage of a multi-stage query.

    ``kind`` is one of :data:`KINDS`; ``request`` the vector query of vector kinds and of
    ``mmr`` (its candidate search), else None; ``spec`` the settings of the other kinds
    (fusion: ``method``, ``k``, ``weights``; mmr: ``diversity``, ``candidates_limit``; formula:
    ``formula``, the parsed :class:`~explorekit.query.formula_parse.Formula`; order_by: ``key``, ``direction``, ``start_from``). ``filter`` is
    the stage's own filter as given (the engine merges the filters of the stages above into
    it, as Qdrant does).
    """

    kind: str
    path: str
    limit: int
    request: Request | None = None
    spec: Mapping[str, Any] = field(default_factory=dict)
    prefetch: tuple[Stage, ...] = ()
    filter: Any = None
    score_threshold: float | None = None
    offset: int = 0
    using: str | None = None

    def walk(self) -> list[Stage]:
        """Every stage of this subtree, children before their parent (the order they run in)."""
        out: list[Stage] = []
        for child in self.prefetch:
            out += child.walk()
        return [*out, self]

    def with_limits(self, limit: int) -> Stage:
        """This subtree with every prefetch limit set to ``limit`` (as query_points_groups does;
        :meth:`with_limit` sets this stage's own)."""
        children = tuple(c.with_limits(limit).with_limit(limit) for c in self.prefetch)
        return replace(self, prefetch=children)

    def with_limit(self, limit: int) -> Stage:
        """This stage asking for ``limit`` points (an MMR stage keeps its ``candidates_limit``)."""
        request = self.request
        if request is not None and not (self.kind == "mmr" and self.spec["candidates_limit"] is not None):
            request = request.replace(limit=limit)
        return replace(self, limit=limit, request=request)


@dataclass(frozen=True)
class Groups:
    """``group_by`` (a payload key), ``group_size`` (hits per group) and ``limit`` (groups)."""

    group_by: str
    group_size: int
    limit: int


@dataclass(frozen=True)
class Pipeline:
    """A multi-stage query: the top stage, what to show, and optional grouping."""

    top: Stage
    with_payload: bool | tuple[str, ...] = True
    with_vectors: bool | tuple[str, ...] = False
    body: Mapping[str, Any] = field(default_factory=dict)  # as given, for result.attrs["query"]
    groups: Groups | None = None

    def stages(self) -> list[Stage]:
        return self.top.walk()

    def as_run(self, points: int) -> Pipeline:
        """The stages as they run: a grouped query asks every stage (the top included, from its
        first point) for all ``points`` of the collection, as qdrant-client's
        ``query_points_groups`` does; an ungrouped one as it is. The one rule for the local
        engine and the Qdrant backend's stage chart.

        >>> p = Pipeline(Stage("scroll", "query", 3, offset=2), groups=Groups("g", 1, 3))
        >>> top = p.as_run(50).top
        >>> top.limit, top.offset
        (50, 0)
        """
        if self.groups is None:
            return self
        everything = max(points, 1)
        return replace(self, top=replace(self.top.with_limits(everything).with_limit(everything), offset=0))


def needs_pipeline(body: Mapping[str, Any]) -> bool:
    """True for a ``/points/query`` body that only the stage engine answers (prefetch, fusion, ...).

    >>> needs_pipeline({"query": [1.0, 2.0]}), needs_pipeline({"query": {"fusion": "rrf"}, "prefetch": []})
    (False, True)
    """
    if "prefetch" in body and body["prefetch"] not in (None, []):
        return True
    if "group_by" in body:
        return True
    query = _plain(body.get("query"))
    return isinstance(query, Mapping) and bool(set(query) & {"mmr", "fusion", "rrf", "formula", "sample"})


def parse_pipeline(body: Any, groups: bool = False) -> Pipeline:
    """A checked :class:`Pipeline` from a ``/points/query`` (or ``/points/query/groups``) body."""
    try:
        return _parse_pipeline(body, groups)
    except RecursionError:
        raise RequestError(
            f"query: the body is nested more than Python can follow (prefetch at most {MAX_DEPTH} levels "
            "deep; filters and values far less deep). Flatten it."
        ) from None


def _parse_pipeline(body: Any, groups: bool) -> Pipeline:
    body = _plain(body)
    if not isinstance(body, Mapping):
        raise RequestError(f"query: the body must be a dict (a Qdrant REST JSON body), got {short_repr(body)}.")
    allowed = _GROUP_KEYS if groups or "group_by" in body else _TOP_KEYS
    _check_keys(body, allowed, "/points/query/groups" if allowed is _GROUP_KEYS else "/points/query")
    offset = body.get("offset")
    offset = check_count(0 if offset is None else offset, "offset", 0)
    top = _stage(body, "query", offset)
    with_payload = body.get("with_payload", True)
    vectors = body.get("with_vector", body.get("with_vectors"))
    selected = parse_selectors(True if with_payload is None else with_payload, False if vectors is None else vectors)
    grouping = None
    if body.get("with_lookup") is not None:
        raise RequestError(
            "with_lookup: looking groups up in another collection is not supported by explorekit; "
            "retrieve them with other.retrieve(result['group'].unique())."
        )
    if allowed is _GROUP_KEYS:
        grouping = _groups(body)
    return Pipeline(top, *selected, body=_jsonable(body), groups=grouping)


def _groups(body: Mapping[str, Any]) -> Groups:
    key = body.get("group_by")
    if not isinstance(key, str) or not key:
        raise RequestError(f"group_by: {short_repr(key)} is not a payload key. Give one, e.g. group_by='document_id'.")
    size = body.get("group_size")
    limit = body.get("limit")
    return Groups(
        key,
        check_count(3 if size is None else size, "group_size", 1),
        check_count(DEFAULT_LIMIT if limit is None else limit, "limit", 1),
    )


def _stage(body: Mapping[str, Any], path: str, offset: int = 0) -> Stage:
    prefetch = _plain(body.get("prefetch"))
    if prefetch is None:
        prefetch = []
    elif isinstance(prefetch, Mapping):
        prefetch = [prefetch]
    elif not isinstance(prefetch, (list, tuple)):
        raise RequestError(f"{path}.prefetch: {short_repr(prefetch)} is not a list of prefetch bodies.")
    children = []
    if prefetch and path.count("prefetch[") >= MAX_DEPTH:
        raise RequestError(f"prefetch: nested more than {MAX_DEPTH} levels deep. Flatten the query.")
    prefix = "" if path == "query" else path + "."
    for i, item in enumerate(prefetch):
        here = f"{prefix}prefetch[{i}]"
        item = _plain(item)
        if not isinstance(item, Mapping):
            raise RequestError(f"{here}: {short_repr(item)} is not a prefetch body (a dict with query, limit, ...).")
        _check_keys(item, _STAGE_KEYS, here)
        children.append(_stage(item, here))
    limit = body.get("limit")
    limit = check_count(DEFAULT_LIMIT if limit is None else limit, _at(path, "limit"), 1)
    threshold = body.get("score_threshold")
    if threshold is not None:
        threshold = check_real(
            threshold,
            _at(path, "score_threshold"),
            accepted=f"Use a finite number within float32's range (+-{FLOAT32_MAX:.3g}), or None for no threshold.",
        )
    using = check_name(body.get("using"), _at(path, "using"), "Pass a vector name, or None for the unnamed vector.")
    flt = body.get("filter")
    query = _plain(body.get("query"))
    common = dict(path=path, limit=limit, prefetch=tuple(children), filter=flt, score_threshold=threshold)
    common.update(offset=offset, using=using)
    if query is None:
        if children:
            raise RequestError(f"{path}: a query is needed to merge the prefetches (e.g. {{'fusion': 'rrf'}}).")
        if threshold is not None:
            raise RequestError(f"{_at(path, 'score_threshold')}: a query is needed to use the score_threshold.")
        return Stage("scroll", **common)
    if not isinstance(query, Mapping):
        return Stage("nearest", request=_vector(query, body, path, offset), **common)
    kind = _query_kind(query, path)
    if kind in VECTOR_KINDS and "mmr" not in query:
        return Stage(kind, request=_vector(query, body, path, offset), **common)
    if kind == "nearest":
        spec = _mmr(query, path)
        limit_ = spec["candidates_limit"] if spec["candidates_limit"] is not None else limit
        candidates = _vector({"nearest": query["nearest"]}, body, path, 0, limit=max(limit_, 1))
        return Stage("mmr", request=candidates, spec=spec, **common)
    if kind in ("fusion", "rrf"):
        if using is not None:
            raise RequestError(f"{_at(path, 'using')}: fusion queries cannot be combined with the 'using' field.")
        return Stage("fusion", spec=_fusion(query, kind, path), **common)
    if kind == "formula":
        try:
            formula = parse_formula(query)
        except ExploreError as err:
            raise type(err)(f"{path}.query: {err}") from None
        return Stage("formula", spec={"formula": formula}, **common)
    if kind == "order_by":
        if threshold is not None:
            raise RequestError(f"{_at(path, 'score_threshold')}: can't use score_threshold with an order_by query.")
        return Stage(
            "order_by", spec={"order_by": parse_order_by(query["order_by"], f"{path}.query.order_by")}, **common
        )
    sample = getattr(query["sample"], "value", query["sample"])
    if sample != "random":
        raise RequestError(unknown("sample", sample, ["random"], "Qdrant samples with {'sample': 'random'}."))
    return Stage("sample", spec={"sample": "random"}, **common)


def _query_kind(query: Mapping[str, Any], path: str) -> str:
    keys = [k for k in query if k in _QUERY_KINDS]
    rest = set(query) - set(keys) - {"mmr", "defaults"}
    if len(keys) != 1 or rest:
        raise RequestError(
            unknown(
                f"{path}.query kind",
                short_repr(dict(query)),
                _QUERY_KINDS,
                f"A query is a vector, an id, or a dict with exactly one of {list(_QUERY_KINDS)}.",
            )
        )
    if "mmr" in query and keys[0] != "nearest":
        raise RequestError(f"{path}.query: 'mmr' goes with 'nearest' only: {{'nearest': v, 'mmr': {{...}}}}.")
    return keys[0]


def _vector(query: Any, body: Mapping[str, Any], path: str, offset: int, limit: int | None = None) -> Request:
    kwargs: dict[str, Any] = {"limit": limit if limit is not None else body.get("limit") or DEFAULT_LIMIT}
    kwargs["offset"] = offset
    for key in ("using", "score_threshold", "params", "lookup_from"):
        if body.get(key) is not None:
            kwargs[key] = body[key]
    kwargs["with_payload"] = False
    try:
        return query_request(query, kwargs)
    except RequestError as err:
        raise RequestError(f"{path}: {err}") from None


def _mmr(query: Mapping[str, Any], path: str) -> dict[str, Any]:
    mmr = _plain(query.get("mmr"))
    mmr = {} if mmr is None else mmr
    if not isinstance(mmr, Mapping) or set(mmr) - {"diversity", "candidates_limit"}:
        raise RequestError(f"{path}.query.mmr: {short_repr(mmr)} takes 'diversity' (0..1) and 'candidates_limit'.")
    diversity = mmr.get("diversity")
    diversity = 0.5 if diversity is None else check_real(diversity, f"{path}.query.mmr.diversity", 0.0, 1.0)
    candidates = mmr.get("candidates_limit")
    if candidates is not None:
        candidates = check_count(candidates, f"{path}.query.mmr.candidates_limit", 0, MMR_CANDIDATES_LIMIT_MAX)
    return {"diversity": diversity, "candidates_limit": candidates}


def _fusion(query: Mapping[str, Any], kind: str, path: str) -> dict[str, Any]:
    if kind == "fusion":
        method = getattr(query["fusion"], "value", query["fusion"])
        if method not in ("rrf", "dbsf"):
            raise RequestError(
                unknown("fusion", method, ["rrf", "dbsf"], "Use {'fusion': 'rrf'} or {'fusion': 'dbsf'}.")
            )
        return {"method": method, "k": None, "weights": None}
    rrf = _plain(query["rrf"]) or {}
    if not isinstance(rrf, Mapping) or set(rrf) - {"k", "weights"}:
        raise RequestError(f"{path}.query.rrf: {short_repr(rrf)} takes 'k' (>= 1) and 'weights' (one per prefetch).")
    k = rrf.get("k")
    if k is not None:
        k = check_count(k, f"{path}.query.rrf.k", 1)
    weights = rrf.get("weights")
    if weights is not None:
        if not isinstance(weights, (list, tuple)):
            raise RequestError(f"{path}.query.rrf.weights: {short_repr(weights)} is not a list of numbers.")
        weights = [check_real(w, f"{path}.query.rrf.weights[{i}]") for i, w in enumerate(weights)]
    return {"method": "rrf", "k": k, "weights": weights}


def _check_keys(body: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in body:
        if key not in allowed:
            raise RequestError(unknown(f"key in {where}", key, sorted(allowed), f"{where} takes {sorted(allowed)}."))


def _at(path: str, key: str) -> str:
    return key if path == "query" else f"{path}.{key}"


def _plain(value: Any) -> Any:
    """A qdrant-client model (a Prefetch, a query, a request) as its JSON dict, by the one model
    conversion (:func:`~explorekit.query.filter_parse.dump_model`); anything else as it is.

    >>> _plain({"query": [1.0]})
    {'query': [1.0]}
    """
    return dump_model(value, "query: the request", RequestError) if is_model(value) else value


def _jsonable(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body as given, as plain JSON (for ``attrs["query"]``, which pandas deep-copies): models
    dumped, arrays as lists, and any other object (a Collection given as ``lookup_from``'s
    collection) as its name, or ``"<TypeName>"`` when it has none.

    >>> class Col:
    ...     name = "other"
    >>> _jsonable({"prefetch": [{"lookup_from": {"collection": Col()}}], "limit": 3})
    {'prefetch': [{'lookup_from': {'collection': 'other'}}], 'limit': 3}
    """
    return {k: _json_value(v) for k, v in body.items()}


def _json_value(value: Any) -> Any:
    if is_model(value):
        return _json_value(_plain(value))
    if isinstance(value, Mapping):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if all(type(v) in (int, float, str, bool) for v in value):  # a vector or a list of ids: as it is
            return list(value)
        return [_json_value(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else f"<{type(value).__name__}>"


def from_kwargs(query: Any = None, **kwargs: Any) -> dict[str, Any]:
    """The body of ``col.query(query=..., prefetch=..., ...)`` keyword calls (the methods have
    renamed qdrant-client's names already: :func:`explorekit.query.keywords.qdrant_names`).

    >>> from_kwargs([1.0, 2.0], limit=3, filter={"must": []})
    {'query': [1.0, 2.0], 'limit': 3, 'filter': {'must': []}}
    """
    body: dict[str, Any] = {} if query is None else {"query": query}
    for key, value in kwargs.items():
        if value is not None:
            body[key] = list(value) if key == "prefetch" and isinstance(value, Sequence) else value
    return body


def merge_filters(outer: dict | None, inner: dict | None) -> dict | None:
    """Qdrant's merge of a propagated filter with a stage's own (``Filter::merge_opts``).

    ``must``, ``must_not`` and ``should`` are concatenated, so the ``should`` clauses of both
    become alternatives of each other; ``min_should`` conditions are concatenated with the larger
    ``min_count``.

    >>> merge_filters({"should": [{"has_id": [1]}]}, {"should": [{"has_id": [2]}], "must": {"has_id": [1, 2]}})
    {'must': [{'has_id': [1, 2]}], 'should': [{'has_id': [1]}, {'has_id': [2]}]}
    """
    if outer is None:
        return inner
    if inner is None:
        return outer
    out: dict[str, Any] = {}
    for key in ("must", "must_not", "should"):
        parts = _clause(outer.get(key)) + _clause(inner.get(key))
        if outer.get(key) is not None or inner.get(key) is not None:
            out[key] = parts
    first, second = outer.get("min_should"), inner.get("min_should")
    if first is not None or second is not None:
        if first is None or second is None:
            out["min_should"] = first if second is None else second
        else:
            out["min_should"] = {
                "conditions": [*first["conditions"], *second["conditions"]],
                "min_count": max(first["min_count"], second["min_count"]),
            }
    return out


def _clause(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class StageFrames(list):
    """``result.attrs["stages"]``: one frame per stage (``id``, ``score``, ``rank``), children
    before parents, the top last; each frame's ``attrs`` name its ``stage`` path, ``kind`` and
    ``using`` and ``limit``. Compared by identity, so pandas can compare the attrs of frames holding it."""

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict) -> StageFrames:  # pandas deep-copies attrs on every operation
        return self


def stage_frame(stage: Stage, ids: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """The answer of one stage: ``id``, ``score`` and 0-based ``rank``, with the stage in ``attrs``.

    >>> f = stage_frame(Stage("fusion", "query", 10), np.array([4, 2]), np.array([0.5, 0.25]))
    >>> f.values.tolist(), f.attrs["stage"]
    ([[4.0, 0.5, 0.0], [2.0, 0.25, 1.0]], 'query')
    """
    columns = {"id": ids, "score": np.asarray(scores, dtype=np.float64), "rank": np.arange(len(ids))}
    frame = frame_from_columns(columns, len(ids))
    frame.attrs.update(stage=stage.path, kind=stage.kind, using=stage.using, limit=stage.limit)
    return frame


def parse_query_body(body: Any, endpoint: str | None = None) -> tuple[list[Request | Pipeline], bool]:
    """What ``col.query(body)`` runs: Requests for single-stage bodies, Pipelines for the rest
    (prefetch, fusion, formula, MMR, order_by, sample, groups), and whether it was a batch.

    >>> items, batch = parse_query_body({"searches": [{"query": [1.0]}, {"query": {"sample": "random"}}]})
    >>> [type(i).__name__ for i in items], batch
    (['Request', 'Pipeline'], True)
    """
    plain = _plain(body) if not isinstance(body, Mapping) else body
    where = (endpoint or "").strip().removeprefix("POST ").strip()
    if where.endswith("/points/query/groups") or (isinstance(plain, Mapping) and "group_by" in plain):
        return [parse_pipeline(plain, groups=True)], False
    if not isinstance(plain, Mapping):
        return parse_body(body, endpoint)  # its own message for a body that is not a dict
    if endpoint is None or where.endswith("/points/query/batch"):
        searches = plain.get("searches")
        if isinstance(searches, list) and any(
            isinstance(_plain(s), Mapping) and needs_pipeline(_plain(s)) for s in searches
        ):
            items: list[Request | Pipeline] = []
            for i, item in enumerate(searches):
                try:
                    items += parse_query_body(item, "/points/query")[0]
                except RequestError as err:
                    raise RequestError(f"searches[{i}]: {err}") from None
            return items, True
    if (endpoint is None or where.endswith("/points/query")) and needs_pipeline(plain):
        return [parse_pipeline(plain)], False
    return parse_body(body, endpoint)
