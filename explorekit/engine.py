"""Answering requests: resolve examples, mask, score, select, page.

One pipeline serves every query kind and every path (exact scan, approximate index,
quantized codes): a request is *prepared* (examples resolved to vectors, the filter turned
into a row mask, the Qdrant formula chosen), then the chosen path returns candidate rows with
internal scores, and :func:`finish` applies Qdrant's display rule, score threshold, offset and
limit. Batches of prepared requests on the same vectors share one pass over the matrix.

Order of operations (qdrant-semantics.md §2.3): filter and id exclusion, score, keep the best
``limit + offset``, display (nearest only), threshold (stop at the first failure, direction of
the collection distance), offset, limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import DimensionError, RequestError, UnknownCollectionError
from .distances import display, exact_similarity, passes_threshold, preprocess, similarity
from .filters import filter_mask
from .requests import Example, Lookup, Request
from .scoring import ScoringQuery
from .topk import merge_top_k, top_k

if TYPE_CHECKING:
    from .collection import Collection, VectorSpace

_BLOCK_FLOATS = 1 << 22          # similarity block size (examples x rows) for one pass
DENSE_MASK = 0.25                # above this fraction of passing rows, scan all rows and mask


@dataclass
class Prepared:
    """A request made ready to score against one vector space."""

    request: Request
    space: "VectorSpace"
    query: ScoringQuery
    mask: np.ndarray | None          # rows allowed (filter and id exclusion); None = all

    @property
    def top(self) -> int:
        return self.request.limit + self.request.offset

    @property
    def allowed(self) -> int:
        return len(self.space.stored) if self.mask is None else int(self.mask.sum())


def prepare(col: "Collection", request: Request) -> Prepared:
    """Check a request against the collection and resolve everything it refers to."""
    space = col._space(request.using)
    source, lookup_name, same = _lookup_source(col, request, space)
    resolve = _Resolver(source, lookup_name, space, external=not same)
    kind = request.kind
    if kind == "search":
        vectors, layout = [resolve.stored(request.query, "query")], {}
        qkind = "nearest"
    elif kind == "recommend":
        pos = [resolve.stored(e, f"positive[{i}]") for i, e in enumerate(request.positive)]
        neg = [resolve.stored(e, f"negative[{i}]") for i, e in enumerate(request.negative)]
        if request.strategy == "average_vector":
            vectors, layout, qkind = [_average_query(pos, neg)], {}, "nearest"
        else:
            vectors, qkind = pos + neg, request.strategy
            layout = {"n_positive": len(pos), "n_negative": len(neg)}
    else:
        vectors = [] if request.target is None else [resolve.stored(request.target, "target")]
        for i, (p, n) in enumerate(request.context):
            vectors += [resolve.stored(p, f"context[{i}].positive"), resolve.stored(n, f"context[{i}].negative")]
        qkind, layout = kind, {"n_pairs": len(request.context)}
    stacked = preprocess(np.vstack(vectors) if vectors else np.zeros((0, space.dim), np.float32),
                         space.distance)
    mask = None
    if request.filter is not None:
        mask = filter_mask(request.filter, col._payload, col._ids)
    excluded = request.referenced_ids if same else []
    if excluded:
        mask = np.ones(len(col), dtype=bool) if mask is None else mask.copy()
        mask[col._ids.rows(excluded)] = False
    return Prepared(request, space, ScoringQuery(qkind, stacked, **layout), mask)


def lookup_collection(lookup: Lookup) -> Any:
    """What ``lookup_from`` names: the object given, or the live collection of that name (or None)."""
    from .collection import Collection
    other = lookup.collection
    return Collection.named(other) if isinstance(other, str) else other


def _lookup_source(col: "Collection", request: Request, space: "VectorSpace"):
    from .collection import Collection
    lookup = request.lookup
    if lookup is None:
        return col, space.name, True
    other = lookup_collection(lookup)
    if other is None:
        raise UnknownCollectionError(
            f"Collection {lookup.collection!r} not found (lookup_from). Give the collection object itself, "
            "or create it with name=... so it can be found by name.")
    if not isinstance(other, Collection):
        raise RequestError(f"lookup_from: {type(other).__name__} is not a local Collection or the name of one. "
                           "To look ids up in a Qdrant collection, pull it first with "
                           "ek.Collection.from_qdrant(client, name).")
    if lookup.vector is not None:
        name = lookup.vector
    elif request.lookup_default == "using":
        name = space.name
    else:
        name = ""
    same = other is col or (col.name is not None and other.name == col.name)
    return other, name, same


class _Resolver:
    """Turns examples into vectors: ids through the lookup collection, raw vectors as given."""

    def __init__(self, source: "Collection", vector_name: str, space: "VectorSpace", external: bool):
        self.source, self.vector_name, self.space, self.external = source, vector_name, space, external

    def stored(self, example: Example, where: str) -> np.ndarray:
        if example.is_id:
            lookup_space = self.source._space(self.vector_name, where="lookup_from vector")
            row = self.source._ids.row(example.id, what=where)
            vector = lookup_space.stored[row]
            origin = "looked up in another collection" if self.external else "looked up by id"
        else:
            vector, origin = example.vector, "given"
        if vector.shape[0] != self.space.dim:
            raise DimensionError(
                f"Vector dimension error: expected dim: {self.space.dim}, got {vector.shape[0]} "
                f"({where}, {origin}). The searched vector {self.space.label} has dimension "
                f"{self.space.dim}; pass vectors of that length or look ids up in a matching space.")
        return vector


def _average_query(pos: list[np.ndarray], neg: list[np.ndarray]) -> np.ndarray:
    """Qdrant's average_vector query: ``avg(P) + avg(P) - avg(N)``, in float32, vectors as given."""
    avg_pos = np.sum(np.vstack(pos).astype(np.float32), axis=0, dtype=np.float32) / np.float32(len(pos))
    if not neg:
        return avg_pos
    avg_neg = np.sum(np.vstack(neg).astype(np.float32), axis=0, dtype=np.float32) / np.float32(len(neg))
    return avg_pos + avg_pos - avg_neg


# ---------------------------------------------------------------------------------------------
# the exact path


def exact_candidates(plans: list[Prepared], top: list[int] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Best rows and internal scores of each plan by an exact scan, best first.

    Plans over the same vector space whose filters keep most rows share one pass over the
    matrix (a batch of 100 requests is one product per block, not 100 scans); plans with
    selective filters scan only the rows that pass.
    """
    top = top or [p.top for p in plans]
    out: list[Any] = [None] * len(plans)
    shared: dict[int, list[int]] = {}
    for i, plan in enumerate(plans):
        n = len(plan.space.stored)
        if plan.mask is not None and plan.allowed < DENSE_MASK * n:
            rows = np.flatnonzero(plan.mask)
            out[i] = _score_rows(plan, rows, top[i])
        else:
            shared.setdefault(id(plan.space), []).append(i)
    for members in shared.values():
        for i, result in zip(members, _shared_pass([plans[i] for i in members], [top[i] for i in members])):
            out[i] = result
    return [_refine(plans[i], *out[i], top[i]) for i in range(len(plans))]


def _score_rows(plan: Prepared, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if len(rows) == 0:
        return _empty()
    if len(plan.query.vectors):
        scores = plan.query.combine(_sims(plan, plan.space.stored[rows]))
    else:                                   # context search with no pairs: every point scores 0
        scores = np.zeros(len(rows), np.float32)
    keep = top_k(scores, _refine_width(plan, k), rows)
    return rows[keep], scores[keep]


def _shared_pass(plans: list[Prepared], tops: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    stored = plans[0].space.stored
    distance = plans[0].space.distance
    examples = np.vstack([p.query.vectors for p in plans]) if plans else None
    starts = np.cumsum([0] + [len(p.query.vectors) for p in plans])
    best = [_empty() for _ in plans]
    block = max(4096, _BLOCK_FLOATS // max(1, len(examples)))
    for begin in range(0, len(stored), block):
        chunk = stored[begin:begin + block]
        sims = similarity(examples, chunk, distance) if len(examples) else None
        rows = np.arange(begin, begin + len(chunk))
        for j, plan in enumerate(plans):
            if sims is None or starts[j] == starts[j + 1]:
                scores = np.zeros(len(chunk), np.float32)
            else:
                scores = plan.query.combine(sims[starts[j]:starts[j + 1]])
            if plan.mask is not None:
                scores = np.where(plan.mask[begin:begin + len(chunk)], scores, np.float32(-np.inf))
            keep = top_k(scores, _refine_width(plan, tops[j]), rows)
            best[j] = merge_top_k(*best[j], rows[keep], scores[keep], _refine_width(plan, tops[j]))
    return best


def _sims(plan: Prepared, vectors: np.ndarray) -> np.ndarray:
    return similarity(plan.query.vectors, vectors, plan.space.distance)


def _refine_width(plan: Prepared, k: int) -> int:
    """Candidates kept from the blocked product, re-scored canonically by :func:`_refine`.

    The margin absorbs the last-bit differences between the product and the canonical sums
    (and euclid's cancellation error), so the final top ``k`` is decided by canonical scores.
    """
    return 2 * k + 16


def _refine(plan: Prepared, rows: np.ndarray, scores: np.ndarray, k: int):
    if len(rows) and len(plan.query.vectors):
        return rescore(plan, rows, k)
    return rows[:k], scores[:k]


def rescore(plan: Prepared, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact internal scores of the given candidate rows, best ``k`` first (used by other paths)."""
    if len(rows) == 0:
        return _empty()
    if len(plan.query.vectors) == 0:
        scores = np.zeros(len(rows), np.float32)
    else:
        scores = plan.query.combine(exact_similarity(plan.query.vectors, plan.space.stored[rows],
                                                     plan.space.distance))
    keep = top_k(scores, k, rows)
    return rows[keep], scores[keep]


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, np.int64), np.empty(0, np.float32)


def finish(plan: Prepared, rows: np.ndarray, scores: np.ndarray, *, shown=None) -> tuple[np.ndarray, np.ndarray]:
    """Display rule, threshold, offset and limit on candidates sorted best first.

    ``shown`` replaces the display rule (quantized scores without rescoring).
    """
    distance = plan.space.distance
    rows, scores = rows[: plan.top], scores[: plan.top]
    if plan.query.kind == "nearest":
        scores = display(scores, distance) if shown is None else shown(scores)
    threshold = plan.request.score_threshold
    if threshold is not None and len(scores):
        ok = passes_threshold(scores, threshold, distance)
        if not ok.all():
            stop = int(np.argmin(ok))
            rows, scores = rows[:stop], scores[:stop]
    offset = plan.request.offset
    return rows[offset: offset + plan.request.limit], scores[offset: offset + plan.request.limit]
