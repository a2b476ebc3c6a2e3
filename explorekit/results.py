"""The one place that shapes result DataFrames.

Columns: ``id``, ``score``, then the payload columns in collection order (all, a chosen list,
or none), then one column per requested vector name (``vector`` for the unnamed vector). The
index is a fresh ``RangeIndex``: row *i* has rank ``offset + i``. An empty result keeps its
columns. ``attrs["query"]`` holds the request as a Qdrant ``/points/query`` body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._errors import RequestError, unknown

if TYPE_CHECKING:
    from .collection import Collection


def vector_column(name: str) -> str:
    """Result column holding a vector space: ``vector`` for the unnamed one, else its name."""
    return name or "vector"


def payload_columns(col: "Collection", with_payload: bool | tuple[str, ...]) -> list[str]:
    """Payload columns selected by ``with_payload`` (a list keeps those, in collection order)."""
    columns = list(col._payload.columns)
    if with_payload is True:
        return columns
    if with_payload is False:
        return []
    for name in with_payload:
        if name not in columns:
            raise RequestError(unknown("payload field", name, columns,
                                       f"with_payload takes True, False or names from {columns[:20]}."))
    return [c for c in columns if c in with_payload]


def vector_names(col: "Collection", with_vectors: bool | tuple[str, ...]) -> list[str]:
    if with_vectors is False:
        return []
    if with_vectors is True:
        return list(col.vector_names)
    return [col._space(name, where="with_vectors").name for name in with_vectors]


def id_series(col: "Collection", rows: np.ndarray) -> pd.Series:
    values = col._ids.take(rows)
    if col._ids.all_int:
        dtype = "uint64" if values and max(values) >= 2**63 else "int64"
        return pd.Series(np.array(values, dtype=dtype), name="id")
    return pd.Series(pd.array(values, dtype=object), name="id", dtype=object)


def to_frame(col: "Collection", rows: np.ndarray, scores: np.ndarray | None,
             with_payload: bool | tuple[str, ...] = True,
             with_vectors: bool | tuple[str, ...] = False, query: dict | None = None) -> pd.DataFrame:
    """Build the result frame for ``rows`` (positions in the collection), best first."""
    rows = np.asarray(rows, dtype=np.int64)
    index = pd.RangeIndex(len(rows))
    data = {"id": id_series(col, rows)}
    if scores is not None:
        data["score"] = np.asarray(scores, dtype=np.float32).astype(np.float64)
    cols = payload_columns(col, with_payload)
    if cols:
        data.update(col._payload.display_columns(rows, cols))
    for name in vector_names(col, with_vectors):
        stored = col._space(name).stored
        data[vector_column(name)] = pd.Series([stored[r].copy() for r in rows], index=index, dtype=object)
    frame = pd.DataFrame(data, index=index, copy=False)    # every column is a fresh array
    if query is not None:
        frame.attrs["query"] = query
    return frame
