"""Ties said out loud (issue 19): when more points share the last shown score than the limit
lets in, the result frame's ``attrs["ties"]`` says how many tie, how many are shown and in which
order they were cut; :func:`explorekit.query.results.results_text` says it in words.

The counts are checked against the whole answer (``limit`` = every point: each score once) and,
for hand-built ties, against qdrant-client local mode. Paths other than the exact scan count
the ties among their candidates and say "at least".
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import Trio

import explorekit as ek
from explorekit.query.results import TIE_ORDER, results_text

RNG = np.random.default_rng(1405)


@pytest.fixture(scope="module")
def text() -> ek.Collection:
    return ek.datasets.load("stdlib_docs", as_collection=True)


def whole_scores(col: ek.Collection, method: str, **kw) -> np.ndarray:
    """Every score of the request, best first (the whole answer, exact)."""
    kw = {**kw, "limit": len(col), "params": {"exact": True}}
    return getattr(col, method)(**kw)["score"].to_numpy()


def tied_in(scores: np.ndarray, score: float) -> int:
    return int(np.count_nonzero(scores == np.float32(score)))


# ------------------------------------------------------------------ the bundled text set
def test_context_search_on_text_says_how_many_tie_at_zero(text):
    context = [(2196, 2778), (5992, 1365)]
    result = text.discover(context=context, limit=10)
    ties = result.attrs["ties"]
    everything = whole_scores(text, "discover", context=context)
    assert ties["score"] == 0.0 and ties["shown"] == 10 and not ties["at_least"]
    assert ties["tied"] == tied_in(everything, 0.0) > 1000
    assert ties["order"] == TIE_ORDER
    assert f"10 shown of {ties['tied']:,} tied at score 0" in results_text(result)
    assert result["id"].tolist() == sorted(result["id"].tolist())  # insertion order, as said


def test_context_search_without_pairs_ties_every_allowed_point(text):
    result = text.discover(context=[], limit=5, filter="kind == 'function'")
    assert result.attrs["ties"]["tied"] == text.count("kind == 'function'")


def test_a_search_without_ties_says_nothing(text):
    result = text.search(5, limit=10)
    assert "ties" not in result.attrs
    assert results_text(result) == "10 results"


# ------------------------------------------------------------------ hand-built ties
def duplicated(copies: int, distance: str, others: int = 40) -> np.ndarray:
    """``copies`` copies of one vector among ``others`` random ones (row order mixes them)."""
    base = RNG.normal(size=(1, 6)).astype(np.float32)
    rest = RNG.normal(size=(others, 6)).astype(np.float32) * 3
    rows = np.vstack([rest[: others // 2], np.repeat(base, copies, axis=0), rest[others // 2 :]])
    return rows


@pytest.mark.parametrize("distance", ["cosine", "dot", "euclid", "manhattan"])
def test_duplicates_at_the_cut_are_counted_as_qdrant_scores_them(distance):
    vectors = duplicated(25, distance)
    trio = Trio(vectors, distance=distance, edge=False)
    query = vectors[20] + 0.01  # nearest to the 25 copies, which score alike
    result = trio.col.search(query, limit=10)
    ties = result.attrs["ties"]
    want = trio.client.query_points(trio.name, query=query.tolist(), limit=len(vectors)).points
    scores = np.array([p.score for p in want], np.float32)
    same = np.isclose(scores, ties["score"], rtol=1e-6, atol=1e-6)
    assert ties["tied"] == np.count_nonzero(same) == 25 and not ties["at_least"]  # Qdrant agrees
    assert ties["shown"] == np.count_nonzero(same[:10])  # dot: larger vectors may come first
    assert ties["score"] == result["score"].iloc[-1]
    shown_copies = [i for i in result["id"] if 20 <= i < 45]
    assert shown_copies == list(range(20, 20 + ties["shown"]))  # the first inserted copies


def test_ties_that_all_fit_are_not_reported():
    vectors = duplicated(10, "cosine")
    col = ek.Collection.from_arrays(vectors)
    assert "ties" not in col.search(vectors[20], limit=10).attrs
    assert "ties" not in col.search(vectors[20], limit=11).attrs


def test_offset_counts_only_the_tied_rows_shown():
    vectors = duplicated(25, "euclid")
    col = ek.Collection.from_arrays(vectors, distance="euclid")
    result = col.search(vectors[20], limit=10, offset=5)
    assert result.attrs["ties"]["tied"] == 25 and result.attrs["ties"]["shown"] == 10
    assert result["id"].tolist() == list(range(25, 35))


def test_a_threshold_that_cuts_before_the_limit_leaves_no_tie():
    vectors = duplicated(25, "cosine")
    col = ek.Collection.from_arrays(vectors)
    assert "ties" not in col.search(vectors[20], limit=30, score_threshold=0.9999).attrs


def test_filters_count_only_the_points_they_let_through():
    vectors = duplicated(25, "cosine")
    payload = [{"half": i % 2} for i in range(len(vectors))]
    col = ek.Collection.from_arrays(vectors, payload=payload)
    result = col.search(vectors[20], limit=5, filter="half == 0")
    assert result.attrs["ties"]["tied"] == sum(1 for i in range(20, 45) if i % 2 == 0)


def test_each_request_of_a_batch_gets_its_own_ties():
    vectors = duplicated(25, "cosine")
    col = ek.Collection.from_arrays(vectors)
    tied, plain = col.search_batch([{"query": vectors[20], "limit": 4}, {"query": vectors[0], "limit": 4}])
    assert tied.attrs["ties"]["tied"] == 25 and "ties" not in plain.attrs


def test_recommend_ties_use_the_same_rule():
    vectors = duplicated(25, "cosine")
    col = ek.Collection.from_arrays(vectors)
    result = col.recommend(positive=[20], strategy="best_score", limit=6)
    assert result.attrs["ties"]["tied"] == 24  # the example itself is left out


def test_quantized_candidates_say_at_least():
    """Rescored quantized candidates see only the ties among them (here 30: oversampling 3)."""
    vectors = duplicated(300, "cosine", others=200)
    col = ek.Collection.from_arrays(vectors).quantize({"scalar": {"type": "int8"}})
    result = col.search(vectors[150], limit=10, params={"quantization": {"rescore": True, "oversampling": 3}})
    ties = result.attrs["ties"]
    assert result.attrs["path"] == "quantized" and ties["at_least"] and 10 < ties["tied"] <= 300
    assert results_text(result).startswith("10 results: 10 shown of at least ")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-2, 2), st.integers(-2, 2)), min_size=2, max_size=40),
    st.integers(1, 12),
    st.sampled_from(["euclid", "manhattan", "dot"]),
)
def test_ties_agree_with_the_whole_answer(points, limit, distance):
    vectors = np.array(points, np.float32)
    col = ek.Collection.from_arrays(vectors, distance=distance)
    query = [0.5, 0.0]
    result = col.search(query, limit=limit)
    everything = col.search(query, limit=len(col))["score"].to_numpy()
    straddle = len(everything) > limit and everything[limit] == everything[limit - 1]
    assert ("ties" in result.attrs) == straddle
    if straddle:
        ties = result.attrs["ties"]
        assert ties["tied"] == tied_in(everything, everything[limit - 1])
        assert ties["shown"] == tied_in(everything[:limit], everything[limit - 1])


# ------------------------------------------------------------------ where people read it
def test_the_explorer_status_line_says_how_many_tie():
    from explorekit.widgets import Explorer

    vectors = duplicated(25, "euclid")
    col = ek.Collection.from_arrays(vectors, distance="euclid")
    explorer = Explorer(col)
    explorer.examples = {"context": [(21, 0)]}
    tied = explorer.result.attrs["ties"]["tied"]
    assert f"10 shown of {tied:,} tied at score 0" in explorer.status.value
    assert "insertion order" in explorer.status.value


def test_the_report_says_how_many_tie_under_the_table(tmp_path, text):
    result = text.discover(context=[(2196, 2778), (5992, 1365)], limit=10)
    path = ek.Report("ties").add(result, title="Context search").save(tmp_path / "ties.html")
    page = path.read_text()
    assert f"10 shown of {result.attrs['ties']['tied']:,} tied at score 0" in page
