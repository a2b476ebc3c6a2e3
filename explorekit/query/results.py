"""The one place that shapes result DataFrames.

Columns: ``id``, ``score``, then the payload columns in collection order (all, a chosen list,
all but some, or none; key paths such as ``"country.name"`` show the ``country`` column cut to
those parts, :mod:`explorekit.data.payload_select`), then one column per requested vector name (``vector`` for the unnamed vector). The
index is a fresh ``RangeIndex``: row *i* has rank ``offset + i``. An empty result keeps its
columns. ``attrs["query"]`` holds the request as a Qdrant ``/points/query`` body.
Local answers (:func:`to_frame`) and Qdrant's (:mod:`explorekit.backends._queries`) both go
through :func:`result_frame`, with ids typed by :func:`id_array`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import pandas as pd

from explorekit._support.errors import FilterError, RequestError, unknown
from explorekit.data.payload_select import ALL, exclude, include, selector_tree
from explorekit.data.store import Store
from explorekit.query.display import format_score
from explorekit.query.requests import Exclude, PayloadSelector


def vector_column(name: str) -> str:
    """Result column holding a vector space: ``vector`` for the unnamed one, else its name."""
    return name or "vector"


def payload_plan(
    columns: list[str], with_payload: PayloadSelector, check: bool = True
) -> tuple[list[str], dict[str, tuple[str, dict]]]:
    """The payload columns ``with_payload`` shows (in collection order), and the columns whose
    values are cut to parts of them: ``{column: ("include" | "exclude", subtree)}``.

    The one reading of a payload selector, for local results and Qdrant's alike (the server cuts
    the values itself; its columns are chosen here). ``check=False`` (a Qdrant collection whose
    fields are not all known yet) lets top-level names that are not in ``columns`` through,
    after them.

    >>> payload_plan(["a", "b", "c"], ("c", "a.x"))
    (['a', 'c'], {'a': ('include', {'x': True})})
    >>> payload_plan(["a", "b", "c"], Exclude(("b", "c[].y")))
    (['a', 'c'], {'c': ('exclude', {None: {'y': True}})})
    """
    if with_payload is True:
        return list(columns), {}
    if with_payload is False:
        return [], {}
    excluding = isinstance(with_payload, Exclude)
    paths = with_payload.keys if excluding else with_payload
    try:
        tree = selector_tree(paths, columns)
    except FilterError as err:
        raise RequestError(str(err)) from None
    if check:
        check_payload_fields(list(tree), columns)
    if excluding:
        shown = [c for c in columns if tree.get(c) is not ALL]
        return shown, {c: ("exclude", tree[c]) for c in shown if c in tree}
    shown = [c for c in columns if c in tree] + [c for c in tree if c not in columns]
    return shown, {c: ("include", tree[c]) for c in shown if tree[c] is not ALL}


def payload_columns(store: Store, with_payload: PayloadSelector) -> list[str]:
    """Payload columns selected by ``with_payload`` (a list keeps those, in collection order)."""
    return payload_plan(list(store.payload.columns), with_payload)[0]


def cut_values(values: Any, how: tuple[str, dict]) -> pd.Series:
    """A column's display values cut by a selector subtree (``payload_plan``); None stays None."""
    cut = include if how[0] == "include" else exclude
    out = np.empty(len(values), dtype=object)
    out[:] = [None if v is None else cut(v, how[1]) for v in values]
    return pd.Series(out, index=pd.RangeIndex(len(out)), dtype=object, copy=False)


def check_payload_fields(names: Sequence[str], columns: list[str]) -> None:
    """Every name ``with_payload`` lists must be a payload column (local and remote alike)."""
    for name in names:
        if name not in columns:
            raise RequestError(
                unknown("payload field", name, columns, f"with_payload takes True, False or names from {columns[:20]}.")
            )


class HasSpaces(Protocol):
    """A store or a remote collection: its vector spaces by name, and the name resolver."""

    @property
    def spaces(self) -> Mapping[str, Any]: ...

    def space(self, using: str | None, where: str = ...) -> Any: ...


def vector_names(holder: HasSpaces, with_vectors: bool | tuple[str, ...]) -> list[str]:
    """The vector names ``with_vectors`` asks for (True: all, in order; names resolved, so
    ``None`` or ``""`` is the unnamed vector), for a local store and a Qdrant collection alike."""
    if with_vectors is False:
        return []
    if with_vectors is True:
        return list(holder.spaces)
    return [holder.space(name, where="with_vectors").name for name in with_vectors]


def id_array(values: Sequence[int | str], all_int: bool) -> np.ndarray:
    """The ``id`` column of these ids: int64 (uint64 when one is ``>= 2**63``) when the ids are
    integers (``all_int``, the collection's rule), else an object array (no str inference).

    >>> id_array([3, 2**63], True).dtype, id_array([3, 5], True).dtype, id_array(["a", 5], False).dtype
    (dtype('uint64'), dtype('int64'), dtype('O'))
    """
    if all_int:
        return np.array(values, dtype="uint64" if len(values) and max(values) >= 2**63 else "int64")
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def id_values(store: Store, rows: np.ndarray) -> np.ndarray:
    """The ids of ``rows``, as :func:`id_array` types them."""
    return id_array(store.ids.take(rows), store.ids.all_int)


def id_series(store: Store, rows: np.ndarray) -> pd.Series:
    """:func:`id_values` as a Series named ``id`` (object ids stay object: no str inference)."""
    values = id_values(store, rows)
    return pd.Series(values, name="id", dtype=values.dtype)


def vector_cells(vectors: Sequence[np.ndarray | None]) -> np.ndarray:
    """A vector column: an object array holding one 1-D array (or None) per row, never a 2-D block."""
    out = np.empty(len(vectors), dtype=object)
    for i, vector in enumerate(vectors):
        out[i] = vector
    return out


@lru_cache(maxsize=256)
def _column_index(names: tuple[str, ...]) -> pd.Index:
    """One immutable column Index per column list (building it is a third of a small frame)."""
    return pd.Index(list(names))


def frame_from_columns(data: dict[str, Any], length: int) -> pd.DataFrame:
    """A DataFrame of equal-length 1-D columns (numpy or pandas arrays, or Series), kept as given.

    Object columns stay object (pandas would otherwise infer strings). Built through pandas'
    array constructor, which skips the dict checks that take most of the time for the small
    frames queries return (measured 14 us vs 47-78 us for ``pd.DataFrame(dict)`` with pandas
    3.1); falls back to the public constructor if a pandas version lacks it.

    >>> frame_from_columns({"id": np.array([3, 1]), "score": np.array([0.5, 0.25])}, 2)
       id  score
    0   3   0.50
    1   1   0.25
    """
    return _frame(tuple(data), list(data.values()), length)


def _frame(names: tuple[str, ...], values: list[Any], length: int) -> pd.DataFrame:
    """:func:`frame_from_columns` of columns given as names and values (a name may repeat)."""
    index = pd.RangeIndex(length)
    arrays = [v.array if isinstance(v, pd.Series) else v for v in values]
    columns = _column_index(names).view()  # a frame's own Index (its name can be set)
    try:
        return pd.DataFrame._from_arrays(arrays, columns=columns, index=index, verify_integrity=False)
    except (AttributeError, TypeError):  # another pandas: the public way
        series = {
            i: (
                v
                if isinstance(v, pd.Series)
                else pd.Series(v, index=index, copy=False, dtype=getattr(v, "dtype", None))
            )
            for i, v in enumerate(values)
        }
        frame = pd.DataFrame(series, index=index, copy=False)
        frame.columns = columns
        return frame


def result_frame(
    ids: np.ndarray,
    scores: np.ndarray | None,
    payload: Mapping[str, Any],
    vectors: Mapping[str, np.ndarray],
    query: dict | None = None,
) -> pd.DataFrame:
    """The one shape of a result: local and remote answers are built here.

    ``ids`` from :func:`id_array`; ``scores`` (float32 values, shown as float64) or None for
    no score column (retrieve, scroll); ``payload`` columns in the order to show (as
    ``Payload.display_columns`` gives them); ``vectors`` by vector name (:func:`vector_cells`),
    each in its :func:`vector_column`. ``query`` goes to ``attrs["query"]``. A vector column
    takes the place of a payload column of the same name; a payload field named ``id`` or
    ``score`` (possible on a Qdrant server, reserved locally) stays a column of its own.

    >>> frame = result_frame(id_array([7, 3], True), np.array([0.5, 0.25], np.float32), {"tag": np.array(["a", "b"], object)},
    ...                      {"": vector_cells([np.ones(2, np.float32), None])}, {"limit": 2})
    >>> list(frame.columns), frame["id"].dtype, frame.attrs["query"]
    (['id', 'score', 'tag', 'vector'], dtype('int64'), {'limit': 2})
    """
    names: list[str] = ["id"]
    values: list[Any] = [ids]
    if scores is not None:
        names.append("score")
        values.append(np.asarray(scores, dtype=np.float32).astype(np.float64))
    names += payload.keys()
    values += payload.values()
    for name, cells in vectors.items():
        column = vector_column(name)
        if column in payload:  # a payload field of that name: the vector takes its place
            values[names.index(column, len(names) - len(payload))] = cells
        else:
            names.append(column)
            values.append(cells)
    frame = _frame(tuple(names), values, len(ids))
    if query is not None:
        frame.attrs["query"] = query
    return frame


def to_frame(
    store: Store,
    rows: np.ndarray,
    scores: np.ndarray | None,
    with_payload: PayloadSelector = True,
    with_vectors: bool | tuple[str, ...] = False,
    query: dict | None = None,
) -> pd.DataFrame:
    """Build the result frame for ``rows`` (positions in the collection), best first."""
    rows = np.asarray(rows, dtype=np.int64)
    cols, cuts = payload_plan(store.payload.columns, with_payload)
    payload = store.payload.display_columns(rows, cols) if cols else {}
    for name, how in cuts.items():
        if store.payload.kinds()[name] == "json":  # a scalar column is kept whole by any path
            payload[name] = cut_values(payload[name], how)
    stored = {name: store.space(name).stored for name in vector_names(store, with_vectors)}
    vectors = {name: vector_cells([matrix[r].copy() for r in rows]) for name, matrix in stored.items()}
    return result_frame(id_values(store, rows), scores, payload, vectors, query)


def with_order_values(frame: pd.DataFrame, values: Sequence[Any] | None) -> pd.DataFrame:
    """``frame`` with an ``order_value`` column after ``id`` (and ``score``) when ordered by a
    payload value (``values`` None: ordered by id, unchanged); local and Qdrant results alike."""
    if values is not None:
        column = np.empty(len(values), dtype=object)
        column[:] = list(values)
        frame.insert(2 if "score" in frame.columns else 1, "order_value", column)
    return frame


#: How explorekit orders equal scores (:mod:`explorekit.scoring.topk`), said wherever ties show.
TIE_ORDER = "insertion order (Qdrant leaves the order of equal scores unspecified)"


def with_ties(frame: pd.DataFrame, score: float, tied: int, shown: int, exact: bool = True) -> pd.DataFrame:
    """``frame`` with ``attrs["ties"]``: ``tied`` points share the last shown ``score`` and only
    ``shown`` of them made the answer (``exact=False``: ``tied`` is a lower bound).

    >>> with_ties(pd.DataFrame({"id": [1, 2], "score": [0.0, 0.0]}), 0.0, 1405, 2).attrs["ties"]["tied"]
    1405
    """
    frame.attrs["ties"] = {
        "score": float(score),
        "tied": int(tied),
        "shown": int(shown),
        "at_least": not exact,
        "order": TIE_ORDER,
    }
    return frame


def results_text(frame: pd.DataFrame) -> str:
    """The count of a result frame in words, saying out loud when equal scores were cut.

    >>> frame = with_ties(pd.DataFrame({"id": range(10), "score": [0.0] * 10}), 0.0, 1405, 10)
    >>> results_text(frame)
    '10 results: 10 shown of 1,405 tied at score 0 (insertion order; Qdrant leaves the order of equal scores unspecified)'
    >>> results_text(pd.DataFrame({"id": [3], "score": [0.5]}))
    '1 result'
    """
    n = len(frame)
    text = f"{n:,} result{'' if n == 1 else 's'}"
    ties = frame.attrs.get("ties")
    if not ties:
        return text
    count = f"{'at least ' if ties.get('at_least') else ''}{ties['tied']:,}"
    order = str(ties.get("order", TIE_ORDER)).replace(" (", "; ").rstrip(")")
    return f"{text}: {ties['shown']:,} shown of {count} tied at score {format_score(ties['score'])} ({order})"
