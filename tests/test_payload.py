"""Payload store: round trips, missing vs null, column kinds, take/concat/select, copies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from filter_strategies import PAYLOADS, filters
from hypothesis import given, settings
from hypothesis import strategies as st

from explorekit._support.errors import ExploreError
from explorekit.data.ids import IdIndex
from explorekit.data.payload import Payload
from explorekit.query.filters import filter_mask

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
    assert frame["i"].isna().tolist() == [False, True, True, False]  # null and missing both NaN
    assert frame["i"].dtype == np.float64 and frame["f"].dtype == np.float64
    assert frame["b"].tolist() == [True, None, None, False]
    assert frame["l"].tolist()[0] == [1, "x", None, [2]] and frame["l"].tolist()[1] is None
    assert list(frame.index) == [0, 1, 2, 3]


def test_records_normalise_numpy_and_reject_non_json():
    p = Payload.from_records(
        [
            {
                "a": np.int64(3),
                "b": np.float32(0.5),
                "c": (1, np.bool_(True)),
                "d": np.array([1, 2]),
                "e": float("nan"),
                "f": pd.NA,
                "g": {"x": float("nan")},
            }
        ]
    )
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
    df = pd.DataFrame(
        {
            "year": [2020.0, np.nan, 1999.0],  # ints upcast by pandas: JSON integers, missing in row 1
            "price": [1.0, 2.0, 3.0],  # a complete float column stays float
            "half": [0.5, np.nan, 1.0],
            "n": pd.array([1, None, 3], dtype="Int64"),
            "flag": [True, False, True],
            "maybe": pd.array([True, None, False], dtype="boolean"),
            "s": ["a", None, "c"],
            "cat": pd.Categorical(["x", "y", None]),
            "l": [[1, 2], np.array(["u", "v"]), None],
            "when": pd.to_datetime(["2024-01-01T10:00:00Z", None, "2024-06-01T00:00:00Z"]),
        }
    )
    p = Payload.from_frame(df.set_index(pd.Index([7, 8, 9])))
    assert p.kinds() == {
        "year": "int",
        "price": "float",
        "half": "float",
        "n": "int",
        "flag": "bool",
        "maybe": "bool",
        "s": "str",
        "cat": "str",
        "l": "json",
        "when": "str",
    }
    assert p.record(0) == {
        "year": 2020,
        "price": 1.0,
        "half": 0.5,
        "n": 1,
        "flag": True,
        "maybe": True,
        "s": "a",
        "cat": "x",
        "l": [1, 2],
        "when": "2024-01-01T10:00:00Z",
    }
    assert p.record(1) == {"price": 2.0, "flag": False, "cat": "y", "l": ["u", "v"]}  # NaN/None/NA: missing
    assert type(p.record(0)["year"]) is int and type(p.record(0)["price"]) is float
    ids = IdIndex(range(3))
    assert filter_mask({"must": [{"key": "year", "match": {"value": 2020}}]}, p, ids).tolist() == [True, False, False]
    assert filter_mask({"must": [{"key": "price", "match": {"value": 1}}]}, p, ids).tolist() == [False] * 3
    assert filter_mask({"must": [{"key": "when", "range": {"gt": "2024-03-01T00:00:00Z"}}]}, p, ids).tolist() == [
        False,
        False,
        True,
    ]
    assert filter_mask({"must": [{"key": "l", "match": {"value": "v"}}]}, p, ids).tolist() == [False, True, False]
    assert list(p.frame.index) == [0, 1, 2]


def test_frame_round_trip_of_plain_columns():
    df = pd.DataFrame({"i": [1, 2, 3], "f": [0.5, np.nan, 2.0], "b": [True, False, True], "s": ["x", "y", None]})
    pd.testing.assert_frame_equal(Payload.from_frame(df).frame, df, check_column_type=False)


@pytest.mark.parametrize(
    "df, fragment",
    [
        (pd.DataFrame({0: [1]}), "column name 0 is not a string"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "['a'] appear more than once"),
        (pd.DataFrame({"x": [1.0, np.inf]}), "inf at row 1 is not a JSON number"),
        (pd.DataFrame({"x": [1 + 2j]}), "dtype complex128, which has no JSON form"),
        (pd.DataFrame({"x": [{1: 2}]}), "payload column 'x' row 0: 1 (an object key) is not a string"),
        (pd.DataFrame({"x": [[1, [2, float("inf")]]]}), "payload column 'x' row 0[1][1]: inf is not a JSON number"),
    ],
)
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
        p._cols["i"].data[0] = 5  # internal arrays are read-only


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
    assert sel["i"].dtype == p.frame["i"].dtype  # dtype fixed per column, whatever the rows
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


# ---------------------------------------------------------------------- Arrow round trip
def _exact(p: Payload) -> tuple:
    """Everything a payload holds, with JSON types told apart (1 vs 1.0 vs True)."""
    import json

    return len(p), p.columns, p.kinds(), json.dumps(p.to_records())


ARROW_CASES = {
    "kinds, missing vs null, nested": RECORDS,
    "typed columns with nulls": [
        {"i": 1, "f": 0.1, "b": True, "s": "x"},
        {"i": None, "f": None, "b": None, "s": None},
        {},
        {"i": -(2**63), "f": -0.0, "b": False, "s": ""},
    ],
    "json: big ints, mixed, unicode": [
        {"j": 2**70, "k": "é\u2028"},
        {"j": [1, 1.0, True, "1", None, {}, []]},
        {"j": None},
        {"k": 3},
    ],
    "keys that look like paths": [{"a.b": 1, "": "empty", 'x[0] "q"': [1]}, {"v:a.b": 2}],
    "empty json column": [{}, {"z": None}, {}],
}


@pytest.mark.parametrize("name", list(ARROW_CASES))
def test_arrow_round_trip_is_exact(name, tmp_path):
    import pyarrow.parquet as pq

    p = Payload.from_records(ARROW_CASES[name])
    table = p.to_arrow()
    assert table.column_names == p.columns and table.num_rows == len(p)
    back = Payload.from_arrow(table)
    assert _exact(back) == _exact(p)
    for key in p.columns:  # the stored arrays, placeholders included
        a, b = p._cols[key], back._cols[key]
        assert a.data.dtype == b.data.dtype and a.data.tolist() == b.data.tolist()
        assert a.present.tolist() == b.present.tolist() and a.null.tolist() == b.null.tolist()
    pq.write_table(table, tmp_path / "p.parquet")
    assert _exact(Payload.from_arrow(pq.read_table(tmp_path / "p.parquet"))) == _exact(p)


def test_arrow_round_trip_of_frames_and_shapes(tmp_path):
    import pyarrow.parquet as pq

    df = pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [0.5, np.nan, 2.0],
            "b": [True, False, True],
            "s": ["x", "y", None],
            "ig": [2020.0, None, 1.0],
            "l": [[1], None, {"a": 2}],
        }
    )
    p = Payload.from_frame(df)
    table = p.to_arrow()
    assert table.column("s").to_pylist() == ["x", "y", None] and str(table.schema.field("i").type) == "int64"
    pd.testing.assert_frame_equal(Payload.from_arrow(table).frame, p.frame)
    for n in (0, 5):  # no columns: the row count travels in the metadata
        empty = Payload.empty(n).to_arrow()
        pq.write_table(empty, tmp_path / "e.parquet")
        assert len(Payload.from_arrow(pq.read_table(tmp_path / "e.parquet"))) == n
    assert _exact(Payload.from_arrow(p.take([]).to_arrow())) == _exact(p.take([]))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(records=PAYLOADS)
def test_arrow_round_trip_properties(records):
    p = Payload.from_records(records)
    back = Payload.from_arrow(p.to_arrow())
    assert _exact(back) == _exact(p)
    ids = IdIndex(range(len(records)))
    flt = {"must": [{"is_null": {"key": "a"}}], "must_not": [{"is_empty": {"key": "b"}}]}
    assert filter_mask(flt, back, ids).tolist() == filter_mask(flt, p, ids).tolist()


def test_from_arrow_errors_name_the_problem():
    import pyarrow as pa

    good = Payload.from_records(RECORDS).to_arrow()
    with pytest.raises(ExploreError, match="Payload.from_arrow: .* of type dict is not a pyarrow Table"):
        Payload.from_arrow({"a": [1]})
    with pytest.raises(ExploreError, match=r"no explorekit.payload metadata.*Payload.from_frame"):
        Payload.from_arrow(pa.table({"a": [1, 2]}))
    fields = [f.with_metadata({"kind": "int", "encoding": "plain"}) if f.name == "s" else f for f in good.schema]
    with pytest.raises(ExploreError, match="column 's' .*kind 'int', encoding 'plain'.* is not a payload column"):
        Payload.from_arrow(pa.Table.from_arrays(good.columns, schema=pa.schema(fields, good.schema.metadata)))
    fields = [pa.field("i", pa.string(), metadata={"kind": "int", "encoding": "json"})]
    with pytest.raises(ExploreError, match="column 'i' of kind 'int' holds 'x'"):
        Payload.from_arrow(pa.Table.from_arrays([pa.array(['"x"'])], schema=pa.schema(fields, good.schema.metadata)))
    with pytest.raises(ExploreError, match="column 'i' holds text that is not JSON"):
        Payload.from_arrow(pa.Table.from_arrays([pa.array(["{"])], schema=pa.schema(fields, good.schema.metadata)))


def test_collections_saved_in_the_first_layout_still_load(tmp_path):
    """The first saves kept v:/p:/n: columns per key and the kinds in the manifest."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from explorekit.persistence import _load_payload

    p = Payload.from_records(RECORDS)
    arrays, names = [], []
    for key in p.columns:
        col = p._cols[key]
        values = [v if ok else None for v, ok in zip(col.data.tolist(), col.valid.tolist())]
        if col.kind == "json":
            values = [None if v is None else json.dumps(v) for v in values]
        arrays += [pa.array(values), pa.array(col.present), pa.array(col.null)]
        names += [f"v:{key}", f"p:{key}", f"n:{key}"]
    pq.write_table(pa.Table.from_arrays(arrays, names=names), tmp_path / "old.parquet")
    meta = {"kinds": p.kinds(), "rows": len(p), "keys": p.columns}
    assert _exact(_load_payload(tmp_path / "old.parquet", meta)) == _exact(p)


# ---------------------------------------------------------------------- display columns and result frames
def test_display_columns_are_what_select_shows():
    p = Payload.from_records(RECORDS + [{"l": "only strings here"}])
    data = p.display_columns([4, 0], ["l", "i", "s", "b"])
    assert list(data) == ["l", "i", "s", "b"]
    assert isinstance(data["l"], pd.Series) and data["l"].dtype == object  # no str inference
    frame = pd.DataFrame(data, index=pd.RangeIndex(2))
    pd.testing.assert_frame_equal(frame, p.select([4, 0], ["l", "i", "s", "b"]), check_column_type=False)
    p.display_columns([0])["l"].iloc[0].append("changed")  # copies by default
    assert p.record(0)["l"] == RECORDS[0]["l"]
    with pytest.raises(ExploreError, match="Unknown payload column 'ii'"):
        p.display_columns([0], ["ii"])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(records=PAYLOADS, data=st.data())
def test_result_frames_equal_the_concatenated_frames(records, data):
    """results.to_frame builds one DataFrame; it equals id/score next to ``select`` (the old way)."""
    import explorekit as ek
    from explorekit.query.results import to_frame

    n = len(records)
    col = ek.Collection.from_arrays(np.eye(n, 3, dtype=np.float32) + 1, payload=records)
    rows = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=6)), dtype=np.int64)
    scores = data.draw(st.none() | st.just(np.linspace(1, 0, len(rows))))
    columns = data.draw(st.sampled_from([True, False, tuple(col._payload.columns[:1])]))
    got = to_frame(col.store, rows, scores, columns, True)
    head = {"id": pd.Series(rows, dtype="int64")}
    if scores is not None:
        head["score"] = pd.Series(scores.astype(np.float32).astype(np.float64))
    names = col._payload.columns if columns is True else list(columns or [])
    want = pd.DataFrame(head)
    if names:
        want = pd.concat([want, col._payload.select(rows, names)], axis=1)
    want["vector"] = pd.Series([col.vectors()[r].copy() for r in rows], dtype=object)
    pd.testing.assert_frame_equal(got, want)
