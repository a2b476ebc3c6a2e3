"""ek.analysis.stages / ek.plots.stages: hand-built pipelines whose ranks and moves are known.

Every pipeline here is small enough to rank by hand (dot products of 1-D or 2-D vectors), so
each expected rank, move, fusion contribution and formula term is written out; the figure is
checked against the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import explorekit as ek
from explorekit.analysis.stages import COLUMNS, stage_ranks

SMALL = np.array([[6], [5], [4], [3], [2], [1]], np.float32)  # prefetch ranks: ids 0, 1, 2, 3, ...
FULL = np.array([[1], [0], [6], [5], [2], [3]], np.float32)  # full ranks: ids 2, 3, 5, 4, 0, 1


@pytest.fixture()
def col() -> ek.Collection:
    payload = [{"pop": p, "title": f"doc {i}"} for i, p in enumerate([0, 4, 1, 0, 2, 3])]
    del payload[3]["pop"]  # a missing value: the formula's default applies
    return ek.Collection.from_arrays({"small": SMALL, "full": FULL}, payload=payload, distance="dot")


def rows(frame: pd.DataFrame, stage: str) -> pd.DataFrame:
    return frame[frame["stage"] == stage].reset_index(drop=True)


def two_stage(col: ek.Collection, limit: int = 2) -> pd.DataFrame:
    return col.query(
        {"prefetch": [{"query": [1.0], "using": "small", "limit": 4}], "query": [1.0], "using": "full", "limit": limit}
    )


def test_two_stage_rescoring_ranks_kept_and_promoted(col):
    frame = ek.analysis.stages(two_stage(col))
    assert list(frame.columns[: len(COLUMNS)]) == COLUMNS
    cheap, final = rows(frame, "prefetch[0]"), rows(frame, "query")
    assert cheap["id"].tolist() == [0, 1, 2, 3] and cheap["rank"].tolist() == [0, 1, 2, 3]
    assert cheap["kept"].tolist() == [False, False, True, True]
    assert cheap["final_rank"].tolist() == [pd.NA, pd.NA, 0, 1]
    assert cheap["using"].unique().tolist() == ["small"] and cheap["level"].unique().tolist() == [1]
    assert final["id"].tolist() == [2, 3]
    assert final["source_rank"].tolist() == [2, 3]
    assert final["rank_change"].tolist() == [2, 2]  # both promoted by the full vectors
    assert final["source_score"].tolist() == [4.0, 3.0] and final["score"].tolist() == [6.0, 5.0]
    assert final["score_change"].tolist() == [2.0, 2.0]
    assert final["sources"].tolist() == ["prefetch[0]"] * 2 and final["kept"].all() and final["returned"].all()
    assert frame.attrs["stages"] == ["prefetch[0]", "query"] and frame.attrs["limit"] == 2


def test_three_deep_pipeline_paths_and_levels(col):
    body = {
        "prefetch": [
            {"prefetch": [{"query": [1.0], "using": "small", "limit": 5}], "query": [1.0], "using": "full", "limit": 3}
        ],
        "query": [-1.0],
        "using": "small",
        "limit": 2,
    }
    frame = ek.analysis.stages(col.query(body))
    assert frame.attrs["stages"] == ["prefetch[0].prefetch[0]", "prefetch[0]", "query"]
    assert frame.groupby("stage", sort=False)["level"].first().tolist() == [2, 1, 0]
    middle, final = rows(frame, "prefetch[0]"), rows(frame, "query")
    assert middle["id"].tolist() == [2, 3, 4]  # full order among ids 0..4
    assert middle["source_rank"].tolist() == [2, 3, 4]
    assert middle["kept"].tolist() == [False, True, True]
    assert final["id"].tolist() == [4, 3]  # -small: lowest small value first
    assert final["rank_change"].tolist() == [2, 0]
    deepest = rows(frame, "prefetch[0].prefetch[0]")
    assert deepest["kept"].tolist() == [False, False, True, True, True]
    wide = stage_ranks(frame)
    assert wide["id"].tolist()[:2] == [4, 3]
    assert wide.loc[0, ["prefetch[0].prefetch[0]", "prefetch[0]", "query"]].tolist() == [4, 2, 0]


def test_rrf_contributions_are_qdrants_terms(col):
    body = {
        "prefetch": [{"query": [1.0], "using": "small", "limit": 3}, {"query": [1.0], "using": "full", "limit": 2}],
        "query": {"fusion": "rrf"},
        "limit": 4,
    }
    result = col.query(body)
    final = rows(ek.analysis.stages(result), "query")
    # k = 2: position i gives 1 / (i + 2); id 2 is 3rd in prefetch[0] and 1st in prefetch[1]
    assert final["id"].tolist() == [2, 0, 1, 3] == result["id"].tolist()
    assert final["from prefetch[0]"].tolist() == pytest.approx([1 / 4, 1 / 2, 1 / 3, 0.0])
    assert final["from prefetch[1]"].tolist() == pytest.approx([1 / 2, 0.0, 0.0, 1 / 3])
    summed = final["from prefetch[0]"] + final["from prefetch[1]"]
    assert summed.tolist() == pytest.approx(final["score"].tolist())
    assert final["sources"].tolist() == ["prefetch[0], prefetch[1]", "prefetch[0]", "prefetch[0]", "prefetch[1]"]
    assert final["source_rank"].tolist() == [0, 0, 1, 1]  # best rank over the prefetches
    assert final["rank_change"].tolist() == [0, -1, -1, -2]


def test_weighted_rrf_contributions(col):
    body = {
        "prefetch": [{"query": [1.0], "using": "small", "limit": 3}, {"query": [1.0], "using": "full", "limit": 2}],
        "query": {"rrf": {"k": 60, "weights": [1.0, 3.0]}},
        "limit": 4,
    }
    final = rows(ek.analysis.stages(col.query(body)), "query")
    by_id = final.set_index("id")
    assert by_id.loc[2, "from prefetch[0]"] == pytest.approx(1 / (3 / 1.0 + 59))
    assert by_id.loc[2, "from prefetch[1]"] == pytest.approx(1 / (1 / 3.0 + 59))
    assert (final["from prefetch[0]"] + final["from prefetch[1]"]).tolist() == pytest.approx(final["score"].tolist())


def test_dbsf_contributions_are_normalised_scores(col):
    body = {
        "prefetch": [{"query": [1.0], "using": "small", "limit": 3}, {"query": [1.0], "using": "full", "limit": 2}],
        "query": {"fusion": "dbsf"},
        "limit": 4,
    }
    final = rows(ek.analysis.stages(col.query(body)), "query").set_index("id")
    # prefetch[0] scores 6, 5, 4: mean 5, sd 1 -> (s - 2) / 6
    assert final.loc[0, "from prefetch[0]"] == pytest.approx(4 / 6)
    assert final.loc[2, "from prefetch[0]"] == pytest.approx(2 / 6)
    sd = math.sqrt(0.5)  # prefetch[1] scores 6, 5
    assert final.loc[2, "from prefetch[1]"] == pytest.approx((6 - (5.5 - 3 * sd)) / (6 * sd))
    assert final.loc[0, "from prefetch[1]"] == 0.0
    assert (final["from prefetch[0]"] + final["from prefetch[1]"]).tolist() == pytest.approx(final["score"].tolist())


def test_mmr_moves_against_plain_nearest():
    vectors = np.array([[1, 0], [1, 0.01], [0.7, 0.7]], np.float32)  # ids 0 and 1 nearly the same
    col = ek.Collection.from_arrays(vectors, distance="cosine")
    query = [1.0, 0.05]
    plain = col.query({"query": query, "limit": 3})
    diverse = col.query({"query": {"nearest": query, "mmr": {"diversity": 0.5}}, "limit": 3})
    frame = ek.analysis.stages(diverse)
    assert frame["id"].tolist() == [1, 2, 0] == diverse["id"].tolist()
    # source_rank: the plain nearest order of the picked points
    plain_rank = {ident: rank for rank, ident in enumerate(plain["id"].tolist())}
    assert frame["source_rank"].tolist() == [plain_rank[i] for i in frame["id"]] == [0, 2, 1]
    assert frame["rank_change"].tolist() == [0, 1, -1]
    same = ek.analysis.stages(col.query({"query": {"nearest": query, "mmr": {"diversity": 0.0}}, "limit": 3}))
    assert same["rank_change"].tolist() == [0, 0, 0]


FORMULA = {"formula": {"sum": ["$score", {"mult": [2, "pop"]}]}, "defaults": {"pop": 0}}


def test_formula_terms_name_the_payload_values_that_moved_it(col):
    body = {"prefetch": [{"query": [1.0], "using": "full", "limit": 4}], "query": FORMULA, "limit": 3}
    result = col.query(body)
    frame = rows(ek.analysis.stages(result, col), "query")
    # full scores: id2 6, id3 5, id5 3, id4 2; pop: id2 1, id3 missing (0), id5 3, id4 2
    # formula: id5 3 + 6 = 9, id2 6 + 2 = 8, id4 2 + 4 = 6, id3 5 + 0 = 5
    assert frame["id"].tolist() == [5, 2, 4] == result["id"].tolist()
    assert frame["term $score"].tolist() == [3.0, 6.0, 2.0]
    assert frame["term pop"].tolist() == [3.0, 1.0, 2.0]
    assert frame["term mult(2, pop)"].tolist() == [6.0, 2.0, 4.0]
    assert (frame["term $score"] + frame["term mult(2, pop)"]).tolist() == pytest.approx(frame["score"].tolist())
    assert frame["rank_change"].tolist() == [2, -1, 1]
    assert frame["score_change"].tolist() == pytest.approx([6.0, 2.0, 4.0])
    # a local answer carries its terms: no collection and no payload needed
    bare = rows(ek.analysis.stages(col.query({**body, "with_payload": False})), "query")
    assert bare["term pop"].tolist() == [3.0, 1.0, 2.0]


def without_recorded_terms(result: pd.DataFrame) -> pd.DataFrame:
    """The answer as a backend without recorded terms gives it: stage frames of id, score, rank."""
    out = result.copy()
    frames = []
    for frame in result.attrs["stages"]:
        plain = frame[["id", "score", "rank"]].copy()
        plain.attrs = dict(frame.attrs)
        frames.append(plain)
    out.attrs = {**result.attrs, "stages": type(result.attrs["stages"])(frames)}
    return out


def test_formula_terms_evaluated_from_the_payload_equal_the_recorded_ones(col):
    body = {"prefetch": [{"query": [1.0], "using": "full", "limit": 4}], "query": FORMULA, "limit": 3}
    result = col.query(body)
    recorded = rows(ek.analysis.stages(result), "query")
    terms = [c for c in recorded.columns if c.startswith("term ")]
    assert terms == ["term $score", "term mult(2, pop)", "term pop"]
    for source in (col, None):  # the collection's payload, or the result's own payload columns
        evaluated = rows(ek.analysis.stages(without_recorded_terms(result), source), "query")
        pd.testing.assert_frame_equal(evaluated[terms], recorded[terms])
    # no recorded terms, no payload in the result, no collection: unknown, not guessed from defaults
    bare = without_recorded_terms(col.query({**body, "with_payload": False}))
    assert not [c for c in rows(ek.analysis.stages(bare), "query").columns if c.startswith("term ")]


def test_formula_terms_through_a_collection_without_store(col):
    """A collection known only through its public calls (as a Qdrant-backed one) gives the same terms."""

    class Public:  # public methods only, no .store
        def retrieve(self, ids):
            return col.retrieve(ids)

    body = {"prefetch": [{"query": [1.0], "using": "full", "limit": 4}], "query": FORMULA, "limit": 3}
    result = without_recorded_terms(col.query({**body, "with_payload": False}))
    frame = rows(ek.analysis.stages(result, Public()), "query")
    assert frame["term pop"].tolist() == [3.0, 1.0, 2.0]


def test_not_a_multi_stage_result_is_a_clear_error(col):
    with pytest.raises(ek.ExploreError, match="attrs\\['stages'\\]"):
        ek.analysis.stages(col.search(query=[1.0], using="full", limit=2))
    with pytest.raises(ek.ExploreError) as err:
        ek.analysis.stages(col.query({"query": [1.0], "using": "full", "limit": 2}))
    assert "got a DataFrame of 2 rows without attrs['stages']" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ek.ExploreError, match="multi-stage"):
        ek.plots.stages([1, 2])


# ------------------------------------------------------------------------------------ figure
def traces(fig) -> dict[str, object]:
    return {t.meta["role"]: t for t in fig.data}


def lines(trace) -> dict[object, list]:
    """id -> its y values (one per stage) in a slope trace."""
    out: dict[object, list] = {}
    for ident, y in zip(trace.customdata[:, 0], trace.y):
        if ident is not None:
            out.setdefault(ident, []).append(y)
    return out


def test_figure_lines_are_the_stage_ranks(col):
    fig = ek.plots.stages(two_stage(col), col, label="title")
    by_role = traces(fig)
    assert set(by_role) == {"limit", "up", "dropped", "labels"}
    assert list(by_role["labels"].text) == ["doc 2", "doc 3"]  # label= names the final ranks
    assert list(by_role["labels"].y) == [0.0, 1.0]
    assert lines(by_role["up"]) == {2: [2.0, 0.0], 3: [3.0, 1.0]}
    assert lines(by_role["dropped"]) == {0: [0.0, 4.0], 1: [1.0, 4.0]}  # 4: the "not ranked" row
    assert list(fig.layout.xaxis.ticktext) == ['prefetch[0]: nearest using "small"', 'final: nearest using "full"']
    assert list(fig.layout.yaxis.range) == [4.5, -0.5]  # fitted: ranks 1..4 and "not ranked"
    assert fig.layout.yaxis.ticktext[-1] == "not ranked"
    hover = by_role["up"].hovertext[0]
    assert "id 2" in hover and "title: doc 2" in hover and "final: rank 1, score 6" in hover
    assert "prefetch[0]: rank 3" in hover
    assert by_role["limit"].y == (1.5, 1.5)


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "x", np.int64(0)])
def test_figure_k_must_be_a_positive_integer(col, k):
    with pytest.raises(ek.RequestError, match="^k: .* Use an integer >= 1"):
        ek.plots.stages(two_stage(col), k=k)


def test_figure_k_is_capped_at_the_ranks_there_are(col):
    fig = ek.plots.stages(two_stage(col), k=1000)  # 10**9 used to allocate 22 GB of ticks
    assert list(fig.layout.yaxis.range) == [4.5, -0.5]  # ranks 1..4 and "not ranked", as with no k
    fig = ek.plots.stages(two_stage(col), k=2)
    assert lines(traces(fig)["up"]) == {2: [2.0, 0.0], 3: [2.0, 1.0]}  # rank 3 and 4 sit on "not ranked"


def test_figure_of_a_formula_shows_terms_and_payload(col):
    body = {"prefetch": [{"query": [1.0], "using": "full", "limit": 4}], "query": FORMULA, "limit": 3}
    result = col.query(body)
    fig = ek.plots.stages(ek.analysis.stages(result, col), col)
    by_role = traces(fig)
    assert lines(by_role["up"]) == {5: [2.0, 0.0], 4: [3.0, 2.0]}
    assert lines(by_role["down"]) == {2: [0.0, 1.0]}
    assert lines(by_role["dropped"]) == {3: [1.0, 4.0]}
    hover = by_role["up"].hovertext[0]
    assert "formula term pop = 3" in hover and "pop: 3" in hover and "formula term $score = 3" in hover
    assert list(fig.layout.xaxis.ticktext) == ['prefetch[0]: nearest using "full"', "final: formula"]


def test_figure_of_fusion_shows_each_source(col):
    body = {
        "prefetch": [{"query": [1.0], "using": "small", "limit": 3}, {"query": [1.0], "using": "full", "limit": 2}],
        "query": {"fusion": "rrf"},
        "limit": 2,
    }
    fig = ek.plots.stages(col.query(body))
    by_role = traces(fig)
    assert list(fig.layout.xaxis.ticktext) == [
        'prefetch[0]: nearest using "small"',
        'prefetch[1]: nearest using "full"',
        "final: fusion",
    ]
    # id 2: 3rd in prefetch[0], 1st in prefetch[1], 1st in the end -> moved up from its first rank;
    # id 0: 1st in prefetch[0], not in prefetch[1] (the "not ranked" row, 3), 2nd in the end
    assert lines(by_role["up"]) == {2: [2.0, 0.0, 0.0]}
    assert lines(by_role["down"]) == {0: [0.0, 3.0, 1.0]}
    assert lines(by_role["dropped"]) == {1: [1.0, 3.0, 3.0], 3: [3.0, 1.0, 3.0]}
    hover = by_role["up"].hovertext[0]
    assert "from prefetch[0]: +0.25" in hover and "from prefetch[1]: +0.5" in hover


@settings(max_examples=25, deadline=None)
@given(
    limits=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    method=st.sampled_from(["rrf", "dbsf"]),
    top=st.integers(1, 6),
)
def test_fusion_contributions_always_add_up_to_the_score(limits, method, top):
    col = ek.Collection.from_arrays({"small": SMALL, "full": FULL}, distance="dot")
    queries = [([1.0], "small"), ([1.0], "full"), ([-1.0], "full")]
    prefetch = [{"query": q, "using": u, "limit": n} for (q, u), n in zip(queries, limits)]
    result = col.query({"prefetch": prefetch, "query": {"fusion": method}, "limit": top})
    frame = ek.analysis.stages(result)
    final = rows(frame, "query")
    assert final["id"].tolist() == result["id"].tolist()
    summed = final[[f"from prefetch[{i}]" for i in range(len(limits))]].sum(axis=1)
    assert summed.tolist() == pytest.approx(final["score"].tolist(), abs=1e-9)
    every = set(frame.loc[frame["stage"] != "query", "id"])
    assert set(final["id"]) <= every
    assert (frame.loc[frame["stage"] != "query", "kept"] == frame.loc[frame["stage"] != "query", "returned"]).all()


# ------------------------------------------------------------------------------- Qdrant-backed
@pytest.mark.parametrize(
    "query",
    [
        {"fusion": "rrf"},
        {"fusion": "dbsf"},
        {"formula": {"sum": ["$score", {"mult": [2, "pop"]}]}, "defaults": {"pop": 0}},
    ],
    ids=["rrf", "dbsf", "formula"],
)
def test_the_same_analysis_through_a_qdrant_backed_collection(col, query):
    """The stage table needs only the answer and public calls: qdrant-client's local mode gives the same."""
    remote = ek.connect(":memory:").upload(col, "hand_built", progress=False)
    body = {
        "prefetch": [{"query": [1.0], "using": "small", "limit": 3}, {"query": [1.0], "using": "full", "limit": 3}],
        "query": query,
        "limit": 4,
    }
    local, served = ek.analysis.stages(col.query(body), col), ek.analysis.stages(remote.query(body), remote)
    assert list(served.columns) == list(local.columns)
    keys = ["stage", "id", "rank", "source_rank", "rank_change", "kept", "final_rank"]
    pd.testing.assert_frame_equal(served[keys], local[keys], check_dtype=False)
    numbers = [c for c in local.columns if c.startswith(("from ", "term ")) or c == "score"]
    np.testing.assert_allclose(served[numbers].to_numpy(float), local[numbers].to_numpy(float), atol=1e-6)
