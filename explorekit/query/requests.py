"""Requests: keyword arguments and Qdrant REST bodies, checked and normalised.

Everything a query needs is parsed here, before any work is done, into a frozen
:class:`Request`. Its :meth:`Request.to_body` is the Query API body that
``result.attrs["query"]`` carries and that ``col.query`` accepts back.

Examples
--------
>>> r = Request.build("recommend", positive=[1, [0.5, 0.5]], strategy="best_score", limit=3)
>>> r.to_body()["query"]
{'recommend': {'positive': [1, [0.5, 0.5]], 'negative': [], 'strategy': 'best_score'}}
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from explorekit._support.errors import ExploreError, RequestError, short_repr, unknown
from explorekit._support.validation import FLOAT32_MAX, check_count, check_name, check_real
from explorekit.data.ids import is_id, normalize_id
from explorekit.query.filters import to_filter_dict
from explorekit.query.order import OrderBy, parse_order_by
from explorekit.query.params import SearchParams

Strategy = Literal["average_vector", "best_score", "sum_scores"]
STRATEGIES: tuple[str, ...] = ("average_vector", "best_score", "sum_scores")
RequestKind = Literal["search", "recommend", "discover", "context", "scroll"]


@dataclass(frozen=True)
class Example:
    """One example: a stored point's id, or a raw vector as given (float32, 1-D)."""

    id: int | str | None = None
    vector: np.ndarray | None = None

    @property
    def is_id(self) -> bool:
        return self.id is not None

    def to_json(self) -> Any:
        return self.id if self.is_id else self.vector.tolist()  # type: ignore[union-attr]  # float32 -> exact floats


def parse_example(value: Any, where: str) -> Example:
    """An id (int, str, UUID) or a vector (a list or 1-D array of finite numbers)."""
    if isinstance(value, Example):
        return value
    if is_id(value):
        try:
            return Example(id=normalize_id(value))
        except ExploreError as err:
            raise RequestError(f"{where}: {err}") from None
    if isinstance(value, dict) and set(value) <= {"id"} and value:
        return parse_example(value["id"], where)
    try:
        with np.errstate(over="ignore"):  # beyond float32's range -> inf, reported below
            array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError, OverflowError):
        array = None
    if array is None or array.ndim != 1 or array.size == 0:
        raise RequestError(
            f"{where}: {short_repr(value)} is neither a point id nor a vector. Use an id "
            "(unsigned int, string or UUID) or a flat list of numbers such as [0.1, 0.2, ...]."
        )
    if not np.isfinite(array).all():
        bad = np.flatnonzero(~np.isfinite(array))[:5].tolist()
        raise RequestError(
            f"{where}: the vector has NaN or infinite values (or values beyond float32's "
            f"range, about 3.4e38) at positions {bad}. Replace them (e.g. np.nan_to_num) "
            "before querying."
        )
    return Example(vector=array)


def parse_examples(values: Any, where: str) -> tuple[Example, ...]:
    if values is None:
        return ()
    if isinstance(values, np.ndarray):
        if values.ndim == 1:
            raise RequestError(
                f"{where}: got one flat array; pass a list of examples, e.g. {where}=[vector] for a single vector."
            )
        values = list(values)
    elif is_id(values) or isinstance(values, dict):
        values = [values]
    elif not isinstance(values, (list, tuple)):
        raise RequestError(f"{where}: {short_repr(values)} is not a list of ids and vectors.")
    return tuple(parse_example(v, f"{where}[{i}]") for i, v in enumerate(values))


def parse_pairs(context: Any, where: str = "context") -> tuple[tuple[Example, Example], ...]:
    """Context pairs as ``(positive, negative)`` tuples or ``{"positive", "negative"}`` dicts."""
    if context is None:
        return ()
    if isinstance(context, dict):
        context = [context]
    if not isinstance(context, (list, tuple)):
        raise RequestError(
            f"{where}: {short_repr(context)} is not a list of pairs. "
            'Use [(positive, negative), ...] or [{"positive": p, "negative": n}].'
        )
    pairs = []
    for i, pair in enumerate(context):
        here = f"{where}[{i}]"
        if hasattr(pair, "model_dump"):
            pair = pair.model_dump()
        if isinstance(pair, dict):
            extra = set(pair) - {"positive", "negative"}
            if extra or len(pair) != 2:
                raise RequestError(f"{here}: {short_repr(pair)} must have exactly the keys 'positive' and 'negative'.")
            pos, neg = pair["positive"], pair["negative"]
        elif isinstance(pair, (tuple, list)) and len(pair) == 2 and not _is_number(pair[0]):
            pos, neg = pair
        else:
            raise RequestError(f"{here}: {short_repr(pair)} is not a (positive, negative) pair.")
        pairs.append((parse_example(pos, f"{here}.positive"), parse_example(neg, f"{here}.negative")))
    return tuple(pairs)


def _is_number(value: Any) -> bool:
    return isinstance(value, (float, np.floating))


@dataclass(frozen=True)
class Lookup:
    """Where example ids are looked up: another collection (object or name) and a vector name."""

    collection: Any
    vector: str | None = None

    def to_json(self) -> dict:
        name = self.collection if isinstance(self.collection, str) else getattr(self.collection, "name", None)
        out: dict[str, Any] = {"collection": name if name is not None else "<unnamed collection>"}
        if self.vector is not None:
            out["vector"] = self.vector
        return out


def parse_lookup(value: Any) -> Lookup | None:
    if value is None:
        return None
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, dict):
        extra = set(value) - {"collection", "vector", "shard_key"}
        if "collection" not in value or extra:
            raise RequestError(
                f"lookup_from: {short_repr(value)} needs the key 'collection' (and "
                "optionally 'vector'), e.g. {'collection': other, 'vector': 'image'}."
            )
        vector = check_name(
            value.get("vector"), "lookup_from['vector']", "Give the vector name to look ids up in, e.g. 'image'."
        )
        return Lookup(value["collection"], vector)
    return Lookup(value, None)  # a bare collection object or name (checked when it is looked up)


@dataclass(frozen=True)
class Exclude:
    """``with_payload={"exclude": [...]}``: every payload field except these key paths."""

    keys: tuple[str, ...]

    def to_json(self) -> dict:
        return {"exclude": list(self.keys)}


PayloadSelector = bool | tuple[str, ...] | Exclude


def _names(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise RequestError(
        f"{where}: {short_repr(value)} is not a list of payload keys. Use names or key paths, "
        'e.g. ["city", "country.name", "country.cities[].name"].'
    )


def _check_payload_selector(value: Any, where: str = "with_payload") -> PayloadSelector:
    """True, False, key paths to include (a list, or ``{"include": [...]}``) or to exclude
    (``{"exclude": [...]}``); qdrant-client's ``PayloadSelectorInclude/Exclude`` too."""
    if hasattr(value, "model_dump") and not isinstance(value, dict):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, (bool, Exclude)):
        return value
    if isinstance(value, dict) and len(value) == 1 and ("include" in value or "exclude" in value):
        ((kind, keys),) = value.items()
        keys = _names(keys, f"{where}[{kind!r}]")
        return keys if kind == "include" else Exclude(keys)
    if isinstance(value, (str, list, tuple)):
        return _names(value, where)
    raise RequestError(
        f"{where}: {short_repr(value)} must be True, False, a list of payload keys, "
        '{"include": [...]} or {"exclude": [...]}.'
    )


def _check_vector_selector(value: Any, where: str = "with_vectors") -> bool | tuple[str, ...]:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise RequestError(f"{where}: {short_repr(value)} must be True, False or a list of vector names.")


def parse_selectors(with_payload: Any, with_vectors: Any) -> tuple[PayloadSelector, bool | tuple[str, ...]]:
    """``with_payload`` and ``with_vectors`` checked and normalised; None means the default
    (payload shown, no vectors).

    >>> parse_selectors(["city"], False)
    (('city',), False)
    >>> parse_selectors({"exclude": ["country.cities"]}, None)
    (Exclude(keys=('country.cities',)), False)
    """
    with_payload = True if with_payload is None else with_payload
    with_vectors = False if with_vectors is None else with_vectors
    return _check_payload_selector(with_payload), _check_vector_selector(with_vectors)


def selector_json(selector: PayloadSelector | bool | tuple[str, ...]) -> Any:
    """A selector as Qdrant JSON: a bool, a list of names, or ``{"exclude": [...]}``."""
    if isinstance(selector, Exclude):
        return selector.to_json()
    return list(selector) if isinstance(selector, tuple) else selector


@dataclass(frozen=True)
class Request:
    """One normalised query; built by the query methods and by ``col.query(body)``."""

    kind: RequestKind
    query: Example | None = None
    positive: tuple[Example, ...] = ()
    negative: tuple[Example, ...] = ()
    strategy: str = "average_vector"
    target: Example | None = None
    context: tuple[tuple[Example, Example], ...] = ()
    using: str | None = None
    lookup: Lookup | None = None
    lookup_default: Literal["using", "default"] = "using"
    filter: Any = None
    limit: int = 10
    offset: int = 0
    score_threshold: float | None = None
    params: SearchParams = field(default_factory=SearchParams)
    with_payload: PayloadSelector = True
    with_vectors: bool | tuple[str, ...] = False
    order_by: OrderBy | None = None  # a scroll's order (kind "scroll": Qdrant's query-less body)
    scroll_from: int | str | None = None  # /points/scroll's offset: the first id of the page
    records: bool = False  # answered as /points/scroll does: records, no score column

    @classmethod
    def build(cls, kind: RequestKind, **kwargs: Any) -> "Request":
        """Check and normalise the keyword arguments of one query method."""
        out: dict[str, Any] = {"kind": kind}
        if kind == "search":
            if "query" not in kwargs or kwargs["query"] is None:
                raise RequestError("search: a query is needed: a vector or the id of a stored point.")
            out["query"] = parse_example(kwargs.pop("query"), "query")
        elif kind == "recommend":
            out["positive"] = parse_examples(kwargs.pop("positive", ()), "positive")
            out["negative"] = parse_examples(kwargs.pop("negative", ()), "negative")
            strategy = kwargs.pop("strategy", None) or "average_vector"
            strategy = getattr(strategy, "value", strategy)
            if strategy not in STRATEGIES:
                raise RequestError(
                    unknown("strategy", strategy, STRATEGIES, "Use 'average_vector', 'best_score' or 'sum_scores'.")
                )
            out["strategy"] = strategy
            if not out["positive"] and not out["negative"]:
                raise RequestError(
                    "recommend: at least one positive or negative example is needed "
                    "(ids or vectors): positive=[...], negative=[...]."
                )
            if strategy == "average_vector" and not out["positive"]:
                raise RequestError(
                    "recommend: positive examples should not be empty with the "
                    "'average_vector' strategy. Add positives, or use "
                    "strategy='best_score' or 'sum_scores' to search with negatives only."
                )
        elif kind in ("discover", "context"):
            target = kwargs.pop("target", None)
            out["target"] = None if target is None else parse_example(target, "target")
            out["context"] = parse_pairs(kwargs.pop("context", ()))
            out["kind"] = "context" if out["target"] is None else "discover"
        elif kind == "scroll":  # Qdrant's /points/query without a query: points in id (or order_by) order
            out["order_by"] = parse_order_by(kwargs.pop("order_by", None))
            out["records"] = bool(kwargs.pop("records", False))
            start = kwargs.pop("scroll_from", None)
            if start is not None:
                if out["order_by"] is not None:
                    raise RequestError(
                        "offset: a scroll ordered by a payload key takes no offset id (Qdrant's rule); "
                        "use order_by's start_from instead."
                    )
                out["scroll_from"] = parse_example(start, "offset").id
                if out["scroll_from"] is None:
                    raise RequestError(f"offset: {short_repr(start)} is not a point id (the first id of the page).")
            if kwargs.get("score_threshold") is not None:
                raise RequestError(
                    "score_threshold: a query is needed to use a score threshold (Qdrant's rule); "
                    "this body has no query. Add a query or remove score_threshold."
                )
        else:
            raise RequestError(f"Unknown request kind {kind!r}.")
        out["lookup"] = parse_lookup(kwargs.pop("lookup_from", None))
        out["lookup_default"] = kwargs.pop("lookup_default", "using")
        out["using"] = check_name(
            kwargs.pop("using", None),
            "using",
            "Pass a vector name, e.g. using='image', or None for the unnamed vector.",
        )
        out["filter"] = kwargs.pop("filter", None)
        out["limit"] = check_count(kwargs.pop("limit", 10), "limit", 1)
        offset = kwargs.pop("offset", 0)
        out["offset"] = check_count(0 if offset is None else offset, "offset", 0)
        threshold = kwargs.pop("score_threshold", None)
        if threshold is not None:
            threshold = check_real(
                threshold,
                "score_threshold",
                accepted=(
                    f"Use a finite number within float32's range (+-{FLOAT32_MAX:.3g}; scores are float32), "
                    "or None for no threshold."
                ),
            )
        out["score_threshold"] = threshold
        out["params"] = SearchParams.parse(kwargs.pop("params", None))
        out["with_payload"], out["with_vectors"] = parse_selectors(
            kwargs.pop("with_payload", True), kwargs.pop("with_vectors", False)
        )
        if kwargs:
            raise RequestError(
                f"{kind}: unexpected argument(s) {sorted(kwargs)}. See help(Collection.{kind if kind != 'context' else 'discover'})."
            )
        return cls(**out)

    def _records_body(self) -> dict:
        """The request as a ``/points/scroll`` body (``col.query(body, endpoint="/points/scroll")``)."""
        body: dict[str, Any] = {}
        if self.filter is not None:
            body["filter"] = _filter_json(self.filter)
        body["limit"] = self.limit
        if self.scroll_from is not None:
            body["offset"] = self.scroll_from
        if self.order_by is not None:
            body["order_by"] = self.order_by.to_json()
        body["with_payload"] = selector_json(self.with_payload)
        body["with_vector"] = selector_json(self.with_vectors)
        return body

    def replace(self, **changes: Any) -> "Request":
        return replace(self, **changes)

    @property
    def referenced_ids(self) -> list[int | str]:
        """Every point id given as an example anywhere in the request."""
        examples = [
            self.query,
            self.target,
            *self.positive,
            *self.negative,
            *(e for pair in self.context for e in pair),
        ]
        return [e.id for e in examples if e is not None and e.is_id]

    def left_out_ids(self, here: Any, source: Any) -> list[int | str]:
        """The ids this request leaves out of its answer in ``here``: its example ids when they
        are looked up in ``here`` (:func:`same_collection` with the lookup ``source``), none when
        they come from another collection (Qdrant's rule; the one place it is decided).

        >>> class Here:
        ...     name = "docs"
        >>> r = Request("search", query=Example(id=7))
        >>> r.left_out_ids(Here(), None), r.left_out_ids(Here(), "docs"), r.left_out_ids(Here(), "other")
        ([7], [7], [])
        """
        return self.referenced_ids if same_collection(here, source) else []

    def to_body(self) -> dict:
        """The request as a Qdrant ``/points/query`` body (JSON-able), which ``col.query`` accepts."""
        query: Any
        if self.kind == "scroll":
            query = None if self.order_by is None else {"order_by": self.order_by.to_json()}
        elif self.kind == "search":
            query = {"nearest": self.query.to_json()}  # type: ignore[union-attr]
        elif self.kind == "recommend":
            query = {
                "recommend": {
                    "positive": [e.to_json() for e in self.positive],
                    "negative": [e.to_json() for e in self.negative],
                    "strategy": self.strategy,
                }
            }
        else:
            pairs = [{"positive": p.to_json(), "negative": n.to_json()} for p, n in self.context]
            query = (
                {"context": pairs}
                if self.kind == "context"
                else {"discover": {"target": self.target.to_json(), "context": pairs}}
            )  # type: ignore[union-attr]
        if self.records:
            return self._records_body()
        body: dict[str, Any] = {} if query is None else {"query": query}
        if self.using is not None:
            body["using"] = self.using
        if self.lookup is not None:
            body["lookup_from"] = self.lookup.to_json()
        if self.filter is not None:
            body["filter"] = _filter_json(self.filter)
        body["limit"] = self.limit
        if self.offset:
            body["offset"] = self.offset
        if self.score_threshold is not None:
            body["score_threshold"] = self.score_threshold
        params = self.params.to_dict()
        if params:
            body["params"] = params
        body["with_payload"] = selector_json(self.with_payload)
        body["with_vector"] = selector_json(self.with_vectors)
        return body


def _filter_json(value: Any) -> Any:
    if isinstance(value, (dict, str)):
        return value
    if hasattr(value, "model_dump"):
        return to_filter_dict(value)
    return "<boolean mask>"


def same_collection(here: Any, source: Any) -> bool:
    """Whether ``source`` (a lookup_from collection: an object, a name, or None for none) is
    ``here``: the same object, or the same name when ``here`` has one.

    >>> class Here:
    ...     name = "docs"
    >>> same_collection(Here(), None), same_collection(Here(), "docs"), same_collection(Here(), "other")
    (True, True, False)
    """
    if source is None or source is here:
        return True
    name = source if isinstance(source, str) else getattr(source, "name", None)
    return here.name is not None and name == here.name
