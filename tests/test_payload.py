"""Payload store: round trips, missing vs null, column kinds, take/concat/select, copies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorekit._errors import ExploreError
from explorekit.filters import filter_mask
from explorekit.ids import IdIndex
from explorekit.payload import Payload

from filter_strategies import PAYLOADS, filters

RECORDS = [
    {"s": "a", "i": 1, "f": 1.5, "b": True, "l": [1, "x", None, [2]], "o": {"k": [1, 2]}},
    {"s": None, "i": None},
    {},
    {"s": "b", "i": 3, "f": 2.0, "b": False, "l": [], "o": None, "new": 1},
]


def test_records_round_trip_and_missing_vs_null():
    p = Payload.from_records(RECORDS)
    assert p.to_records() == RECORDS
    assert [p.record(i) for i in range(4)] == RECORDS
    assert p.kinds() == {"s": "str", "i": "int", "f": "float", "b": "bool", "l": "json", "o": "json", "new": "int"}
    assert len(p) == 4 and p.columns == ["s", "i", "f", "b", "l", "o", "new"]
    ids = IdIndex(range(4))
    is_empty = filter_mask({"must": [{"is_empty": {"key": "s"}}]}, p, ids)
    is_null = filter_mask({"must": [{"is_null": {"key": "s"}}]}, p, ids)
    assert is_empty.tolist() == [False, True, True, False]
    assert is_null.tolist() == [False, True, False, False]
    frame = p.frame
    assert frame["i"].isna().tolist() == [False, True, True, False]   # null and missing both NaN
    assert frame["i"].dtype == np.float64 and frame["f"].dtype == np.float64
    assert frame["b"].tolist() == [True, None, None, False]
    assert frame["l"].tolist()[0] == [1, "x", None, [2]] and frame["l"].tolist()[1] is None
    assert list(frame.index) == [0, 1, 2, 3]


def test_records_normalise_numpy_and_reject_non_json():
    p = Payload.from_records([{"a": np.int64(3), "b": np.float32(0.5), "c": (1, np.bool_(True)),
                               "d": np.array([1, 2]), "e": float("nan"), "f": pd.NA, "g": {"x": float("nan")}}])
    assert p.record(0) == {"a": 3, "b": 0.5, "c": [1, True], "d": [1, 2], "g": {"x": None}}
    assert type(p.record(0)["a"]) is int and p.kinds()["a"] == "int"
    with pytest.raises(ExploreError, match=r"payload record 0\['a'\]: inf is not a JSON number"):
        Payload.from_records([{"a": float("inf")}])
    with pytest.raises(ExploreError, match=r"payload record 0\['a'\]: 1 \(an object key\) is not a string"):
        Payload.from_records([{"a": {1: 2}}])
    with pytest.raises(ExploreError, match="record 1: 'x' is not a dict"):
        Payload.from_records([{}, "x"])
    with pytest.raises(ExploreError, match="of type set is not a JSON value"):
        Payload.from_records([{"a": {1}}])
    assert Payload.from_records([None, {"a": 1}]).to_records() == [{}, {"a": 1}]


def test_from_frame_kinds_and_rules():
    df = pd.DataFrame({
        "year": [2020.0, np.nan, 1999.0],          # ints upcast by pandas: JSON integers, missing in row 1
        "price": [1.0, 2.0, 3.0],                  # a complete float column stays float
        "half": [0.5, np.nan, 1.0],
        "n": pd.array([1, None, 3], dtype="Int64"),
        "flag": [True, False, True],
        "maybe": pd.array([True, None, False], dtype="boolean"),
        "s": ["a", None, "c"],
        "cat": pd.Categorical(["x", "y", None]),
        "l": [[1, 2], np.array(["u", "v"]), None],
        "when": pd.to_datetime(["2024-01-01T10:00:00Z", None, "2024-06-01T00:00:00Z"]),
    })
    p = Payload.from_frame(df.set_index(pd.Index([7, 8, 9])))
    assert p.kinds() == {"year": "int", "price": "float", "half": "float", "n": "int", "flag": "bool",
                         "maybe": "bool", "s": "str", "cat": "str", "l": "json", "when": "str"}
    assert p.record(0) == {"year": 2020, "price": 1.0, "half": 0.5, "n": 1, "flag": True, "maybe": True, "s": "a",
                           "cat": "x", "l": [1, 2], "when": "2024-01-01T10:00:00Z"}
    assert p.record(1) == {"price": 2.0, "flag": False, "cat": "y", "l": ["u", "v"]}  # NaN/None/NA: missing
    assert type(p.record(0)["year"]) is int and type(p.record(0)["price"]) is float
    ids = IdIndex(range(3))
    assert filter_mask({"must": [{"key": "year", "match": {"value": 2020}}]}, p, ids).tolist() == [True, False, False]
    assert filter_mask({"must": [{"key": "price", "match": {"value": 1}}]}, p, ids).tolist() == [False] * 3
    assert filter_mask({"must": [{"key": "when", "range": {"gt": "2024-03-01T00:00:00Z"}}]}, p, ids).tolist() == [
        False, False, True]
    assert filter_mask({"must": [{"key": "l", "match": {"value": "v"}}]}, p, ids).tolist() == [False, True, False]
    assert list(p.frame.index) == [0, 1, 2]


def test_frame_round_trip_of_plain_columns():
    df = pd.DataFrame({"i": [1, 2, 3], "f": [0.5, np.nan, 2.0], "b": [True, False, True], "s": ["x", "y", None]})
    pd.testing.assert_frame_equal(Payload.from_frame(df).frame, df, check_column_type=False)


@pytest.mark.parametrize("df, fragment", [
    (pd.DataFrame({0: [1]}), "column name 0 is not a string"),
    (pd.DataFrame([[1, 2]], columns=["a", "a"]), "['a'] appear more than once"),
    (pd.DataFrame({"x": [1.0, np.inf]}), "inf at row 1 is not a JSON number"),
    (pd.DataFrame({"x": [1 + 2j]}), "dtype complex128, which has no JSON form"),
    (pd.DataFrame({"x": [{1: 2}]}), "payload column 'x' row 0: 1 (an object key) is not a string"),
    (pd.DataFrame({"x": [[1, [2, float("inf")]]]}), "payload column 'x' row 0[1][1]: inf is not a JSON number"),
])
def test_from_frame_errors(df, fragment):
    with pytest.raises(ExploreError) as info:
        Payload.from_frame(df)
    assert fragment in str(info.value)
    with pytest.raises(ExploreError, match="list is not a DataFrame"):
        Payload.from_frame([])


def test_frame_and_records_are_copies():
    p = Payload.from_records(RECORDS)
    frame = p.frame
    frame.loc[0, "s"] = "changed"
    frame["l"].iloc[0].append(99)
    rec = p.record(0)
    rec["o"]["k"].append(3)
    p.to_records()[0]["l"].clear()
    assert p.to_records() == RECORDS
    with pytest.raises(ValueError):
        p._cols["i"].data[0] = 5          # internal arrays are read-only


def test_take_concat_select():
    p = Payload.from_records(RECORDS)
    assert p.take(np.array([3, 0])).to_records() == [RECORDS[3], RECORDS[0]]
    assert p.take(np.array([], dtype=np.int64)).to_records() == []
    q = Payload.from_records([{"i": 2.5, "z": "new"}, {"s": "c"}])
    both = p.concat(q)
    assert both.to_records() == RECORDS + [{"i": 2.5, "z": "new"}, {"s": "c"}]
    assert both.kinds()["i"] == "json" and both.kinds()["s"] == "str" and both.kinds()["z"] == "str"
    assert Payload.empty(2).concat(p).to_records() == [{}, {}] + RECORDS
    sel = p.select([3, 1], ["i", "s"])
    assert list(sel.columns) == ["i", "s"] and list(sel.index) == [0, 1]
    assert sel["i"].tolist()[0] == 3.0 and np.isnan(sel["i"].tolist()[1])
    assert sel["i"].dtype == p.frame["i"].dtype          # dtype fixed per column, whatever the rows
    assert p.select([0, 0], None).shape == (2, 7)
    assert p.select([], ["i"]).shape == (0, 1)
    with pytest.raises(ExploreError, match="Unknown payload column 'ii'. Did you mean 'i'"):
        p.select([0], ["ii"])
    assert len(Payload.empty(3)) == 3 and Payload.empty(3).frame.shape == (3, 0)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(records=PAYLOADS, data=st.data())
def test_round_trip_take_concat_properties(records, data):
    p = Payload.from_records(records)
    assert p.to_records() == records
    rows = data.draw(st.lists(st.integers(0, len(records) - 1), max_size=6))
    assert p.take(np.array(rows, dtype=np.int64)).to_records() == [records[r] for r in rows]
    other = data.draw(PAYLOADS)
    both = p.concat(Payload.from_records(other))
    assert both.to_records() == records + other
    flt = data.draw(filters())
    n, m = len(records), len(other)
    whole = filter_mask(flt, both, IdIndex(range(n + m)))
    assert whole[:n].tolist() == filter_mask(flt, p, IdIndex(range(n))).tolist()
    frame = both.frame
    sub = both.select(rows, None)
    pd.testing.assert_frame_equal(sub, frame.iloc[rows].reset_index(drop=True))
