"""Pandas query strings, read as data: parsed with ``ast``, checked, translated to a Qdrant filter.

A query string is never run. ``preprocess_query`` reads it as pandas does (names with spaces
in backticks, ``&``/``|`` as and/or) and parses it with ``ast``; every node is then checked
against an allow-list (without recursion, so depth is checked before anything recurses):
comparisons (chained too), ``and``/``or``/``not``, ``&``/``|``/``~``, ``in``/``not in``,
literals (numbers, strings, True/False, lists/tuples/sets of them, a leading minus), column
names and ``col.isna()``/``.notna()`` (``isnull``/``notnull``). Anything else (attribute access,
other calls, indexing, arithmetic, lambdas, comprehensions, f-strings, ``:=``, ``@variables``)
raises a FilterError naming the part. The string is then translated to the Qdrant filter dict
that a Qdrant server would get, and evaluated locally by the filter evaluator like any dict
filter: one path for ``filter=``, REST bodies, the Explorer's filter box and the CLI.

Answers are those of pandas' ``DataFrame.eval`` over the payload's display frame (which
explorekit used before) for comparisons of scalar columns with literals, including missing
values (a missing value fails ``==``, ``<``, ``in`` and passes ``!=``, ``not in``, ``not``),
chained comparisons, ``==``/``!=`` against a list (pandas' ``isin``), and strings compared in
code-point order (``name >= 'm'``; local only: a Qdrant server cannot order strings).
Where the two differ, the Qdrant filter's meaning is kept, so local and remote answers agree:

* an array matches when one of its elements does (``tags == 'a'`` finds ``["a", "b"]``;
  pandas compared the whole list with ``'a'``);
* bools are not numbers: ``flag == 1`` and ``n == True`` find nothing (pandas: True == 1);
* ``x.isna()`` is Qdrant's ``is_empty``: true for missing, null and ``[]`` too;
* ``x == None`` and ``None`` inside ``in [...]`` are refused (pandas gave all False, or
  matched missing values for some dtypes only): use ``x.isna()``;
* comparing two columns, arithmetic, ``'a' in s``, and methods other than isna/notna are
  refused; a bare column (``flag``) must be a bool (or JSON) column;
* where pandas raised (``o > 0`` on a column holding strings and numbers, ``~flag`` with gaps),
  the filter's answer is given (only the numbers are compared; a gap passes ``not``).

Strings nested more than ``MAX_DEPTH`` (64) levels (``not``, ``and``/``or`` groups,
parentheses, lists) are refused by ``_filter_parse.check_depth``, as deep filter dicts are;
a string too deep for Python's own parser (about 3,000 nested operators: RecursionError,
6,000: MemoryError) is refused the same way.

Examples
--------
>>> pandas_query_to_filter("size >= 3 and `my col` != 'x'")
{'must': [{'key': 'size', 'range': {'gte': 3}}, {'must_not': [{'key': '"my col"', 'match': {'value': 'x'}}]}]}
>>> pandas_query_to_filter("size.__class__ == 1")
Traceback (most recent call last):
...
explorekit.FilterError: filter: attribute access `.__class__` is not allowed in a filter string; ...
"""

from __future__ import annotations

import ast
import re
import warnings
from typing import Any

from explorekit._support.errors import FilterError, short_repr, unknown
from explorekit.data.payload import Payload
from explorekit.query.filter_parse import CLAUSES, TextBound, check_depth, depth_error

__all__ = ["local_query_filter", "pandas_query_to_filter", "preprocess_query"]

_ALLOWED_TEXT = (
    "Allowed: ==, !=, <, <=, >, >=, in, not in, and, or, not, &, |, ~, parentheses, .isna(), "
    ".notna(), a column compared with a literal."
)
_CONTAINERS = (ast.List, ast.Tuple, ast.Set)
_NESTING = (ast.BoolOp, ast.UnaryOp, *_CONTAINERS)  # each is one level (check_depth)
_COMPARISONS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_ALLOWED = (
    ast.Expression,
    ast.Compare,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.boolop,
    ast.unaryop,
    *_COMPARISONS,
    *_NESTING,
)
_NA_METHODS = ("isna", "isnull", "notna", "notnull")
_REFUSED = {
    ast.Attribute: "attribute access",
    ast.Call: "calling",
    ast.Subscript: "indexing",
    ast.Slice: "slicing",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator",
    ast.JoinedStr: "an f-string",
    ast.FormattedValue: "an f-string",
    ast.NamedExpr: "assignment (:=)",
    ast.Starred: "unpacking (*)",
    ast.BinOp: "arithmetic",
    ast.IfExp: "if/else",
    ast.Dict: "a dict",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}
_LEADING_AT = "__ek_at_"


def _quote(expr: str) -> str:
    return short_repr(expr, 120)


def preprocess_query(expr: Any) -> tuple[ast.Expression, dict[str, str], str]:
    """Parse a pandas query string as pandas does (backtick names; ``&``/``|`` as and/or).

    Returns the Python syntax tree, the placeholder -> column name map and the rewritten
    source. Nothing is checked or run yet (``_Translator.check_nodes`` does), but brackets nested deeper
    than ``MAX_DEPTH`` and strings too deep for Python's parser are refused here.
    """
    if not isinstance(expr, str) or not expr.strip():
        raise FilterError(f'filter: {short_repr(expr)} is not a query. Write a condition such as "size > 100".')
    out, names, i, n = [], {}, 0, len(expr)
    depth = deepest = 0  # brackets, counted outside strings and backticks
    while i < n:
        ch = expr[i]
        if ch in "'\"":
            j = i + 1
            while j < n and expr[j] != ch:
                j += 2 if expr[j] == "\\" else 1
            out.append(expr[i : j + 1])
            i = j + 1
        elif ch == "`":
            j = expr.find("`", i + 1)
            if j < 0:
                raise FilterError(f"filter: the pandas query {_quote(expr)} has an unclosed backtick at position {i}.")
            token = f"__ek_col{len(names)}__"
            names[token] = expr[i + 1 : j]
            out.append(f" {token} ")  # spaced: `a``b` is two names, not one
            i = j + 1
        elif ch == "@" and (m := re.match(r"@([A-Za-z_]\w*)", expr[i:])):
            out.append(f"{_LEADING_AT}{m.group(1)}")  # pandas' @variable (refused by check_nodes)
            i += m.end()
        else:
            depth = depth + 1 if ch in "([{" else max(depth - 1, 0) if ch in ")]}" else depth
            deepest = max(deepest, depth)
            out.append({"&": " and ", "|": " or "}.get(ch, ch))
            i += 1
    check_depth(deepest, f"filter: the pandas query {_quote(expr)}")
    source = "".join(out).strip()
    try:
        with warnings.catch_warnings():  # a user's "\s" in a string is data, not a warning for them
            warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
            tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        raise FilterError(
            f"filter: the pandas query {_quote(expr)} is not valid: {err.msg}. Write a condition such "
            "as \"size > 100 and colour == 'red'\" (names with spaces in backticks)."
        ) from None
    except (RecursionError, MemoryError):  # CPython's parser: ~3,000 nested operators / its own stack at ~6,000
        raise depth_error(f"filter: the pandas query {_quote(expr)}") from None
    except ValueError as err:  # null bytes, lone surrogates
        raise FilterError(f"filter: the pandas query {_quote(expr)} is not valid: {err}.") from None
    return tree, names, source


_FLIP = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}
_RANGE_OP = {ast.Lt: "lt", ast.LtE: "lte", ast.Gt: "gt", ast.GtE: "gte"}


def _segment(source: str, node: ast.AST) -> str:
    """``ast.get_source_segment`` without its slow pure-Python line split of the whole source."""
    start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    if start is None or end is None:
        return "?"
    lines = source.encode("utf-8").splitlines(keepends=True)[start - 1 : end]  # offsets count UTF-8 bytes
    if len(lines) == 1:
        return lines[0][node.col_offset : node.end_col_offset].decode("utf-8", "replace")
    lines[0], lines[-1] = lines[0][node.col_offset :], lines[-1][: node.end_col_offset]
    return b"".join(lines).decode("utf-8", "replace")


def _is_na_call(node: ast.AST) -> bool:
    """``name.isna()`` (or isnull/notna/notnull) with no arguments: the only call allowed."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and not node.args
        and not node.keywords
        and node.func.attr in _NA_METHODS
        and isinstance(node.func.value, ast.Name)
    )


class _Translator:
    """pandas query syntax tree -> Qdrant filter dict; ``lexical`` allows string ordering (local only)."""

    def __init__(self, expr: str, names: dict[str, str], source: str, lexical: bool) -> None:
        self.expr, self.names, self.source, self.lexical = expr, names, source, lexical
        self.where = f"filter: the pandas query {_quote(expr)}"
        self.columns: dict[str, None] = {}  # column names used, in order
        self.bare: dict[str, None] = {}  # column names used as conditions on their own

    def part(self, node: ast.AST) -> str:
        """The source text of ``node`` as the user wrote it (backtick names and @ restored)."""
        text = _segment(self.source, node).replace(_LEADING_AT, "@")
        for token, name in self.names.items():
            text = text.replace(token, f"`{name}`")
        return text if len(text) <= 80 else text[:77] + "..."

    def fail(self, node: ast.AST, why: str) -> FilterError:
        return FilterError(
            f"filter: cannot translate {self.part(node)!r} of the pandas query {_quote(self.expr)}: "
            f"{why}. {_ALLOWED_TEXT}"
        )

    def refuse(self, node: ast.AST) -> FilterError:
        """The error for a node outside the allow-list, naming its innermost offending part."""
        context = node
        while isinstance(node, (ast.Call, ast.Attribute, ast.Subscript)):
            inner = node.func if isinstance(node, ast.Call) else node.value
            if isinstance(inner, ast.Name) or _is_na_call(inner):
                break
            node = inner
        what = _REFUSED.get(type(node), f"this kind of expression ({type(node).__name__})")
        shown = f".{node.attr}" if isinstance(node, ast.Attribute) else self.part(node)
        inside = f" (in {self.part(context)!r})" if context is not node else ""
        return FilterError(
            f"filter: {what} `{shown}`{inside} is not allowed in a filter string; write comparisons "
            f"like size > 3 and colour == 'red' (the pandas query {_quote(self.expr)}). {_ALLOWED_TEXT}"
        )

    def check_nodes(self, tree: ast.AST) -> None:
        """Every node is allowed and nesting stays within MAX_DEPTH; a loop, so nothing recurses."""
        stack: list[tuple[ast.AST, int]] = [(tree, 0)]
        while stack:
            node, level = stack.pop()
            if _is_na_call(node):
                children: list[ast.AST] = [node.func.value]
            elif isinstance(node, ast.Compare) and not all(isinstance(op, _COMPARISONS) for op in node.ops):
                raise self.fail(node, "`is` compares objects, not values; use ==, != or .isna()")
            elif isinstance(node, _ALLOWED):
                children = list(ast.iter_child_nodes(node))
            else:
                raise self.refuse(node)
            if isinstance(node, ast.Name) and node.id.startswith(_LEADING_AT):
                raise self.fail(node, "@variables are not available; write the value into the string")
            if isinstance(node, _NESTING):
                level += 1
                check_depth(level, self.where)
            stack.extend((child, level) for child in reversed(children))

    def key(self, node: ast.AST) -> str | None:
        if not isinstance(node, ast.Name):
            return None
        name = self.names.get(node.id, node.id)
        self.columns[name] = None
        if name and all(c.isalnum() or c in "_-" for c in name):
            return name
        if '"' in name:
            raise self.fail(
                node,
                f"the column name {name!r} contains a double quote, which a Qdrant key "
                "cannot hold; filter with a boolean mask instead",
            )
        return f'"{name}"'

    def literal(self, node: ast.AST) -> Any:
        """The value of a literal; signs in front of a number (``--1``) are undone in a loop."""
        sign, inner = 0, node
        while isinstance(inner, ast.UnaryOp) and isinstance(inner.op, (ast.USub, ast.UAdd)):
            sign = (sign or 1) * (-1 if isinstance(inner.op, ast.USub) else 1)
            inner = inner.operand
        try:
            value = ast.literal_eval(inner)
        except (ValueError, TypeError, SyntaxError):
            raise self.fail(node, "only literal values (numbers, strings, True/False, lists) can be compared") from None
        if value is None:
            raise self.fail(node, "comparing with None is not a condition; use .isna() or .notna()")
        if sign:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(node, "a + or - sign goes in front of a number")
            value = sign * value
        return value

    def equal(self, key: str, value: Any, node: ast.AST) -> dict:
        if isinstance(value, (bool, str)):
            return {"key": key, "match": {"value": value}}
        if isinstance(value, (int, float)):
            return {"key": key, "range": {"gte": value, "lte": value}}
        raise self.fail(node, f"{short_repr(value)} cannot be compared for equality")

    def member(self, key: str, values: ast.AST, negate: bool, level: int) -> dict:
        """``key in [..]`` (pandas' isin): strings by ``match any``, numbers and bools one by one."""
        found: dict[Any, None] = {}
        for elt in values.elts:  # type: ignore[attr-defined]
            value = self.literal(elt)
            if isinstance(value, (list, tuple, set, frozenset)):
                raise self.fail(elt, "a list inside a list cannot be compared")
            found[(type(value), value)] = None
        strs = [v for t, v in found if t is str]
        conds = [{"key": key, "match": {"any": strs}}] if strs or not found else []
        conds += [self.equal(key, v, values) for t, v in found if t is not str]
        cond = conds[0] if len(conds) == 1 else self.group("should", conds, level + negate)
        return self.group("must_not", [cond], level) if negate else cond

    def group(self, clause: str, conds: list, level: int) -> dict:
        check_depth(level, self.where)
        return {clause: conds}

    def compare(self, node: ast.Compare, level: int) -> dict:
        if len(node.ops) == 1:
            return self.pair(node, node.left, node.ops[0], node.comparators[0], level)
        parts, left = [], node.left
        for op, right in zip(node.ops, node.comparators):
            parts.append(self.pair(node, left, op, right, level + 1))
            left = right
        ranges = [p for p in parts if "range" in p]
        kinds = {isinstance(b, TextBound) for p in ranges for b in p["range"].values()}
        if (
            len(ranges) == len(parts)
            and len({p["key"] for p in parts}) == 1
            and len(kinds) == 1
            and sum(len(p["range"]) for p in parts) == len({b for p in parts for b in p["range"]})
        ):
            return {"key": parts[0]["key"], "range": {b: v for p in parts for b, v in p["range"].items()}}
        return self.group("must", parts, level)

    def pair(self, node: ast.AST, left: ast.AST, op: ast.cmpop, right: ast.AST, level: int) -> dict:
        """One comparison; a filter it builds sits at ``level``."""
        membership = isinstance(op, (ast.In, ast.NotIn))
        if not membership and self.key(left) is None and self.key(right) is not None:
            left, right, op = right, left, _FLIP[type(op)]()
        key = self.key(left)
        if membership and (key is None or self.key(right) is not None):
            raise self.fail(node, "'in' needs a column on the left and a list on the right, e.g. s in ['a', 'b']")
        if key is None or self.key(right) is not None:
            raise self.fail(node, "a comparison needs one column and one literal value")
        if isinstance(right, _CONTAINERS):
            if not (membership or isinstance(op, (ast.Eq, ast.NotEq))):
                raise self.fail(node, "a list can only be compared with ==, !=, in, not in")
            return self.member(key, right, isinstance(op, (ast.NotIn, ast.NotEq)), level)
        if membership:
            raise self.fail(node, "'in' needs a list of values, e.g. s in ['a', 'b']")
        value = self.literal(right)
        if isinstance(op, ast.Eq):
            return self.equal(key, value, node)
        if isinstance(op, ast.NotEq):
            return self.group("must_not", [self.equal(key, value, node)], level)
        bound = _RANGE_OP[type(op)]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return {"key": key, "range": {bound: value}}
        if isinstance(value, str) and self.lexical:
            return {"key": key, "range": {bound: TextBound(value)}}
        raise self.fail(
            node,
            "Qdrant ranges compare numbers only (a server cannot order strings); use == or in, "
            "or filter a local collection"
            if isinstance(value, str)
            else "ordering (<, <=, >, >=) compares numbers or strings",
        )

    def condition(self, node: ast.AST, level: int) -> dict:
        """The condition for ``node``; a filter it returns sits at ``level`` (the whole query is 1)."""
        if isinstance(node, ast.BoolOp):
            clause = "must" if isinstance(node.op, ast.And) else "should"
            conds = []
            for value in node.values:
                cond = self.condition(value, level + 1)
                conds.extend(cond[clause] if set(cond) == {clause} else [cond])
            return self.group(clause, conds, level)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
            return self.group("must_not", [self.condition(node.operand, level + 1)], level)
        if isinstance(node, ast.Compare):
            return self.compare(node, level)
        if _is_na_call(node):
            cond = {"is_empty": {"key": self.key(node.func.value)}}  # type: ignore[attr-defined]
            return cond if node.func.attr in ("isna", "isnull") else self.group("must_not", [cond], level)
        if isinstance(node, ast.Name):
            key = self.key(node)
            self.bare[self.names.get(node.id, node.id)] = None
            return {"key": key, "match": {"value": True}}
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return (
                self.group("must", [], level)
                if node.value
                else self.group("must_not", [self.group("must", [], level + 1)], level)
            )
        raise self.fail(node, "this is a value, not a condition; compare it, e.g. size > 3")


def _translate(expr: Any, lexical: bool) -> tuple[dict, _Translator]:
    tree, names, source = preprocess_query(expr)
    translator = _Translator(expr, names, source, lexical)
    translator.check_nodes(tree)
    cond = translator.condition(tree.body, 1)
    return (cond if cond and set(cond) <= set(CLAUSES) else {"must": [cond]}), translator


def pandas_query_to_filter(expr: str) -> dict:
    """Translate a pandas query string to a Qdrant filter dict with the same answers.

    Numbers compare numerically (``==`` becomes a range with ``gte == lte``, so 2 also finds
    2.0, as in pandas), strings and bools by ``match``; ``!=`` and ``not in`` become
    ``must_not`` (so missing values pass, as NaN does in pandas); ``.isna()`` is ``is_empty``;
    ``== [..]`` is ``in``. Bool literals match bool values only, and ordering (``<``) works on
    numbers only: a Qdrant server has no string ordering (local collections have, see
    ``local_query_filter``).

    >>> pandas_query_to_filter("`my col` in ['a', 'b'] or not (size > 3)")
    {'should': [{'key': '"my col"', 'match': {'any': ['a', 'b']}}, {'must_not': [{'key': 'size', 'range': {'gt': 3}}]}]}
    """
    return _translate(expr, lexical=False)[0]


def local_query_filter(expr: Any, payload: Payload | None = None) -> dict:
    """The filter a local collection evaluates for ``expr`` (strings may be ordered: ``s > 'b'``).

    With ``payload``, every column named must be one of its columns (a typo is an error, as it
    was with pandas), and a column used alone as a condition must hold bools.

    >>> p = Payload.from_records([{"name": "kiwi", "ripe": True}, {"name": "apple"}])
    >>> local_query_filter("name >= 'b' and ripe", p)["must"][1]
    {'key': 'ripe', 'match': {'value': True}}
    >>> local_query_filter("nmae >= 'b'", p)
    Traceback (most recent call last):
    ...
    explorekit.FilterError: filter: the pandas query "nmae >= 'b'" failed: Unknown column 'nmae'. Did you mean 'name'? ...
    """
    flt, translator = _translate(expr, lexical=True)
    if payload is not None:
        kinds = payload.kinds()
        for name in translator.columns:
            if name not in kinds:
                raise FilterError(
                    f"filter: the pandas query {_quote(expr)} failed: "
                    + unknown("column", name, payload.columns, "Names with spaces go in backticks: `my col` > 1.")
                )
        for name in translator.bare:
            if kinds[name] not in ("bool", "json"):
                raise FilterError(
                    f"filter: the pandas query {_quote(expr)} uses the {kinds[name]} column {name!r} "
                    f"as a condition; only True/False columns can stand alone. Compare it, e.g. "
                    f"`{name}` == ... or `{name}`.notna()."
                )
    return flt
