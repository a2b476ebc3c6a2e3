"""Rules that mutants found unguarded: each test here kills mutants that `make mutate`
reported as surviving the rest of the suite (named in each docstring; see the mutation
section of the issue-15 note for the ones left as equivalent)."""

from __future__ import annotations

import numpy as np
import pytest

import explorekit as ek
from explorekit.scoring import topk
from explorekit.scoring.distances import EPS
from explorekit.scoring.formulas import ScoringQuery, fast_sigmoid, scaled_fast_sigmoid

F32 = np.float32


def _query(kind: str, rows: int, **layout) -> ScoringQuery:
    return ScoringQuery(kind, np.zeros((rows, 2), F32), **layout)


# ---------------------------------------------------------------------------------------- scoring


def test_context_loss_counts_the_margin_when_both_sides_tie():
    """A point as similar to a pair's positive as to its negative loses ``fs(-EPS)``, not 0
    (kills ``_context``: ``pos - neg + EPS``)."""
    sims = np.array([[0.5, 0.9], [0.5, 0.1]], F32)  # rows: p1, n1; columns: points
    got = _query("context", 2, n_pairs=1).combine(sims)
    assert got[0] == fast_sigmoid(-EPS) < 0 and got[1] == 0


def test_pair_layout_with_three_pairs():
    """Rows alternate positive, negative for every pair (kills ``[0::3]`` / ``[1::3]`` slices in
    ``_pair_ranks`` and ``_context``, which agree with ``[0::2]`` for one pair only)."""
    rng = np.random.default_rng(5)
    sims = rng.normal(size=(7, 50)).astype(F32)  # target, then 3 pairs
    pos, neg = sims[1::2], sims[2::2]
    want_ranks = np.sign(pos - neg).sum(axis=0, dtype=F32)
    discover = _query("discover", 7, n_pairs=3).combine(sims)
    np.testing.assert_array_equal(discover, want_ranks + scaled_fast_sigmoid(sims[0]))
    want_loss = fast_sigmoid(np.minimum(pos - neg - EPS, F32(0))).sum(axis=0, dtype=F32)
    np.testing.assert_array_equal(_query("context", 6, n_pairs=3).combine(sims[1:]), want_loss)


@pytest.mark.parametrize(
    "kind, rows, layout",
    [
        ("nearest", 1, {}),
        ("best_score", 2, {"n_positive": 1, "n_negative": 1}),
        ("best_score", 1, {"n_negative": 1}),
        ("best_score", 1, {"n_positive": 1}),
        ("sum_scores", 3, {"n_positive": 2, "n_negative": 1}),
        ("discover", 3, {"n_pairs": 1}),
        ("discover", 1, {}),
        ("context", 2, {"n_pairs": 1}),
        ("context", 0, {}),
    ],
)
def test_every_kind_scores_in_float32(kind, rows, layout):
    """Qdrant scores in float32; so does every kind, also without pairs (kills float64 leaks:
    ``astype(None)`` in ``_best_score``, ``np.zeros(n)`` without dtype in ``_pair_ranks`` and
    ``_context``, and the shape mutants of ``_context``'s no-pair branch)."""
    sims = np.random.default_rng(6).normal(size=(rows, 9)).astype(F32)
    got = _query(kind, rows, **layout).combine(sims if rows else np.zeros((0, 9), F32))
    assert got.dtype == np.float32 and got.shape == (9,)
    if kind in ("discover", "context") and not layout:
        assert np.array_equal(got, scaled_fast_sigmoid(sims[0]) if kind == "discover" else np.zeros(9))


# ------------------------------------------------------------------------------------------- topk


def test_bounded_selection_when_whole_groups_are_nan():
    """12 of 20 strided groups hold only NaN, more than k: their maxima must count as -inf
    (kills ``_above_bound`` setting them to None (NaN) or +inf: the bound became NaN or +inf
    and nothing was returned)."""
    scores = np.random.default_rng(7).normal(size=64 * 20).astype(F32)
    scores.reshape(64, 20)[:, :12] = np.nan
    want = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")[:5]
    assert topk.top_k(scores, 5).tolist() == want.tolist()


def test_ties_follow_rows_on_every_path():
    """Equal scores in row order, not position order: on the small-input sort and after the
    bound set most scores aside (kills ``top_k`` ignoring ``rows`` there, which mutmut could only
    time out with the 300-example property test)."""
    assert topk.top_k(np.zeros(10, F32), 3, np.arange(10)[::-1]).tolist() == [9, 8, 7]
    scores = np.zeros(20_000, F32)
    scores[[5, 70, 9_000]] = 1.0  # three strided groups hold the best
    assert topk.top_k(scores, 2, np.arange(20_000)[::-1]).tolist() == [9_000, 70]


@pytest.mark.parametrize("k", [0, 5])
def test_nothing_to_return_is_still_an_index(k):
    """No valid score (or k = 0) beyond the small-input sort: the empty answer indexes rows
    (kills ``np.empty(0)`` without dtype: float64 positions raise IndexError in the callers)."""
    rows = np.arange(1_000)
    keep = topk.top_k(np.full(1_000, -np.inf, F32), k)
    assert keep.dtype == np.int64 and rows[keep].tolist() == []


def test_merge_breaks_ties_by_row():
    """Equal scores keep row order across both lists (kills ``top_k(scores, k, None)``,
    which ordered ties by their place in the concatenation)."""
    rows, scores = topk.merge_top_k(np.array([9, 4]), np.array([0.5, 0.7], F32), np.array([2]), np.array([0.5], F32), 2)
    assert rows.tolist() == [4, 2] and scores.tolist() == [F32(0.7), F32(0.5)]


# ----------------------------------------------------------------------------------- filter rules


@pytest.fixture(scope="module")
def points() -> ek.Collection:
    payload = [
        {"n": 1, "x": 1.5, "t": "1970-01-01T00:00:00Z", "s": "Straße 5"},
        {"n": 3, "x": 3.0, "t": "1970-01-01T00:00:01Z", "s": "Hauptstrasse"},
        {"n": 4, "x": 4.5, "t": "1969-12-31T23:59:59Z", "s": "STRASSE"},
        {"n": 6, "x": 6.0, "t": "2024-05-01T12:00:00Z", "s": "Gasse"},
    ]
    vectors = np.eye(4, dtype=F32)
    return ek.Collection.from_arrays(vectors, ids=[10, 11, 12, 13], payload=payload)


def _ids(col: ek.Collection, condition: dict) -> list:
    return col.scroll(filter={"must": [condition]}, with_payload=False)["id"].tolist()


@pytest.mark.parametrize("key", ["n", "x"])
def test_range_applies_every_bound(points, key):
    """gte and lt together (kills ``_in_bounds``: ``sel = values < lt``, which forgot gte)."""
    assert _ids(points, {"key": key, "range": {"gte": 3, "lt": 5}}) == [11, 12]
    assert _ids(points, {"key": key, "range": {"gt": 1.5, "lte": 4.5}}) == [11, 12]


def test_datetime_range_at_the_epoch(points):
    """The instant 0 is a datetime like any other (kills ``_cat_datetimes``: ``s or 1``, which
    moved the epoch to 1 microsecond)."""
    assert _ids(points, {"key": "t", "range": {"lte": "1970-01-01T00:00:00Z"}}) == [10, 12]
    assert _ids(points, {"key": "t", "range": {"gte": "1970-01-01T00:00:00Z", "lt": "1970-01-01T00:00:01Z"}}) == [10]


def test_text_match_lower_cases_words(points):
    """Qdrant lower-cases tokens; upper-casing is not the same (``"ß".upper() == "SS"``): kills
    ``_tokens`` with ``upper()``, which let "strasse" match "Straße"."""
    assert _ids(points, {"key": "s", "match": {"text": "strasse"}}) == [12]
    assert _ids(points, {"key": "s", "match": {"text": "straße 5"}}) == [10]


def test_min_should_counts_has_id(points):
    """has_id inside min_should sees the collection's ids (kills ``evaluate`` passing None as
    the ids to min_should's conditions, which made has_id match nothing there)."""
    rule = {"min_should": {"conditions": [{"has_id": [10, 11]}, {"key": "n", "range": {"gte": 3}}], "min_count": 2}}
    assert points.scroll(filter=rule, with_payload=False)["id"].tolist() == [11]
