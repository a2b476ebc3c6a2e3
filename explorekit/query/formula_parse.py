"""Qdrant's score-boosting formulas (``{"formula": ..., "defaults": ...}``) checked and parsed.

A formula rescoring query (Qdrant's ``FormulaQuery``) is an expression tree over the
candidates of the prefetch stages. Every check Qdrant makes before scoring happens here, so a
malformed formula fails before any work; errors name the node (``formula['sum'][1]['div']``),
the value, what is accepted and the fix. :mod:`explorekit.engine.formula_eval` evaluates the
tree over all candidates at once.

=============================== ===========================================================
``3.5``                         a constant
``"$score"``, ``"$score[i]"``   the score of the point in prefetch ``i`` (``$score`` = ``[0]``)
``"price"``, ``"a.b[0]"``       a payload number at a key path (Qdrant's JSON path syntax)
a filter condition              ``1.0`` where the point matches, else ``0.0``
``mult`` / ``sum``              a list of expressions (``mult`` stops at the first zero)
``max`` / ``min``               a non-empty list of expressions (NaN operands are skipped)
``neg abs sqrt exp log10 ln``   one expression; ``acosh`` too
``div``                         ``{left, right, by_zero_default}``; ``left == 0`` gives 0
``pow``                         ``{base, exponent}``
``lin_decay`` ``exp_decay``     ``{x, target (0), scale (1, > 0), midpoint (0.5)}``
``gauss_decay``
``datetime``                    a datetime string as POSIX seconds
``datetime_key``                a payload datetime string as POSIX seconds
``geo_distance``                ``{origin: {lat, lon}, to: key}``: haversine metres
=============================== ===========================================================

``defaults`` maps a variable to the value used when the point has none: a payload key to a
JSON value (a number, a datetime string, a ``{lat, lon}`` object), ``"$score"`` /
``"$score[i]"`` to a number (``"$score"`` and ``"$score[0]"`` are one variable).

Nodes are tuples whose second item is the node's place in the formula:
``("const", where, value)``, ``("score", where, i)``, ``("payload", where, key, path)``,
``("condition", where, filter_dict)``, ``("datetime", where, seconds, text)``,
``("datetime_key", where, key, path)``, ``("geo", where, lon, lat, key, path)``,
``(op, where, [nodes])`` for ``mult sum max min``, ``(op, where, node)`` for the one-argument
operators, ``("div", where, left, right, by_zero_default)``, ``("pow", where, base,
exponent)``, ``("decay", where, kind, x, target, scale, midpoint)`` (kind ``lin``, ``exp``,
``gauss``; ``target`` None means 0).

Examples
--------
>>> f = parse_formula({"formula": {"sum": ["$score", {"mult": [0.5, "rating"]}]}, "defaults": {"rating": 0}})
>>> f.root[0], [node[0] for node in f.root[2]]
('sum', ['score', 'mult'])
>>> f.payload_defaults
{'rating': 0}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from explorekit._support.errors import FilterError, RequestError, short_repr, unknown
from explorekit.data.jsonpath import parse_datetime, parse_key
from explorekit.query.filter_parse import MAX_DEPTH, parse_filter

__all__ = ["OPERATORS", "Formula", "describe", "formula_nodes", "parse_formula", "parse_variable"]

_NARY = ("mult", "sum", "max", "min")
_UNARY = ("neg", "abs", "sqrt", "exp", "log10", "ln", "acosh")
_DECAYS = {"lin_decay": "lin", "exp_decay": "exp", "gauss_decay": "gauss"}
_OTHER = ("div", "pow", "datetime", "datetime_key", "geo_distance")
#: Every operator key of an expression object.
OPERATORS = (*_NARY, *_UNARY, *_DECAYS, *_OTHER)
_CONDITION_KEYS = frozenset(
    ("key", "match", "range", "values_count", "is_empty", "is_null", "has_id", "nested", "has_vector")
    + ("must", "should", "must_not", "min_should", "slice", "geo_bounding_box", "geo_radius", "geo_polygon")
)
_DEFAULT_SCALE, _DEFAULT_MIDPOINT = 1.0, 0.5
_EXAMPLE = '{"formula": {"sum": ["$score", {"mult": [0.5, "popularity"]}]}, "defaults": {"popularity": 0}}'


@dataclass(frozen=True)
class Formula:
    """A checked formula: the node tree (see the module docstring) and its defaults.

    ``body`` is the query as a JSON-able ``{"formula": ..., "defaults": ...}`` dict (for
    ``attrs["query"]`` and for a Qdrant server).
    """

    root: tuple
    score_defaults: dict[int, float] = field(default_factory=dict)
    payload_defaults: dict[str, Any] = field(default_factory=dict)
    body: dict = field(default_factory=dict)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_float(value: int | float, where: str) -> float:
    try:
        return float(value)
    except OverflowError:
        raise RequestError(
            f"{where}: the integer {short_repr(value)} is too large for a float (above about 1.8e308). "
            "Give a smaller number."
        ) from None


def _dump(value: Any) -> Any:
    """A qdrant-client model as its JSON form; anything else unchanged (one level, no recursion)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value


def _to_json(value: Any) -> Any:
    """``value`` with every qdrant-client model inside replaced by its JSON form.

    Called on a formula only after it parsed, so its nesting is bounded (``MAX_DEPTH``).
    """
    value = _dump(value)
    if isinstance(value, Mapping):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


def parse_variable(text: str, where: str = "formula") -> int | tuple:
    """A variable: the prefetch index of ``"$score"`` / ``"$score[i]"``, else the parsed key path.

    >>> parse_variable("$score"), parse_variable("$score[2]"), parse_variable("a.b[]")
    (0, 2, ('a', 'b', None))
    """
    if text.startswith("$score"):
        rest = text[len("$score") :]
        if rest == "":
            return 0
        inner = rest[1:-1]
        if rest[0] == "[" and rest[-1] == "]" and inner.isascii() and inner.isdigit():
            return int(inner)
        raise RequestError(
            f'{where}: {text!r} is not a score variable. Write "$score" (the first prefetch\'s score) '
            'or "$score[i]" with a prefetch index i, e.g. "$score[1]".'
        )
    try:
        return parse_key(text, where)
    except FilterError as err:
        raise RequestError(str(err)) from None


class _Parser:
    def __init__(self) -> None:
        self.depth = 0

    def expression(self, value: Any, where: str) -> tuple:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RequestError(
                f"{where}: the formula is nested more than {MAX_DEPTH} levels deep. Flatten it, e.g. one "
                '"sum" with many operands instead of sums inside sums.'
            )
        try:
            return self._expression(value, where)
        finally:
            self.depth -= 1

    def _expression(self, value: Any, where: str) -> tuple:
        value = _dump(value)
        if _is_number(value):
            return ("const", where, _as_float(value, where))
        if isinstance(value, str):
            var = parse_variable(value, where)
            if isinstance(var, int):
                return ("score", where, var)
            return ("payload", where, value, var)
        if not isinstance(value, Mapping):
            raise RequestError(
                f"{where}: {short_repr(value)} of type {type(value).__name__} is not a formula expression. "
                'Use a number, a variable ("$score", "$score[1]", a payload key), a filter condition or an '
                f'operator object such as {{"mult": [...]}}; e.g. {_EXAMPLE}.'
            )
        keys = list(value)
        if len(keys) == 1 and keys[0] in OPERATORS:
            op = keys[0]
            return self.operator(op, value[op], f"{where}[{op!r}]")
        if all(isinstance(k, str) and k in _CONDITION_KEYS for k in keys):
            return self.condition(value, where)
        ops = [k for k in keys if k in OPERATORS]
        if ops:
            extra = [k for k in keys if k != ops[0]]
            raise RequestError(
                f"{where}: the {ops[0]!r} expression has other keys {short_repr(extra)}. An operator "
                f'object has exactly one key, e.g. {{"{ops[0]}": ...}}; put the rest in its operands.'
            )
        odd = next(k for k in keys if k not in _CONDITION_KEYS)
        raise RequestError(
            unknown(
                f"formula operator ({where})",
                odd,
                sorted(OPERATORS),
                "Use one of these operators, or a filter condition such as "
                '{"key": "tag", "match": {"value": "h1"}} (1.0 where it matches, else 0.0).',
            )
        )

    def condition(self, value: Mapping, where: str) -> tuple:
        cond = dict(value)
        try:
            parse_filter({"must": [cond]})
        except FilterError as err:
            raise FilterError(f"{where} (a condition in the formula): {err}") from None
        return ("condition", where, cond)

    def operands(self, op: str, value: Any, where: str) -> list[tuple]:
        value = _dump(value)
        if not isinstance(value, (list, tuple)):
            raise RequestError(
                f"{where}: {short_repr(value)} is not a list. {op!r} takes a list of expressions, "
                f'e.g. {{"{op}": ["$score", 2.0]}}.'
            )
        if op in ("max", "min") and not value:
            raise RequestError(f'{where}: {op!r} needs at least one operand, e.g. {{"{op}": ["$score", 0.0]}}.')
        return [self.expression(v, f"{where}[{i}]") for i, v in enumerate(value)]

    def params(self, op: str, value: Any, where: str, required: tuple, optional: tuple = ()) -> dict:
        value = _dump(value)
        if not isinstance(value, Mapping):
            raise RequestError(
                f"{where}: {short_repr(value)} is not an object. {op!r} takes "
                f"{{{', '.join(required + optional)}}}; e.g. {_OP_EXAMPLE[op]}."
            )
        for key in value:
            if key not in required + optional:
                raise RequestError(
                    unknown(f"{op!r} parameter ({where})", key, required + optional, f"e.g. {_OP_EXAMPLE[op]}.")
                )
        for key in required:
            if key not in value:
                raise RequestError(f"{where}: {op!r} needs {key!r}; e.g. {_OP_EXAMPLE[op]}.")
        return dict(value)

    def number(self, value: Any, where: str, default: float) -> float:
        if value is None:
            return default
        if not _is_number(value):
            raise RequestError(
                f"{where}: {short_repr(value)} is not a number. Give a number, e.g. 1.0, or leave it out."
            )
        return _as_float(value, where)

    def key(self, value: Any, where: str) -> tuple:
        if not isinstance(value, str):
            raise RequestError(
                f'{where}: {short_repr(value)} is not a payload key. Give a key path, e.g. "updated_at".'
            )
        var = parse_variable(value, where)
        if isinstance(var, int):
            raise RequestError(
                f'{where}: {value!r} is a score variable, not a payload key. Give a key, e.g. "location".'
            )
        return var

    def operator(self, op: str, value: Any, where: str) -> tuple:
        if op in _NARY:
            return (op, where, self.operands(op, value, where))
        if op in _UNARY:
            return (op, where, self.expression(value, where))
        if op in _DECAYS:
            p = self.params(op, value, where, ("x",), ("target", "scale", "midpoint"))
            return self.decay(_DECAYS[op], p, where)
        if op == "div":
            p = self.params(op, value, where, ("left", "right"), ("by_zero_default",))
            left = self.expression(p["left"], f"{where}['left']")
            right = self.expression(p["right"], f"{where}['right']")
            default = p.get("by_zero_default")
            if default is not None:
                default = self.number(default, f"{where}['by_zero_default']", 0.0)
            return ("div", where, left, right, default)
        if op == "pow":
            p = self.params(op, value, where, ("base", "exponent"))
            return ("pow", where, self.expression(p["base"], f"{where}['base']"),
                    self.expression(p["exponent"], f"{where}['exponent']"))  # fmt: skip
        if op == "datetime":
            micros = parse_datetime(value) if isinstance(value, str) else None
            if micros is None:
                raise RequestError(
                    f"{where}: {short_repr(value)} is not a datetime Qdrant reads. Use RFC 3339, e.g. "
                    '"2025-01-31T12:00:00Z", "2025-01-31 12:00:00+01:00" or "2025-01-31".'
                )
            return ("datetime", where, micros / 1e6, value)
        if op == "datetime_key":
            return ("datetime_key", where, value, self.key(value, where))
        p = self.params(op, value, where, ("origin", "to"))
        origin = _dump(p["origin"])
        ok = isinstance(origin, Mapping) and set(origin) == {"lat", "lon"} and all(map(_is_number, origin.values()))
        if not ok:
            raise RequestError(
                f"{where}['origin']: {short_repr(origin)} is not a geo point. Give "
                '{"lat": 52.5, "lon": 13.4} (degrees, both numbers).'
            )
        key = self.key(p["to"], f"{where}['to']")
        lon, lat = (_as_float(origin[k], f"{where}['origin'][{k!r}]") for k in ("lon", "lat"))
        return ("geo", where, lon, lat, p["to"], key)

    def decay(self, kind: str, p: dict, where: str) -> tuple:
        x = self.expression(p["x"], f"{where}['x']")
        target = None if p.get("target") is None else self.expression(p["target"], f"{where}['target']")
        scale = self.number(p.get("scale"), f"{where}['scale']", _DEFAULT_SCALE)
        midpoint = self.number(p.get("midpoint"), f"{where}['midpoint']", _DEFAULT_MIDPOINT)
        if not scale > 0.0:
            raise RequestError(
                f"{where}['scale']: {scale!r} is not a positive number. The scale must be > 0, e.g. 1.0."
            )
        low_ok = midpoint >= 0.0 if kind == "lin" else midpoint > 0.0
        high_ok = midpoint <= 1.0 if kind == "lin" else midpoint < 1.0
        if not (low_ok and high_ok):
            interval = "[0.0, 1.0]" if kind == "lin" else "(0.0, 1.0), both ends excluded"
            raise RequestError(f"{where}['midpoint']: {midpoint!r} is outside {interval}. Use e.g. 0.5.")
        return ("decay", where, kind, x, target, scale, midpoint)


_OP_EXAMPLE = {
    "div": '{"div": {"left": "$score", "right": "price", "by_zero_default": 0.0}}',
    "pow": '{"pow": {"base": "$score", "exponent": 2}}',
    "geo_distance": '{"geo_distance": {"origin": {"lat": 52.5, "lon": 13.4}, "to": "location"}}',
    **{op: f'{{"{op}": {{"x": "age_days", "target": 0, "scale": 30, "midpoint": 0.5}}}}' for op in _DECAYS},
}


def _parse_defaults(defaults: Any) -> tuple[dict[int, float], dict[str, Any]]:
    if defaults is None:
        return {}, {}
    if not isinstance(defaults, Mapping):
        raise RequestError(
            f"defaults: {short_repr(defaults)} is not a mapping. Give {{variable: value}}, "
            'e.g. {"popularity": 0, "$score[1]": 0.0}.'
        )
    scores: dict[int, float] = {}
    payload: dict[str, Any] = {}
    for key, value in defaults.items():
        if not isinstance(key, str):
            raise RequestError(
                f'defaults: the key {short_repr(key)} is not a string. Keys are variables, e.g. "price".'
            )
        if key.startswith("$score"):
            index = parse_variable(key, f"defaults[{key!r}]")
            if not _is_number(value):
                raise RequestError(
                    f"defaults[{key!r}]: {short_repr(value)} is not a number. A score default is a number, e.g. 0.0."
                )
            scores[int(index)] = _as_float(value, f"defaults[{key!r}]")
        else:
            payload[key] = _dump(value)
    return scores, payload


def parse_formula(query: Any, defaults: Any = None) -> Formula:
    """Check a formula query and parse it into a :class:`Formula`.

    Parameters
    ----------
    query : dict | qdrant_client.models.FormulaQuery | Formula
        ``{"formula": expression, "defaults": {...}}`` (a REST body's ``query``), or a
        qdrant-client ``FormulaQuery``; a parsed ``Formula`` is returned as it is.
    defaults : dict, optional
        Defaults given apart (for ``col.query(formula=...)``); merged over ``query``'s own.

    Raises
    ------
    RequestError
        A malformed expression, with the node's place in the formula.
    FilterError
        A malformed condition inside the formula.

    >>> parse_formula({"formula": {"div": {"left": 1, "right": "n"}}}).root
    ('div', "formula['div']", ('const', "formula['div']['left']", 1.0), ('payload', "formula['div']['right']", 'n', ('n',)), None)
    >>> parse_formula({"formula": {"mult": 2}})
    Traceback (most recent call last):
    ...
    explorekit.RequestError: formula['mult']: 2 is not a list. 'mult' takes a list of expressions, ...
    """
    if isinstance(query, Formula):
        return query
    body = _dump(query)
    if not isinstance(body, Mapping) or "formula" not in body:
        raise RequestError(
            f'query: {short_repr(query)} is not a formula query. Give {{"formula": expression, '
            f'"defaults": {{...}}}}, e.g. {_EXAMPLE}.'
        )
    extra = [k for k in body if k not in ("formula", "defaults")]
    if extra:
        raise RequestError(
            unknown("formula query key", extra[0], ["formula", "defaults"], f"A formula query is e.g. {_EXAMPLE}.")
        )
    scores, payload = _parse_defaults(body.get("defaults"))
    extra_scores, extra_payload = _parse_defaults(_dump(defaults))
    scores.update(extra_scores)
    payload.update(extra_payload)
    merged = {k: _dump(v) for k, v in {**(body.get("defaults") or {}), **(_dump(defaults) or {})}.items()}
    root = _Parser().expression(body["formula"], "formula")
    return Formula(root, scores, payload, {"formula": _to_json(body["formula"]), "defaults": merged})


def formula_nodes(node: tuple) -> list[tuple]:
    """Every node of the tree, depth first (for callers that look for the keys a formula reads).

    >>> [n[0] for n in formula_nodes(parse_formula({"formula": {"neg": "a"}}).root)]
    ['neg', 'payload']
    """
    out = [node]
    for child in _children(node):
        out.extend(formula_nodes(child))
    return out


def describe(node: tuple, width: int | None = None) -> str:
    """A readable text of a node, the label of a formula term; cut to ``width`` characters if given.

    >>> f = parse_formula({"formula": {"sum": ["$score", {"mult": [0.5, {"key": "tag", "match": {"value": "h1"}}]}]}})
    >>> describe(f.root)
    'sum($score, mult(0.5, {"key":"tag","match":{"value":"h1"}}))'
    >>> describe(parse_formula({"formula": {"exp_decay": {"x": {"datetime_key": "t"}, "scale": 86400}}}).root)
    'exp_decay(datetime_key(t), target=0, scale=86400, midpoint=0.5)'
    """
    text = _text(node)
    return text if width is None or len(text) <= width else text[: width - 3] + "..."


def _text(node: tuple) -> str:
    tag = node[0]
    if tag == "const":
        return f"{node[2]:g}"
    if tag == "score":
        return "$score" if node[2] == 0 else f"$score[{node[2]}]"
    if tag == "payload":
        return node[2]
    if tag == "condition":
        return json.dumps(node[2], separators=(",", ":"), default=str)
    if tag == "datetime":
        return f"datetime({node[3]})"
    if tag == "datetime_key":
        return f"datetime_key({node[2]})"
    if tag == "geo":
        return f"geo_distance(({node[3]:g}, {node[2]:g}) to {node[4]})"
    if tag == "decay":
        _, _, kind, x, target, scale, midpoint = node
        target_text = "0" if target is None else _text(target)
        return f"{kind}_decay({_text(x)}, target={target_text}, scale={scale:g}, midpoint={midpoint:g})"
    return f"{tag}({', '.join(_text(child) for child in _children(node))})"


def _children(node: tuple) -> Sequence[tuple]:
    tag = node[0]
    if tag in _NARY:
        return node[2]
    if tag in _UNARY:
        return [node[2]]
    if tag in ("div", "pow"):
        return [node[2], node[3]]
    if tag == "decay":
        return [node[3]] if node[4] is None else [node[3], node[4]]
    return []
