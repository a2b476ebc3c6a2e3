"""One explorekit :class:`~explorekit.query.requests.Request` -> one qdrant-client ``QueryRequest``,
and the points Qdrant returns -> the DataFrame a local Collection would return. ``remote`` arguments
are QdrantCollection objects (typed Any here: that class imports this module).

Every request goes through the Query API (``query_batch_points``): nearest, recommend (all three
strategies), discover and context. What cannot be sent as it is:

* string ids are sent as their uuid5 (see :mod:`._convert`), also inside ``has_id`` filters;
* a pandas query string is translated to a Qdrant filter (``filters.pandas_query_to_filter``);
* a boolean array is aligned with ``col.ids`` and sent as ``has_id`` of the passing ids;
* ``lookup_from`` a *local* Collection: its ids are turned into vectors here and sent raw (ids
  of another collection are never excluded, so the answer is the same);
* a context query with no pairs (every point scores 0) is sent as a plain scroll, score 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from explorekit._support.errors import FilterError, RequestError, UnknownVectorError, short_repr
from explorekit.backends._convert import (
    ID_FIELD,
    RemoteSpace,
    RemoteUnknownIdError,
    check_dim,
    original_id,
    qdrant_modules,
    server_errors,
    to_point_id,
)
from explorekit.collection import Collection
from explorekit.data.ids import normalize_id
from explorekit.data.payload import Payload
from explorekit.engine.prepare import check_example_order
from explorekit.query.filters import pandas_query_to_filter, to_filter_dict, validate_filter
from explorekit.query.pipeline import Pipeline, Stage, StageFrames, merge_filters, stage_frame
from explorekit.query.requests import Example, Exclude, PayloadSelector, Request
from explorekit.query.results import id_array, result_frame, vector_cells, vector_names, with_order_values
from explorekit.scoring.distances import passes_threshold


@dataclass
class Outgoing:
    """A request made ready for the server."""

    request: Request  # as the user gave it: result.attrs["query"] comes from it
    space: RemoteSpace
    body: Any  # qdrant_client.models.QueryRequest
    empty_context: bool = False


def outgoing(remote: Any, request: Request) -> Outgoing:
    """Check ``request`` against the remote collection and build its QueryRequest."""
    _, models = qdrant_modules()
    try:
        space = remote.space(request.using)
    except UnknownVectorError:
        if request.lookup is None:  # Qdrant's order: a missing example point first (as locally)
            check_example_order(request, lambda pid, label: _find_point(remote, pid, label), remote.space)
        raise
    original = request
    lookup_from = None
    if request.lookup is not None:
        request, lookup_from = _lookup(remote, request, space, models)

    def ex(example: Example, where: str) -> Any:
        if example.is_id:
            return to_point_id(example.id, where)
        if lookup_from is None:
            check_dim(example.vector, space, where)  # type: ignore[arg-type]
        return [float(v) for v in example.vector]  # type: ignore[union-attr]

    def pairs() -> list:
        return [
            models.ContextPair(positive=ex(p, f"context[{i}].positive"), negative=ex(n, f"context[{i}].negative"))
            for i, (p, n) in enumerate(request.context)
        ]

    empty_context = False
    if request.kind == "search":
        query: Any = ex(request.query, "query")  # type: ignore[arg-type]
        if not isinstance(query, (int, str)):
            query = models.NearestQuery(nearest=query)
    elif request.kind == "recommend":
        query = models.RecommendQuery(
            recommend=models.RecommendInput(
                positive=[ex(e, f"positive[{i}]") for i, e in enumerate(request.positive)],
                negative=[ex(e, f"negative[{i}]") for i, e in enumerate(request.negative)],
                strategy=models.RecommendStrategy(request.strategy),
            )
        )
    elif request.kind == "discover":
        query = models.DiscoverQuery(
            discover=models.DiscoverInput(
                target=ex(request.target, "target"),  # type: ignore[arg-type]
                context=pairs(),
            )
        )
    elif request.context:
        query = models.ContextQuery(context=pairs())
    else:
        query, empty_context = None, True
    body = models.QueryRequest(
        query=query,
        using=space.name or None,
        filter=to_filter(remote, request.filter, models),
        params=search_params(request.params, models),
        score_threshold=None if empty_context else request.score_threshold,
        limit=request.limit,
        offset=request.offset or None,
        with_payload=payload_selector(remote, request.with_payload),
        with_vector=vector_selector(remote, request.with_vectors),
        lookup_from=lookup_from,
    )
    return Outgoing(original, space, body, empty_context)


def _find_point(remote: Any, pid: Any, label: str) -> None:
    """RemoteUnknownIdError when the server has no point ``pid`` (named by ``label``)."""
    with server_errors(f"retrieve on {remote.name!r}"):
        found = remote.client.retrieve(remote.name, ids=[to_point_id(pid, label)], with_payload=False)
    if not found:
        raise RemoteUnknownIdError(
            f"No point with id {short_repr(pid)} found ({label}). The collection {remote.name!r} has "
            f"{len(remote)} points; check col.retrieve([...])."
        )


def _lookup(remote: Any, request: Request, space: RemoteSpace, models: Any) -> tuple[Request, Any]:
    lookup = request.lookup
    assert lookup is not None
    if lookup.vector is not None:
        vector = lookup.vector
    else:
        vector = space.name if request.lookup_default == "using" else ""
    other = lookup.collection
    if isinstance(other, Collection):  # a local explorekit Collection
        return _resolve_locally(request, other, vector, space), None
    if isinstance(other, str):
        name = other
    elif hasattr(other, "client") and hasattr(other, "space"):  # another QdrantCollection
        if other.client is not remote.client:
            raise RequestError(
                f"lookup_from: collection {other.name!r} is on another Qdrant connection; "
                "lookup_from must name a collection of the same server (or pass a local "
                "Collection, whose vectors are then sent as raw vectors)."
            )
        other.space(vector, where="lookup_from vector")
        name = other.name
    else:
        raise RequestError(f"lookup_from: {short_repr(other)} is not a collection or a collection name.")
    send = vector if (vector or space.name) else None
    return request, models.LookupLocation(collection=name, vector=send)


def _resolve_locally(request: Request, other: Any, vector: str, space: RemoteSpace) -> Request:
    lookup_space = other.space(vector, where="lookup_from vector")

    def fix(e: Example | None, where: str) -> Example | None:
        if e is None or not e.is_id:
            if e is not None:
                check_dim(e.vector, space, where)  # type: ignore[arg-type]
            return e
        stored = lookup_space.stored[other.store.ids.row(e.id, what=where)]
        if stored.shape[0] != space.dim:
            check_dim(stored, space, f"{where}, looked up in another collection")
        return Example(vector=np.array(stored, dtype=np.float32))

    return request.replace(
        query=fix(request.query, "query"),
        target=fix(request.target, "target"),
        positive=tuple(fix(e, f"positive[{i}]") for i, e in enumerate(request.positive)),
        negative=tuple(fix(e, f"negative[{i}]") for i, e in enumerate(request.negative)),
        context=tuple(
            (fix(p, f"context[{i}].positive"), fix(n, f"context[{i}].negative"))
            for i, (p, n) in enumerate(request.context)
        ),
        lookup=None,
    )


def search_params(params: Any, models: Any) -> Any:
    """explorekit SearchParams -> ``models.SearchParams`` (None when all defaults)."""
    quant = None
    if params.ignore or params.rescore is not None or params.oversampling is not None:
        quant = models.QuantizationSearchParams(
            ignore=params.ignore, rescore=params.rescore, oversampling=params.oversampling
        )
    if not params.exact and params.hnsw_ef is None and quant is None:
        return None
    return models.SearchParams(hnsw_ef=params.hnsw_ef, exact=params.exact, quantization=quant)


def payload_selector(remote: Any, with_payload: PayloadSelector) -> Any:
    """The ``with_payload`` sent to Qdrant: the same selector, plus the hidden id field when ids
    may be mapped (include lists); key paths and exclusions go as they are."""
    if with_payload is True:
        return True
    if with_payload is not False:
        remote._payload_columns(with_payload)  # the checks a local collection makes
    if isinstance(with_payload, Exclude):
        _, models = qdrant_modules()
        return models.PayloadSelectorExclude(exclude=list(with_payload.keys))
    names = list(with_payload) if with_payload else []
    return names + [ID_FIELD] if (names or remote._maybe_mapped) else False


def vector_selector(remote: Any, with_vectors: bool | tuple[str, ...]) -> Any:
    if isinstance(with_vectors, bool):
        return with_vectors
    names = vector_names(remote, with_vectors)
    return True if set(names) == {""} or set(names) >= set(remote.vector_names) else names


# ---------------------------------------------------------------------------------- filters


def to_filter(remote: Any, value: Any, models: Any) -> Any:
    """A filter in any explorekit form -> ``models.Filter`` (or None); same checks as locally."""
    if value is None:
        return None
    validate_filter(value)
    if isinstance(value, str):
        value = pandas_query_to_filter(value)
    if isinstance(value, (np.ndarray, pd.Series)):
        return models.Filter(must=[models.HasIdCondition(has_id=_mask_ids(remote, value))])
    plain = to_filter_dict(value)
    validate_filter(plain)
    try:
        return models.Filter.model_validate(_map_ids(plain))
    except ValueError as err:
        raise FilterError(
            f"filter: {short_repr(plain)} is not a filter qdrant-client accepts: "
            f"{' '.join(str(err).splitlines()[:3])}. See Qdrant's filter documentation."
        ) from None


def _map_ids(value: Any) -> Any:
    """Every ``has_id`` list in a filter or formula body, with the ids the server stores
    (:func:`~explorekit.backends._convert.to_point_id`: string ids as their uuid5)."""
    if isinstance(value, Mapping):
        return {
            k: (
                [to_point_id(i, "filter has_id") for i in v]
                if k == "has_id" and isinstance(v, (list, tuple))
                else _map_ids(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_map_ids(v) for v in value]
    return value


def _mask_ids(remote: Any, value: np.ndarray | pd.Series) -> list:
    """Ids passing a boolean array (aligned with ``col.ids``) or Series (by id, or by position)."""
    ids = remote.ids
    n = len(ids)
    if isinstance(value, pd.Series):
        if value.isna().any():
            raise FilterError(
                f"filter: the boolean Series has {int(value.isna().sum())} missing values. "
                "Fill them, e.g. s.fillna(False)."
            )
        flags = value.to_numpy(dtype=bool)
        index = value.index
        if len(value) == n and index.is_unique and set(_norm(index)) == set(ids):
            return [to_point_id(i) for i in index[flags]]
        if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and len(index) == n):
            raise FilterError(
                f"filter: the boolean Series (length {len(value)}) is neither indexed by the {n} "
                f"point ids nor a RangeIndex of length {n}. Align it, e.g. "
                "s.reindex(col.ids, fill_value=False)."
            )
        value = flags
    if len(value) != n:
        raise FilterError(
            f"filter: the boolean array has length {len(value)} but the collection has {n} points. "
            "Pass one value per point, aligned with col.ids (Qdrant's id order)."
        )
    return [to_point_id(i) for i in ids[np.asarray(value, dtype=bool)]]


def _norm(index: pd.Index) -> list:
    out = []
    for v in index:
        try:
            out.append(normalize_id(v))
        except ValueError:
            out.append(v)
    return out


# ---------------------------------------------------------------------------------- answers


def to_frame(
    remote: Any,
    points: list,
    with_payload: bool | tuple[str, ...],
    with_vectors: bool | tuple[str, ...],
    *,
    scores: bool = True,
    query: dict | None = None,
    zero_scores: bool = False,
) -> pd.DataFrame:
    """The result frame for the points Qdrant returned, built by the local path's builder.

    Ids are integers when the collection was saved with integer ids (or, when that is not
    known, when these are); payload columns this page lacks are all-NaN.
    """
    ids = [original_id(p.id, p.payload) for p in points]
    all_int = remote._int_ids is not False and all(isinstance(v, int) for v in ids)
    values = None
    if scores:
        values = np.zeros(len(points), np.float32) if zero_scores else np.array([p.score for p in points], np.float32)
    records = [{k: v for k, v in (p.payload or {}).items() if k != ID_FIELD} for p in points]
    remote._see_columns(records)
    columns = remote._payload_columns(with_payload)
    payload: dict[str, Any] = {}
    if columns:
        page = Payload.from_records(records, normalised=True)
        shown = page.display_columns(np.arange(len(points)), [c for c in columns if c in page.columns])
        payload = {c: shown[c] if c in shown else np.full(len(points), np.nan) for c in columns}
    vectors = {
        name: vector_cells([_vector_of(p.vector, name) for p in points]) for name in vector_names(remote, with_vectors)
    }
    return result_frame(id_array(ids, all_int), values, payload, vectors, query)


def _vector_of(vector: Any, name: str) -> np.ndarray | None:
    if isinstance(vector, Mapping):
        vector = vector.get(name)
    return None if vector is None else np.asarray(vector, dtype=np.float32)


def finish_empty_context(frame: pd.DataFrame, out: Outgoing) -> pd.DataFrame:
    """Score threshold of a no-pair context query (every score 0), applied here."""
    threshold = out.request.score_threshold
    if (
        threshold is not None
        and len(frame)
        and not passes_threshold(np.zeros(1, np.float32), threshold, out.space.distance)[0]
    ):  # type: ignore[arg-type]
        frame = frame.iloc[:0].reset_index(drop=True)
    return frame


# ---------------------------------------------------------------------------------- multi-stage queries


def prefetch_query(remote: Any, stage: Stage, models: Any) -> tuple[Any, dict]:
    """A stage's ``query`` for qdrant-client and its other fields (using, filter, params, ...).

    Vector stages go through :func:`outgoing` (ids, lookup_from and dimensions as for a single
    query); the other kinds become their qdrant-client models.
    """
    fields: dict[str, Any] = {"limit": stage.limit, "score_threshold": stage.score_threshold}
    fields["filter"] = to_filter(remote, stage.filter, models)
    if stage.request is not None:
        out = outgoing(remote, stage.request.replace(filter=None, score_threshold=stage.score_threshold))
        body = out.body
        fields.update(using=body.using, params=body.params, lookup_from=body.lookup_from)
        query = body.query
        if stage.kind == "mmr":
            nearest = query.nearest if hasattr(query, "nearest") else query
            query = models.NearestQuery(nearest=nearest, mmr=models.Mmr(**stage.spec))
        elif out.empty_context:
            query = models.ContextQuery(context=[])
        return query, fields
    spec = stage.spec
    if stage.kind == "fusion":
        if spec["method"] == "dbsf":
            return models.FusionQuery(fusion=models.Fusion.DBSF), fields
        if spec["k"] is None and spec["weights"] is None:
            return models.FusionQuery(fusion=models.Fusion.RRF), fields
        return models.RrfQuery(rrf=models.Rrf(k=spec["k"], weights=spec["weights"])), fields
    if stage.kind == "formula":
        # has_id conditions inside the formula: ids translated as in filters (one translation)
        return models.FormulaQuery.model_validate(_map_ids(spec["formula"].body)), fields
    if stage.kind == "order_by":
        return models.OrderByQuery(order_by=models.OrderBy(**spec["order_by"].to_json())), fields
    if stage.kind == "sample":
        return models.SampleQuery(sample=models.Sample.RANDOM), fields
    return None, fields


def prefetch_tree(remote: Any, stage: Stage, models: Any) -> Any:
    """``models.Prefetch`` of a stage and everything below it."""
    query, fields = prefetch_query(remote, stage, models)
    children = [prefetch_tree(remote, child, models) for child in stage.prefetch] or None
    return models.Prefetch(prefetch=children, query=query, **fields)


def run_pipeline(remote: Any, pipeline: Pipeline) -> pd.DataFrame:
    """A multi-stage query sent to the server as one request, shaped like the local answer.

    ``attrs["stages"]`` comes from one more batch: each stage's subtree sent on its own, with the
    filters and example ids of the stages above it merged in (what the server applies to it).
    """
    _, models = qdrant_modules()
    top = pipeline.top
    query, fields = prefetch_query(remote, top, models)
    children = [prefetch_tree(remote, child, models) for child in top.prefetch] or None
    payload, vectors = payload_selector(remote, pipeline.with_payload), vector_selector(remote, pipeline.with_vectors)
    what = f"a multi-stage query on {remote.name!r}"
    common = dict(
        prefetch=children,
        query=query,
        using=fields.get("using"),
        query_filter=fields["filter"],
        search_params=fields.get("params"),
        score_threshold=fields["score_threshold"],
        with_payload=True if pipeline.groups is not None and payload is not True else payload,
        with_vectors=vectors,
        lookup_from=fields.get("lookup_from"),
    )
    with server_errors(what):
        if pipeline.groups is None:
            points = remote.client.query_points(
                remote.name, limit=top.limit, offset=top.offset or None, **common
            ).points
            labels = None
        else:
            spec = pipeline.groups
            found = remote.client.query_points_groups(
                remote.name, group_by=spec.group_by, group_size=spec.group_size, limit=spec.limit, **common
            ).groups
            points = [p for g in found for p in g.hits]
            labels = [g.id for g in found for _ in g.hits]
        stage_points = _stage_points(remote, pipeline.as_run(len(remote)), models)
    frame = to_frame(remote, points, pipeline.with_payload, pipeline.with_vectors, query=dict(pipeline.body))
    if top.kind == "order_by" and labels is None:
        frame = with_order_values(frame, [p.order_value for p in points])
    if labels is not None:
        values = np.empty(len(labels), dtype=object)
        values[:] = labels
        frame.insert(0, "group", values)
    frame.attrs["path"], frame.attrs["reason"] = "server", "answered by the Qdrant server"
    frame.attrs["stages"] = StageFrames(
        stage_frame(
            stage, to_frame(remote, found_points, False, False)["id"].to_numpy(), [p.score for p in found_points]
        )
        for stage, found_points in stage_points
    )
    return frame


def _left_out(remote: Any, request: Request) -> list:
    """The example ids the server leaves out of a stage's subtree (the local rule,
    :meth:`Request.left_out_ids`); a local Collection's vectors are sent raw: no ids."""
    source = None if request.lookup is None else request.lookup.collection
    return [] if isinstance(source, Collection) else request.left_out_ids(remote, source)


def _stage_points(remote: Any, pipeline: Pipeline, models: Any) -> list[tuple[Stage, list]]:
    """Every stage's answer: its subtree as one request, with what the stages above impose."""
    requests, stages = [], []

    def visit(stage: Stage, above: dict | None, excluded: list) -> None:
        own = to_filter(remote, stage.filter, models)
        merged = merge_filters(above, None if own is None else own.model_dump(exclude_none=True))
        ids = [] if stage.request is None else _left_out(remote, stage.request)
        for child in stage.prefetch:
            visit(child, merged, excluded + ids)
        query, fields = prefetch_query(remote, stage, models)
        flt = merged
        if excluded:
            flt = merge_filters(flt, {"must_not": [{"has_id": [to_point_id(i) for i in excluded]}]})
        children = [prefetch_tree(remote, child, models) for child in stage.prefetch] or None
        requests.append(
            models.QueryRequest(
                prefetch=children,
                query=query,
                using=fields.get("using"),
                filter=None if flt is None else models.Filter.model_validate(flt),
                params=fields.get("params"),
                score_threshold=fields["score_threshold"],
                limit=stage.limit,
                offset=stage.offset or None,
                with_payload=payload_selector(remote, False),
                lookup_from=fields.get("lookup_from"),
            )
        )
        stages.append(stage)

    visit(pipeline.top, None, [])
    answers = remote.client.query_batch_points(remote.name, requests=requests)
    return [(stage, answer.points) for stage, answer in zip(stages, answers)]
