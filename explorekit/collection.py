"""The Collection: point ids, one or more named vectors and a payload, queried like Qdrant.

Examples
--------
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[1, 0], [0, 1], [3, 4]], ids=[1, 2, 3],
...                                 payload=pd.DataFrame({"colour": ["red", "blue", "red"]}))
>>> col.search([1, 0], limit=2)[["id", "score", "colour"]].values.tolist()
[[1, 1.0, 'red'], [3, 0.6000000238418579, 'red']]
>>> col.recommend(positive=[1], negative=[2], strategy="best_score")["id"].tolist()
[3]
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from explorekit import persistence
from explorekit._support.cards import Card, Table, size_text
from explorekit._support.errors import (
    ExploreError,
    NonFiniteError,
    RequestError,
    UnknownCollectionError,
    UnknownVectorError,
    short_repr,
    unknown,
)
from explorekit._support.progress import quiet as progress_quiet
from explorekit._support.threads import blas_threads
from explorekit._support.validation import as_matrix, check_count, check_name
from explorekit.data.ids import IdIndex, scroll_key, scroll_order
from explorekit.data.payload import Payload
from explorekit.data.store import Store, VectorSpace
from explorekit.engine import overview, planner, stages
from explorekit.engine.prepare import Prepared, prepare
from explorekit.index import BACKGROUND_ENVIRONMENT, background_builds, build_index
from explorekit.quantization import make_quantizer
from explorekit.query.filters import store_mask
from explorekit.query.keywords import qdrant_names
from explorekit.query.methods import QueryMethods
from explorekit.query.order import OrderBy, ordered_rows, parse_order_by
from explorekit.query.overview import OverviewRequest
from explorekit.query.pipeline import Pipeline
from explorekit.query.requests import Request, parse_selectors
from explorekit.query.results import id_series, to_frame, with_order_values, with_ties
from explorekit.scoring.distances import normalize_distance, preprocess_in_place

_RESERVED = ("id", "score")
_BUILD_TRIES = 3  # builds overtaken by changes before quantize/build_index builds holding the lock


class Collection(QueryMethods):
    """Points with ids, named vectors and payload; every query returns a pandas DataFrame.

    Build one with :meth:`from_dataframe` or :meth:`from_arrays`. Queries (:meth:`search`,
    :meth:`recommend`, :meth:`discover`, their ``*_batch`` forms and :meth:`query`) give
    Qdrant's answers for the same data and request.

    The state (ids, vectors, payload) is a :class:`~explorekit.data.store.Store` that every
    change replaces whole, under one lock: every read (queries, :meth:`scroll`, :meth:`retrieve`,
    :attr:`ids`, :attr:`payload`) and every change (:meth:`upsert`, :meth:`delete`, :meth:`save`)
    holds it, so each sees one whole state, even with widget callbacks or other threads at work.
    :meth:`quantize` and :meth:`build_index` train without it and attach what they built only to
    the vectors it was built on.
    """

    _by_name: "weakref.WeakValueDictionary[str, Collection]" = weakref.WeakValueDictionary()

    def __init__(self, store: Store) -> None:
        name = store.name
        if name is not None and (not isinstance(name, str) or not name):
            raise ExploreError(f"name: {short_repr(name)} is not a non-empty string.")
        self._store = store
        self._lock = threading.RLock()  # queries from widget callbacks vs changes in a cell
        self._builds: dict[str, threading.Thread] = {}  # background index builds by vector name
        self._build_errors: dict[str, str] = {}  # why the last background build of a name failed
        if name is not None:
            Collection._by_name[name] = self

    @property
    def name(self) -> str | None:
        """The name given with ``name=`` (how ``lookup_from`` finds this collection), or None."""
        return self._store.name

    @property
    def store(self) -> Store:
        """The current state (ids, vector spaces, payload): what the layers below the facade read.

        Every change swaps in a new store, so a store once taken never changes under its reader.
        """
        return self._store

    @property
    def _ids(self):  # the current store's parts, for the facade's own methods
        return self._store.ids

    @property
    def _spaces(self):
        return self._store.spaces

    @property
    def _payload(self):
        return self._store.payload

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        vectors: Any,
        ids: Sequence[Any] | None = None,
        payload: Any = None,
        distance: str | Mapping[str, str] = "cosine",
        name: str | None = None,
    ) -> "Collection":
        """A collection from a 2-D array (the unnamed vector) or ``{name: 2-D array}``.

        ``ids`` default to ``0..n-1``; ``payload`` is a DataFrame aligned with the rows, a list
        of JSON dicts, or None.
        """
        named = dict(vectors) if isinstance(vectors, Mapping) else {"": vectors}
        if not named:
            raise ExploreError("vectors: no vectors given. Pass a 2-D array or {name: 2-D array}.")
        for key in named:
            check_name(key, "vectors: vector name", "Vector names are strings, e.g. {'image': array}.")
        matrices = {key: as_matrix(value, f"vectors[{key!r}]" if key else "vectors") for key, value in named.items()}
        return cls._from_matrices(matrices, ids, payload, distance, name)

    @classmethod
    def _from_matrices(
        cls,
        matrices: dict[str, np.ndarray],
        ids: Sequence[Any] | None,
        payload: Any,
        distance: str | Mapping[str, str],
        name: str | None,
    ) -> "Collection":
        """:meth:`from_arrays` of checked float32 matrices that this collection now owns (they
        are normalised in place and kept: no second copy of the vectors)."""
        lengths = {key: len(m) for key, m in matrices.items()}
        n = next(iter(lengths.values()))
        if len(set(lengths.values())) > 1:
            raise ExploreError(
                f"vectors: the named vectors have different numbers of rows {lengths}. "
                "Every vector name needs one row per point."
            )
        id_index = IdIndex(range(n) if ids is None else _id_list(ids))
        if len(id_index) != n:
            raise ExploreError(f"ids: {len(id_index)} ids for {n} vectors. Give one id per row.")
        return cls._assemble(id_index, matrices, Payload.given(payload, n), distance, name)

    @classmethod
    def from_dataframe(
        cls,
        df: pd.DataFrame,
        vectors: Any = "embedding",
        id: str | None = None,
        distance: str | Mapping[str, str] = "cosine",
        name: str | None = None,
    ) -> "Collection":
        """A collection from a DataFrame with one row per point.

        ``vectors`` says where the vectors are: a column holding one vector per row
        (``"embedding"``), a list of number columns making one vector (a wide frame:
        ``[f"f{i}" for i in range(64)]``), or ``{vector name: either of those}`` for named
        vectors. ``id`` names the id column (None: the DataFrame's index). Every other column
        is payload.

        >>> import pandas as pd
        >>> df = pd.DataFrame({"f0": [1.0, 0.0], "f1": [0.0, 1.0], "kind": ["a", "b"]})
        >>> col = Collection.from_dataframe(df, vectors=["f0", "f1"])
        >>> col.vectors().shape, list(col.payload.columns)
        ((2, 2), ['kind'])
        """
        if not isinstance(df, pd.DataFrame):
            raise ExploreError(f"from_dataframe: expected a pandas DataFrame, got {type(df).__name__}.")
        named = dict(vectors) if isinstance(vectors, Mapping) else {"": vectors}
        columns: dict[str, list] = {}
        for key, spec in named.items():
            check_name(key, "from_dataframe: vector name", "Vector names are strings, e.g. {'image': 'image_emb'}.")
            columns[key] = _vector_columns(df, spec, f"vectors[{key!r}]" if key else "vectors")
        used = [c for spec in columns.values() for c in (spec[0] if isinstance(spec[0], list) else spec)]
        twice = sorted({str(c) for c in used if used.count(c) > 1})
        if twice:
            raise ExploreError(
                f"from_dataframe: the column(s) {twice} are given to more than one vector. "
                "Each column belongs to one vector."
            )
        if id is not None and not isinstance(id, Hashable):
            raise ExploreError(
                f"from_dataframe: id={short_repr(id)} is not a column name. Pass one column "
                f"of {list(df.columns)[:20]}, or None to use the index."
            )
        if id is not None and id not in df.columns:
            raise ExploreError(
                unknown("id column", id, df.columns, "id= must name a column, or None to use the index.")
            )
        matrices = {}
        for key, cols in columns.items():
            where = f"vectors[{key!r}]" if key else "vectors"
            matrices[key] = as_matrix(_vector_matrix(df, cols, where), where, copy=False)  # a new array: ours
        ids = df[id].tolist() if id is not None else df.index.tolist()
        rest = df.drop(columns=used + ([id] if id is not None else []))
        return cls._from_matrices(matrices, ids, rest.reset_index(drop=True), distance, name)

    @classmethod
    def _assemble(
        cls,
        ids: IdIndex,
        matrices: dict[str, np.ndarray],
        payload: Payload,
        distance: str | Mapping[str, str],
        name: str | None,
    ) -> "Collection":
        if isinstance(distance, Mapping):
            missing = [k for k in matrices if k not in distance]
            if missing:
                raise ExploreError(
                    f"distance: no distance given for vector(s) {missing}. "
                    f"Pass one for each of {list(matrices)} or a single string."
                )
            distances = {k: normalize_distance(distance[k]) for k in matrices}
        else:
            distances = {k: normalize_distance(distance) for k in matrices}
        for column in payload.columns:
            if column in _RESERVED or column in matrices or column == "vector":
                raise ExploreError(
                    f"payload column {column!r} clashes with a result column "
                    f"({list(_RESERVED)} and the vector names). Rename it, e.g. "
                    f"df.rename(columns={{{column!r}: {column + '_'!r}}})."
                )
        spaces = {}
        for key, matrix in matrices.items():
            stored = preprocess_in_place(matrix, distances[key])  # the matrices are ours (see callers)
            stored.setflags(write=False)
            spaces[key] = VectorSpace(key, distances[key], stored)
        return cls(Store(ids, spaces, payload, name))

    @classmethod
    def named(cls, name: str) -> "Collection | None":
        """The live collection created with ``name=``, if any (used by ``lookup_from``)."""
        check_name(name, "collection name", "Give the name= a collection was created with.")
        return cls._by_name.get(name)

    # ------------------------------------------------------------------ accessors
    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return self._card().text()

    def _repr_html_(self) -> str:
        """The notebook's view: points, vector spaces, payload schema, index, quantization, memory."""
        return self._card().html()

    def _card(self) -> Card:
        with self._lock:
            store = self._store
            status = self.index_status()
        spaces = [
            [
                space.name or "(unnamed)",
                f"{space.dim}",
                space.distance,
                status[space.name],
                _quantization_state(space.quantizer),
                size_text(_space_bytes(space)),
            ]
            for space in store.spaces.values()
        ]
        kinds, fills = store.payload.kinds(), store.payload.fill_rates()
        schema = [[key, kinds[key], f"{100 * fills[key]:.0f}% filled"] for key in store.payload.columns]
        total = sum(_space_bytes(space) for space in store.spaces.values())
        return Card(
            "explorekit.Collection" + (f" {self.name!r}" if self.name else ""),
            [("points", f"{len(store):,}"), ("vectors in memory", size_text(total))],
            [
                Table("vectors", ["name", "dim", "distance", "index", "quantization", "memory"], spaces),
                Table("payload", ["key", "type", "filled"], schema),
            ],
        )

    @property
    def ids(self) -> pd.Index:
        """Point ids in insertion order."""
        with self._lock:
            store = self._store
        return pd.Index(id_series(store, np.arange(len(store))), name="id")

    @property
    def payload(self) -> pd.DataFrame:
        """The payload as a DataFrame indexed by id (a copy)."""
        with self._lock:
            store = self._store
        frame = store.payload.frame  # a fresh copy on every access
        frame.index = pd.Index(id_series(store, np.arange(len(store))), name="id")
        return frame

    @property
    def vector_names(self) -> list[str]:
        """Vector names; ``""`` is the unnamed default vector."""
        return list(self._spaces)

    def distance(self, using: str | None = None) -> str:
        return self._space(using).distance

    def vectors(self, using: str | None = None) -> np.ndarray:
        """The stored float32 matrix of one vector name (read-only; cosine rows normalised)."""
        return self._space(using).stored

    def space(self, using: str | None = None, where: str = "using") -> VectorSpace:
        """The vector space ``using`` names: its distance, stored matrix, index and quantizer."""
        return self._store.space(using, where)

    def _space(self, using: str | None, where: str = "using") -> VectorSpace:
        return self._store.space(using, where)

    @qdrant_names
    def retrieve(
        self, ids: Sequence[Any], with_vectors: bool | Sequence[str] = False, with_payload: bool | Sequence[str] = True
    ) -> pd.DataFrame:
        """The points with these ids, in the order given (unknown ids raise UnknownIdError)."""
        ids = _id_list(ids)
        selected = parse_selectors(with_payload, with_vectors)
        with self._lock:
            store = self._store
            rows = store.ids.rows(ids, what="retrieve")
            return to_frame(store, rows, None, *selected)

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
        """Points passing ``filter``, ordered by id as Qdrant scrolls (ints first, then others).

        ``order_by``: a payload key, or ``{"key", "direction": "asc" | "desc", "start_from"}``:
        points in the order of their values at that key (a point once per distinct value, see
        :mod:`explorekit.query.order`), with the value in an ``order_value`` column.
        """
        if limit is not None:
            limit = check_count(limit, "limit", 1)
        selected = parse_selectors(with_payload, with_vectors)
        order = parse_order_by(order_by)
        with self._lock:
            store = self._store
            rows, values = _scrolled_rows(store, store_mask(filter, store), order, limit)
            return with_order_values(to_frame(store, rows, None, *selected), values)

    def _scroll_request(self, request: Request) -> pd.DataFrame:
        """A query-less request (Qdrant's scroll form of /points/query): score 1 for every point."""
        with self._lock:
            store = self._store
            mask = store_mask(request.filter, store)
            if request.scroll_from is not None:  # /points/scroll: from this id on
                first = scroll_key(request.scroll_from)
                mask = mask & np.array([scroll_key(v) >= first for v in store.ids.values], dtype=bool)
            end = request.offset + request.limit
            rows, values = _scrolled_rows(store, mask, request.order_by, end)
            rows, values = rows[request.offset :], None if values is None else values[request.offset :]
            scores = None if request.records else np.ones(len(rows), dtype=np.float32)
            frame = to_frame(store, rows, scores, request.with_payload, request.with_vectors, request.to_body())
            return with_order_values(frame, values)

    @qdrant_names
    def count(self, filter: Any = None, exact: bool = True) -> int:
        """How many points pass ``filter`` (all points without one), as Qdrant's count.

        ``exact`` is accepted for qdrant-client's ``count``; a local count is always exact.

        >>> Collection.from_arrays([[1.0, 0.0], [0.0, 1.0]], payload=[{"a": 1}, {"a": 2}]).count("a > 1")
        1
        """
        with self._lock:
            store = self._store
            return int(np.count_nonzero(store_mask(filter, store)))

    def prepare(self, request: Request) -> Prepared:
        """``request`` checked against this collection and made ready to score (see engine.prepare)."""
        return prepare(self._store, request, self._lookup_store(request))

    def _lookup_store(self, request: Request) -> Store | None:
        """The store ``lookup_from`` names: a Collection object or the name of a live one."""
        lookup = request.lookup
        if lookup is None:
            return None
        other = lookup.collection
        if isinstance(other, str):
            found = Collection.named(other)
            if found is None:
                raise UnknownCollectionError(
                    f"Collection {other!r} not found (lookup_from). Give the collection object itself, "
                    "or create it with name=... so it can be found by name."
                )
            other = found
        if not isinstance(other, Collection):
            raise RequestError(
                f"lookup_from: {type(other).__name__} is not a local Collection or the name of one. "
                "To look ids up in a Qdrant collection, pull it first with "
                "ek.connect(...)[name].to_collection()."
            )
        # The other collection's state as one whole: a store is never changed once swapped in, so
        # reading the reference needs no lock (taking other's lock while holding ours could deadlock
        # two queries that look ids up in each other's collection).
        return other._store

    def _run(self, requests: list[Request]) -> list[pd.DataFrame]:
        with self._lock:
            store = self._store
            plans = [self.prepare(r) for r in requests]  # every check before any work
            work = max((p.allowed * p.space.dim for p in plans), default=0)
            with blas_threads(work=work):
                answers = planner.answer(plans)
            started = self._start_index_builds({p.space.name for p in plans if p.wants_index})
            frames = []
            for plan, (rows, scores) in zip(plans, answers):
                if plan.wants_index:
                    plan.reason += _build_note(started.get(plan.space.name))
                r = plan.request
                frame = to_frame(store, rows, scores, r.with_payload, r.with_vectors, r.to_body())
                frame.attrs["path"] = plan.path
                frame.attrs["reason"] = plan.reason
                frame.attrs["estimated_recall"] = planner.answer_recall(plan)
                if plan.ties is not None:
                    t = plan.ties
                    with_ties(frame, t.display if t.display is not None else t.score, t.count, t.shown, t.exact)
                frames.append(frame)
        return frames

    def _overview(self, request: OverviewRequest) -> Any:
        with self._lock:
            store = self._store
        return overview.answer(store, request)  # a store never changes once swapped in

    def _run_pipelines(self, pipelines: list[Pipeline]) -> list[pd.DataFrame]:
        """Multi-stage queries (see :mod:`explorekit.engine.stages`), on one state of the store."""
        with self._lock:
            store = self._store
            frames = []
            for pipeline in pipelines:
                run = stages.run if pipeline.groups is None else stages.run_grouped
                with blas_threads(work=len(store) * max((s.dim for s in store.spaces.values()), default=0)):
                    answer = run(store, pipeline, self._lookup_store)
                frames.append(stages.result_frame(store, pipeline, answer))
            used = {
                self._space(stage.request.using).name
                for pipeline in pipelines
                for stage in pipeline.stages()
                if stage.request is not None and not stage.request.params.exact
            }
            self._start_index_builds({name for name in used if planner.wants_index(store.spaces[name])})
        return frames

    # ------------------------------------------------------------------ changes
    def upsert(self, ids: Sequence[Any], vectors: Any, payload: Any = None) -> "Collection":
        """Insert points, or replace the vectors and payload of existing ids (as Qdrant's upsert).

        ``vectors`` is a 2-D array (unnamed vector) or ``{name: 2-D array}`` covering every vector
        name. Quantized codes are re-encoded with the fitted quantizer, the approximate index is
        dropped (queries scan exactly until it is rebuilt: see :meth:`index_status`) and cached projections are dropped. Everything is
        checked first: a failed upsert changes nothing.
        """
        new_ids = IdIndex(_id_list(ids))
        named = dict(vectors) if isinstance(vectors, Mapping) else {next(iter(self._spaces)): vectors}
        if set(named) != set(self._spaces):
            raise UnknownVectorError(
                f"upsert: vectors for {sorted(named)} given; this collection has "
                f"{sorted(self._spaces)}. Give a 2-D array for every vector name."
            )
        matrices = {
            k: as_matrix(named[k], f"upsert vectors[{k!r}]" if k else "upsert vectors", dim=self._spaces[k].dim)
            for k in self._spaces
        }
        for k, matrix in matrices.items():
            if len(matrix) != len(new_ids):
                raise ExploreError(
                    f"upsert: {len(new_ids)} ids but {len(matrix)} vectors for {k or 'the vector'}. "
                    "Give one row per id."
                )
        incoming = Payload.given(payload, len(new_ids), "upsert: payload")
        for column in incoming.columns:
            if column in _RESERVED or column in self._spaces or column == "vector":
                raise ExploreError(f"upsert: payload column {column!r} clashes with a result column. Rename it.")
        with self._lock:
            replaced = [v for v in new_ids.values if v in self._ids]
            drop = self._ids.rows(replaced) if replaced else np.empty(0, np.int64)
            keep = np.setdiff1d(np.arange(len(self)), drop)
            self._apply(
                keep,
                new_ids.values,
                {k: preprocess_in_place(m, self._spaces[k].distance) for k, m in matrices.items()},  # copies
                incoming,
            )
        return self

    def delete(self, ids: Sequence[Any]) -> "Collection":
        """Remove points by id (unknown ids raise UnknownIdError and nothing is removed)."""
        ids = _id_list(ids)
        with self._lock:
            drop = self._ids.rows(ids, what="delete")
            keep = np.setdiff1d(np.arange(len(self)), drop)
            empty = {k: np.zeros((0, s.dim), np.float32) for k, s in self._spaces.items()}
            self._apply(keep, [], empty, Payload.empty(0))
        return self

    def _apply(self, keep: np.ndarray, added_ids: list, added: dict[str, np.ndarray], payload: Payload) -> None:
        """Build the changed state completely, then swap it in (nothing half-applied)."""
        ids = IdIndex(self._ids.take(keep) + list(added_ids))
        new_payload = self._payload.take(keep).concat(payload)
        spaces = {}
        for name, space in self._spaces.items():
            stored = np.concatenate([np.asarray(space.stored[keep]), added[name]]).astype(np.float32)
            stored.setflags(write=False)
            quantizer = None
            if space.quantizer is not None:
                quantizer = space.quantizer.copy() if hasattr(space.quantizer, "copy") else space.quantizer
                quantizer.keep(keep)
                if len(added[name]):
                    quantizer.add(added[name])
            spaces[name] = VectorSpace(name, space.distance, stored, index=None, quantizer=quantizer)
        self._store = Store(ids, spaces, new_payload, self._store.name)

    # ------------------------------------------------------------------ persistence
    def save(self, path: Any) -> Any:
        """Save everything needed to answer the same queries again (atomic; see persistence)."""
        with self._lock:
            return persistence.save(self._store, path)

    @classmethod
    def load(cls, path: Any, mmap: bool = True, verify: bool = True) -> "Collection":
        """Load a saved collection; vectors are memory-mapped (read-only) when ``mmap``."""
        return cls(persistence.load(path, mmap=mmap, verify=verify))

    # ------------------------------------------------------------------ index and quantization
    def quantize(self, config: Mapping[str, Any], using: str | None = None) -> "Collection":
        """Quantize one vector space with a Qdrant quantization config; returns the collection.

        When it returns, the vectors of ``using`` as they are then carry the quantizer, with one
        code per point (see :meth:`_build_and_attach` for changes made while it trains).
        """
        make_quantizer(config, self._space(using).distance)  # a bad config fails before any work

        def fit(space: VectorSpace) -> Any:
            return make_quantizer(config, space.distance).fit(space.stored, space.distance)

        self._build_and_attach(using, "quantizer", fit)
        return self

    def build_index(self, using: str | None = None, n_trees: int | None = None) -> "Collection":
        """Build the approximate (annoy) index of one vector space now, with a progress bar.

        When it returns, the vectors of ``using`` as they are then carry the index. A background
        build of ``using`` that is running (see :meth:`index_status`) is waited for first; with
        ``n_trees=None`` its index is kept when it is current, else this builds one.
        """
        name = self._space(using).name
        self.wait_for_index(using)
        if n_trees is None and planner.current_index(self._space(using)) is not None:
            return self
        self._build_and_attach(name, "index", lambda space: build_index(space, n_trees=n_trees))
        return self

    def index_status(self) -> dict[str, str]:
        """Per vector name, the state of its approximate index: ``"built (N trees)"``,
        ``"building in the background"``, ``"not built"`` (queries scan exactly), or why the last
        background build failed.

        A query on a large collection without an index answers exactly at once (its
        ``attrs["reason"]`` starts with ``"no approximate index of"`` and says whether a
        background build started); once the build is attached, queries use the index.

        >>> Collection.from_arrays([[1.0, 0.0], [0.0, 1.0]]).index_status()
        {'': 'not built'}
        """
        with self._lock:
            spaces = dict(self._store.spaces)
            running = {name for name, thread in self._builds.items() if thread.is_alive()}
            errors = dict(self._build_errors)
        status = {}
        for name, space in spaces.items():
            if planner.current_index(space) is not None:
                status[name] = _index_state(space.index)
            elif name in running:
                status[name] = "building in the background"
            elif name in errors:
                status[name] = f"not built: the background build failed ({errors[name]})"
            else:
                status[name] = "not built"
        return status

    def wait_for_index(self, using: str | None = None, timeout: float | None = None) -> "Collection":
        """Wait until the background index build of ``using`` (if one runs) has ended.

        >>> Collection.from_arrays([[1.0, 0.0]]).wait_for_index().index_status()
        {'': 'not built'}
        """
        name = self._space(using).name
        with self._lock:
            thread = self._builds.get(name)
        if thread is not None:
            thread.join(timeout)
        return self

    def _start_index_builds(self, names: set[str]) -> dict[str, bool]:
        """Start one background index build per vector name that has none running (unless
        :func:`explorekit.index.background_builds` is off); per name, whether one is running."""
        running = {}
        if not names or not background_builds():
            return {name: False for name in names}
        with self._lock:
            for name in sorted(names):
                thread = self._builds.get(name)
                if thread is None or not thread.is_alive():
                    thread = threading.Thread(
                        target=self._background_build, args=(name,), name=f"explorekit-index-{name}", daemon=True
                    )
                    self._builds[name] = thread
                    self._build_errors.pop(name, None)
                    thread.start()
                running[name] = True
        return running

    def _background_build(self, name: str) -> None:
        """One background build of ``name``'s index; never holds the lock while building (an
        overtaken build gives up: the next query that finds no index starts another). It draws no
        progress bar (``col.index_status()`` says how it goes)."""
        try:
            with progress_quiet():
                self._build_and_attach(name, "index", build_index, last_under_lock=False)
        except Exception as err:  # noqa: BLE001 - reported by index_status, queries stay exact
            with self._lock:
                self._build_errors[name] = f"{type(err).__name__}: {err}"

    def _build_and_attach(
        self,
        using: str | None,
        attribute: str,
        build: Callable[[VectorSpace], Any],
        *,
        last_under_lock: bool = True,
    ) -> None:
        """``build(space)`` for the current vector space of ``using``, attached to that space.

        Training takes seconds to minutes, so it runs without the lock on the space as it was
        (its arrays never change in place): queries and changes go on meanwhile. What was built is
        attached under the lock only if the space is still the current one; if an upsert or a
        delete replaced it, it is built again on the new vectors. After ``_BUILD_TRIES`` builds
        overtaken that way, the last build holds the lock, so the call always ends with the
        current vectors carrying what it built, never with it attached to old vectors or lost.
        With ``last_under_lock=False`` (background builds, which must never block a query) it
        gives up instead.

        >>> col = Collection.from_arrays([[1.0, 0.0], [0.0, 1.0]])
        >>> col._build_and_attach(None, "quantizer", lambda space: "fitted")
        >>> col.space(None).quantizer
        'fitted'
        """
        for _ in range(_BUILD_TRIES):
            space = self._space(using)
            built = build(space)
            with self._lock:
                if self._space(using) is space:
                    setattr(space, attribute, built)
                    return
        if not last_under_lock:
            return
        with self._lock:
            space = self._space(using)
            setattr(space, attribute, build(space))

    def memory_usage(self) -> pd.DataFrame:
        """Bytes per vector name: original vectors, approximate index and quantized codes."""
        rows = []
        with self._lock:
            spaces = list(self._spaces.values())
        for space in spaces:
            rows.append(
                {
                    "vector": space.name,
                    "dim": space.dim,
                    "points": len(space.stored),
                    "original_bytes": int(space.stored.nbytes),
                    "index_bytes": int(getattr(space.index, "nbytes", 0) or 0),
                    "quantized_bytes": _quantized_bytes(space),
                    "quantization": None if space.quantizer is None else space.quantizer.method,
                }
            )
        frame = pd.DataFrame(rows).set_index("vector")
        frame["compression"] = frame["original_bytes"] / frame["quantized_bytes"].where(frame["quantized_bytes"] > 0)
        return frame


def _scrolled_rows(
    store: Store, mask: np.ndarray, order: OrderBy | None, limit: int | None
) -> tuple[np.ndarray, list | None]:
    """The rows ``mask`` passes in Qdrant's scroll order (by id, or by ``order``), at most ``limit``,
    and their order values (None when ordered by id)."""
    if order is not None:
        return ordered_rows(store.payload, mask, order, limit)
    rows = scroll_order(store.ids, np.flatnonzero(mask))
    return (rows if limit is None else rows[:limit]), None


def _space_bytes(space: VectorSpace) -> int:
    """Bytes of one vector space: vectors, index and quantized codes (as :meth:`Collection.memory_usage`)."""
    return int(space.stored.nbytes) + int(getattr(space.index, "nbytes", 0) or 0) + _quantized_bytes(space)


def _quantized_bytes(space: VectorSpace) -> int:
    return int(getattr(space.quantizer, "nbytes", 0) or 0)


def _build_note(running: bool | None) -> str:
    """What a reason adds when a query found no index: whether a background build runs."""
    if running:
        return "; building it in the background meanwhile (col.index_status() says when it is ready)"
    return f"; background builds are off ({BACKGROUND_ENVIRONMENT}=0)"


def _index_state(index: Any) -> str:
    if index is None:
        return "not built"
    trees = getattr(index, "n_trees", None)
    return f"built ({trees} trees)" if trees else "built"


def _quantization_state(quantizer: Any) -> str:
    if quantizer is None:
        return "none"
    config = getattr(quantizer, "config", {}) or {}
    body = next(iter(config.values()), {}) if isinstance(config, Mapping) else {}
    detail = body.get("type") or body.get("compression") or body.get("encoding") if isinstance(body, Mapping) else None
    return f"{quantizer.method} {detail}" if detail else str(quantizer.method)


def _id_list(ids: Any) -> list:
    """One id or many, as a list: a lone id (int, str, UUID, numpy scalar...) is a list of one.

    >>> _id_list(7), _id_list(np.uint64(7)), _id_list(range(2)), _id_list("a")
    ([7], [np.uint64(7)], [0, 1], ['a'])
    """
    if isinstance(ids, (str, bytes, int, float, np.generic, uuid.UUID)) or not isinstance(ids, Iterable):
        return [ids]
    return list(ids)


def _vector_columns(df: pd.DataFrame, spec: Any, where: str) -> list:
    """The DataFrame columns that ``spec`` makes a vector of: ``[name]`` for one column of
    vectors, ``[[names...]]`` for a list of number columns (a wide frame).

    A tuple that is itself a column name (a MultiIndex frame) is that column.
    """
    hashable = isinstance(spec, Hashable) and spec is not None
    if hashable and (not isinstance(spec, tuple) or spec in df.columns):
        cols, wide = [spec], False
    elif isinstance(spec, (list, tuple, pd.Index, np.ndarray)) and len(spec) > 0:
        cols, wide = list(spec), True
    else:
        raise ExploreError(
            f"from_dataframe: {where}={short_repr(spec)} is neither a column name nor a list of columns. "
            "Pass e.g. vectors='embedding', vectors=['f0', 'f1', ...] (a wide frame) or "
            "vectors={'image': 'image_emb', 'text': ['t0', 't1']}."
        )
    missing = [c for c in cols if not isinstance(c, Hashable) or c not in df.columns]
    if missing:
        raise ExploreError(
            unknown(
                "vector column",
                missing[0],
                [str(c) for c in df.columns],
                f"{where} must name columns of the DataFrame"
                f"{f' ({len(missing)} of the {len(cols)} given are not)' if len(cols) > 1 else ''}; "
                f"it has {list(df.columns)[:20]}{' ...' if len(df.columns) > 20 else ''}.",
            )
        )
    return [cols] if wide else cols


def _vector_matrix(df: pd.DataFrame, spec: list, where: str) -> np.ndarray:
    """One vector per row: the cells of a vector column (``[name]``), or the numbers of several
    columns (``[[names...]]``), as :func:`_vector_columns` gives them."""
    if not isinstance(spec[0], list):
        return _stack_column(df[spec[0]], spec[0])
    cols = spec[0]
    not_numbers = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c].dtype) or df[c].dtype == bool]
    if not_numbers:
        raise ExploreError(
            f"from_dataframe: {where}={short_repr(cols)} lists column(s) that do not hold numbers: "
            f"{not_numbers[:5]} (dtype {df[not_numbers[0]].dtype}). A list makes one vector of number "
            "columns (a wide frame); for a column holding whole vectors give its column name, or "
            "{vector name: column name} for several."
        )
    return df[cols].to_numpy(dtype=np.float32, copy=True)  # never a view of the caller's frame


def _stack_column(column: pd.Series, name: str) -> np.ndarray:
    values = column.tolist()
    lengths = {}
    for row, value in enumerate(values):
        size = np.size(value) if value is not None and not (np.isscalar(value)) else -1
        lengths.setdefault(size, row)
    if -1 in lengths:
        raise ExploreError(
            f"vector column {name!r}: row {lengths[-1]} holds {short_repr(values[lengths[-1]])}, "
            "not a vector. Every row needs a list or array of numbers."
        )
    if len(lengths) > 1:
        raise ExploreError(
            f"vector column {name!r}: rows have different lengths "
            f"{ {size: f'first at row {row}' for size, row in lengths.items()} }. "
            "Every vector of one name must have the same dimension."
        )
    if not values:
        return np.zeros((0, 0), np.float32)
    out = np.empty((len(values), next(iter(lengths))), np.float32)  # filled row by row: no list of rows
    try:
        for row, value in enumerate(values):
            vector = np.asarray(value, dtype=np.float32)
            if vector.shape != out.shape[1:]:  # not flat: stacked as given (a 3-D array, reported later)
                return np.stack([np.asarray(v, dtype=np.float32) for v in values])
            out[row] = vector
    except (TypeError, ValueError) as err:
        raise NonFiniteError(f"vector column {name!r}: {err}. Vectors must hold numbers.") from None
    return out
