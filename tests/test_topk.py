"""top_k: the best k positions, ties by row, -inf never returned; the sort-all shortcut for
small inputs and the partition path give the same answer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorekit.scoring import topk


def reference(scores: np.ndarray, k: int, rows: np.ndarray | None) -> list[int]:
    keys = list(range(len(scores))) if rows is None else rows.tolist()
    ranked = sorted(
        (p for p in range(len(scores)) if scores[p] > -np.inf),  # never NaN
        key=lambda p: (-float(scores[p]), keys[p]),
    )
    return ranked[: max(k, 0)]


@st.composite
def cases(draw):
    n = draw(st.integers(0, 600)) if draw(st.booleans()) else draw(st.integers(1_000, 6_000))
    values = draw(st.lists(st.sampled_from([-np.inf, np.nan, -1.0, -0.0, 0.0, 0.25, 0.5, 2.0]), min_size=n, max_size=n))
    k = draw(st.integers(-1, 40))
    permuted = draw(st.booleans())
    rows = np.random.default_rng(n).permutation(n) if permuted else None
    return np.array(values, np.float32), k, rows


@settings(max_examples=300, deadline=None)
@given(cases())
def test_top_k_matches_reference_on_both_paths(case):
    scores, k, rows = case
    expected = reference(scores, k, rows)
    assert topk.top_k(scores, k, rows).tolist() == expected
    old = topk._SORT_ALL, topk._MIN_GROUPS
    try:
        topk._SORT_ALL, topk._MIN_GROUPS = -1, 10**9  # the plain partition path at every size
        assert topk.top_k(scores, k, rows).tolist() == expected
    finally:
        topk._SORT_ALL, topk._MIN_GROUPS = old


def test_bounded_selection_ignores_nan_groups():
    scores = np.random.default_rng(3).normal(size=10_000).astype(np.float32)
    scores[::997] = np.nan  # NaN in more than k groups
    want = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")[:5]
    assert topk.top_k(scores, 5).tolist() == want.tolist()


def test_bounded_selection_keeps_ties_and_skips_minus_inf():
    few = np.full(5_000, -np.inf, np.float32)
    few[[7, 4_000]] = [0.5, 0.5]
    assert topk.top_k(few, 10).tolist() == [7, 4_000]
    tied = np.zeros(20_000, np.float32)
    assert topk.top_k(tied, 300, np.arange(20_000)[::-1]).tolist() == list(range(19_999, 19_699, -1))


@pytest.mark.parametrize("n", [0, 1, 255, 256, 257, 5000, 100_000])
def test_top_k_every_size_returns_positions_best_first(n):
    scores = np.random.default_rng(n).random(n).astype(np.float32)
    got = topk.top_k(scores, 10)
    assert got.dtype.kind == "i"
    assert got.tolist() == np.argsort(-scores, kind="stable")[:10].tolist()
