"""Pandas query strings: evaluated over the payload, or translated to a Qdrant filter.

``query_mask`` runs the string with ``DataFrame.eval`` over the payload's display frame (as
pandas would); ``pandas_query_to_filter`` translates it into a Qdrant filter dict with the same
answers (for backends that filter on the server). Both read the string as pandas does:
names with spaces in backticks, ``&``/``|`` as and/or; ``@variables`` are refused.

Examples
--------
>>> pandas_query_to_filter("size >= 3 and `my col` != 'x'")
{'must': [{'key': 'size', 'range': {'gte': 3}}, {'must_not': [{'key': '"my col"', 'match': {'value': 'x'}}]}]}
"""

from __future__ import annotations

import ast
import re
from typing import Any

import numpy as np
import pandas as pd

from explorekit._support.errors import FilterError, short_repr, unknown
from explorekit.query.filter_parse import CLAUSES
from explorekit.data.payload import Payload

__all__ = ["pandas_query_to_filter", "preprocess_query", "query_mask"]


def query_mask(expr: str, payload: Payload) -> np.ndarray:
    """Which rows pass the pandas query ``expr`` (a new bool array); raises FilterError."""
    preprocess_query(expr)
    frame = payload.query_frame()
    try:
        result = frame.eval(expr, local_dict={}, global_dict={})
    except Exception as err:  # pandas raises many kinds; all mean "this expression does not work here"
        hint = ""
        name = getattr(err, "args", [""])[0]
        match = re.search(r"name '([^']+)' is not defined", str(name))
        if match:
            hint = " " + unknown("column", match.group(1), payload.columns,
                                 "Names with spaces go in backticks: `my col` > 1.")
        elif "local variable" in str(name):
            hint = " @variables are not available here: write the value into the string."
        raise FilterError(f"filter: the pandas query {expr!r} failed: {type(err).__name__}: {err}.{hint}") from None
    if not isinstance(result, pd.Series) or len(result) != len(payload):
        raise FilterError(f"filter: the pandas query {expr!r} does not give one True/False per point. Write a "
                          "condition such as \"size > 100 and colour == 'red'\".")
    if result.dtype != bool:
        if str(result.dtype) == "boolean":
            result = result.fillna(False)
        else:
            raise FilterError(f"filter: the pandas query {expr!r} gives {result.dtype} values, not True/False. "
                              "Write a condition such as \"size > 100\".")
    return result.to_numpy(dtype=bool)


def preprocess_query(expr: Any) -> tuple[ast.Expression, dict[str, str], str]:
    """Parse a pandas query string as pandas does (backtick names; ``&``/``|`` as and/or).

    Returns the Python syntax tree, the placeholder -> column name map and the rewritten source.
    """
    if not isinstance(expr, str) or not expr.strip():
        raise FilterError(f"filter: {short_repr(expr)} is not a query. Write a condition such as \"size > 100\".")
    out, names, i, n = [], {}, 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch in "'\"":
            j = i + 1
            while j < n and expr[j] != ch:
                j += 2 if expr[j] == "\\" else 1
            out.append(expr[i:j + 1])
            i = j + 1
        elif ch == "`":
            j = expr.find("`", i + 1)
            if j < 0:
                raise FilterError(f"filter: the pandas query {expr!r} has an unclosed backtick at position {i}.")
            token = f"__ek_col{len(names)}__"
            names[token] = expr[i + 1:j]
            out.append(token)
            i = j + 1
        elif ch == "@" and (m := re.match(r"@([A-Za-z_]\w*)", expr[i:])):
            out.append(f"__ek_at_{m.group(1)}")         # pandas' @variable (checked later)
            i += m.end()
        else:
            out.append({"&": " and ", "|": " or "}.get(ch, ch))
            i += 1
    source = "".join(out)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as err:
        raise FilterError(f"filter: the pandas query {expr!r} is not valid: {err.msg}. Write a condition such as "
                          "\"size > 100 and colour == 'red'\" (names with spaces in backticks).") from None
    return tree, names, source.strip()


_FLIP = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}
_RANGE_OP = {ast.Lt: "lt", ast.LtE: "lte", ast.Gt: "gt", ast.GtE: "gte"}


class _Translator:
    def __init__(self, expr: str, names: dict[str, str], source: str) -> None:
        self.expr, self.names, self.source = expr, names, source

    def fail(self, node: ast.AST, why: str) -> FilterError:
        part = (ast.get_source_segment(self.source, node) or "?").replace("__ek_at_", "@")
        for token, name in self.names.items():
            part = part.replace(token, f"`{name}`")
        return FilterError(f"filter: cannot translate {part!r} of the pandas query {self.expr!r} to a Qdrant "
                           f"filter: {why}. Supported: ==, !=, <, <=, >, >=, in, not in, and, or, not, "
                           "parentheses, .isna(), .notna(), comparing a column with a literal.")

    def key(self, node: ast.AST) -> str | None:
        if not isinstance(node, ast.Name):
            return None
        if node.id.startswith("__ek_at_"):
            raise self.fail(node, "@variables cannot be translated; write the value into the string")
        name = self.names.get(node.id, node.id)
        if name and all(c.isalnum() or c in "_-" for c in name):
            return name
        if '"' in name:
            raise self.fail(node, f"the column name {name!r} contains a double quote, which a Qdrant key "
                                  "cannot hold")
        return f'"{name}"'

    def literal(self, node: ast.AST) -> Any:
        try:
            value = ast.literal_eval(node)
        except ValueError:
            raise self.fail(node, "only literal values (numbers, strings, True/False, lists) can be "
                                  "compared") from None
        if value is None:
            raise self.fail(node, "comparing with None is not a condition; use .isna() or .notna()")
        return value

    def equal(self, key: str, value: Any, node: ast.AST) -> dict:
        if isinstance(value, (bool, str)):
            return {"key": key, "match": {"value": value}}
        if isinstance(value, (int, float)):
            return {"key": key, "range": {"gte": value, "lte": value}}
        raise self.fail(node, f"{value!r} cannot be compared for equality")

    def compare(self, node: ast.Compare) -> dict:
        parts, left = [], node.left
        for op, right in zip(node.ops, node.comparators):
            parts.append(self.pair(node, left, op, right))
            left = right
        if len(parts) == 1:
            return parts[0]
        ranges = [p for p in parts if "range" in p]
        if len(ranges) == len(parts) and len({p["key"] for p in parts}) == 1 and \
                sum(len(p["range"]) for p in parts) == len({b for p in parts for b in p["range"]}):
            return {"key": parts[0]["key"], "range": {b: v for p in parts for b, v in p["range"].items()}}
        return {"must": parts}

    def pair(self, node: ast.AST, left: ast.AST, op: ast.cmpop, right: ast.AST) -> dict:
        if isinstance(op, (ast.In, ast.NotIn)):
            key = self.key(left)
            if key is None or self.key(right) is not None:
                raise self.fail(node, "'in' needs a column on the left and a list on the right")
            values = self.literal(right)
            if not isinstance(values, (list, tuple, set)):
                raise self.fail(node, "'in' needs a list of values")
            values = list(values)
            if all(isinstance(v, str) for v in values):
                cond = {"key": key, "match": {"any": values}}
            else:
                cond = {"should": [self.equal(key, v, node) for v in values]}
            return {"must_not": [cond]} if isinstance(op, ast.NotIn) else cond
        key = self.key(left)
        if key is None:
            key, left, right = self.key(right), right, left
            op = _FLIP.get(type(op), type(op))()
        if key is None or self.key(right) is not None:
            raise self.fail(node, "a comparison needs one column and one literal value")
        value = self.literal(right)
        if isinstance(op, ast.Eq):
            return self.equal(key, value, node)
        if isinstance(op, ast.NotEq):
            return {"must_not": [self.equal(key, value, node)]}
        if type(op) in _RANGE_OP and isinstance(value, (int, float)) and not isinstance(value, bool):
            return {"key": key, "range": {_RANGE_OP[type(op)]: value}}
        raise self.fail(node, "Qdrant ranges compare numbers only" if type(op) in _RANGE_OP else "unsupported operator")

    def condition(self, node: ast.AST) -> dict:
        if isinstance(node, ast.BoolOp):
            clause = "must" if isinstance(node.op, ast.And) else "should"
            conds = []
            for value in node.values:
                cond = self.condition(value)
                conds.extend(cond[clause] if set(cond) == {clause} else [cond])
            return {clause: conds}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
            return {"must_not": [self.condition(node.operand)]}
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args \
                and not node.keywords and node.func.attr in ("isna", "isnull", "notna", "notnull"):
            key = self.key(node.func.value)
            if key is None:
                raise self.fail(node, f".{node.func.attr}() needs a column")
            cond = {"is_empty": {"key": key}}
            return cond if node.func.attr in ("isna", "isnull") else {"must_not": [cond]}
        if isinstance(node, ast.Name) and node.id not in ("True", "False"):
            return {"key": self.key(node), "match": {"value": True}}
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return {"must": []} if node.value else {"must_not": [{"must": []}]}
        raise self.fail(node, "this kind of expression has no Qdrant filter equivalent")


def pandas_query_to_filter(expr: str) -> dict:
    """Translate a pandas query string to a Qdrant filter dict with the same answers.

    Numbers compare numerically (``==`` becomes a range with ``gte == lte``, so 2 also finds
    2.0, as in pandas), strings and bools by ``match``; ``!=`` and ``not in`` become
    ``must_not`` (so missing values pass, as NaN does in pandas); ``.isna()`` is ``is_empty``.
    Bool literals match bool values only, and ordering (``<``) works on numbers only.

    >>> pandas_query_to_filter("`my col` in ['a', 'b'] or not (size > 3)")
    {'should': [{'key': '"my col"', 'match': {'any': ['a', 'b']}}, {'must_not': [{'key': 'size', 'range': {'gt': 3}}]}]}
    """
    tree, names, source = preprocess_query(expr)
    cond = _Translator(expr, names, source).condition(tree.body)
    return cond if cond and set(cond) <= set(CLAUSES) else {"must": [cond]}
