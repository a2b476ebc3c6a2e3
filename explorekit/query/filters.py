"""Payload filters: a Qdrant filter, a pandas query string or a boolean mask -> a row mask.

Accepted filters (``FilterLike``):

* ``None``: every point.
* A Qdrant filter dict (``must`` / ``should`` / ``must_not`` / ``min_should``, field conditions
  with ``match`` value/any/except/text/phrase/text_any/prefix/substring, ``range`` (numbers,
  or RFC 3339 datetime strings), ``values_count``, ``is_empty``, ``is_null``, ``geo_radius``,
  ``geo_bounding_box``, ``geo_polygon``, ``has_id``, ``has_vector``, ``slice``, ``nested``), evaluated exactly as Qdrant does (docs/qdrant-semantics.md, "Filters"),
  vectorised over the typed payload columns. A qdrant-client ``models.Filter`` is accepted too
  (converted with ``model_dump(mode="json", by_alias=True, exclude_none=True)``).
* A pandas query string such as ``"size > 3 and colour in ['red', 'blue']"`` (names with
  spaces in backticks; ``@variables`` are not available: write the value into the string).
  It is data, never code: parsed with ``ast``, checked against an allow-list (comparisons,
  and/or/not, &/|/~, in, literals, column names, ``.isna()``/``.notna()``), translated to a
  Qdrant filter and evaluated like one; answers equal pandas' ``DataFrame.eval`` on scalar
  columns (see :mod:`explorekit._pandas_query` for where Qdrant's meaning is kept instead).
* A boolean numpy array of one value per point, in row order.
* A boolean pandas Series: aligned **by point id** when its index holds exactly the
  collection's ids (any order); otherwise **by position** when it has a ``RangeIndex(n)``;
  anything else is an error (reindex it, e.g. ``s.reindex(col.ids, fill_value=False)``).

Filters nested more than 64 levels deep (dicts or strings) are refused with a FilterError.
Where this module is stricter than Qdrant: a field condition with two predicates (e.g.
``match`` and ``range`` together, which Qdrant silently reduces to one) is an error. Where qdrant-client local mode and the
server differ, the server is followed: ``range`` compares in float64 (local mode compares
Python ints exactly, so it differs above 2**53); ``min_count`` must be >= 1 (as local mode and
the REST API require; qdrant-edge alone accepts 0).

Key paths follow Qdrant's JSON path syntax: names made of letters, digits, ``_`` and ``-``,
joined by ``.``; ``[]`` for every element and ``[i]`` for one; other names in double quotes
(``'"my key".sub'``). A payload column named ``"a.b"`` is therefore reached as ``'"a.b"'``.

This module dispatches on the kind of filter; the work is done in ``_filter_parse`` (checks a
Qdrant filter and parses it into a node tree), ``_filter_eval`` (evaluates the tree as a mask),
``_jsonpath`` (key paths and datetimes) and ``_pandas_query`` (pandas query strings).

Examples
--------
>>> from explorekit.data.payload import Payload
>>> from explorekit.data.ids import IdIndex
>>> p = Payload.from_records([{"c": "red", "n": 1}, {"c": "blue", "n": 5}, {"c": ["red", "x"]}])
>>> filter_mask({"must": [{"key": "c", "match": {"value": "red"}}]}, p, IdIndex([0, 1, 2])).tolist()
[True, False, True]
>>> filter_mask("n > 2", p, IdIndex([0, 1, 2])).tolist()
[False, True, False]
>>> pandas_query_to_filter("c == 'red' and n >= 1")
{'must': [{'key': 'c', 'match': {'value': 'red'}}, {'key': 'n', 'range': {'gte': 1}}]}
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Mapping
from typing import Any, Union

import numpy as np
import pandas as pd

from explorekit._support.errors import ExploreError, FilterError, short_repr
from explorekit.data.ids import IdIndex, normalize_id
from explorekit.data.jsonpath import parse_datetime, parse_key
from explorekit.data.payload import Payload
from explorekit.data.store import Store
from explorekit.query.filter_eval import evaluate
from explorekit.query.filter_parse import parse_filter, to_filter_dict
from explorekit.query.pandas_query import local_query_filter, pandas_query_to_filter

#: dict | str | numpy bool array | pandas bool Series | qdrant_client.models.Filter | None
FilterLike = Union[dict, str, np.ndarray, pd.Series, Any, None]  # noqa: UP007 - a runtime alias

__all__ = [
    "FilterLike",
    "filter_mask",
    "store_mask",
    "validate_filter",
    "pandas_query_to_filter",
    "to_filter_dict",
    "parse_key",
    "parse_datetime",
]


def _kind(filter: Any) -> str:
    if filter is None:
        return "none"
    if isinstance(filter, str):
        return "query"
    if isinstance(filter, pd.Series):
        return "series"
    if isinstance(filter, np.ndarray):
        return "array"
    if isinstance(filter, Mapping) or hasattr(filter, "model_dump"):
        return "qdrant"
    hint = " Convert it with np.asarray(...)." if isinstance(filter, (list, tuple)) else ""
    raise FilterError(
        f"filter: {short_repr(filter)} of type {type(filter).__name__} is not a filter.{hint} Use a "
        "Qdrant filter dict, a pandas query string, or a boolean array/Series with one value per point."
    )


def _check_bool(values: Any, what: str) -> None:
    dtype = values.dtype
    if not (dtype == bool or str(dtype) == "boolean"):
        raise FilterError(
            f"filter: the {what} has dtype {dtype}, not bool. Pass True/False per point, "
            "e.g. (values > 0) or values.astype(bool)."
        )
    if getattr(values, "ndim", 1) != 1:
        raise FilterError(f"filter: the {what} has shape {values.shape}; it must be 1-D, one value per point.")


def validate_filter(filter: Any) -> None:
    """Raise FilterError for a malformed filter, without evaluating it (nothing is changed).

    >>> validate_filter({"must": [{"key": "a", "range": {"gt": "ten"}}]})
    Traceback (most recent call last):
    ...
    explorekit.FilterError: filter['must'][0]['range']['gt']: 'ten' is not a number ...
    """
    kind = _kind(filter)
    if kind == "qdrant":
        parse_filter(filter)
    elif kind == "query":
        local_query_filter(filter)
    elif kind in ("array", "series"):
        _check_bool(filter, "boolean Series" if kind == "series" else "boolean array")


_ID_INDEXES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _id_positions(ids: IdIndex, labels: pd.Index) -> np.ndarray:
    """Row of each label in ``ids`` (-1 if it is not an id); labels are normalised like ids."""
    if ids not in _ID_INDEXES:
        _ID_INDEXES[ids] = (pd.Index(ids.values) if ids.all_int else None, pd.Index(ids.values, dtype=object))
    by_int, by_obj = _ID_INDEXES[ids]
    if pd.api.types.is_integer_dtype(labels.dtype):
        return by_int.get_indexer(labels) if by_int is not None else by_obj.get_indexer(labels.astype(object))
    norm = []
    for v in labels:
        try:
            norm.append(normalize_id(v))
        except ExploreError:
            norm.append(None)
    return by_obj.get_indexer(pd.Index(norm, dtype=object))


def _series_mask(s: pd.Series, ids: IdIndex | None, n: int) -> np.ndarray:
    _check_bool(s, "boolean Series")
    if s.isna().any():
        raise FilterError(
            f"filter: the boolean Series has {int(s.isna().sum())} missing values. Fill them, e.g. s.fillna(False)."
        )
    values = s.to_numpy(dtype=bool)
    if ids is not None and len(s) == n and s.index.is_unique:
        pos = _id_positions(ids, s.index)
        if (pos >= 0).all():
            out = np.empty(n, dtype=bool)
            out[pos] = values
            return out
    idx = s.index
    if isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1 and len(idx) == n:
        return values.copy()
    raise FilterError(
        f"filter: the boolean Series (length {len(s)}, index {short_repr(list(idx[:5]))}...) is "
        f"neither indexed by the {n} point ids nor a RangeIndex of length {n}. Align it, e.g. "
        "s.reindex(col.ids, fill_value=False), or pass s.to_numpy() in row order."
    )


def filter_mask(filter: FilterLike, payload: Payload, ids: IdIndex | None, vectors: Collection[str] = ()) -> np.ndarray:
    """Which points pass ``filter``: a new bool array of ``len(payload)`` (None -> all True).

    Parameters
    ----------
    filter : dict | qdrant_client.models.Filter | str | numpy.ndarray | pandas.Series | None
        See the module docstring for each form.
    payload : Payload
        The collection's payload, one row per point.
    ids : IdIndex or None
        The point ids in row order (for ``has_id``, ``slice`` and Series alignment).
    vectors : collection of str
        The vector names every point has (``has_vector`` passes for these; ``""`` is the
        unnamed vector).

    Raises
    ------
    FilterError
        A malformed or too deeply nested filter, a pandas query outside the allowed forms or
        naming an unknown column, or a mask of the wrong length or dtype.
    """
    n = len(payload)
    kind = _kind(filter)
    if kind == "none":
        return np.ones(n, dtype=bool)
    if kind == "qdrant":
        return evaluate(parse_filter(filter), payload, ids, vectors)
    if kind == "query":
        return evaluate(parse_filter(local_query_filter(filter, payload)), payload, ids, vectors)
    if kind == "series":
        return _series_mask(filter, ids, n)
    _check_bool(filter, "boolean array")
    if len(filter) != n:
        raise FilterError(
            f"filter: the boolean array has length {len(filter)} but the collection has {n} points. "
            "Pass one value per point, in row order."
        )
    return np.array(filter, dtype=bool)


def store_mask(filter: FilterLike, store: Store) -> np.ndarray:
    """Which of ``store``'s points pass ``filter``: the one place a store's filter is decided.

    :func:`filter_mask` with the store's payload, ids and vector names (``has_vector``
    needs the names; forgetting them made every ``has_vector`` condition pass nothing).

    >>> from explorekit.data.ids import IdIndex
    >>> from explorekit.data.payload import Payload
    >>> store = Store(IdIndex([0, 1]), {"img": None}, Payload.from_records([{}, {}]))
    >>> store_mask({"must": [{"has_vector": "img"}]}, store).tolist()
    [True, True]
    """
    return filter_mask(filter, store.payload, store.ids, store.spaces)
