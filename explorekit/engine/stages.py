"""Running a multi-stage query (:class:`~explorekit.query.pipeline.Pipeline`) the way Qdrant does.

Every stage runs on the candidates of the stages it prefetches from:

* **filters propagate down**: a stage's filter is merged into the filter of every stage below
  it (Qdrant's ``Filter::merge``: clauses concatenated, ``should`` of both become alternatives),
  and the ids a stage gives as examples are left out of its whole subtree; so prefetch limits
  apply to candidates that already pass;
* a **leaf** (no prefetch) is an ordinary query: the planner chooses its path (exact,
  quantized with the stage's ``params``, index) as for a single query;
* a **vector query over prefetched candidates** (nearest, recommend, discover, context) scores
  exactly those candidates with the exact path's scoring (:func:`explorekit.engine.exact.rescore`),
  then Qdrant's finish (threshold, offset, limit); MMR, order_by, sample and a query-less scroll
  take the candidates as their filter;
* **fusion** (RRF with Qdrant's ``k = 2`` or a given ``k`` and weights; DBSF) and **formula**
  combine the candidate lists by rank or score, keep ``limit + offset``, then the threshold
  (``score >= threshold``), then the offset.

Each stage's answer (rows and scores, best first) is recorded with its path for
``result.attrs["stages"]``.

Examples
--------
>>> import numpy as np, explorekit as ek
>>> from explorekit.query.pipeline import parse_pipeline
>>> col = ek.Collection.from_arrays(np.eye(3, dtype=np.float32), distance="dot")
>>> p = parse_pipeline({"prefetch": [{"query": [1, 0, 0], "limit": 2}, {"query": [0, 1, 0], "limit": 2}],
...                     "query": {"fusion": "rrf"}})
>>> answer = run(col.store, p, lambda request: None)
>>> answer.rows.tolist(), np.round(answer.scores, 4).tolist()
([0, 1], [0.8333, 0.8333])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from explorekit._support.errors import RequestError
from explorekit.data.ids import scroll_order
from explorekit.data.jsonpath import parse_key
from explorekit.data.store import Store
from explorekit.engine import planner
from explorekit.engine.exact import finish, rescore
from explorekit.engine.formula_eval import candidate_union, formula_order, formula_terms
from explorekit.engine.formula_values import flat_values
from explorekit.engine.matrix import sample_rows
from explorekit.engine.prepare import Prepared, prepare
from explorekit.query.filters import store_mask, to_filter_dict
from explorekit.query.order import ordered_rows
from explorekit.query.pipeline import Pipeline, Stage, StageFrames, merge_filters, stage_frame
from explorekit.query.requests import Request
from explorekit.query.results import id_values, to_frame, with_order_values
from explorekit.scoring.distances import exact_similarity

RRF_K = 2  # Qdrant's default RRF constant (qdrant-client's DEFAULT_RANKING_CONSTANT_K)

Lookup = Callable[[Request], "Store | None"]


@dataclass
class Answer:
    """Rows (positions in the store) and scores (float64), best first, and every stage's answer."""

    rows: np.ndarray
    scores: np.ndarray
    stages: list[tuple[Stage, np.ndarray, np.ndarray]] = field(default_factory=list)
    path: str = ""  # the top stage's path and reason, as for a single query
    reason: str = ""
    order_values: list | None = None  # an order_by top stage's order values (result column)
    terms: dict = field(default_factory=dict)  # stage path -> (rows, {term label: values}) of formulas


@dataclass(frozen=True)
class Scope:
    """What the stages above a stage impose on it: a merged Qdrant filter, other filters
    (pandas strings, boolean masks) that can only be ANDed, and ids given as examples above."""

    filter: dict | None = None
    others: tuple = ()
    excluded: tuple = ()

    def below(self, stage: Stage, excluded: Sequence[Any]) -> Scope:
        """The scope of ``stage``'s own prefetches: its filter merged in, its example ids left out."""
        flt, others = self.filter, self.others
        if stage.filter is not None:
            own = _qdrant_form(stage.filter)
            if own is None:
                others = (*others, stage.filter)
            else:
                flt = merge_filters(flt, own)
        return Scope(flt, others, (*self.excluded, *excluded))

    def mask(self, store: Store) -> np.ndarray | None:
        """Rows passing the scope (None: every row)."""
        if self.filter is None and not self.others and not self.excluded:
            return None
        mask = store_mask(self.filter, store)
        for other in self.others:
            mask &= store_mask(other, store)
        if self.excluded:
            mask[store.ids.rows(list(self.excluded))] = False
        return mask


_FILTER_KEYS = {"must", "must_not", "should", "min_should"}


def _qdrant_form(value: Any) -> dict | None:
    """A filter as a Qdrant filter dict, or None for forms that can only be ANDed."""
    if hasattr(value, "model_dump"):
        value = to_filter_dict(value)
    if isinstance(value, Mapping):
        value = dict(value)
        return value if set(value) <= _FILTER_KEYS else {"must": [value]}
    return None


class _Runner:
    """Runs the stages of one pipeline against one store, recording each stage's answer."""

    def __init__(self, store: Store, lookup: Lookup) -> None:
        self.store, self.lookup = store, lookup
        self.stages: list[tuple[Stage, np.ndarray, np.ndarray]] = []
        self.last_plan: Prepared | None = None  # the top stage runs last: its plan, if it has one
        self.order_values: list | None = None  # and the order values of an order_by stage
        self.terms: dict[str, tuple[np.ndarray, dict]] = {}  # formula stages: what the scores are made of

    def run(self, stage: Stage, scope: Scope) -> tuple[np.ndarray, np.ndarray]:
        excluded = self._example_ids(stage)
        inner = scope.below(stage, excluded)
        sources = [self.run(child, inner) for child in stage.prefetch]
        if stage.kind in ("fusion", "formula"):
            if not stage.prefetch:
                raise RequestError(
                    f"{stage.path}: a '{stage.kind}' query combines the candidates of prefetches; "
                    "give it a prefetch (Qdrant: cannot perform it without prefetches)."
                )
            rows, scores = self._fusion(stage, sources) if stage.kind == "fusion" else self._formula(stage, sources)
            rows, scores = _after_merge(stage, rows, scores)
        else:
            candidates = None
            if stage.prefetch:
                candidates = np.unique(np.concatenate([rows for rows, _ in sources])) if sources else None
                if candidates is None or len(candidates) == 0:
                    self.stages.append((stage, *_empty()))
                    return _empty()
            rows, scores = self._one(stage, inner, candidates)
        self.stages.append((stage, rows, scores))
        return rows, scores

    def _example_ids(self, stage: Stage) -> list:
        """Ids a stage gives as examples in this collection (left out of its subtree)."""
        request = stage.request
        if request is None or not request.referenced_ids:
            return []
        return request.left_out_ids(self.store, self.lookup(request))

    # ------------------------------------------------------------------ stages on rows
    def _one(self, stage: Stage, scope: Scope, candidates: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        mask = scope.mask(self.store)
        if candidates is not None:
            restricted = np.zeros(len(self.store), dtype=bool)
            restricted[candidates] = True
            mask = restricted if mask is None else mask & restricted
        if stage.kind in ("nearest", "recommend", "discover", "context"):
            _, rows, scores = self._vector(stage.request, mask, exact=candidates is not None)
            return rows, scores
        if stage.kind == "mmr":
            return self._mmr(stage, mask, exact=candidates is not None)
        rows = np.arange(len(self.store)) if mask is None else np.flatnonzero(mask)
        if stage.kind == "sample":
            chosen = sample_rows(np.ones(len(self.store), bool) if mask is None else mask, stage.limit)
            return chosen, np.ones(len(chosen))
        end = stage.limit + stage.offset
        if stage.kind == "order_by":
            rows, values = ordered_rows(self.store.payload, mask, stage.spec["order_by"], end)
            self.order_values = values[stage.offset :]
        else:  # a query-less stage: a scroll in id order
            rows = scroll_order(self.store.ids, rows)[:end]
        rows = rows[stage.offset :]
        return rows, np.ones(len(rows))

    def _vector(
        self, request: Request, mask: np.ndarray | None, exact: bool
    ) -> tuple[Prepared, np.ndarray, np.ndarray]:
        """A vector query restricted to ``mask``: the planner's path, or exact on candidates."""
        plan = prepare(self.store, request.replace(filter=mask), self.lookup(request))
        if exact:
            plan.decide("exact", "prefetched candidates scored exactly")
            allowed = np.arange(len(self.store)) if plan.mask is None else np.flatnonzero(plan.mask)
            rows, scores = finish(plan, *rescore(plan, allowed, plan.top))
        else:
            ((rows, scores),) = planner.answer([plan])
        self.last_plan = plan
        return plan, rows, np.asarray(scores, dtype=np.float64)

    def _mmr(self, stage: Stage, mask: np.ndarray | None, exact: bool) -> tuple[np.ndarray, np.ndarray]:
        if stage.spec["candidates_limit"] == 0:
            return _empty()
        plan, rows, scores = self._vector(stage.request, mask, exact)
        order = mmr_order(plan, rows, 1.0 - stage.spec["diversity"], stage.limit + stage.offset)[stage.offset :]
        return rows[order], scores[order]

    # ------------------------------------------------------------------ merging stages
    def _fusion(self, stage: Stage, sources: list) -> tuple[np.ndarray, np.ndarray]:
        spec = stage.spec
        if spec["method"] == "dbsf":
            return dbsf(sources)
        return rrf(sources, RRF_K if spec["k"] is None else spec["k"], spec["weights"])

    def _formula(self, stage: Stage, sources: list) -> tuple[np.ndarray, np.ndarray]:
        """Formula scores of every candidate (:mod:`explorekit.engine.formula_eval`), best first;
        what each score is made of (``formula_terms``) is kept for the stage's frame."""
        rows, where = candidate_union([r for r, _ in sources])
        aligned = []
        for (_, scores), positions in zip(sources, where):
            column = np.full(len(rows), np.nan)
            column[positions] = scores
            aligned.append(column)
        terms = formula_terms(
            stage.spec["formula"], self.store.payload, self.store.ids, rows, aligned, self.store.spaces
        )
        order = formula_order(terms["score"])
        self.terms[stage.path] = (rows[order], {k: v[order] for k, v in terms.items() if k != "score"})
        return rows[order], terms["score"][order]


def run(store: Store, pipeline: Pipeline, lookup: Lookup) -> Answer:
    """Rows and scores of a multi-stage query, with every stage's answer (see the module doc)."""
    runner = _Runner(store, lookup)
    rows, scores = runner.run(pipeline.top, Scope())
    plan = runner.last_plan if pipeline.top.request is not None else None
    path, reason = (
        ("exact", f"{pipeline.top.kind} over prefetched candidates") if plan is None else (plan.path, plan.reason)
    )
    values = runner.order_values if pipeline.top.kind == "order_by" else None
    return Answer(rows, scores, runner.stages, path, reason, values, runner.terms)


def _after_merge(stage: Stage, rows: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fusion and formula: keep ``limit + offset``, then ``score >= threshold``, then the offset."""
    rows, scores = rows[: stage.limit + stage.offset], scores[: stage.limit + stage.offset]
    if stage.score_threshold is not None:
        keep = scores >= stage.score_threshold
        rows, scores = rows[keep], scores[keep]
    return rows[stage.offset :], scores[stage.offset :]


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, np.int64), np.empty(0, np.float64)


def _first_seen(sources: list) -> np.ndarray:
    """Rows of every source, each once, in the order they first appear."""
    if not sources:
        return np.empty(0, np.int64)
    every = np.concatenate([rows for rows, _ in sources])
    _, first = np.unique(every, return_index=True)
    return every[np.sort(first)]


def rrf(sources: list, k: int = RRF_K, weights: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reciprocal rank fusion as Qdrant computes it.

    A point at 0-based position ``i`` of a list with weight ``w`` gets ``1 / ((i + 1) / w + k - 1)``
    (0 when ``w <= 0``), summed over the lists that hold it; equal sums keep the order in which
    the points first appear. A point missing from a list gets nothing from it.

    >>> rows, scores = rrf([(np.array([5, 6]), None), (np.array([6, 7]), None)])
    >>> rows.tolist(), np.round(scores, 4).tolist()
    ([6, 5, 7], [0.8333, 0.5, 0.3333])
    """
    if weights is not None and len(weights) != len(sources):
        raise RequestError(
            f"rrf.weights: {len(weights)} weights for {len(sources)} prefetches. Give one weight per prefetch."
        )
    total: dict[int, float] = {}
    for i, (rows, _) in enumerate(sources):
        weight = 1.0 if weights is None else float(weights[i])
        for position, row in enumerate(rows.tolist()):
            gain = 0.0 if weight <= 0 else 1 / ((position + 1.0) / weight + k - 1.0)
            total[row] = total.get(row, 0.0) + gain
    return _sorted(total)


def dbsf(sources: list) -> tuple[np.ndarray, np.ndarray]:
    """Distribution-based score fusion as Qdrant computes it.

    Each list's scores are normalised by ``(s - (mean - 3 sd)) / (6 sd)`` with the sample standard
    deviation (``n - 1``); a list of one point, or of equal scores, gives 0.5 each. The normalised
    scores of a point are summed over the lists that hold it; equal sums keep first appearance.

    >>> rows, scores = dbsf([(np.array([1, 2, 3]), np.array([3.0, 2.0, 1.0])), (np.array([2]), np.array([9.0]))])
    >>> rows.tolist(), np.round(scores, 4).tolist()
    ([2, 1, 3], [1.0, 0.6667, 0.3333])
    """
    total: dict[int, float] = {}
    for rows, scores in sources:
        if len(rows) == 0:
            continue
        values = [float(s) for s in scores]
        if len(values) == 1:
            normal = [0.5]
        else:
            mean = sum(values) / len(values)
            variance = sum((s - mean) ** 2 for s in values) / (len(values) - 1)
            if variance == 0:
                normal = [0.5] * len(values)
            else:
                sd = variance**0.5
                low, high = mean - 3 * sd, mean + 3 * sd
                normal = [(s - low) / (high - low) for s in values]
        for row, value in zip(rows.tolist(), normal):
            total[row] = total[row] + value if row in total else value
    return _sorted(total)


def _sorted(total: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """Rows by score, best first; equal scores in insertion order (Python's stable sort)."""
    pairs = sorted(total.items(), key=lambda item: item[1], reverse=True)
    return np.array([r for r, _ in pairs], dtype=np.int64), np.array([s for _, s in pairs], dtype=np.float64)


def mmr_order(plan: Prepared, rows: np.ndarray, relevance_weight: float, limit: int) -> np.ndarray:
    """Positions of ``rows`` in Qdrant's MMR order (maximal marginal relevance).

    The first pick is the most similar to the query; each next pick maximises
    ``lambda * sim(query, c) - (1 - lambda) * max_{s picked} sim(c, s)`` with
    ``lambda = 1 - diversity``, similarities being the distance's internal ones (negative squared
    distance for euclid). As in Qdrant, candidates wait in a list from which a pick is removed by
    moving the last one into its place, and equal values go to the *last* maximum.

    >>> import numpy as np, explorekit as ek
    >>> from explorekit.engine.prepare import prepare
    >>> col = ek.Collection.from_arrays(np.array([[1, 0], [1, 0.01], [0, 1]], np.float32), distance="dot")
    >>> plan = prepare(col.store, Request.build("search", query=[1, 0.2]))
    >>> mmr_order(plan, np.array([1, 0, 2]), 0.5, 3).tolist()
    [0, 2, 1]
    """
    if len(rows) == 0:
        return np.empty(0, np.int64)
    space = plan.space
    vectors = space.stored[rows]
    relevance = exact_similarity(plan.query.vectors, vectors, space.distance)[0].astype(np.float64)
    between = exact_similarity(vectors, vectors, space.distance).astype(np.float64)
    pending = list(range(len(rows)))
    selected = [_swap_remove(pending, _last_argmax(relevance[pending]))]
    closest = between[:, selected[0]].copy()  # max similarity of each candidate to those picked
    while len(selected) < limit and pending:
        values = relevance_weight * relevance[pending] - (1.0 - relevance_weight) * closest[pending]
        if np.all(np.isneginf(values)):
            break
        pick = _swap_remove(pending, _last_argmax(values))
        selected.append(pick)
        np.maximum(closest, between[:, pick], out=closest)
    return np.array(selected, dtype=np.int64)


def _last_argmax(values: np.ndarray) -> int:
    """Index of the largest value, the last one on ties (Rust's ``max_by_key``)."""
    values = np.asarray(values)
    return int(len(values) - 1 - np.argmax(values[::-1]))


def _swap_remove(items: list[int], position: int) -> int:
    value = items[position]
    items[position] = items[-1]
    items.pop()
    return value


def group_values(store: Store, row: int, key: str) -> list | None:
    """The groups a point joins for ``group_by=key``: its values at the key (arrays unwrapped one
    level), each once in payload order; None when it has none or one that is not an integer or a
    string (Qdrant then leaves the whole point out)."""
    values = flat_values(store.payload, row, parse_key(key, "group_by"))
    if not values or any(type(v) not in (int, str) for v in values):
        return None
    return list(dict.fromkeys(values))


def group(
    store: Store, rows: np.ndarray, scores: np.ndarray, key: str, size: int, limit: int
) -> list[tuple[Any, np.ndarray, np.ndarray]]:
    """Qdrant's groups of a ranked answer: groups in order of their best hit, at most ``size``
    hits each, the first ``limit`` groups; a point with several values joins each group."""
    groups: dict[Any, list[int]] = {}
    for position, row in enumerate(rows.tolist()):
        values = group_values(store, row, key)
        for value in values or ():
            hits = groups.setdefault(value, [])
            if len(hits) < size:
                hits.append(position)
    out = []
    for value, positions in list(groups.items())[:limit]:
        taken = np.array(positions, dtype=np.int64)
        out.append((value, rows[taken], scores[taken]))
    return out


def result_frame(store: Store, pipeline: Pipeline, answer: Answer) -> pd.DataFrame:
    """The DataFrame of a multi-stage query: as a single query's, plus ``attrs["stages"]``
    (:class:`~explorekit.query.pipeline.StageFrames`); grouped queries get a ``group`` column."""
    if pipeline.groups is None:
        frame = to_frame(store, answer.rows, answer.scores, pipeline.with_payload, pipeline.with_vectors)
        frame = with_order_values(frame, answer.order_values)
    else:
        spec = pipeline.groups
        found = group(store, answer.rows, answer.scores, spec.group_by, spec.group_size, spec.limit)
        rows = np.concatenate([r for _, r, _ in found]) if found else np.empty(0, np.int64)
        scores = np.concatenate([s for _, _, s in found]) if found else np.empty(0, np.float64)
        frame = to_frame(store, rows, scores, pipeline.with_payload, pipeline.with_vectors)
        if "group" in frame.columns:
            raise RequestError(
                "group_by: the payload field 'group' would clash with the result's group column; "
                "leave it out with with_payload=[...] naming the other fields."
            )
        labels = np.empty(len(rows), dtype=object)
        labels[:] = [value for value, r, _ in found for _ in range(len(r))]
        frame.insert(0, "group", labels)
    frame.attrs["query"] = dict(pipeline.body)
    frame.attrs["path"], frame.attrs["reason"] = answer.path, answer.reason
    frame.attrs["stages"] = StageFrames(_stage_frame(store, answer, *found) for found in answer.stages)
    return frame


def _stage_frame(store: Store, answer: Answer, stage: Stage, rows: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """One stage's frame; a formula stage's also holds what each score is made of, one column per
    term (``formula_terms``: the top-level operands, then every value the formula reads)."""
    frame = stage_frame(stage, id_values(store, rows), scores)
    if stage.path in answer.terms:
        ordered, terms = answer.terms[stage.path]
        where = dict(zip(ordered.tolist(), range(len(ordered))))
        positions = np.array([where[r] for r in rows.tolist()], dtype=np.int64)
        for label, values in terms.items():
            frame[label if label not in frame.columns else f"term {label}"] = values[positions]
    return frame


def run_grouped(store: Store, pipeline: Pipeline, lookup: Lookup) -> Answer:
    """A grouped query: every stage (the top included) asks for all points, then groups are cut,
    as qdrant-client's ``query_points_groups`` does."""
    return run(store, pipeline.as_run(len(store)), lookup)
