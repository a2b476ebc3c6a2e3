"""Your own data in the shapes people hold it (issue 19, "your own data").

* ``Collection.from_dataframe(df, vectors=[...columns...])``: a wide frame (``f0`` ... ``f63``)
  makes one vector per row; ``vectors={"name": [columns], "other": "column"}`` several named ones.
* ``payload=`` as a dict of columns (``{"category": [...]}``) or a DataFrame, in ``from_arrays``
  and ``upsert``.
* ``k=`` / ``top_k=`` for ``limit=`` on every nearest-neighbour method, through the one alias
  table of explorekit/query/keywords.py.
* Wrong lengths, unknown columns, non-number columns: an ExploreError naming the value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import ids_scores
from qdrant_client import QdrantClient

import explorekit as ek
from explorekit.backends.qdrant import to_qdrant
from explorekit.query.keywords import ALIASES

RNG = np.random.default_rng(19)
X = RNG.normal(size=(40, 64)).astype(np.float32)
WIDE = pd.DataFrame(X, columns=[f"f{i}" for i in range(64)]).assign(
    category=[["cat", "dog"][i % 2] for i in range(40)], size=np.arange(40)
)
FEATURES = [f"f{i}" for i in range(64)]


# ------------------------------------------------------------------ wide DataFrames
def test_a_wide_frame_makes_one_vector_from_a_list_of_columns():
    col = ek.Collection.from_dataframe(WIDE, vectors=FEATURES)
    assert col.vector_names == [""]
    np.testing.assert_allclose(col.vectors(), X / np.linalg.norm(X, axis=1, keepdims=True), rtol=1e-6)
    assert list(col.payload.columns) == ["category", "size"]
    same = ek.Collection.from_arrays(X, payload=WIDE[["category", "size"]])
    assert ids_scores(col.search(X[3], limit=5)) == ids_scores(same.search(X[3], limit=5))


def test_a_pandas_index_of_columns_works_like_a_list():
    col = ek.Collection.from_dataframe(WIDE, vectors=WIDE.columns[:64], distance="euclid")
    np.testing.assert_array_equal(col.vectors(), X)


def test_named_vectors_from_column_lists_and_vector_columns():
    df = WIDE.assign(emb=list(X[:, :3]))
    col = ek.Collection.from_dataframe(df, vectors={"low": FEATURES[:32], "high": FEATURES[32:], "emb": "emb"})
    assert col.vector_names == ["low", "high", "emb"]
    assert [col.space(n).dim for n in col.vector_names] == [32, 32, 3]
    assert list(col.payload.columns) == ["category", "size"]


def test_the_id_column_is_not_payload_for_a_wide_frame():
    col = ek.Collection.from_dataframe(WIDE.assign(key=[f"p{i}" for i in range(40)]), vectors=FEATURES, id="key")
    assert col.ids[:2].tolist() == ["p0", "p1"]
    assert "key" not in col.payload.columns


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        (["f0", "nope"], r"Unknown vector column 'nope'.*1 of the 2 given"),
        (["f0", "category"], r"do not hold numbers: \['category'\]"),
        ({"a": ["f0", "f1"], "b": ["f1", "f2"]}, r"\['f1'\] are given to more than one vector"),
        ([], "neither a column name nor a list of columns"),
        ({"a": None}, r"vectors\['a'\]=None is neither"),
    ],
)
def test_bad_column_lists_are_explore_errors(vectors, message):
    with pytest.raises(ek.ExploreError, match=message):
        ek.Collection.from_dataframe(WIDE, vectors=vectors)


def test_a_wide_frame_with_a_gap_is_refused_by_the_vector_check():
    gap = WIDE.copy()
    gap.loc[5, "f7"] = np.nan
    with pytest.raises(ek.ExploreError):
        ek.Collection.from_dataframe(gap, vectors=FEATURES)


def test_a_single_column_name_still_needs_vectors_in_its_cells():
    with pytest.raises(ek.ExploreError, match="row 0 holds .* not a vector"):
        ek.Collection.from_dataframe(WIDE, vectors="f0")


# ------------------------------------------------------------------ dict payloads
def test_from_arrays_takes_a_dict_of_columns():
    col = ek.Collection.from_arrays(X[:3], payload={"category": ["a", "b", "a"], "n": np.array([1, 2, 3])})
    assert col.payload["category"].tolist() == ["a", "b", "a"]
    assert col.count("category == 'a'") == 2
    assert col.count({"must": [{"key": "n", "match": {"value": 2}}]}) == 1


def test_a_series_column_is_taken_by_position_not_by_its_index():
    series = pd.Series(["x", "y", "z"], index=[10, 11, 12])
    col = ek.Collection.from_arrays(X[:3], payload={"s": series})
    assert col.payload["s"].tolist() == ["x", "y", "z"]


def test_dict_and_list_and_frame_payloads_agree():
    records = [{"category": ["a", "b"][i % 2], "tags": [i, i + 1]} for i in range(6)]
    columns = {"category": [r["category"] for r in records], "tags": [r["tags"] for r in records]}
    by_records = ek.Collection.from_arrays(X[:6], payload=records)
    for payload in (columns, pd.DataFrame(columns)):
        col = ek.Collection.from_arrays(X[:6], payload=payload)
        assert [col.store.payload.record(i) for i in range(6)] == records
        assert col.count("category == 'b'") == by_records.count("category == 'b'") == 3


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6))
def test_a_column_of_the_wrong_length_is_refused(n, m):
    payload = {"c": list(range(m))}
    if n == m:
        assert len(ek.Collection.from_arrays(X[:n], payload=payload)) == n
    else:
        with pytest.raises(ek.ExploreError, match=rf"payload\['c'\]: {m} values for {n} points"):
            ek.Collection.from_arrays(X[:n], payload=payload)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"c": "abc"}, r"payload\['c'\]: 'abc' is not a column.*list of dicts"),
        ({"c": 3}, r"payload\['c'\]: 3 is not a column"),
        ({1: [1, 2, 3]}, "key 1 is not a string"),
        ("abc", "'abc' is not a payload"),
        ([{"a": 1}], "1 rows for 3 points"),
    ],
)
def test_bad_payloads_are_explore_errors(payload, message):
    with pytest.raises(ek.ExploreError, match=message):
        ek.Collection.from_arrays(X[:3], payload=payload)


def test_upsert_takes_a_dict_of_columns_too():
    col = ek.Collection.from_arrays(X[:3], payload={"c": ["a", "b", "c"]})
    col.upsert([7, 8], X[3:5], payload={"c": ["d", "e"]})
    assert col.payload.loc[[7, 8], "c"].tolist() == ["d", "e"]
    with pytest.raises(ek.ExploreError, match=r"upsert: payload\['c'\]: 1 values for 2 points"):
        col.upsert([9, 10], X[5:7], payload={"c": ["f"]})
    assert len(col) == 5  # nothing half-applied


# ------------------------------------------------------------------ k / top_k
COL = ek.Collection.from_arrays(X, payload=WIDE[["category", "size"]])
CALLS = {
    "search": ("search", {"query": X[1]}),
    "recommend": ("recommend", {"positive": [1, 2], "negative": [3]}),
    "discover": ("discover", {"target": X[4], "context": [{"positive": 5, "negative": 6}]}),
    "context": ("discover", {"context": [{"positive": 5, "negative": 6}]}),
    "query": ("query", {"query": X[1].tolist()}),
}


def test_k_and_top_k_are_in_the_one_alias_table():
    assert ALIASES["k"][0] == ALIASES["top_k"][0] == "limit"


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("name", ["k", "top_k"])
def test_k_and_top_k_mean_limit_on_every_query_method(call, name):
    method, arguments = CALLS[call]
    want = getattr(COL, method)(**arguments, limit=7)
    got = getattr(COL, method)(**arguments, **{name: 7})
    assert len(got) == 7
    assert ids_scores(got) == ids_scores(want)


@pytest.mark.parametrize("call", CALLS)
def test_k_with_limit_is_refused(call):
    method, arguments = CALLS[call]
    with pytest.raises(ek.RequestError, match="k= and limit= both give 'limit'"):
        getattr(COL, method)(**arguments, k=3, limit=4)


def test_an_unknown_count_keyword_names_limit_and_its_aliases():
    with pytest.raises(ek.RequestError, match=r"'n_results'.*'k', 'limit'.*'top_k'"):
        COL.search(X[1], n_results=3)


def test_scroll_does_not_take_k():
    with pytest.raises(ek.RequestError, match=r"'k'.*scroll\(\) accepts .*'limit'"):
        COL.scroll(k=3)


def test_a_remote_collection_takes_k_too():
    remote = to_qdrant(COL, QdrantClient(":memory:"), "own_data", progress=False)
    assert ids_scores(remote.search(X[1], top_k=4)) == ids_scores(remote.search(X[1], limit=4))
    assert len(remote.recommend(positive=[1], k=3)) == 3
