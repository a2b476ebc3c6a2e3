"""The explorekit query API answered by a Qdrant server (or qdrant-client's local mode).

``ek.connect(url=..., api_key=...)`` (or ``ek.connect(client=QdrantClient(...))``) returns a
:class:`Connection`; ``conn["name"]`` is a :class:`QdrantCollection` with the query API of a
local :class:`~explorekit.Collection` (search, recommend with every strategy, discover,
context, the batches, ``query(body)``, filters in all three forms, ``params``). Requests are
checked and normalised by the same code as locally, sent through Qdrant's Query API, and the
answers come back as the same DataFrames (``id``, ``score``, payload, vectors;
``attrs["query"]`` is the same ``/points/query`` body).

What differs from a local collection (see docs/qdrant.md):

* the server answers: HNSW, quantization, oversampling and rescoring happen there, so with
  ``exact=False`` results are approximate as the server's index makes them;
* ``ids``, ``payload``, ``vectors()`` and boolean-array filters scroll the whole collection
  (fine for thousands of points, slow for millions: use filters and ``sample()`` instead);
* points are in Qdrant's id order (integers, then UUIDs), also for ``scroll`` and ``ids``;
* string ids that are not UUIDs live on the server as uuid5 with the original in the payload
  field ``_explorekit_id`` (see :mod:`explorekit.backends._convert`);
* server errors are :class:`~explorekit.BackendError` with the server's message.

Examples
--------
>>> import explorekit as ek
>>> from qdrant_client import QdrantClient
>>> local = ek.Collection.from_arrays([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], ids=[1, 2, 3])
>>> remote = to_qdrant(local, QdrantClient(":memory:"), "demo", progress=False)
>>> remote.recommend(positive=[1], negative=[2], strategy="best_score")["id"].tolist()
[3]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from explorekit._support.cards import Card, Table
from explorekit._support.errors import RequestError, UnknownIdError, short_repr, unknown
from explorekit._support.progress import counter
from explorekit._support.validation import check_count
from explorekit.analysis.projection import DEFAULT_PROJECTION, place, project, projection_argument
from explorekit.backends import _overview
from explorekit.backends._convert import (
    ID_FIELD,
    RemoteSpace,
    RemoteUnknownCollectionError,
    qdrant_modules,
    server_errors,
    spaces_of,
    to_point_id,
)
from explorekit.backends._queries import (
    finish_empty_context,
    outgoing,
    payload_selector,
    run_pipeline,
    to_filter,
    to_frame,
    vector_selector,
)
from explorekit.backends._transfer import pull, push
from explorekit.collection import Collection
from explorekit.data.store import resolve_vector_name
from explorekit.query.keywords import qdrant_names
from explorekit.query.methods import QueryMethods
from explorekit.query.order import parse_order_by
from explorekit.query.overview import OverviewRequest
from explorekit.query.pipeline import Pipeline
from explorekit.query.requests import PayloadSelector, Request, parse_examples, parse_selectors
from explorekit.query.results import payload_plan, with_order_values

__all__ = ["Connection", "QdrantCollection", "connect", "from_qdrant", "to_qdrant"]

_PAGE = 512


def connect(url: str | None = None, *, api_key: str | None = None, client: Any = None, **kwargs: Any) -> "Connection":
    """Connect to a Qdrant server, cluster or qdrant-client local mode.

    Parameters
    ----------
    url : str, optional
        ``"http://localhost:6333"``, ``"https://xyz.cloud.qdrant.io:6333"`` (TLS), or
        ``":memory:"`` for qdrant-client's in-memory local mode; a ``QdrantClient`` given here
        is taken as ``client=``.
    api_key : str, optional
        The server's API key (sent over TLS when the URL is https).
    client : qdrant_client.QdrantClient, optional
        An existing client instead of ``url`` (then give no other argument).
    **kwargs
        Passed to ``QdrantClient``: ``path=`` (local mode on disk), ``prefer_grpc=True``,
        ``timeout=``, ``https=``, ``prefix=``, ``verify=`` (a CA bundle/SSLContext for REST).

    Returns
    -------
    Connection
        ``conn["name"]`` is a :class:`QdrantCollection`.

    Raises
    ------
    BackendError
        The server cannot be reached or refuses the key (the server's message included).

    Examples
    --------
    >>> conn = connect(":memory:")
    >>> conn.collections
    []
    """
    QdrantClient, _ = qdrant_modules()
    if url is not None and not isinstance(url, str):  # connect(QdrantClient(...)): the client itself
        if client is not None or not hasattr(url, "query_batch_points"):
            raise RequestError(
                f"connect: {short_repr(url)} is neither a URL string nor a qdrant_client.QdrantClient. "
                'Pass url="http://localhost:6333" or client=QdrantClient(...).'
            )
        url, client = None, url
    if client is not None:
        if url is not None or api_key is not None or kwargs:
            raise RequestError("connect: give either client=QdrantClient(...) or url=/api_key=/options, not both.")
        if not hasattr(client, "query_batch_points"):
            raise RequestError(f"connect: client={short_repr(client)} is not a qdrant_client.QdrantClient.")
    else:
        if url is None and not ({"location", "path", "host"} & set(kwargs)):
            raise RequestError(
                'connect: say where Qdrant is: url="http://localhost:6333", '
                'url=":memory:" or path="./qdrant-data" (local mode), or client=QdrantClient(...).'
            )
        if url == ":memory:":
            kwargs.setdefault("location", ":memory:")
            url = None
        with server_errors("connect"):
            client = QdrantClient(url=url, api_key=api_key, **kwargs)
    conn = Connection(client)
    with server_errors(f"connect to {url or kwargs.get('path') or kwargs.get('location') or 'Qdrant'}"):
        client.get_collections()
    return conn


def to_qdrant(
    col: Collection,
    client: Any,
    name: str,
    quantization: Any = None,
    batch_size: int = 256,
    *,
    progress: bool = True,
    **create_options: Any,
) -> "QdrantCollection":
    """Upload a local collection to Qdrant and return it as a QdrantCollection (see ``Connection.upload``).

    ``create_options`` go to ``create_collection`` when the collection is missing; an existing
    one must have the same vector names, sizes and distances. Safe to re-run after an interruption.
    """
    return QdrantCollection(
        push(col, client, name, quantization, batch_size, progress=progress, **create_options), name
    )


def from_qdrant(
    client: Any,
    name: str,
    limit: int | None = None,
    filter: Any = None,
    *,
    order: str = "id",
    local_name: str | None = None,
) -> Collection:
    """A local Collection of the points of a Qdrant collection (see ``QdrantCollection.to_collection``)."""
    client = getattr(client, "client", client) if not hasattr(client, "query_batch_points") else client
    return QdrantCollection(client, name).to_collection(limit, filter, order=order, local_name=local_name)


class Connection:
    """A Qdrant connection: ``conn["name"]`` gives a :class:`QdrantCollection`."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __repr__(self) -> str:
        return f"<explorekit Qdrant connection to {server_text(self.client)}: {len(self.collections)} collections>"

    @property
    def collections(self) -> list[str]:
        """Names of the server's collections."""
        with server_errors("listing collections"):
            return sorted(c.name for c in self.client.get_collections().collections)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.collections

    def __getitem__(self, name: str) -> "QdrantCollection":
        if not isinstance(name, str) or not name:
            raise RequestError(f"conn[...]: {short_repr(name)} is not a collection name (a non-empty string).")
        known = self.collections
        if name not in known:
            raise RemoteUnknownCollectionError(
                unknown(
                    "collection", name, known, f"The server has {known[:20]}; upload one with conn.upload(col, name)."
                )
            )
        return QdrantCollection(self.client, name)

    def upload(
        self,
        col: Any,
        name: str,
        quantization: Any = None,
        batch_size: int = 256,
        *,
        progress: bool = True,
        **create_options: Any,
    ) -> "QdrantCollection":
        """Upload a local Collection as ``name`` (created if missing; safe to re-run after an interruption).

        ``create_options`` go to ``create_collection`` (``shard_number``, ``replication_factor``,
        ``hnsw_config``...). Returns the Qdrant-backed collection.
        """
        return to_qdrant(
            col,
            self.client,
            name,
            quantization=quantization,
            batch_size=batch_size,
            progress=progress,
            **create_options,
        )

    def close(self) -> None:
        self.client.close()


class QdrantCollection(QueryMethods):
    """A Qdrant collection with the query API of :class:`explorekit.Collection`.

    Build one with ``ek.connect(...)["name"]`` or ``QdrantCollection(client, "name")``.
    """

    def __init__(self, client: Any, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise RequestError(f"name: {short_repr(name)} is not a collection name (a non-empty string).")
        self.client, self.name = client, name
        self._ids_cache: pd.Index | None = None
        self.refresh()

    def refresh(self) -> "QdrantCollection":
        """Read the collection's config again (after someone else changed it)."""
        with server_errors(f"reading collection {self.name!r}"):
            info = self.client.get_collection(self.name)
        self.info = info
        self._spaces: dict[str, RemoteSpace] = spaces_of(info)
        meta = (getattr(info.config, "metadata", None) or {}).get("explorekit") or {}
        self._columns: list[str] = list(meta.get("payload_columns") or [])
        self._columns_known = "payload_columns" in meta
        self._int_ids: bool | None = meta.get("int_ids")
        self._maybe_mapped: bool = meta.get("mapped_ids", True)
        self._ids_cache = None
        if not self._columns_known:
            self._columns += [k for k in (info.payload_schema or {}) if k not in self._columns]
            self._see_columns([p.payload or {} for p in self._scroll_points(None, 64, True, False)])
        return self

    # ------------------------------------------------------------------ accessors
    def __len__(self) -> int:
        with server_errors(f"count on {self.name!r}"):
            return int(self.client.count(self.name, exact=True).count)

    def __repr__(self) -> str:
        return self._card().text()

    def _repr_html_(self) -> str:
        """The notebook's view: server, collection, counts, vector spaces, payload keys."""
        return self._card().html()

    def _card(self) -> Card:
        info = self.info
        schema = {key: getattr(value, "data_type", None) for key, value in (info.payload_schema or {}).items()}
        facts = [
            ("server", server_text(self.client)),
            ("points", f"{len(self):,}"),
            ("indexed vectors", f"{info.indexed_vectors_count or 0:,}"),
            ("status", str(getattr(info.status, "value", info.status))),
        ]
        payload = [[key, _schema_text(schema.get(key))] for key in self._columns]
        return Card(
            f"explorekit.QdrantCollection {self.name!r}",
            facts,
            [
                Table(
                    "vectors",
                    ["name", "dim", "distance"],
                    [[s.name or "(unnamed)", f"{s.dim}", s.distance] for s in self._spaces.values()],
                ),
                Table("payload", ["key", "index"], payload),
            ],
        )

    @property
    def vector_names(self) -> list[str]:
        """Vector names; ``""`` is the unnamed default vector."""
        return list(self._spaces)

    def distance(self, using: str | None = None) -> str:
        return self.space(using).distance

    def dim(self, using: str | None = None) -> int:
        return self.space(using).dim

    @property
    def ids(self) -> pd.Index:
        """Every point id, in Qdrant's id order (scrolls the whole collection once; cached)."""
        n = len(self)
        if self._ids_cache is None or len(self._ids_cache) != n:
            self._ids_cache = pd.Index(self.scroll(with_payload=False)["id"], name="id")
        return self._ids_cache

    @property
    def payload(self) -> pd.DataFrame:
        """The whole payload as a DataFrame indexed by id (scrolls the whole collection)."""
        frame = self.scroll()
        frame.index = pd.Index(frame.pop("id"), name="id")
        frame.columns = pd.Index(list(frame.columns), dtype=object)
        return frame

    def to_collection(
        self, limit: int | None = None, filter: Any = None, *, order: str = "id", local_name: str | None = None
    ) -> Any:
        """Pull this collection (or a sample / filtered part of it) into a local :class:`explorekit.Collection`."""
        return pull(self, limit, filter, order=order, local_name=local_name)

    def vectors(self, using: str | None = None) -> np.ndarray:
        """Every stored vector of one name, in ``ids`` order (scrolls the whole collection)."""
        space = self.space(using)
        frame = self.scroll(with_payload=False, with_vectors=[space.name])
        return _stack(frame[space.name or "vector"], space.dim)

    def vectors_of(self, ids: Sequence[Any], using: str | None = None) -> np.ndarray:
        """The stored vectors of these ids (for placing results on a map fitted on a sample)."""
        space = self.space(using)
        frame = self.retrieve(list(ids), with_vectors=[space.name], with_payload=False)
        return _stack(frame[space.name or "vector"], space.dim)

    def sample(
        self,
        n: int = 10,
        filter: Any = None,
        seed: Any = None,
        with_payload: Any = True,
        with_vectors: Any = False,
        *,
        limit: int | None = None,
        order: str | None = None,
    ) -> Any:
        """``n`` points drawn at random by the server, as a DataFrame like :meth:`scroll`'s
        (Qdrant's ``{"sample": "random"}`` query; the server ignores ``seed``).

        The earlier form, with ``limit=`` (and ``order=``), still returns a local
        :class:`explorekit.Collection` of up to ``limit`` points drawn at random by the server
        (``order="id"``: the first ones); see :func:`from_qdrant`.
        """
        if limit is not None or order is not None:
            limit = 1000 if limit is None else limit
            return from_qdrant(self.client, self.name, limit=limit, filter=filter, order=order or "random")
        return super().sample(n, filter, seed, with_payload, with_vectors)

    # ------------------------------------------------------------------ the map
    def map_sample(self, limit: int | None = None, *, order: str = "random", refresh: bool = False) -> Any:
        """The local sample the map is fitted on: ``limit`` points (default 5000), fetched once
        and kept; asking for another ``limit``, or ``refresh=True``, draws a new one."""
        current = getattr(self, "_map", None)
        if refresh or current is None or (limit is not None and limit != self._map_limit):
            self._map_limit = 5000 if limit is None else limit
            self._map = current = self.sample(limit=self._map_limit, order=order)
        return current

    def project(
        self,
        using: str | None = None,
        projection: str = DEFAULT_PROJECTION,
        *,
        sample: int | None = None,
        method: str | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        """The map: ``(id, x, y)`` of the points of :meth:`map_sample`, fitted on them
        (:func:`explorekit.analysis.projection.project` on the local sample).

        ``from_matrix=True``: a UMAP map of ``sample`` points from the server's distance
        matrix, with no vector downloaded (:func:`explorekit.analysis.projection.matrix_map`).
        """
        projection = projection_argument(projection, method, "project")
        if options.get("from_matrix"):
            return project(self, using=using, projection=projection, sample=sample, **options)
        return project(self.map_sample(sample), using=using, projection=projection, **options)

    def place(
        self, vectors: Any, using: str | None = None, projection: str = DEFAULT_PROJECTION, *, method: str | None = None
    ) -> np.ndarray:
        """Map coordinates ``(m, 2)`` of point ids and/or vectors, on the map of :meth:`project`.

        Ids in the sample keep their map position; other ids are placed by their stored
        vectors (fetched from the server with :meth:`vectors_of`), raw vectors by transform.
        ``method=`` is the deprecated old name of ``projection=``.
        """
        projection = projection_argument(projection, method, "place")
        sample = self.map_sample()
        if isinstance(vectors, (pd.Series, pd.Index)):
            vectors = vectors.tolist()
        examples = parse_examples(vectors, "vectors")
        away = list(dict.fromkeys(e.id for e in examples if e.is_id and e.id not in sample.store.ids))
        fetched = dict(zip(away, self.vectors_of(away, using=using))) if away else {}
        items = [e.vector if not e.is_id else fetched.get(e.id, e.id) for e in examples]
        return place(sample, items, using=using, projection=projection)

    @property
    def spaces(self) -> dict[str, RemoteSpace]:
        """The collection's vector spaces by name (``""`` = unnamed): size and distance."""
        return dict(self._spaces)

    def space(self, using: str | None, where: str = "using") -> RemoteSpace:
        return self._spaces[resolve_vector_name(list(self._spaces), using, where)]

    def _see_columns(self, records: list[dict]) -> None:
        seen = dict.fromkeys(self._columns)
        for record in records:
            for key in record:
                if key not in seen and key != ID_FIELD:
                    seen[key] = None
                    self._columns.append(key)

    def _payload_columns(self, with_payload: PayloadSelector) -> list[str]:
        """The columns ``with_payload`` shows (names not seen yet are let through while the
        collection's fields are not known)."""
        return payload_plan(self._columns, with_payload, check=self._columns_known)[0]

    @qdrant_names
    def retrieve(
        self, ids: Sequence[Any], with_vectors: bool | Sequence[str] = False, with_payload: bool | Sequence[str] = True
    ) -> pd.DataFrame:
        """The points with these ids, in the order given (unknown ids raise UnknownIdError)."""
        if not isinstance(ids, (list, tuple, np.ndarray, pd.Index, pd.Series)):
            ids = [ids]
        ids = list(ids)
        selected = parse_selectors(with_payload, with_vectors)
        sent = [to_point_id(i, "retrieve") for i in ids]
        with server_errors(f"retrieve on {self.name!r}"):
            found = self.client.retrieve(
                self.name,
                ids=list(dict.fromkeys(sent)),
                with_payload=payload_selector(self, selected[0]),
                with_vectors=vector_selector(self, selected[1]),
            )
        by_id = {str(p.id): p for p in found}
        for given, pid in zip(ids, sent):
            if str(pid) not in by_id:
                raise UnknownIdError(
                    f"No point with id {short_repr(given)} found (retrieve). The collection "
                    f"{self.name!r} has {len(self)} points; check col.ids or col.scroll()."
                )
        points = [by_id[str(pid)] for pid in sent]
        return to_frame(self, points, *selected, scores=False)

    @qdrant_names
    def scroll(
        self,
        filter: Any = None,
        limit: int | None = None,
        with_payload: Any = True,
        with_vectors: Any = False,
        *,
        order_by: Any = None,
    ) -> pd.DataFrame:
        """Points passing ``filter``, in Qdrant's id order (at most ``limit`` of them); with
        ``order_by``, in the order of a payload key (Qdrant needs a range index on it), with an
        ``order_value`` column."""
        if limit is not None:
            limit = check_count(limit, "limit", 1)  # the same rule as Collection.scroll
        selected = parse_selectors(with_payload, with_vectors)
        order = parse_order_by(order_by)
        _, models = qdrant_modules()
        flt = to_filter(self, filter, models)
        points = self._scroll_points(
            flt,
            limit,
            payload_selector(self, selected[0]),
            vector_selector(self, selected[1]),
            None if order is None else models.OrderBy(**order.to_json()),
        )
        return with_order_values(to_frame(self, points, *selected, scores=False), _order_values(points, order))

    def _scroll_request(self, request: Request) -> pd.DataFrame:
        """A query-less /points/query body (or a /points/scroll one), sent as one."""
        _, models = qdrant_modules()
        order = request.order_by
        order_model = None if order is None else models.OrderBy(**order.to_json())
        flt = to_filter(self, request.filter, models)
        selectors = payload_selector(self, request.with_payload), vector_selector(self, request.with_vectors)
        with server_errors(f"{'scroll' if request.records else 'query'} on {self.name!r}"):
            if request.records:
                points, _ = self.client.scroll(
                    self.name,
                    scroll_filter=flt,
                    limit=request.limit,
                    offset=None if request.scroll_from is None else to_point_id(request.scroll_from, "offset"),
                    order_by=order_model,
                    with_payload=selectors[0],
                    with_vectors=selectors[1],
                )
            else:
                points = self.client.query_points(
                    self.name,
                    query=None if order is None else models.OrderByQuery(order_by=order_model),
                    query_filter=flt,
                    limit=request.limit,
                    offset=request.offset,
                    with_payload=selectors[0],
                    with_vectors=selectors[1],
                ).points
        frame = to_frame(
            self,
            points,
            request.with_payload,
            request.with_vectors,
            scores=not request.records,
            query=request.to_body(),
        )
        return with_order_values(frame, _order_values(points, order))

    def _scroll_points(
        self,
        flt: Any,
        limit: int | None,
        with_payload: Any,
        with_vectors: Any,
        order_by: Any = None,
        desc: str | None = None,
    ) -> list:
        """Every point passing ``flt`` (at most ``limit``), page by page (one page when ordered by
        a payload key: the server orders within one request); a progress bar when ``desc``."""
        points: list = []
        offset = None
        total = None if desc is None else self._count(flt, limit)
        with server_errors(f"scroll on {self.name!r}"), counter(desc or "", total, show=desc is not None) as bar:
            while limit is None or len(points) < limit:
                page = _PAGE if limit is None else min(_PAGE, limit - len(points))
                batch, offset = self.client.scroll(
                    self.name,
                    scroll_filter=flt,
                    limit=page if order_by is None else limit or 2**31 - 1,  # order_by: one page
                    offset=offset,
                    with_payload=with_payload,
                    with_vectors=with_vectors,
                    order_by=order_by,
                )
                points += batch
                bar.update(len(batch))
                if offset is None or not batch or order_by is not None:
                    break
        return points

    def _overview(self, request: OverviewRequest) -> Any:
        return _overview.answer(self, request)

    def _run_pipelines(self, pipelines: list[Pipeline]) -> list[pd.DataFrame]:
        """Multi-stage queries, each sent as one Query API request (see ``_queries.run_pipeline``)."""
        return [run_pipeline(self, pipeline) for pipeline in pipelines]

    @qdrant_names
    def count(self, filter: Any = None, exact: bool = True) -> int:
        """How many points pass ``filter`` (all points without one), counted by the server.

        ``exact=False`` lets the server estimate (faster on big collections), as in qdrant-client.
        """
        _, models = qdrant_modules()
        flt = to_filter(self, filter, models)
        with server_errors(f"count on {self.name!r}"):
            return int(self.client.count(self.name, count_filter=flt, exact=bool(exact)).count)

    def _count(self, flt: Any, limit: int | None) -> int:
        with server_errors(f"count on {self.name!r}"):
            found = int(self.client.count(self.name, count_filter=flt, exact=True).count)
        return found if limit is None else min(found, int(limit))

    def _run(self, requests: list[Request]) -> list[pd.DataFrame]:
        outs = [outgoing(self, r) for r in requests]  # every check before any call
        what = (
            f"{requests[0].kind} on {self.name!r}"
            if len(requests) == 1
            else f"a batch of {len(requests)} queries on {self.name!r}"
        )
        with server_errors(what):
            answers = self.client.query_batch_points(self.name, requests=[o.body for o in outs])
        frames = []
        for out, answer in zip(outs, answers):
            r = out.request
            frame = to_frame(
                self, answer.points, r.with_payload, r.with_vectors, query=r.to_body(), zero_scores=out.empty_context
            )
            frames.append(finish_empty_context(frame, out) if out.empty_context else frame)
        return frames


def _order_values(points: list, order: Any) -> list | None:
    return None if order is None else [p.order_value for p in points]


def server_text(client: Any) -> str:
    """Where a qdrant-client client points: the server's URL, or local mode and its folder.

    >>> from qdrant_client import QdrantClient
    >>> server_text(QdrantClient(":memory:"))
    'local mode (in memory)'
    """
    inner = getattr(client, "_client", client)
    uri = getattr(inner, "rest_uri", None)
    if uri:
        return str(uri)
    location = getattr(inner, "location", None)
    if location:
        return "local mode (in memory)" if location == ":memory:" else f"local mode ({location})"
    return type(inner).__name__


def _schema_text(data_type: Any) -> str:
    return "not indexed" if data_type is None else f"indexed ({getattr(data_type, 'value', data_type)})"


def _stack(cells: pd.Series, dim: int) -> np.ndarray:
    out = np.vstack(cells.tolist()).astype(np.float32) if len(cells) else np.zeros((0, dim), np.float32)
    out.setflags(write=False)
    return out
