"""Limits: integer ids fit in 64 unsigned bits, numeric parameters are finite and within range,
names are strings. Each bad value raises its ExploreError subclass naming the value and the
accepted range, and changes nothing; each large value inside the range answers correctly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import explorekit as ek
from explorekit import ExploreError, FilterError, RequestError, index

TOO_BIG = 2**64  # one more than the largest unsigned 64-bit integer
BIGGEST = "18446744073709551615"
Q = [1.0, 2.0, 3.0, 4.0]


def make():
    rng = np.random.default_rng(0)
    payload = pd.DataFrame({"city": ["London", "Paris", "Berlin", "Rome"] * 5, "n": range(20)})
    return ek.Collection.from_arrays(rng.normal(size=(20, 4)), ids=range(1, 21), payload=payload)


def state(col):
    return col.ids.tolist(), col.payload, col.vectors().copy()


def quant(value):
    return {"quantization": {"oversampling": value}}


# (label, call(col, value), bad value, error, fragments of the message)
LIMITS = [
    # integer ids: 0 .. 2**64 - 1, wherever an id is taken
    (
        "upsert id",
        lambda c, v: c.upsert([v], [Q]),
        TOO_BIG,
        ExploreError,
        [str(TOO_BIG), "2**64 - 1", BIGGEST, "string or UUID"],
    ),
    (
        "upsert float id",
        lambda c, v: c.upsert([5, v], [Q, Q]),
        1e20,
        ExploreError,
        ["ids[1]", "100000000000000000000", "2**64 - 1"],
    ),
    ("upsert lone id", lambda c, v: c.upsert(v, [Q]), 2**70, ExploreError, [str(2**70), "2**64 - 1"]),
    ("retrieve id", lambda c, v: c.retrieve([v]), TOO_BIG, ExploreError, [str(TOO_BIG), "2**64 - 1"]),
    ("delete id", lambda c, v: c.delete([1, v]), TOO_BIG, ExploreError, [str(TOO_BIG), "2**64 - 1"]),
    ("query id", lambda c, v: c.search(v), TOO_BIG, RequestError, ["query", str(TOO_BIG), "2**64 - 1"]),
    ("positive id", lambda c, v: c.recommend(positive=[1, v]), TOO_BIG, RequestError, ["positive[1]", str(TOO_BIG)]),
    (
        "negative id",
        lambda c, v: c.recommend(positive=[1], negative=[v]),
        -3,
        RequestError,
        ["negative[0]", "-3", "negative"],
    ),
    ("target id", lambda c, v: c.discover(target=v, context=[(1, 2)]), TOO_BIG, RequestError, ["target", "2**64 - 1"]),
    (
        "context id",
        lambda c, v: c.discover(context=[(1, v)]),
        TOO_BIG,
        RequestError,
        ["context[0].negative", "2**64 - 1"],
    ),
    (
        "rest id",
        lambda c, v: c.query({"positive": [v], "limit": 3}),
        TOO_BIG,
        RequestError,
        ["positive[0]", "2**64 - 1"],
    ),
    (
        "has_id",
        lambda c, v: c.search(Q, filter={"must": [{"has_id": [1, v]}]}),
        TOO_BIG,
        FilterError,
        ["['has_id'][1]", "2**64 - 1"],
    ),
    # limit, offset, hnsw_ef: integers, Qdrant's unsigned 64-bit range
    (
        "limit too big",
        lambda c, v: c.search(Q, limit=v),
        TOO_BIG,
        RequestError,
        ["limit", str(TOO_BIG), "<= 2**64 - 1"],
    ),
    (
        "limit far too big",
        lambda c, v: c.search(Q, limit=v),
        10**30,
        RequestError,
        ["limit", str(10**30), ">= 1 and <= 2**64 - 1"],
    ),
    ("limit bool", lambda c, v: c.search(Q, limit=v), True, RequestError, ["limit", "True", ">= 1 and <= 2**64 - 1"]),
    (
        "limit numpy float",
        lambda c, v: c.search(Q, limit=v),
        np.float64(3),
        RequestError,
        ["limit", "not an integer", "<= 2**64 - 1"],
    ),
    (
        "offset too big",
        lambda c, v: c.search(Q, offset=v),
        TOO_BIG,
        RequestError,
        ["offset", str(TOO_BIG), ">= 0 and <= 2**64 - 1"],
    ),
    ("offset False", lambda c, v: c.search(Q, offset=v), False, RequestError, ["offset", "False", "not an integer"]),
    ("offset float", lambda c, v: c.search(Q, offset=v), 1.5, RequestError, ["offset", "1.5", "<= 2**64 - 1"]),
    (
        "offset in a batch",
        lambda c, v: c.search_batch([{"query": Q}, {"query": Q, "offset": v}]),
        TOO_BIG,
        RequestError,
        ["requests[1]", "offset", "2**64 - 1"],
    ),
    ("limit in a body", lambda c, v: c.query({"query": Q, "limit": v}), TOO_BIG, RequestError, ["limit", "2**64 - 1"]),
    (
        "hnsw_ef too big",
        lambda c, v: c.search(Q, params={"hnsw_ef": v}),
        TOO_BIG,
        RequestError,
        ["hnsw_ef", str(TOO_BIG), "<= 2**64 - 1"],
    ),
    (
        "hnsw_ef negative",
        lambda c, v: c.search(Q, params={"hnsw_ef": v}),
        -1,
        RequestError,
        ["hnsw_ef", "-1", ">= 1 and <= 2**64 - 1"],
    ),
    (
        "hnsw_ef float",
        lambda c, v: c.search(Q, params={"hnsw_ef": v}),
        64.0,
        RequestError,
        ["hnsw_ef", "64.0", "not an integer"],
    ),
    ("scroll limit", lambda c, v: c.scroll(limit=v), TOO_BIG, RequestError, ["limit", str(TOO_BIG), "2**64 - 1"]),
    ("scroll limit float", lambda c, v: c.scroll(limit=v), 2.0, RequestError, ["limit", "2.0", "not an integer"]),
    # oversampling: finite and >= 1
    (
        "oversampling inf",
        lambda c, v: c.search(Q, params=quant(v)),
        float("inf"),
        RequestError,
        ["oversampling", "inf", "finite", ">= 1.0"],
    ),
    (
        "oversampling -inf",
        lambda c, v: c.search(Q, params=quant(v)),
        float("-inf"),
        RequestError,
        ["oversampling", "-inf", "finite"],
    ),
    (
        "oversampling nan",
        lambda c, v: c.search(Q, params=quant(v)),
        float("nan"),
        RequestError,
        ["oversampling", "nan", "finite"],
    ),
    (
        "oversampling negative",
        lambda c, v: c.search(Q, params=quant(v)),
        -2.0,
        RequestError,
        ["oversampling", "-2.0", "finite oversampling >= 1.0"],
    ),
    (
        "oversampling text",
        lambda c, v: c.search(Q, params=quant(v)),
        "2",
        RequestError,
        ["oversampling", "'2'", "not a number", "a finite oversampling"],
    ),
    (
        "oversampling huge int",
        lambda c, v: c.search(Q, params=quant(v)),
        10**400,
        RequestError,
        ["oversampling", "not a finite number"],
    ),
    (
        "oversampling in a body",
        lambda c, v: c.query({"query": Q, "params": quant(v)}),
        float("inf"),
        RequestError,
        ["oversampling", "finite"],
    ),
    (
        "SearchParams built directly",
        lambda c, v: c.search(Q, params=ek.SearchParams(oversampling=v)),
        float("inf"),
        RequestError,
        ["oversampling", "inf", "finite"],
    ),
    (
        "SearchParams bad ef",
        lambda c, v: c.search(Q, params=ek.SearchParams(hnsw_ef=v)),
        -5,
        RequestError,
        ["hnsw_ef", "-5"],
    ),
    # score_threshold: finite, in float32's range (scores are float32)
    (
        "threshold inf",
        lambda c, v: c.search(Q, score_threshold=v),
        float("inf"),
        RequestError,
        ["score_threshold", "inf", "float32"],
    ),
    (
        "threshold beyond float32",
        lambda c, v: c.search(Q, score_threshold=v),
        1e300,
        RequestError,
        ["score_threshold", "1e+300", "float32"],
    ),
    (
        "threshold text",
        lambda c, v: c.search(Q, score_threshold=v),
        "0.5",
        RequestError,
        ["score_threshold", "'0.5'", "not a number"],
    ),
    # the index's size
    ("n_trees huge", lambda c, v: c.build_index(n_trees=v), 10**12, ExploreError, ["n_trees", str(10**12), "1,024"]),
    # names are strings
    ("using list in vectors()", lambda c, v: c.vectors(v), ["a"], RequestError, ["using", "['a']", "not a name"]),
    (
        "using number in quantize()",
        lambda c, v: c.quantize({"binary": {}}, using=v),
        3,
        RequestError,
        ["using", "3", "not a name"],
    ),
    (
        "using dict in build_index()",
        lambda c, v: c.build_index(using=v),
        {"a": 1},
        RequestError,
        ["using", "{'a': 1}", "not a name"],
    ),
    ("using list in distance()", lambda c, v: c.distance(v), ["a"], RequestError, ["using", "not a name"]),
    (
        "lookup_from vector",
        lambda c, v: c.recommend(positive=[1], lookup_from={"collection": c, "vector": v}),
        3,
        RequestError,
        ["lookup_from['vector']", "3", "not a name"],
    ),
    ("collection name", lambda c, v: ek.Collection.named(v), ["x"], RequestError, ["['x']", "not a name"]),
]


@pytest.mark.parametrize("label,call,value,error,fragments", LIMITS, ids=[case[0] for case in LIMITS])
def test_bad_values_name_the_value_and_the_accepted_range(label, call, value, error, fragments):
    col = make()
    before = state(col)
    with pytest.raises(error) as info:
        call(col, value)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    ids, payload, vectors = state(col)
    assert ids == before[0]
    pd.testing.assert_frame_equal(payload, before[1])
    np.testing.assert_array_equal(vectors, before[2])
    assert col._space(None).quantizer is None and col._space(None).index is None


BUILD_LIMITS = [
    (
        "from_arrays id",
        lambda v: ek.Collection.from_arrays(np.ones((2, 2)), ids=[0, v]),
        TOO_BIG,
        ExploreError,
        ["ids[1]", str(TOO_BIG), "2**64 - 1"],
    ),
    (
        "from_arrays float id",
        lambda v: ek.Collection.from_arrays(np.ones((1, 2)), ids=[v]),
        2.0**64,
        ExploreError,
        ["ids[0]", "2**64 - 1"],
    ),
    (
        "from_dataframe id column",
        lambda v: ek.Collection.from_dataframe(pd.DataFrame({"embedding": [[1, 2], [3, 4]], "pid": [1, v]}), id="pid"),
        TOO_BIG,
        ExploreError,
        ["ids[1]", str(TOO_BIG), "2**64 - 1"],
    ),
    (
        "from_dataframe index",
        lambda v: ek.Collection.from_dataframe(
            pd.DataFrame({"embedding": [[1, 2]]}, index=pd.Index([v], dtype=object))
        ),
        TOO_BIG,
        ExploreError,
        ["ids[0]", "2**64 - 1"],
    ),
    (
        "vector name number",
        lambda v: ek.Collection.from_arrays({v: np.ones((2, 2))}),
        1,
        ExploreError,
        ["vector name", "1", "not a name"],
    ),
    (
        "from_dataframe vectors list",
        lambda v: ek.Collection.from_dataframe(pd.DataFrame({"a": [[1, 2]], "b": [[1, 2]]}), vectors=v),
        ["a", "b"],
        ExploreError,
        ["vectors=['a', 'b']", "column name"],
    ),
    (
        "from_dataframe vector name",
        lambda v: ek.Collection.from_dataframe(pd.DataFrame({"a": [[1, 2]]}), vectors={v: "a"}),
        0,
        ExploreError,
        ["vector name", "0", "not a name"],
    ),
    (
        "from_dataframe id list",
        lambda v: ek.Collection.from_dataframe(pd.DataFrame({"embedding": [[1, 2]]}), id=v),
        ["pid"],
        ExploreError,
        ["id=['pid']", "not a column name"],
    ),
]


@pytest.mark.parametrize("label,call,value,error,fragments", BUILD_LIMITS, ids=[case[0] for case in BUILD_LIMITS])
def test_bad_values_at_construction(label, call, value, error, fragments):
    with pytest.raises(error) as info:
        call(value)
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {str(info.value)!r}"


def test_the_largest_id_round_trips_and_one_more_is_refused(tmp_path):
    col = ek.Collection.from_arrays(np.eye(3, dtype=np.float32), ids=[0, 2**63, 2**64 - 1])
    col.upsert([2**64 - 2], [[1.0, 1.0, 0.0]])
    col.save(tmp_path / "col")
    loaded = ek.Collection.load(tmp_path / "col")
    assert loaded.ids.tolist() == [0, 2**63, 2**64 - 1, 2**64 - 2]
    assert loaded.retrieve([2**64 - 1])["id"].tolist() == [2**64 - 1]
    with pytest.raises(ExploreError, match="2\\*\\*64 - 1"):
        col.upsert([2**64], [[1.0, 0.0, 0.0]])
    col.save(tmp_path / "col")  # still saves: nothing out of range got in


def test_a_lone_numpy_id_is_one_id():
    col = make()
    col.upsert(np.uint64(50), [Q], payload=[{"city": "Oslo", "n": 50}])
    assert col.retrieve(np.int64(50))["city"].tolist() == ["Oslo"]
    col.delete(np.int32(50))
    assert 50 not in col.ids


@pytest.fixture(scope="module")
def indexed():
    """3,000 points with an annoy index that answers every request (whatever the size)."""
    vectors = np.random.default_rng(1).normal(size=(3000, 16)).astype(np.float32)
    col = ek.Collection.from_arrays(vectors, distance="euclid").build_index(n_trees=5)
    col._space(None).index.method = "annoy"
    quantized = ek.Collection.from_arrays(vectors, distance="euclid").quantize({"scalar": {"type": "int8"}})
    return vectors, col, quantized


LARGE = [
    # (label, which collection, search kwargs, rows expected)
    (
        "oversampling 1e300 with limit 2**63",
        "quantized",
        {"limit": 2**63, "params": {"quantization": {"oversampling": 1e300, "rescore": True}}},
        3000,
    ),
    (
        "numpy oversampling",
        "quantized",
        {"limit": 10, "params": {"quantization": {"oversampling": np.float32(4), "rescore": True}}},
        10,
    ),
    ("annoy with limit 2**40", "index", {"limit": 2**40}, 3000),
    ("annoy with hnsw_ef 2**31", "index", {"limit": 10, "params": {"hnsw_ef": 2**31}}, 10),
    ("annoy with the largest hnsw_ef", "index", {"limit": 10, "params": {"hnsw_ef": 2**64 - 1}}, 10),
    ("numpy hnsw_ef", "index", {"limit": 10, "params": {"hnsw_ef": np.int64(2**20)}}, 10),
]


@pytest.mark.parametrize("label,which,kwargs,rows", LARGE, ids=[case[0] for case in LARGE])
def test_large_values_inside_the_limits_answer_exactly(indexed, monkeypatch, label, which, kwargs, rows):
    """So large an effort or candidate count takes every point: the exact answer."""
    monkeypatch.setattr(index, "INDEXING_THRESHOLD_KB", 0)
    vectors, col, quantized = indexed
    target = quantized if which == "quantized" else col
    frame = target.search(vectors[7] + 0.01, **kwargs)
    assert frame.attrs["path"] == ("quantized" if which == "quantized" else "annoy")
    exact = target.search(vectors[7] + 0.01, limit=kwargs["limit"], params={"exact": True})
    assert len(frame) == rows
    assert frame["id"].tolist() == exact["id"].tolist()
    np.testing.assert_array_equal(frame["score"], exact["score"])
