"""The Explorer's path tab and the report: the score along the path, built only when it shows."""

from __future__ import annotations

import numpy as np
import pytest

import explorekit as ek
from explorekit.analysis.path import score_path


@pytest.fixture(scope="module")
def col():
    data = np.random.default_rng(19).normal(size=(60, 8)).astype(np.float32)
    return ek.Collection.from_arrays(data, distance="cosine")


@pytest.fixture()
def explorer(col):
    return ek.Explorer(col)


def roles(figure):
    return [(t.meta or {}).get("role") for t in figure.data]


def test_the_path_tab_builds_only_when_it_shows(explorer, col):
    tab = explorer.path_tab
    assert "path" in explorer.tabs.titles
    explorer.examples = {"context": [(1, 2)]}
    assert tab.builds == 0 and tab.figure.data == ()  # not showing: nothing built
    explorer.show_tab("path")
    assert tab.builds == 1 and roles(tab.figure)[0] == "path"
    curve = score_path(col, explorer.result).curve
    np.testing.assert_allclose(tab.figure.data[0].y, curve["score"].astype(float))
    explorer.show_tab("results")
    explorer.show_tab("path")  # the same result: not built again
    assert tab.builds == 1
    explorer.examples = {"context": [(1, 2), (3, 4)]}  # a new result while showing: rebuilt
    assert tab.builds == 2


def test_the_menu_picks_the_pair(explorer):
    explorer.examples = {"context": [(1, 2), (3, 4)]}
    explorer.show_tab("path")
    tab = explorer.path_tab
    assert [value for _, value in tab.pair.options] == [0, 1]
    assert tab.pair.options[1][0] == "pair 2: from 4 (negative) to 3 (positive)"
    tab.pair.value = 1
    assert "context[1].negative (id 4) to context[1].positive (id 3)" in tab.figure.layout.title.text
    explorer.examples = {"context": [(1, 2), (3, 4), (5, 6)]}  # the chosen pair stays chosen
    assert tab.pair.value == 1 and "context[1]" in tab.figure.layout.title.text


def test_recommend_offers_each_positive_and_negative(explorer):
    explorer.strategy.value = "best_score"
    explorer.examples = {"positive": [1, 3], "negative": [2]}
    explorer.show_tab("path")
    tab = explorer.path_tab
    assert [value for _, value in tab.pair.options] == [(0, 0), (1, 0)]
    assert "best_score: exact score along the path from negative[0] (id 2) to positive[0] (id 1)" == (
        tab.figure.layout.title.text
    )


def test_no_path_without_a_negative_example(explorer):
    explorer.examples = {"positive": [1]}
    explorer.show_tab("path")
    tab = explorer.path_tab
    assert "path" not in roles(tab.figure) and tab.pair.layout.display == "none"
    assert "from a negative example to a positive one" in tab.figure.layout.annotations[0].text
    assert "path" not in explorer.snapshot()


def test_the_report_shows_the_path_beside_the_explanation(explorer):
    explorer.examples = {"context": [(1, 2)]}
    snap = explorer.snapshot()
    assert roles(snap["path"])[0] == "path"
    page = ek.Report("T").add(explorer).to_html()
    assert "Score along the path" in page and "Why these results" in page
    assert "exact scores of the points, drawn on a PCA projection of 8-D vectors" in page
