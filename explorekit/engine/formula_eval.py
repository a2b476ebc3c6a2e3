"""Score candidates with a parsed formula (:mod:`explorekit.query.formula_parse`), all at once.

The tree is walked once; every node computes a float64 array over the candidates it is asked
for. Qdrant evaluates a formula point by point and stops early in two places (``mult`` at the
first zero factor, ``div`` when the left side is zero), so a later operand is never evaluated,
and cannot fail, for those points. Here each node receives the positions still "live" and
passes on only those, so the same points skip the same operands and exactly the errors Qdrant
raises are raised (docs/qdrant-semantics.md, "Score-boosting formulas"). Arithmetic is
float64, the final score float32 (a score that does not fit is an error, as in Qdrant).

Entry points
------------
``score_formula(formula, payload, ids, prefetch)``
    ``prefetch`` is one ``(rows, scores)`` pair per prefetch stage (store rows, the stage's
    scores). Returns ``(rows, scores)``: every row that any stage returned, in first-seen
    order (stage 0's rows in its order, then stage 1's new rows, ...), and their float32
    formula scores. Sort with :func:`formula_order` (descending, ties in first-seen order, as
    qdrant-client's local mode), then apply ``score_threshold``/``offset``/``limit``.
``evaluate_formula(formula, payload, ids, rows, scores)``
    The same for candidates given explicitly: ``scores[i]`` is a float array aligned with
    ``rows``, NaN where the row is not in prefetch ``i``.

Examples
--------
>>> from explorekit.data.payload import Payload
>>> from explorekit.query.formula_parse import parse_formula
>>> p = Payload.from_records([{"pop": 2}, {"pop": 0}, {}])
>>> f = parse_formula({"formula": {"sum": ["$score", {"mult": [0.5, "pop"]}]}, "defaults": {"pop": 1}})
>>> rows, scores = score_formula(f, p, None, [(np.array([1, 0, 2]), np.array([0.9, 0.5, 0.1]))])
>>> rows.tolist(), scores.tolist(), formula_order(scores).tolist()
([1, 0, 2], [0.8999999761581421, 1.5, 0.6000000238418579], [1, 0, 2])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorekit._support.errors import RequestError, short_repr
from explorekit.data.ids import IdIndex
from explorekit.data.jsonpath import parse_datetime
from explorekit.data.payload import Payload
from explorekit.engine.formula_values import (
    BAD,
    MISSING,
    OK,
    as_geo,
    default_value,
    flat_values,
    geo_points,
    single_datetimes,
    single_numbers,
)
from explorekit.query.filters import filter_mask
from explorekit.query.formula_parse import Formula, describe, formula_nodes, parse_formula

__all__ = [
    "EARTH_RADIUS_M",
    "candidate_union",
    "evaluate_formula",
    "formula_order",
    "formula_terms",
    "score_formula",
]

#: Mean earth radius in metres (IUGG), Qdrant's haversine radius.
EARTH_RADIUS_M = 6371008.8


@dataclass
class _Context:
    formula: Formula
    payload: Payload
    ids: IdIndex | None
    rows: np.ndarray
    scores: Sequence[np.ndarray]
    vectors: Collection[str] = ()  # the vector names every point has (for has_vector)
    masks: dict[int, np.ndarray] = field(default_factory=dict)
    trace: dict[int, np.ndarray] | None = None  # node id -> its values per candidate (formula_terms)

    def point(self, at: np.ndarray, bad: np.ndarray) -> tuple[Any, int]:
        """The id (or row) and row of the first candidate of ``at`` where ``bad`` holds."""
        row = int(self.rows[at[np.flatnonzero(bad)[0]]])
        return (self.ids.take(np.array([row]))[0] if self.ids is not None else f"row {row}"), row


def _fail_if(ctx: _Context, at: np.ndarray, bad: np.ndarray, message: Callable[[Any, int, int], str]) -> None:
    """Raise RequestError naming the first bad candidate (``message(point_id, row, index)``)."""
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        pid, row = ctx.point(at, bad)
        raise RequestError(message(pid, row, index))


def _not_finite(ctx: _Context, node: tuple, at: np.ndarray, bad: np.ndarray, show: Callable[[int], str]) -> None:
    _fail_if(
        ctx,
        at,
        bad,
        lambda pid, row, i: (
            f"{node[1]}: {show(i)} is not a finite number for point {pid!r} (Qdrant: the expression produced a "
            "non-finite number), so the query fails. Guard the operand, e.g. div's by_zero_default, "
            '{"max": [x, 1e-9]} before ln/log10, or a default for a missing value.'
        ),
    )


def _shown(payload: Payload, row: int, path: tuple) -> Any:
    flat = flat_values(payload, row, path)
    return flat[0] if len(flat) == 1 else flat


def _default_for(ctx: _Context, node: tuple, at: np.ndarray, status: np.ndarray, kind: str) -> Any:
    """Check the values read at a key (status OK/MISSING/BAD per candidate of ``at``).

    Raises for BAD values and for MISSING ones without a usable default; returns the parsed
    default (None when no candidate needs it).
    """
    key, path = node[-2], node[-1]
    what = {"number": "one number", "datetime": "one datetime string", "geo": 'one {"lat", "lon"} point'}[kind]
    _fail_if(
        ctx,
        at,
        status == BAD,
        lambda pid, row, i: (
            f"{node[1]}: point {pid!r} holds {short_repr(_shown(ctx.payload, row, path))} at {key!r}, not "
            f"{what}, so the query fails (Qdrant reads exactly one value; [x] counts as x). Fix the payload, "
            "or use another key."
        ),
    )
    missing = status == MISSING
    if not missing.any():
        return None
    if key not in ctx.formula.payload_defaults:
        _fail_if(
            ctx,
            at,
            missing,
            lambda pid, row, i: (
                f"{node[1]}: point {pid!r} has no value at {key!r} and the formula has no default for it, so the "
                f'query fails. Add one, e.g. "defaults": {{{key!r}: {_DEFAULT_EXAMPLE[kind]}}}.'
            ),
        )
    found, default = default_value(ctx.formula.payload_defaults[key])
    parsed = _default_as(kind, default) if found == OK else None
    if parsed is None:
        raise RequestError(
            f"{node[1]}: the default for {key!r} is {short_repr(ctx.formula.payload_defaults[key])}, not {what}, "
            f'and point {ctx.point(at, missing)[0]!r} has no value there. Give e.g. "defaults": '
            f"{{{key!r}: {_DEFAULT_EXAMPLE[kind]}}}."
        )
    return parsed


def _read(ctx: _Context, node: tuple, at: np.ndarray, status: np.ndarray, value: np.ndarray, kind: str) -> np.ndarray:
    default = _default_for(ctx, node, at, status, kind)
    return value if default is None else np.where(status == MISSING, default, value)


_FLOAT_MAX = np.finfo(np.float64).max
_DEFAULT_EXAMPLE = {"number": "0", "datetime": '"2025-01-01T00:00:00Z"', "geo": '{"lat": 0.0, "lon": 0.0}'}


def _default_as(kind: str, value: Any) -> Any:
    if kind == "number":
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if number and abs(value) <= _FLOAT_MAX else None
    if kind == "datetime":
        micros = parse_datetime(value) if isinstance(value, str) else None
        return None if micros is None else micros / 1e6
    return as_geo(value)


def _payload(ctx: _Context, node: tuple, at: np.ndarray) -> np.ndarray:
    single = single_numbers(ctx.payload, node[3])
    rows = ctx.rows[at]
    return _read(ctx, node, at, single.status[rows], single.value[rows], "number")


def _datetime_key(ctx: _Context, node: tuple, at: np.ndarray) -> np.ndarray:
    single = single_datetimes(ctx.payload, node[3])
    rows = ctx.rows[at]
    return _read(ctx, node, at, single.status[rows], single.value[rows], "datetime")


def _geo(ctx: _Context, node: tuple, at: np.ndarray) -> np.ndarray:
    _, _, lon0, lat0, _, path = node
    status, lon, lat = geo_points(ctx.payload, path, ctx.rows[at])
    default = _default_for(ctx, node, at, status, "geo")
    if default is not None:
        missing = status == MISSING
        lon[missing], lat[missing] = default
    return haversine(lon0, lat0, lon, lat)


def haversine(lon1: float, lat1: float, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres from one point to many (degrees in), Qdrant's formula.

    >>> round(float(haversine(13.4050, 52.5200, np.array([-0.1278]), np.array([51.5074]))[0]))
    931571
    """
    lon1, lat1 = math.radians(lon1), math.radians(lat1)
    lon2, lat2 = np.radians(lon2), np.radians(lat2)
    a = np.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return EARTH_RADIUS_M * (2 * np.arcsin(np.sqrt(a)))


def _score(ctx: _Context, node: tuple, at: np.ndarray) -> np.ndarray:
    i = node[2]
    default = ctx.formula.score_defaults.get(i, 0.0)
    if i >= len(ctx.scores):
        return np.full(len(at), default)
    values = np.asarray(ctx.scores[i], dtype=np.float64)[at]
    return np.where(np.isnan(values), default, values)


def _condition(ctx: _Context, node: tuple, at: np.ndarray) -> np.ndarray:
    key = id(node)
    if key not in ctx.masks:
        ctx.masks[key] = filter_mask({"must": [node[2]]}, ctx.payload, ctx.ids, ctx.vectors)
    return ctx.masks[key][ctx.rows[at]].astype(np.float64)


def _mult(ctx: _Context, node: tuple, at: np.ndarray) -> np.ndarray:
    out = np.ones(len(at))
    live = np.arange(len(at))
    for operand in node[2]:
        if not len(live):
            break
        factor = _eval(ctx, operand, at[live])
        zero = factor == 0.0
        out[live] = np.where(zero, factor, out[live] * factor)  # Qdrant returns the zero factor itself
        live = live[~zero]
    return out


def _sum(ctx: _Context, node: tuple, at: np.ndarray) -> np.ndarray:
    out = np.zeros(len(at))
    for operand in node[2]:
        out = out + _eval(ctx, operand, at)
    return out


def _extreme(ctx: _Context, node: tuple, at: np.ndarray) -> np.ndarray:
    pick, start = (np.fmax, -np.inf) if node[0] == "max" else (np.fmin, np.inf)
    out = np.full(len(at), start)
    for operand in node[2]:
        out = pick(out, _eval(ctx, operand, at))  # fmax/fmin skip NaN, as Qdrant's fold does
    return out


def _div(ctx: _Context, node: tuple, at: np.ndarray) -> np.ndarray:
    _, _, left_node, right_node, by_zero = node
    out = _eval(ctx, left_node, at)
    live = np.flatnonzero(out != 0.0)  # 0 / anything is 0: the right side is not evaluated
    if not len(live):
        return out
    left, right = out[live], _eval(ctx, right_node, at[live])
    zero = right == 0.0
    if by_zero is None:
        _not_finite(ctx, node, at[live], zero, lambda i: f"{float(left[i])!r}/{float(right[i])!r}")
    quotient = left / np.where(zero, 1.0, right)
    _not_finite(
        ctx, node, at[live], ~zero & ~np.isfinite(quotient), lambda i: f"{float(left[i])!r}/{float(right[i])!r}"
    )
    out[live] = np.where(zero, by_zero if by_zero is not None else 0.0, quotient)
    return out


def _pow(ctx: _Context, node: tuple, at: np.ndarray) -> np.ndarray:
    base, exponent = _eval(ctx, node[2], at), _eval(ctx, node[3], at)
    out = np.power(base, exponent)
    _not_finite(ctx, node, at, ~np.isfinite(out), lambda i: f"{float(base[i])!r}^{float(exponent[i])!r}")
    return out


def _unary(ctx: _Context, node: tuple, at: np.ndarray) -> np.ndarray:
    op, x = node[0], _eval(ctx, node[2], at)
    if op == "neg":
        return -x
    if op == "abs":
        return np.abs(x)
    if op == "exp":
        out = np.exp(x)
        bad = np.isinf(out) & np.isfinite(x)  # overflow; exp(inf) and exp(nan) pass on, as in Qdrant
    elif op == "sqrt":
        bad, out = ~(x >= 0.0), np.sqrt(np.where(x >= 0.0, x, 0.0))
    elif op == "acosh":
        out = np.arccosh(np.where(x >= 1.0, x, 1.0))
        bad = ~(x >= 1.0) | ~np.isfinite(out)
    else:
        log = np.log10 if op == "log10" else np.log
        bad, out = ~(x > 0.0), log(np.where(x > 0.0, x, 1.0))
    _not_finite(ctx, node, at, bad, lambda i: f"{op}({float(x[i])!r})")
    return out


def _decay(ctx: _Context, node: tuple, at: np.ndarray) -> np.ndarray:
    _, _, kind, x_node, target_node, scale, midpoint = node
    x = _eval(ctx, x_node, at)
    target = np.zeros(len(at)) if target_node is None else _eval(ctx, target_node, at)
    if kind == "lin":
        lam = (1.0 - midpoint) / scale
        value = -lam * np.abs(x - target) + 1.0
        return np.where(value > 0.0, value, 0.0)  # max(0, value); NaN gives 0 as in Qdrant
    if kind == "exp":
        return np.exp(math.log(midpoint) / scale * np.abs(x - target))
    diff = x - target
    return np.exp(math.log(midpoint) / (scale * scale) * diff * diff)


_OPS: dict[str, Callable[[_Context, tuple, np.ndarray], np.ndarray]] = {
    "score": _score,
    "payload": _payload,
    "condition": _condition,
    "datetime_key": _datetime_key,
    "geo": _geo,
    "mult": _mult,
    "sum": _sum,
    "max": _extreme,
    "min": _extreme,
    "div": _div,
    "pow": _pow,
    "decay": _decay,
    **dict.fromkeys(("neg", "abs", "sqrt", "exp", "log10", "ln", "acosh"), _unary),
}


def _eval(ctx: _Context, node: tuple, at: np.ndarray) -> np.ndarray:
    if node[0] in ("const", "datetime"):
        out = np.full(len(at), node[2])
    else:
        out = _OPS[node[0]](ctx, node, at)
    if ctx.trace is not None and id(node) in ctx.trace:
        ctx.trace[id(node)][at] = out
    return out


def evaluate_formula(
    formula: Formula | Any,
    payload: Payload,
    ids: IdIndex | None,
    rows: np.ndarray,
    scores: Sequence[np.ndarray],
    vectors: Collection[str] = (),
) -> np.ndarray:
    """Float32 formula scores of the candidates ``rows`` (store rows).

    ``scores[i]`` holds prefetch ``i``'s score of each candidate (aligned with ``rows``; NaN
    where prefetch ``i`` did not return it: ``"$score[i]"`` then reads the default, else 0).
    ``formula`` is a :class:`Formula` or anything :func:`parse_formula` accepts.

    Raises
    ------
    RequestError
        Any candidate whose score Qdrant cannot compute: a missing value without a default, a
        value that is not one number, division by zero without ``by_zero_default``, a
        non-finite result (also after the cast to float32), as Qdrant fails the whole query.
    """
    return _evaluate(parse_formula(formula), payload, ids, rows, scores, None, vectors)


def _evaluate(
    formula: Formula,
    payload: Payload,
    ids: IdIndex | None,
    rows: np.ndarray,
    scores: Sequence[np.ndarray],
    trace: dict[int, np.ndarray] | None,
    vectors: Collection[str] = (),
) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.int64)
    ctx = _Context(formula, payload, ids, rows, scores, vectors, trace=trace)
    at = np.arange(len(rows))
    with np.errstate(all="ignore"):
        values = _eval(ctx, formula.root, at)
        out = values.astype(np.float32)
    _fail_if(
        ctx,
        at,
        ~np.isfinite(out),
        lambda pid, row, i: (
            f"formula: the score of point {pid!r} is {float(values[i])!r}, which is not a finite float32 "
            "(Qdrant's scores are float32), so the query fails. Scale the formula down or clamp it, "
            'e.g. {"min": [formula, 1e30]}.'
        ),
    )
    return out


#: Nodes that read something about the point (shown by formula_terms).
_INPUTS = ("score", "payload", "condition", "datetime_key", "geo")


def formula_terms(
    formula: Formula | Any,
    payload: Payload,
    ids: IdIndex | None,
    rows: np.ndarray,
    scores: Sequence[np.ndarray],
    vectors: Collection[str] = (),
) -> dict[str, np.ndarray]:
    """What each candidate's formula score is made of, from the evaluation itself.

    Keys are readable labels (:func:`~explorekit.query.formula_parse.describe`): first the
    operands of the top-level operator (e.g. each term of a ``sum``), then every value the
    formula reads (prefetch scores, payload numbers with defaults applied, conditions as 1/0,
    datetimes as seconds, geo distances), then ``"score"`` (the float32 formula score). Values
    are float64 per candidate, NaN where Qdrant does not evaluate that node for the point
    (``mult`` stopped at a zero, ``div`` at a zero left side). Same arguments and errors as
    :func:`evaluate_formula`.

    >>> from explorekit.data.payload import Payload
    >>> p = Payload.from_records([{"pop": 4}, {"pop": 0}])
    >>> f = {"formula": {"sum": ["$score", {"mult": ["pop", {"ln": "pop"}]}]}}
    >>> {k: v.round(3).tolist() for k, v in formula_terms(f, p, None, np.array([0, 1]), [np.array([0.5, 0.25])]).items()}
    {'$score': [0.5, 0.25], 'mult(pop, ln(pop))': [5.545, 0.0], 'pop': [4.0, 0.0], 'score': [6.045, 0.25]}
    """
    formula = parse_formula(formula)
    root = formula.root
    top = _top_operands(root)
    seen = {id(n) for n in top}
    picked = top + [n for n in formula_nodes(root) if n[0] in _INPUTS and id(n) not in seen]
    trace = {id(n): np.full(len(rows), np.nan) for n in picked}
    final = _evaluate(formula, payload, ids, rows, scores, trace, vectors)
    out: dict[str, np.ndarray] = {}
    for node in picked:
        label, values = describe(node), trace[id(node)]
        out[label] = values if label not in out else np.where(np.isnan(out[label]), values, out[label])
    out["score"] = final.astype(np.float64)
    return out


def _top_operands(root: tuple) -> list[tuple]:
    if root[0] in ("mult", "sum", "max", "min"):
        return list(root[2])
    return []


def candidate_union(prefetch_rows: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Rows of all prefetches in first-seen order, and where each prefetch's rows sit in it.

    >>> rows, where = candidate_union([np.array([5, 3]), np.array([3, 9])])
    >>> rows.tolist(), [w.tolist() for w in where]
    ([5, 3, 9], [[0, 1], [1, 2]])
    """
    arrays = [np.asarray(r, dtype=np.int64) for r in prefetch_rows]
    every = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    unique, first = np.unique(every, return_index=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(unique), dtype=np.int64)
    rank[order] = np.arange(len(unique))
    return unique[order], [rank[np.searchsorted(unique, r)] for r in arrays]


def score_formula(
    formula: Formula | Any,
    payload: Payload,
    ids: IdIndex | None,
    prefetch: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Formula scores of every prefetched candidate: ``(rows, float32 scores)``, first-seen order.

    ``prefetch`` holds one ``(rows, scores)`` pair per prefetch stage, in the request's order
    (``"$score[i]"`` is stage ``i``'s score). See the module docstring.
    """
    rows, where = candidate_union([r for r, _ in prefetch])
    aligned = []
    for (_, stage_scores), pos in zip(prefetch, where):
        column = np.full(len(rows), np.nan)
        column[pos] = np.asarray(stage_scores, dtype=np.float64)
        aligned.append(column)
    return rows, evaluate_formula(formula, payload, ids, rows, aligned)


def formula_order(scores: np.ndarray) -> np.ndarray:
    """Positions by descending score; ties keep the candidates' first-seen order.

    >>> formula_order(np.array([1.0, 2.0, 1.0], np.float32)).tolist()
    [1, 0, 2]
    """
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
