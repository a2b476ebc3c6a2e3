"""Result frames: the fast constructor and the public one give the same frame; dtypes are kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import explorekit as ek
from explorekit.query import results


def _collection(ids):
    vectors = np.eye(3, dtype=np.float32)  # dim == rows: no 2-D broadcasting of cells
    payload = [{"name": "a", "tags": ["x", "y"], "n": 1}, {"name": None, "n": 2}, {"tags": []}]
    return ek.Collection.from_arrays(vectors, ids=ids, payload=payload)


@pytest.mark.parametrize("ids", [[0, 1, 2], [2**63, 5, 7], ["a", "b", "c"]])
def test_fast_and_public_constructors_agree(ids, monkeypatch):
    col = _collection(ids)
    fast = col.search([1.0, 0.5, 0.0], limit=3, with_vectors=True)
    monkeypatch.delattr(pd.DataFrame, "_from_arrays")  # a pandas without it
    public = col.search([1.0, 0.5, 0.0], limit=3, with_vectors=True)
    pd.testing.assert_frame_equal(fast, public)
    assert fast["id"].dtype == (object if isinstance(ids[0], str) else np.uint64 if max(ids) >= 2**63 else np.int64)
    assert all(isinstance(v, np.ndarray) and v.shape == (3,) for v in fast["vector"])
    assert fast["tags"].dtype == object  # lists stay Python lists


def test_frame_from_columns_keeps_object_columns_and_length():
    frame = results.frame_from_columns({"id": np.array(["p", "q"], dtype=object), "score": np.array([0.5, 0.25])}, 2)
    assert frame["id"].dtype == object and frame.index.equals(pd.RangeIndex(2))
    assert list(frame.columns) == ["id", "score"]
    empty = results.frame_from_columns({"id": np.empty(0, np.int64), "score": np.empty(0)}, 0)
    assert len(empty) == 0 and list(empty.columns) == ["id", "score"]


def test_frames_do_not_share_their_column_index():
    col = _collection([0, 1, 2])
    first = col.search([1.0, 0.0, 0.0], limit=2)
    first.columns.name = "fields"
    second = col.search([1.0, 0.0, 0.0], limit=2)
    assert second.columns.name is None and second.columns is not first.columns
