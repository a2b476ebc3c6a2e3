"""Filter strings are data, and filter depth is bounded (issue 15).

A pandas query string is parsed with ``ast``, checked against an allow-list and translated to
a Qdrant filter; nothing runs it. These tests try the string that reached ``os.system`` on
9b2048f (through ``DataFrame.eval``) on every route a string takes: ``filter=`` on the query
methods, REST bodies, the Explorer's filter box and typed queries, and the CLI's ``--filter``.
Hypothesis then fuzzes adversarial strings (only FilterError may escape, and the sentinel file
that any of them would create never appears), checks that ordinary comparison/boolean/``in``
strings give the rows pandas' ``DataFrame.eval`` gave on the payload's display frame (computed
here, as the reference), and that filters nested beyond 64 levels (dicts, models, strings,
JSON text) give FilterError, never RecursionError.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qdrant_client import models

import explorekit as ek
from explorekit import cli
from explorekit._support.errors import FilterError
from explorekit.data.ids import IdIndex
from explorekit.data.payload import Payload
from explorekit.query.filters import filter_mask, pandas_query_to_filter, validate_filter
from explorekit.widgets import ExplorerState

VEC = [1.0, 0.0, 0.0, 0.0]
COL = ek.Collection.from_arrays(
    np.random.default_rng(5).normal(size=(6, 4)),
    ids=range(1, 7),
    payload=[{"n": i, "s": "abc"[i % 3], "my col": i % 2 == 0} for i in range(6)],
)
# Reaches os.system through DataFrame.eval on 9b2048f: every call is `object.method(...)`, which
# pandas' evaluator allows, and sys.modules holds os. `{cmd}` is the shell command it would run.
CHAIN = "{col}.__class__.__init__.__globals__['sys'].modules['os'].system('{cmd}')"


@pytest.fixture
def sentinel(tmp_path) -> object:
    """A file that an attack string would create (``touch``); it must never exist."""
    return tmp_path / "RAN"


@pytest.fixture(scope="module")
def fuzz_sentinel(tmp_path_factory) -> object:
    """The same for the hypothesis tests (one per module: hypothesis reuses the fixture)."""
    return tmp_path_factory.mktemp("fuzz") / "RAN"


def attacks(path: object) -> list[str]:
    cmd = f"touch {path}"
    chain = CHAIN.format(col="n", cmd=cmd)
    return [
        f"{chain} == 0",  # runs, then fails: not a mask
        f"n > {chain}",  # runs and returns a mask: silent on 9b2048f
        f"n >= 0 & ({chain} == 0)",
        CHAIN.format(col="`my col`", cmd=cmd) + " == 0",
    ]


def assert_refused(call, path) -> None:
    """``call()`` raises FilterError for a string outside the allow-list, and ran nothing."""
    try:
        call()
        error = None
    except FilterError as err:
        error = err
    assert not path.exists(), "the filter string ran a shell command"
    assert error is not None and "not allowed in a filter string" in str(error), error


# ---------------------------------------------------------------------- every route
ROUTES = {
    "search": lambda f: COL.search(VEC, filter=f),
    "recommend": lambda f: COL.recommend(positive=[1], filter=f),
    "discover": lambda f: COL.discover(target=1, context=[(2, 3)], filter=f),
    "scroll": lambda f: COL.scroll(filter=f),
    "search_batch": lambda f: COL.search_batch([{"query": VEC, "filter": f}]),
    "rest /points/query": lambda f: COL.query({"query": VEC, "filter": f, "limit": 3}),
    "rest /points/recommend": lambda f: COL.query({"positive": [1], "filter": f}),
    "rest batch": lambda f: COL.query({"searches": [{"vector": VEC, "filter": f, "limit": 3}]}),
    "validate_filter": validate_filter,
    "explorer filter box": lambda f: ExplorerState(COL).set_filter(f),
    "explorer typed query": lambda f: ExplorerState(COL).add_text("positive", f),
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("which", range(4))
def test_the_9b2048f_attack_is_refused_on_every_route(route, which, sentinel):
    assert_refused(lambda: ROUTES[route](attacks(sentinel)[which]), sentinel)


def test_the_cli_filter_is_refused(sentinel, tmp_path, capsys):
    attack = CHAIN.format(col="price", cmd=f"touch {sentinel}") + " == 0"
    code = cli.main(
        ["report", "--dataset", "clusters2d", "--search", "1", "--filter", attack, "--out", str(tmp_path / "r.html")]
    )
    assert not sentinel.exists(), "the --filter string ran a shell command"
    assert code == 2 and "not allowed in a filter string" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    "expr, part",
    [
        ("n.__class__ == 1", "attribute access `.__class__`"),
        ("n.__class__.__init__.__globals__['sys'] == 1", "attribute access `.__class__`"),
        ("__import__('os').system('true') == 0", "calling `__import__('os')`"),
        ("n.apply(print) == 1", "attribute access `.apply`"),
        ("n.str.contains('a')", "attribute access `.str`"),
        ("n.isna().sum() > 0", "attribute access `.sum`"),
        ("(lambda: 1)() == n", "a lambda `lambda: 1`"),
        ("[x for x in n] == 1", "a comprehension"),
        ("n[0] == 1", "indexing `n[0]`"),
        ("f'{n}' == 'a'", "an f-string"),
        ("(y := 1) == n", "assignment (:=)"),
        ("n in [*s]", "unpacking (*)"),
        ("n + 1 > 2", "arithmetic `n + 1`"),
        ("n > 10**400", "arithmetic `10**400`"),
        ("{'a': 1} == n", "a dict"),
        ("n if s else n", "if/else"),
    ],
)
def test_refused_strings_name_the_offending_part(expr, part):
    for check in (
        lambda: validate_filter(expr),
        lambda: filter_mask(expr, COL._payload, COL._ids),
        lambda: pandas_query_to_filter(expr),
    ):
        with pytest.raises(
            FilterError, match="is not allowed in a filter string; write comparisons like size > 3"
        ) as info:
            check()
        assert part in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "expr, fragment",
    [
        ("n is None", "`is` compares objects"),
        ("s in ['a', None]", "use .isna()"),
        ("'a' in s", "'in' needs a column on the left"),
        ("n > m", "one column and one literal"),
        ("`a``b` == 1", "not valid"),
        ("s == '\ud800'", "not valid"),
    ],
)
def test_other_refusals_say_why(expr, fragment):
    with pytest.raises(FilterError, match="filter: ") as info:
        filter_mask(expr, COL._payload, COL._ids)
    assert fragment in str(info.value), str(info.value)


# ---------------------------------------------------------------------- adversarial fuzzing
_DUNDERS = [
    "__class__",
    "__init__",
    "__globals__",
    "__builtins__",
    "__subclasses__",
    "__mro__",
    "__base__",
    "__dict__",
    "__getattribute__",
    "__call__",
    "__reduce__",
    "__import__",
    "modules",
    "system",
    "str",
    "apply",
    "pipe",
    "eval",
    "values",
    "isna",
    "notna",
    "popen",
]
_BASES = [
    "n",
    "s",
    "`my col`",
    "`n`",
    "1",
    "'a'",
    "[1]",
    "()",
    "__import__",
    "__builtins__",
    "os",
    "sys",
    "@n",
    "@__builtins__",
    "(lambda: 0)",
    "(lambda x: x)",
    "[c for c in n]",
    "{c for c in n}",
    "{k: 1 for k in n}",
    "(c for c in n)",
    "f'{n}'",
    "f'{n.__class__}'",
    "(y := n)",
    "*n",
    "n[0]",
    "n[::1]",
    "`a``b`",
    "`n'`",
    "`'`",
    "'`'",
    "'\\''",
    '"`"',
    "'''a'''",
    "b'x'",
    "...",
    "None",
    "1j",
    "0x1f",
    "1e309",
]


@st.composite
def adversarial(draw, command: str) -> str:
    """Strings that would run ``command`` (or other code) if anything evaluated them."""
    call = f"('{command}')"
    expr = draw(st.sampled_from(_BASES + [CHAIN.format(col="n", cmd=command)]))
    for _ in range(draw(st.integers(0, 6))):
        expr += draw(
            st.one_of(
                st.sampled_from(_DUNDERS).map(lambda a: f".{a}"),
                st.sampled_from(
                    ["['sys']", "['os']", "['__import__']", "[0]", "[n]", "()", call, "(n)", "(*n)", "(**{})", "(x=1)"]
                ),
            )
        )
    wrap = draw(
        st.sampled_from(
            [
                "{}",
                "{} == 0",
                "n > {}",
                "n >= 0 and ({})",
                "not {}",
                "~({})",
                "n in [{}]",
                "({}) & (n > 0)",
                "`{}` == 1",
                "s == '{}'",
                "n > 1 or {} or s == 'a'",
                "{} if n else n",
                "n == ({},)",
                "-{} < n",
                "({}) == ({})",
            ]
        )
    )
    text = wrap.replace("{}", expr)
    repeat = draw(st.sampled_from([1, 1, 1, 2, 20, 300]))
    return " or ".join([text] * repeat) if repeat > 1 else text


def _fuzz_one(expr: str, path) -> None:
    for check in (
        lambda: validate_filter(expr),
        lambda: filter_mask(expr, COL._payload, COL._ids),
        lambda: pandas_query_to_filter(expr),
    ):
        try:
            check()
        except FilterError:
            pass
    assert not path.exists(), f"{expr!r} ran a shell command"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_adversarial_strings_raise_filter_error_and_run_nothing(data, fuzz_sentinel):
    _fuzz_one(data.draw(adversarial(f"touch {fuzz_sentinel}")), fuzz_sentinel)


def test_a_megabyte_of_attack_is_refused(sentinel):
    text = " or ".join([attacks(sentinel)[0]] * 12_000)
    assert len(text) > 1_000_000
    assert_refused(lambda: COL.search(VEC, filter=text), sentinel)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(alphabet=st.sampled_from(list("ns`'\"()[]{}.,:=<>!&|~@*+-_ 01abinotdr\\\n\x00\ud800")), max_size=60)
)
def test_any_text_raises_only_filter_error(text, fuzz_sentinel):
    _fuzz_one(text, fuzz_sentinel)


# ---------------------------------------------------------------------- same rows as before
_VALUE = {
    "i": st.sampled_from([-1, 0, 1, 2]),
    "j": st.sampled_from([-1, 0, 1, 2]),
    "f": st.sampled_from([0.5, 1.0, 2.5, -1.5]),
    "s": st.sampled_from(["a", "b", "B", "c d", "", "\u00e4"]),
    "s g": st.sampled_from(["a", "b"]),
    "b": st.booleans(),
    "bg": st.booleans(),
    "o": st.sampled_from([1, 2, "x", "a"]),
}
_GAPS = {"i", "f", "s", "s g", "bg", "o"}  # these may be null or missing; j and b never
_ABSENT = object()


def _records() -> st.SearchStrategy:
    def cell(name: str) -> st.SearchStrategy:
        value = _VALUE[name]
        return st.one_of(value, value, st.none(), st.just(_ABSENT)) if name in _GAPS else value

    row = st.fixed_dictionaries({k: cell(k) for k in _VALUE}).map(
        lambda r: {k: v for k, v in r.items() if v is not _ABSENT}
    )
    first = st.fixed_dictionaries(_VALUE)  # every column exists and has a value
    return st.builds(lambda a, rest: [a, *rest], first, st.lists(row, max_size=7))


_NUM_COLS, _STR_COLS = st.sampled_from(["i", "j", "f"]), st.sampled_from(["s", "`s g`"])
_NUMS = st.sampled_from(["-1", "0", "1", "2", "2.5", "-1.5", "1.0", "+2"])
_STRS = st.sampled_from(["'a'", "'b'", "'B'", "'c d'", "''", "'\u00e4'", '"a"'])
_OPS = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
_EQ = st.sampled_from(["==", "!="])


def _cmp(cols: st.SearchStrategy, lits: st.SearchStrategy, ops: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.builds("{} {} {}".format, cols, ops, lits), st.builds(lambda c, op, v: f"{v} {op} {c}", cols, ops, lits)
    )


def _lists(lits: st.SearchStrategy) -> st.SearchStrategy:
    """``[..]`` or ``(..)`` literals (sets are new: pandas refused them)."""
    return st.builds(
        lambda vs, tup: f"({', '.join(vs)}{',' if len(vs) == 1 else ''})" if tup else f"[{', '.join(vs)}]",
        st.lists(lits, max_size=3),
        st.booleans(),
    )


_ATOMS = st.one_of(
    _cmp(_NUM_COLS, _NUMS, _OPS),  # numbers, missing values
    _cmp(_STR_COLS, _STRS, _OPS),  # strings, in code-point order
    _cmp(_NUM_COLS, _STRS, _EQ),
    _cmp(_STR_COLS, _NUMS, _EQ),  # type mismatch: never equal
    _cmp(st.just("o"), st.one_of(_NUMS, _STRS), _EQ),  # a column of numbers and strings
    st.builds("{} {} {}".format, st.sampled_from(["b", "bg"]), _EQ, st.sampled_from(["True", "False"])),
    st.sampled_from(["b", "~b", "not b", "`b`"]),
    st.builds(
        "{} {} {}".format,
        st.sampled_from(["i", "j", "f", "s", "`s g`", "o"]),
        st.sampled_from(["in", "not in", "==", "!="]),
        _lists(st.one_of(_NUMS, _STRS)),
    ),
    st.builds(lambda v, op, c: f"{v} {op} {c}", _lists(st.one_of(_NUMS, _STRS)), _EQ, _NUM_COLS),
    st.builds("{} {} {} {} {}".format, _NUMS, _OPS, _NUM_COLS, _OPS, _NUMS),  # chained
    st.builds("{} {} {} {} {}".format, _STRS, _OPS, _STR_COLS, _OPS, _STRS),
    st.builds(
        "{}.{}()".format,
        st.sampled_from(["i", "f", "s", "`s g`", "bg", "o", "j"]),
        st.sampled_from(["isna", "notna", "isnull", "notnull"]),
    ),
)
ORDINARY = st.recursive(
    _ATOMS,
    lambda sub: st.one_of(
        st.builds("({}) {} ({})".format, sub, st.sampled_from(["and", "or", "&", "|"]), sub),
        st.builds("{} {} {}".format, sub, st.sampled_from(["and", "or", "&", "|"]), sub),
        st.builds("{}({})".format, st.sampled_from(["not ", "~", "not "]), sub),
    ),
    max_leaves=5,
)


def pandas_rows(payload: Payload, expr: str) -> list[int] | str:
    """The rows explorekit gave on 9b2048f: DataFrame.eval over the display frame (the reference)."""
    frame = payload.frame
    try:
        result = frame.eval(expr, local_dict={}, global_dict={})
    except Exception as err:  # noqa: BLE001 - any pandas failure was a FilterError before
        return f"error: {type(err).__name__}"
    if not isinstance(result, pd.Series) or len(result) != len(payload):
        return "error: not a mask"
    if str(result.dtype) == "boolean":
        result = result.fillna(False)
    return np.flatnonzero(result.to_numpy()).tolist() if result.dtype == bool else f"error: {result.dtype}"


def rows(flt, payload: Payload) -> list[int] | str:
    try:
        return np.flatnonzero(filter_mask(flt, payload, IdIndex(range(len(payload))))).tolist()
    except FilterError as err:
        return f"error: {err}"


@settings(max_examples=600, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(records=_records(), expr=ORDINARY)
def test_ordinary_strings_give_the_rows_pandas_gave(records, expr):
    payload = Payload.from_records(records)
    want = pandas_rows(payload, expr)
    assert not isinstance(want, str), (expr, want)  # the generator writes only strings pandas answers
    assert rows(expr, payload) == want, (expr, payload.frame)
    try:
        translated = pandas_query_to_filter(expr)  # what a Qdrant server is sent
    except FilterError as err:
        assert "numbers only" in str(err), str(err)  # only string ordering stays local
    else:
        assert rows(translated, payload) == want, (expr, translated)


# ---------------------------------------------------------------------- documented differences
DIFF = Payload.from_records(
    [{"t": ["a", "b"], "flag": True, "n": 1}, {"t": [], "flag": False, "n": 0}, {"t": "a", "n": 2}, {"n": 1}]
)


@pytest.mark.parametrize(
    "expr, want, pandas_gave",
    [
        ("t == 'a'", [0, 2], [2]),  # an array matches by its elements, as in Qdrant
        ("t.isna()", [1, 3], [3]),  # Qdrant's is_empty: [] too
        ("flag == 1", [], [0]),  # bools are not numbers
        ("n == True", [], [0, 3]),
        ("~flag", [1, 2, 3], "error: TypeError"),  # a gap passes not (pandas could not invert None)
    ],
)
def test_where_qdrant_meaning_is_kept(expr, want, pandas_gave):
    assert pandas_rows(DIFF, expr) == pandas_gave
    assert rows(expr, DIFF) == want


# ---------------------------------------------------------------------- depth
def deep_dict(levels: int, leaf: dict | None = None) -> dict:
    """``levels`` filters inside each other (built without recursion)."""
    flt = {"must": [leaf or {"key": "n", "range": {"gt": 1}}]}
    for _ in range(levels - 1):
        flt = {"must": [flt]}
    return flt


def test_a_dict_filter_may_nest_64_levels_and_no_more():
    assert rows(deep_dict(64), COL._payload) == rows({"must": [{"key": "n", "range": {"gt": 1}}]}, COL._payload)
    for levels in (65, 300, 5000, 200_000):
        with pytest.raises(FilterError, match="nested more than 64 levels deep.*Flatten it"):
            COL.search(VEC, filter=deep_dict(levels))


@pytest.mark.parametrize(
    "wrap",
    [
        lambda f: {"must_not": [f]},
        lambda f: {"should": [f, {"has_id": [1]}]},
        lambda f: {"must": [{"nested": {"key": "x", "filter": f}}]},
        lambda f: {"min_should": {"conditions": [f], "min_count": 1}},
    ],
)
def test_every_way_of_nesting_counts(wrap):
    flt: dict = {"must": []}
    for _ in range(63):
        flt = wrap(flt)
    COL.scroll(filter=flt)  # 64 levels
    for _ in range(5000):
        flt = wrap(flt)
    with pytest.raises(FilterError, match="nested more than 64 levels"):
        COL.scroll(filter=flt)


def test_deep_qdrant_client_models_and_rest_bodies():
    model = models.Filter(must=[models.FieldCondition(key="n", match=models.MatchValue(value=1))])
    for _ in range(400):
        model = models.Filter(must=[model])
    with pytest.raises(FilterError, match="nested more than 64 levels"):
        COL.search(VEC, filter=model)
    with pytest.raises(FilterError, match="nested more than 64 levels"):
        COL.query({"query": VEC, "filter": deep_dict(100_000)})
    with pytest.raises(FilterError, match="nested more than 64 levels"):
        COL.query(models.QueryRequest(query=VEC, filter=model))


@pytest.mark.parametrize(
    "body",
    [
        lambda deep: {"foo": deep},
        lambda deep: {"query": deep},
        lambda deep: {"query": VEC, "limit": deep},
        lambda deep: {"positive": [deep]},
        lambda deep: {"query": VEC, "filter": {"must": [deep]}},
        lambda deep: {"query": VEC, "filter": {"must": [{"has_id": [deep]}]}},
        lambda deep: {"query": VEC, "filter": {"must": [{"key": "n", "match": {"any": deep}}]}},
    ],
)
def test_deep_values_anywhere_in_a_rest_body_give_explore_error(body):
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ek.ExploreError, match="nested more than"):
        COL.query(body(deep))


DEEP_STRINGS = {
    "not": lambda k: "not " * k + "n > 1",
    "~": lambda k: "~" * k + "(n > 1)",
    "parentheses": lambda k: "(" * k + "n > 1" + ")" * k,
    "not (": lambda k: "not (" * k + "n > 1" + ")" * k,
    "minus": lambda k: "n > " + "-" * k + "1",
    "lists": lambda k: "n in " + "[" * k + "1" + "]" * k,
}


@pytest.mark.parametrize("name", DEEP_STRINGS)
def test_a_string_may_nest_64_levels_and_no_more(name):
    make = DEEP_STRINGS[name]
    if name == "lists":
        with pytest.raises(FilterError, match="a list inside a list"):
            COL.scroll(filter=make(64))
    else:
        assert rows(make(64), COL._payload) == rows("n > 1", COL._payload)
    # 200: Python's parenthesis limit; ~3,000: its recursion limit in ast.parse; ~6,000: its parser stack
    for k in (65, 199, 200, 1000, 2999, 3000, 6000, 100_000):
        with pytest.raises(FilterError, match="nested more than 64 levels deep"):
            COL.search(VEC, filter=make(k))


def test_a_long_arithmetic_chain_is_refused_not_recursed():
    for terms in (10, 5000, 100_000):
        with pytest.raises(FilterError, match="arithmetic|nested more than 64"):
            COL.search(VEC, filter="n > " + "+".join(["1"] * terms))


def test_the_explorer_filter_box_refuses_deep_json():
    for levels in (65, 2000, 100_000):
        text = '{"must": [' * levels + '{"key": "n", "range": {"gt": 1}}' + "]}" * levels
        with pytest.raises(FilterError, match="nested more than 64 levels deep"):
            ExplorerState(COL).set_filter(text)


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def test_the_recursion_limit_is_never_the_guard():
    """With only 250 frames to spare, the answers and errors are the same: nothing recursed deeply."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(_stack_depth() + 250)
    try:
        assert len(COL.scroll(filter=deep_dict(64))) == 4
        assert len(COL.scroll(filter="not " * 64 + "n > 1")) == 4
        for deep in ("not " * 65 + "n > 1", deep_dict(1000), "n > " + "-" * 1000 + "1"):
            with pytest.raises(FilterError, match="nested more than 64"):
                COL.scroll(filter=deep)
    finally:
        sys.setrecursionlimit(before)
