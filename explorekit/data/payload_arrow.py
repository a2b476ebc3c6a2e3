"""Payload columns <-> a pyarrow Table, exactly (``Payload.to_arrow`` / ``Payload.from_arrow``).

Layout: one Arrow column per payload key, named by the key, in payload order. Each field's
metadata holds ``kind`` (int, float, bool, str, json) and ``encoding``:

* ``plain``: int64, float64, bool or string values; an Arrow null is a missing key. Used for
  typed columns without JSON nulls (every column made from a DataFrame).
* ``json``: string, the JSON text of each value (``"null"`` for JSON null); an Arrow null is
  a missing key. Used for json columns and for typed columns that hold JSON nulls.

The schema metadata ``explorekit.payload`` is ``{"format": 1, "rows": n}`` (the row count is
what a table without columns needs). Parquet keeps all of it.

Examples
--------
>>> from explorekit.data.payload import Payload
>>> t = Payload.from_records([{"n": 1, "tags": ["a"]}, {"n": None}, {}]).to_arrow()
>>> t.column("n").to_pylist(), t.column("tags").to_pylist()
(['1', 'null', None], ['["a"]', None, None])
>>> [f.metadata[b"kind"] for f in t.schema]
[b'int', b'json']
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from explorekit._support.errors import ExploreError, short_repr
from explorekit.data.column import Column

__all__ = ["columns_from_arrow", "columns_to_arrow", "upgrade_first_layout"]

_META = b"explorekit.payload"  # the stored format's key (the module's name when it was written)
_FORMAT = 1
_TYPED = {"int": (np.int64, 0, int), "float": (np.float64, 0.0, float), "bool": (bool, False, bool)}
_WHERE = "Payload.from_arrow"


def _schema(fields: list, rows: int) -> "pa.Schema":
    return pa.schema(fields, metadata={_META: json.dumps({"format": _FORMAT, "rows": int(rows)})})


def _field(key: str, array: Any, kind: str, encoding: str) -> "pa.Field":
    return pa.field(key, array.type, metadata={"kind": kind, "encoding": encoding})


def columns_to_arrow(n: int, cols: dict[str, Column]) -> "pa.Table":
    """The table of ``n`` rows holding these payload columns (layout in the module docstring)."""
    fields, arrays = [], []
    for key, col in cols.items():
        if col.kind == "json" or col.null.any():
            encoding = "json"
            rows = np.flatnonzero(col.present)
            text = np.full(len(col.data), None, dtype=object)
            text[rows] = [
                "null" if z else json.dumps(v) for v, z in zip(col.data[rows].tolist(), col.null[rows].tolist())
            ]
            array = pa.array(text, type=pa.string())
        elif col.kind == "str":
            encoding, array = "plain", pa.array(col.data, type=pa.string())  # None where missing
        else:
            encoding, array = "plain", pa.array(col.data, mask=~col.present)
        arrays.append(array)
        fields.append(_field(key, array, col.kind, encoding))
    return pa.Table.from_arrays(arrays, schema=_schema(fields, n))


def _bad(what: str) -> ExploreError:
    return ExploreError(
        f"{_WHERE}: {what} Pass a table made by Payload.to_arrow() (or read from a Parquet "
        "file it was written to); for any other table use Payload.from_frame(table.to_pandas())."
    )


def _spec(field: "pa.Field") -> tuple[str, str]:
    """(kind, encoding) of one column, checked against its Arrow type."""
    meta = field.metadata or {}
    kind, encoding = meta.get(b"kind", b"").decode(), meta.get(b"encoding", b"").decode()
    textual = pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
    expected = {"int": pa.types.is_int64, "float": pa.types.is_float64, "bool": pa.types.is_boolean}
    if encoding == "json":
        ok = kind in ("int", "float", "bool", "str", "json") and textual
    elif encoding == "plain" and kind == "str":
        ok = textual
    elif encoding == "plain" and kind in expected:
        ok = expected[kind](field.type)
    else:
        ok = False
    if not ok:
        raise _bad(
            f"column {field.name!r} (Arrow type {field.type}, kind {kind or '?'!r}, encoding "
            f"{encoding or '?'!r}) is not a payload column."
        )
    return kind, encoding


def _decode(name: str, kind: str, encoding: str, values: Any) -> Column:
    n = len(values)
    present = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if encoding == "plain":
        null = np.zeros(n, dtype=bool)
        if kind == "str":
            return Column("str", np.fromiter(values.to_pylist(), dtype=object, count=n), present, null)
        dtype, fill, _ = _TYPED[kind]
        return Column(
            kind, np.asarray(values.fill_null(fill).to_numpy(zero_copy_only=False), dtype=dtype), present, null
        )
    try:
        cells = [None if text is None else json.loads(text) for text in values.to_pylist()]
    except ValueError as err:
        raise _bad(f"column {name!r} holds text that is not JSON ({err}).") from None
    null = present & np.fromiter((c is None for c in cells), dtype=bool, count=n)
    if kind == "json":
        return Column("json", np.fromiter(cells, dtype=object, count=n), present, null)
    valid = present & ~null
    found = [c for c, ok in zip(cells, valid.tolist()) if ok]
    want = str if kind == "str" else _TYPED[kind][2]
    if any(type(c) is not want for c in found):
        bad = next(c for c in found if type(c) is not want)
        raise _bad(f"column {name!r} of kind {kind!r} holds {short_repr(bad)}.")
    data = np.full(n, None, dtype=object) if kind == "str" else np.zeros(n, dtype=_TYPED[kind][0])
    data[valid] = found
    return Column(kind, data, present, null)


def columns_from_arrow(table: Any) -> tuple[int, dict[str, Column]]:
    """The row count and payload columns of a table made by :func:`columns_to_arrow`."""
    if not isinstance(table, pa.Table):
        raise _bad(f"{short_repr(table)} of type {type(table).__name__} is not a pyarrow Table.")
    raw = (table.schema.metadata or {}).get(_META)
    try:
        meta = json.loads(raw) if raw is not None else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or not isinstance(meta.get("rows"), int) or meta.get("format") != _FORMAT:
        raise _bad(f"the table has no {_META.decode()} metadata of format {_FORMAT} (found {short_repr(raw)}).")
    names = table.column_names
    if len(set(names)) != len(names):
        raise _bad(f"column names {sorted({c for c in names if names.count(c) > 1})} appear more than once.")
    specs = [_spec(field) for field in table.schema]  # every check before any work
    n = table.num_rows if table.num_columns else meta["rows"]
    return n, {
        name: _decode(name, kind, encoding, values)
        for name, (kind, encoding), values in zip(names, specs, table.columns)
    }


def upgrade_first_layout(table: "pa.Table", kinds: dict[str, str], rows: int) -> "pa.Table":
    """A payload table in the first saved layout, in this one.

    The first layout (explorekit collections saved before ``Payload.to_arrow`` existed) had
    three columns per key, ``v:<key>`` (values, null where missing or null; JSON text for
    json columns), ``p:<key>`` (present) and ``n:<key>`` (null), with the kinds in the
    collection manifest.
    """
    fields, arrays = [], []
    for key, kind in kinds.items():
        values, null = table.column(f"v:{key}"), table.column(f"n:{key}")
        encoding = "json" if kind == "json" or pc.any(null).as_py() else "plain"
        if encoding == "json":
            if kind != "json":
                values = pa.array([None if v is None else json.dumps(v) for v in values.to_pylist()], type=pa.string())
            values = pc.if_else(null, "null", values)
        arrays.append(values)
        fields.append(_field(key, values, kind, encoding))
    return pa.Table.from_arrays(arrays, schema=_schema(fields, rows))
