"""Qdrant's Facet API: how many points hold each value of a payload key.

The rules (read from qdrant-client's local mode, the reference for explorekit):

* only points passing the filter count; a point counts **once per distinct value**, however
  often the value repeats in its arrays (an array at the end of the path counts element by
  element, one level deep, as filters read it);
* only strings, integers and booleans are faceted: floats, objects, nested arrays, null and
  missing keys count nowhere; strings that parse as UUIDs count in their canonical form;
* hits are sorted by count, largest first; equal counts by value, booleans before integers
  before strings (``False < True``, integers ascending, strings by code point); ``limit``
  keeps the first ones.

A Qdrant server counts from a payload index and refuses a key without one (create a keyword,
integer, bool or uuid index); local mode, and explorekit, count from the payload itself.

Examples
--------
>>> from explorekit.data.payload import Payload
>>> p = Payload.from_records([{"t": ["a", "b", "a"]}, {"t": "b"}, {"t": 1}, {"t": 1.5}, {}])
>>> facet_counts(p, "t", np.ones(5, bool), 10)
[('b', 2), (1, 1), ('a', 1)]
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pandas as pd

from explorekit.data.jsonpath import parse_key
from explorekit.data.pathvalues import Group
from explorekit.data.payload import Payload

_TYPE_ORDER = ("bools", "ints", "strs")  # ties on count: booleans, then integers, then strings


def facet_counts(payload: Payload, key: str, mask: np.ndarray, limit: int) -> list[tuple[Any, int]]:
    """``(value, count)`` of the best ``limit`` values at ``key`` among the rows ``mask`` keeps."""
    found = payload.values(parse_key(key, "facet key"))
    hits: list[tuple[int, Any, int]] = []
    for rank, name in enumerate(_TYPE_ORDER):
        rows, values = _pairs(getattr(found, name), mask)
        if name == "strs":
            values = np.asarray([_canonical(s) for s in found.cats], dtype=object)[values] if len(values) else values
        elif name == "bools":
            values = values.astype(bool)
        for value, count in _distinct_per_row(rows, values).items():
            hits.append((rank, value.item() if isinstance(value, np.generic) else value, int(count)))
    hits.sort(key=lambda hit: (-hit[2], hit[0], hit[1]))
    return [(value, count) for _, value, count in hits[:limit]]


def _pairs(group: Group, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, value) of every value of ``group`` in a row ``mask`` keeps."""
    if group.rows is None:
        keep = mask if group.valid is None else mask & group.valid
        rows = np.flatnonzero(keep)
        return rows, group.data[rows]
    keep = mask[group.rows]
    return group.rows[keep], group.data[keep]


def _distinct_per_row(rows: np.ndarray, values: np.ndarray) -> dict[Any, int]:
    """How many rows hold each value (a value repeated within one row counts once)."""
    if len(rows) == 0:
        return {}
    pairs = pd.DataFrame({"row": rows, "value": values}).drop_duplicates()
    return pairs["value"].value_counts(sort=False).to_dict()


def _canonical(text: str) -> str:
    """A string as Qdrant facets it: UUIDs in their lower-case hyphenated form.

    >>> _canonical("936DA01F9ABD4D9D80C702AF85C822A8"), _canonical("red")
    ('936da01f-9abd-4d9d-80c7-02af85c822a8', 'red')
    """
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text
