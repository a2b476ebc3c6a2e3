"""The Explorer's diversity (MMR) and boost-by-payload controls: the bodies they build and the answers.

The controls hold no scoring: they build a body (explorekit.query.stage_bodies) and the
collection answers it, so every result must equal ``col.query`` of the body shown.
"""

from __future__ import annotations

import pandas as pd
import pytest

import explorekit as ek
from explorekit.query.stage_bodies import boost_body, mmr_body, staged_body
from explorekit.widgets import Explorer
from explorekit.widgets._stage_controls import numeric_fields

BASE = {"query": {"nearest": 7}, "using": "text", "filter": "x > 1", "limit": 5, "with_payload": True}


def test_mmr_body():
    assert mmr_body(BASE, 0.25) == {
        **BASE,
        "query": {"nearest": 7, "mmr": {"diversity": 0.25, "candidates_limit": 20}},
    }
    assert mmr_body({"query": [1.0, 0.0]}, 1, candidates=3)["query"] == {
        "nearest": [1.0, 0.0],
        "mmr": {"diversity": 1.0, "candidates_limit": 3},
    }
    assert BASE["query"] == {"nearest": 7}  # the given body is not changed
    one = {"query": {"recommend": {"positive": [4], "negative": [], "strategy": "average_vector"}}, "limit": 2}
    assert mmr_body(one, 0.5)["query"] == {"nearest": 4, "mmr": {"diversity": 0.5, "candidates_limit": 8}}
    best = {"query": {"recommend": {"positive": [4], "strategy": "best_score"}}}
    with pytest.raises(ek.RequestError, match="not recommend"):
        mmr_body(best, 0.5)  # other scores than the nearest query's: not silently replaced


def test_one_positive_recommend_is_its_nearest_query(fruit):
    """Why mmr_body may turn it into nearest: with average_vector the answers are the same."""
    recommend = fruit.recommend(positive=[3], strategy="average_vector", limit=8)
    nearest = fruit.search(query=3, limit=8)
    assert recommend["id"].tolist() == nearest["id"].tolist()
    assert recommend["score"].tolist() == pytest.approx(nearest["score"].tolist(), abs=1e-6)
    diverse = mmr_body(fruit.recommend(positive=[3], limit=5).attrs["query"], 0.0)
    assert fruit.query(diverse)["id"].tolist() == fruit.search(query=3, limit=5)["id"].tolist()


def test_boost_body():
    assert boost_body(BASE, "stars", -0.5) == {
        "prefetch": [{"query": {"nearest": 7}, "using": "text", "filter": "x > 1", "limit": 20}],
        "query": {"formula": {"sum": ["$score", {"mult": [-0.5, "stars"]}]}, "defaults": {"stars": 0}},
        "limit": 5,
        "with_payload": True,
    }


def test_staged_body_both_and_neither():
    assert staged_body(BASE) == BASE
    both = staged_body(BASE, diversity=0.5, boost=("stars", 1.0))
    assert both["prefetch"] == [
        {
            "query": {"nearest": 7, "mmr": {"diversity": 0.5, "candidates_limit": 20}},
            "using": "text",
            "filter": "x > 1",
            "limit": 5,  # the diverse results, re-ordered by the boost
        }
    ]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: mmr_body(BASE, 1.5), "diversity: 1.5 is not a number from 0 to 1"),
        (lambda: mmr_body({"query": {"recommend": {"positive": [1, 2]}}}, 0.5), "MMR diversifies a nearest query"),
        (lambda: boost_body(BASE, "", 1.0), "is not a field name"),
        (lambda: boost_body(BASE, "stars", float("nan")), "not a finite number"),
        (lambda: staged_body({"limit": 3}, diversity=0.5), "with a 'query'"),
        (lambda: staged_body(BASE, boost="stars"), "is not a \\(payload field, weight\\) pair"),
        (lambda: mmr_body(BASE, 0.5, candidates=0), "candidates: 0 is not a positive integer"),
    ],
)
def test_bad_settings_name_the_value(call, message):
    with pytest.raises(ek.RequestError, match=message):
        call()


# ------------------------------------------------------------------------------ the Explorer
@pytest.fixture(scope="module")
def fruit() -> ek.Collection:
    return ek.datasets.load("clusters2d", as_collection=True)


@pytest.fixture()
def explorer(fruit) -> Explorer:
    return Explorer(fruit, projection="auto", color="fruit", limit=5)


def same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left, right)
    assert left.attrs["query"] == right.attrs["query"]


def test_numeric_fields_of_the_fruit_set(fruit):
    assert numeric_fields(fruit) == ["price", "sweetness", "x", "y"]


def test_diversity_slider_builds_mmr_and_answers_as_col_query(explorer, fruit):
    explorer.examples = {"positive": [3]}
    plain = explorer.result
    explorer.stage_controls.diversity.value = 0.6
    body = {
        "query": {"nearest": 3, "mmr": {"diversity": 0.6, "candidates_limit": 20}},
        "limit": 5,
        "with_payload": True,
        "with_vector": False,
    }
    assert explorer.query == body
    same(explorer.result, fruit.query(body))
    assert set(explorer.result["id"]) != set(plain["id"]) or explorer.result["id"].tolist() != plain["id"].tolist()
    explorer.show_tab("explanation")
    figure = explorer.explanation_figure()
    assert list(figure.layout.xaxis.ticktext) == ["nearest order (before MMR)", "final: MMR"]
    roles = {t.meta["role"] for t in explorer.explanation.data}  # the tab shows the stage chart
    assert roles == {t.meta["role"] for t in figure.data} and roles & {"up", "down"}
    explorer.stage_controls.diversity.value = 0.0  # off again: the plain query
    same(explorer.result, plain)


def test_boost_builds_a_formula_over_a_prefetch(explorer, fruit):
    explorer.examples = {"positive": [3, 40]}  # a recommend query: boosts work on any kind
    explorer.stage_controls.boost_field.value = "price"
    explorer.stage_controls.boost_weight.value = 2.0
    body = {
        "prefetch": [
            {"query": {"recommend": {"positive": [3, 40], "negative": [], "strategy": "average_vector"}}, "limit": 20}
        ],
        "query": {"formula": {"sum": ["$score", {"mult": [2.0, "price"]}]}, "defaults": {"price": 0}},
        "limit": 5,
        "with_payload": True,
        "with_vector": False,
    }
    assert explorer.query == body
    same(explorer.result, fruit.query(body))
    figure = explorer.explanation_figure()
    assert list(figure.layout.xaxis.ticktext) == ["prefetch[0]: recommend", "final: formula"]
    hover = " ".join(t for trace in figure.data if trace.hovertext for t in trace.hovertext if t)
    assert "formula term price = " in hover


def test_mmr_on_a_recommend_query_is_a_hint_not_a_crash(explorer):
    explorer.examples = {"positive": [3, 40]}
    explorer.stage_controls.diversity.value = 0.5
    assert explorer.result is None
    assert "MMR diversifies a nearest query" in explorer.status.value
    explorer.examples = {"positive": [3]}  # one example: its nearest query, diversified
    assert explorer.query["query"]["mmr"]["diversity"] == 0.5


def test_bad_stage_settings_leave_the_state(fruit):
    explorer = Explorer(fruit, projection="auto", limit=5)
    explorer.examples = {"positive": [3]}
    before = explorer.query
    with pytest.raises(ek.RequestError, match="not a finite number"):
        explorer.state.set_stages(boost=("price", float("inf")))
    assert explorer.query == before and explorer.state.stages == {}
