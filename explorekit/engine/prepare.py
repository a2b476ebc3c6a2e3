"""Preparing a request: examples resolved to vectors, the filter turned into rows, the formula chosen.

A :class:`Prepared` request is what every path (exact scan, quantized codes, approximate index)
scores. It declares the path that answers it and why (``path``, ``reason``), set by the planner
through :meth:`Prepared.decide`, and the one rule for which rows a scan reads
(:meth:`Prepared.scan_rows`).

Examples
--------
>>> import numpy as np, explorekit as ek
>>> from explorekit.query.requests import Request
>>> col = ek.Collection.from_arrays(np.eye(3, dtype=np.float32), distance="dot")
>>> plan = prepare(col.store, Request.build("recommend", positive=[0], negative=[1], strategy="best_score"))
>>> plan.query.kind, plan.query.n_positive, plan.allowed
('best_score', 1, 1)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorekit._support.errors import DimensionError
from explorekit.data.store import Store, VectorSpace
from explorekit.query.filters import store_mask
from explorekit.query.requests import Example, Request, same_collection
from explorekit.scoring.distances import preprocess
from explorekit.scoring.formulas import ScoringQuery

DENSE_MASK = 0.25  # above this fraction of passing rows, scan all rows and mask
PATHS = ("exact", "quantized", "annoy", "sign_codes")


@dataclass
class Ties:
    """Equal scores at the cut of a top-k: the internal ``score``, how many allowed points
    have it (``count``; a lower bound when not ``exact``) and how many of them made the top."""

    score: float
    count: int
    exact: bool
    shown: int = 0  # of them in the answer (set by finish)
    display: float | None = None  # the score as the answer shows it (set by finish)


@dataclass
class Prepared:
    """A request made ready to score against one vector space, and the path chosen for it."""

    request: Request
    space: VectorSpace
    query: ScoringQuery
    mask: np.ndarray | None  # rows allowed (filter and id exclusion); None = all
    resolver: Resolver | None = None  # how the examples were turned into vectors (for explanations)
    path: str = "exact"  # one of PATHS, set by the planner (and by fallbacks)
    reason: str = ""  # one sentence per decision, "; "-joined
    ties: Ties | None = None  # set by the exact rescoring when equal scores straddle the cut
    estimated_recall: float | None = None  # set by the approximate paths (exact: None, meaning 1)
    wants_index: bool = False  # the planner would have used an index that is not built yet
    scanned: np.ndarray | None = None  # the exact pass's similarities of every row, when one block held them

    @property
    def top(self) -> int:
        return self.request.limit + self.request.offset

    @property
    def allowed(self) -> int:
        return len(self.space.stored) if self.mask is None else int(self.mask.sum())

    def decide(self, path: str, reason: str) -> str:
        """Record the path that answers this request and why; returns ``path``."""
        self.path, self.reason = path, reason
        return path

    def fall_back(self, path: str, reason: str) -> None:
        """A path gave up: record the one that answers instead, keeping the earlier reasons."""
        self.path, self.reason = path, f"{self.reason}; {reason}".lstrip("; ")

    @property
    def selective(self) -> bool:
        """The one "a selective filter scans only its rows" rule: fewer than ``DENSE_MASK`` pass."""
        return self.mask is not None and self.allowed < DENSE_MASK * len(self.space.stored)

    def scan_rows(self) -> np.ndarray | None:
        """The rows a scan reads: those passing when :attr:`selective`, else all (None).

        Used by the exact, quantized and sign-code scans; with None a scan reads every row
        and masks the scores.
        """
        return np.flatnonzero(self.mask) if self.selective else None


def prepare(store: Store, request: Request, lookup: Store | None = None) -> Prepared:
    """Check a request against ``store`` and resolve what it refers to.

    ``lookup`` is the store that ``lookup_from`` names, already resolved by the facade (None:
    examples are ids of ``store`` itself).
    """
    source = store if lookup is None else lookup
    check_examples(source, request)  # Qdrant's order: a missing point before an unknown vector name
    space = store.space(request.using)
    same = same_collection(store, lookup)
    resolve = Resolver(source, _lookup_vector(request, space, lookup), space, external=not same)
    kind = request.kind
    if kind == "search":
        vectors, layout = [resolve.stored(request.query, "query")], {}
        qkind = "nearest"
    elif kind == "recommend":
        pos = [resolve.stored(e, f"positive[{i}]") for i, e in enumerate(request.positive)]
        neg = [resolve.stored(e, f"negative[{i}]") for i, e in enumerate(request.negative)]
        if request.strategy == "average_vector":
            vectors, layout, qkind = [average_query(pos, neg)], {}, "nearest"
        else:
            vectors, qkind = pos + neg, request.strategy
            layout = {"n_positive": len(pos), "n_negative": len(neg)}
    else:
        vectors = [] if request.target is None else [resolve.stored(request.target, "target")]
        for i, (p, n) in enumerate(request.context):
            vectors += [resolve.stored(p, f"context[{i}].positive"), resolve.stored(n, f"context[{i}].negative")]
        qkind, layout = kind, {"n_pairs": len(request.context)}
    stacked = preprocess(np.vstack(vectors) if vectors else np.zeros((0, space.dim), np.float32), space.distance)
    mask = None
    if request.filter is not None:
        mask = store_mask(request.filter, store)
    excluded = request.left_out_ids(store, lookup)
    if excluded:
        mask = np.ones(len(store), dtype=bool) if mask is None else mask.copy()
        mask[store.ids.rows(excluded)] = False
    return Prepared(request, space, ScoringQuery(qkind, stacked, **layout), mask, resolve)


def labelled_examples(request: Request) -> list[tuple[Example, str]]:
    """Every example of ``request`` with the place it is named by in errors, in request order."""
    out: list[tuple[Example, str]] = []
    if request.query is not None:
        out.append((request.query, "query"))
    out += [(e, f"positive[{i}]") for i, e in enumerate(request.positive)]
    out += [(e, f"negative[{i}]") for i, e in enumerate(request.negative)]
    if request.target is not None:
        out.append((request.target, "target"))
    for i, (p, n) in enumerate(request.context):
        out += [(p, f"context[{i}].positive"), (n, f"context[{i}].negative")]
    return out


def check_examples(source: Store, request: Request) -> None:
    """Qdrant's order of checks for example ids: each id in turn must be in ``source`` (the
    lookup store), then the vector it is looked up in must exist there (when named explicitly).

    So a missing point is reported before an unknown ``using`` or ``lookup_from`` vector name,
    unless an earlier id was found (its vector is then looked up first), as in Qdrant.
    """
    check_example_order(request, lambda pid, label: source.ids.row(pid, what=label), source.space)


def check_example_order(
    request: Request, find_point: Callable[[Any, str], Any], find_space: Callable[[str, str], Any]
) -> None:
    """The one order of :func:`check_examples`, for any collection: ``find_point(id, label)``
    raises UnknownIdError for a missing point, ``find_space(name, where)`` UnknownVectorError
    for an unknown vector name (the Qdrant backend passes server look-ups).

    >>> check_example_order(Request("search", query=Example(id=7)), lambda pid, label: print(pid, label), print)
    7 query
    """
    if request.lookup is None:
        name, where = request.using, "using"
    else:
        name = request.lookup.vector
        if name is None and request.lookup_default == "using":
            name = request.using
        where = "lookup_from vector"
    for example, label in labelled_examples(request):
        if example.is_id:
            find_point(example.id, label)
            if name:
                find_space(name, where)


def _lookup_vector(request: Request, space: VectorSpace, lookup: Store | None) -> str:
    """The vector name example ids are looked up in (Qdrant's lookup_from rules)."""
    if lookup is None or request.lookup is None:
        return space.name
    if request.lookup.vector is not None:
        return request.lookup.vector
    return space.name if request.lookup_default == "using" else ""


class Resolver:
    """Turns examples into vectors: ids through the lookup store, raw vectors as given.

    ``external`` is True when ids are looked up in another collection (they are then not
    left out of the results).
    """

    def __init__(self, source: Store, vector_name: str, space: VectorSpace, external: bool):
        self.source, self.vector_name, self.space, self.external = source, vector_name, space, external

    def stored(self, example: Example, where: str) -> np.ndarray:
        if example.is_id:
            lookup_space = self.source.space(self.vector_name, where="lookup_from vector")
            row = self.source.ids.row(example.id, what=where)
            vector = lookup_space.stored[row]
            origin = "looked up in another collection" if self.external else "looked up by id"
        else:
            vector, origin = example.vector, "given"
        if vector.shape[0] != self.space.dim:
            raise DimensionError(
                f"Vector dimension error: expected dim: {self.space.dim}, got {vector.shape[0]} "
                f"({where}, {origin}). The searched vector {self.space.label} has dimension "
                f"{self.space.dim}; pass vectors of that length or look ids up in a matching space."
            )
        return vector


def average_query(pos: list[np.ndarray], neg: list[np.ndarray]) -> np.ndarray:
    """Qdrant's average_vector query: ``avg(P) + avg(P) - avg(N)``, in float32, vectors as given."""
    avg_pos = np.sum(np.vstack(pos).astype(np.float32), axis=0, dtype=np.float32) / np.float32(len(pos))
    if not neg:
        return avg_pos
    avg_neg = np.sum(np.vstack(neg).astype(np.float32), axis=0, dtype=np.float32) / np.float32(len(neg))
    return avg_pos + avg_pos - avg_neg
