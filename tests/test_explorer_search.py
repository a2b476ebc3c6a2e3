"""Find a point by name in the Explorer, and see every example by name (issue 19).

The match rule (:func:`explorekit.widgets._find.match`), the points around a click, the state
changes a choice makes, and the Explorer driven without a browser: typing in the search box,
choosing a hit, a click that lands on several points, and names in the examples list, the
status line and the result rings' hover text.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from plotly.callbacks import Points

import explorekit as ek
from explorekit._support.errors import RequestError
from explorekit.widgets import Explorer, ExplorerState, Selection
from explorekit.widgets._find import data_per_pixel, match, near
from explorekit.widgets._shapes import named

JSON_DUMPS = 2778  # json.dumps in the bundled stdlib_docs set (label field "name": "dumps")


@pytest.fixture(scope="module")
def text():
    return ek.datasets.load("stdlib_docs", as_collection=True)


@pytest.fixture(scope="module")
def explorer(text) -> Explorer:
    return Explorer(text, projection="pca")


@pytest.fixture()
def ex(explorer) -> Explorer:
    """The module's Explorer with no examples, no typed text and click mode positive."""
    explorer.mode.value = "positive"
    explorer.examples = {}
    explorer.finder.box.text = ""
    return explorer


# ---------------------------------------------------------------------------- the match rule
LABELS = pd.Series(["loads", "dumps", "json.dumps", "Dump", None, float("nan"), 42, "a.b*c(d)"], index=range(10, 18))


def test_prefix_matches_come_first_then_substring_matches_case_insensitive():
    hits, total = match(LABELS, "DUMP")
    assert hits.index.tolist() == [13, 11, 12] and total == 3  # 'Dump', 'dumps' (prefix), then 'json.dumps'
    assert hits.tolist() == ["Dump", "dumps", "json.dumps"]


@pytest.mark.parametrize("typed", [".", "*", "b*c", "(d)", "a.b*c(", "[", "\\", "$", "^a"])
def test_regex_metacharacters_are_plain_characters(typed):
    expected = [i for i, v in LABELS.items() if isinstance(v, str) and typed.casefold() in v.casefold()]
    assert sorted(match(LABELS, typed)[0].index) == sorted(expected)


@pytest.mark.parametrize("typed", ["", "   ", None])
def test_empty_text_matches_nothing(typed):
    hits, total = match(LABELS, typed)
    assert hits.empty and total == 0


def test_missing_labels_never_match_and_numbers_match_by_their_text():
    assert match(LABELS, "nan")[0].empty and match(LABELS, "none")[0].empty
    assert match(LABELS, "4")[0].index.tolist() == [16]
    assert match(pd.Series([3.5, 35.0, np.nan], index=[1, 2, 3]), "35")[0].index.tolist() == [2]
    assert match(pd.Series([None, None], dtype=object), "a")[0].empty


def test_hits_are_capped_and_the_total_is_counted():
    labels = pd.Series([f"item {k}" for k in range(50)])
    hits, total = match(labels, "item", cap=20)
    assert len(hits) == 20 and total == 50
    assert hits.index.tolist() == list(range(10)) + list(range(10, 20))  # shorter first, then map order


@given(
    st.lists(st.one_of(st.none(), st.text(max_size=8), st.integers(-50, 50)), max_size=30),
    st.text(max_size=4),
)
def test_every_hit_contains_the_text_and_prefixes_lead(values, typed):
    labels = pd.Series(values, dtype=object)
    hits, total = match(labels, typed, cap=100)
    needle = typed.strip().casefold()
    want = [i for i, v in labels.items() if v is not None and needle and needle in str(v).casefold()]
    assert sorted(hits.index) == sorted(want) and total == len(want)
    starts = [str(v).casefold().startswith(needle) for v in hits]
    assert starts == sorted(starts, reverse=True)  # every prefix match before every substring match


def test_near_lists_the_points_within_the_radius_nearest_first():
    x, y = np.array([0.0, 3.0, 0.5, 0.2, 10.0]), np.zeros(5)
    assert near(x, y, 0, 0.6).tolist() == [0, 3, 2]
    assert near(x, y, 4, 0.6).tolist() == [4]
    assert math.isclose(data_per_pixel([0, 4], [0, 1], 400, 400), 0.01)


# ---------------------------------------------------------------------------- names in the state
def test_examples_and_notes_show_the_label_beside_the_id():
    sel = Selection({1: "pear", 2: "fig", 3: float("nan")})
    assert sel.click("positive", 1) == "positive pear (1) added"
    assert sel.add("negative", [2]) == "negative fig (2) added"
    sel.click("context pair", 3)
    sel.click("context pair", 4)
    assert [text for _, _, text in sel.entries()] == ["pear (1)", "fig (2)", "3 vs 4"]
    assert sel.copy().name(1) == "pear (1)"


def test_swap_takes_the_chosen_point_instead_of_the_clicked_one(text):
    names = text.payload["name"]
    state = ExplorerState(text, names=names)
    state.click("positive", 2780)
    state.swap("positive", 2780, JSON_DUMPS)
    assert state.selection.positive == [JSON_DUMPS]
    assert state.note == "positive dumps (2778) added instead of " + f"{names[2780]} (2780)"
    same = text.recommend(positive=[JSON_DUMPS], limit=10)
    assert state.result["id"].tolist() == same["id"].tolist()
    state.click("target", 5)
    state.swap("target", 5, 6)
    assert state.selection.target == 6
    state.click("context pair", 7)
    state.swap("context pair", 7, 8)
    assert state.selection.pending == 8
    state.click("context pair", 9)
    state.swap("context pair", 9, 10)
    assert state.selection.context == [(8, 10)] and state.selection.pending is None
    with pytest.raises(ek.ExploreError):
        state.swap("positive", JSON_DUMPS, 10**9)  # an unknown id: nothing changes
    assert state.selection.positive == [JSON_DUMPS]


# ---------------------------------------------------------------------------- the Explorer
def test_the_label_keyword_chooses_the_field_and_a_wrong_one_names_the_fields(text, explorer):
    assert explorer.labels.name == "name"  # explorekit.query.display.label_field's choice
    with pytest.raises(RequestError, match="label='nope' is not a payload field.*'module', 'kind', 'name'"):
        Explorer(text, projection="pca", label="nope")


def test_typing_lists_hits_by_name_with_the_category_beside(ex):
    ex.finder.box.text = "DUMPS"
    hits = ex.finder.box.hits
    assert hits[0] == {"name": "dumps (2778)", "note": "function"}
    exact = [h["name"] for h in hits if h["name"].startswith("dumps (")]
    assert len(exact) == 5 and [h["name"] for h in hits[:5]] == exact  # the exact names lead
    assert ex.finder.box.note == f"{len(hits)} matches"
    ex.finder.box.text = "no such thing"
    assert ex.finder.box.hits == [] and "no label contains" in ex.finder.box.note


def test_choosing_a_hit_rings_it_centres_the_map_and_adds_it_with_its_label(ex, text):
    ex.finder.box.text = "dumps"
    ex.finder.preview(1)  # Down: the second hit is ringed, nothing added
    assert ex.examples["positive"] == []
    ex.finder.choose(0)  # Enter on json.dumps
    x, y = ex.index.xy([JSON_DUMPS])
    (ring,) = named(ex.figure.layout.shapes, "found")  # a layout shape above the map
    assert (ring.xanchor, ring.yanchor) == (x[0], y[0]) and ring.type == "circle"
    assert ring.label.text == "dumps (2778)"
    x0, x1 = ex.figure.layout.xaxis.range
    assert math.isclose((x0 + x1) / 2, x[0], rel_tol=1e-6, abs_tol=1e-6)
    assert ex.examples["positive"] == [JSON_DUMPS]
    assert ex.example_list.children[0].children[1].value == "<b>positive</b> dumps (2778)"
    assert "positive dumps (2778) added" in ex.status.value
    expected = text.recommend(positive=[JSON_DUMPS], limit=10)
    assert ex.result["id"].tolist() == expected["id"].tolist()


@pytest.mark.parametrize("mode", ["negative", "target"])
def test_a_hit_is_added_in_the_click_mode(ex, mode):
    ex.mode.value = mode
    ex.finder.box.text = "json.dumps"  # no label holds the module: nothing listed
    assert ex.finder.box.hits == []
    ex.finder.box.text = "dumps"
    ex.finder.choose(0)
    chosen = ex.examples[mode]
    assert chosen == ([JSON_DUMPS] if mode == "negative" else JSON_DUMPS)


def test_a_hit_in_inspect_mode_is_shown_not_added(ex):
    ex.mode.value = "inspect"
    ex.finder.box.text = "dumps"
    ex.finder.choose(0)
    assert ex.examples["positive"] == [] and ex.selection["id"].tolist() == [JSON_DUMPS]


def _click(ex: Explorer, point_id) -> None:
    """What plotly does on a click: call each base trace's handler; the clicked one gets the point."""
    for k, ids in enumerate(ex._base_ids):
        inds = [ids.index(point_id)] if point_id in ids else []
        trace = ex.figure.data[k]
        trace._dispatch_on_click(Points(point_inds=inds, xs=[], ys=[], trace_name=trace.name, trace_index=k), None)


def test_a_click_on_several_close_points_lists_them_and_one_can_take_its_place(ex):
    _click(ex, JSON_DUMPS)
    listed = ex.finder.ids
    assert listed[0] == JSON_DUMPS and len(listed) > 1  # the map is dense around json.dumps
    assert ex.finder.box.focus and "within 6 px of dumps (2778)" in ex.finder.box.note
    x, y = ex.index.xy(listed)
    radius = ex.finder.radius()
    assert np.all(np.hypot(x - x[0], y - y[0]) <= radius)
    assert ex.examples["positive"] == [JSON_DUMPS]  # the click itself chose the nearest point
    other = listed[1]
    ex.finder.choose(1)
    assert ex.examples["positive"] == [other]
    assert "instead of dumps (2778)" in ex.status.value


def test_an_isolated_click_lists_nothing(ex):
    x, y = ex.index.x, ex.index.y
    gaps = [np.sort(np.hypot(x - x[i], y - y[i]))[1] for i in range(0, len(x), 7)]
    lonely = ex.index.id_list[7 * int(np.argmax(gaps))]
    ex.finder.box.text = ""
    _click(ex, lonely)
    assert ex.examples["positive"] == [lonely] and ex.finder.ids == []


def test_hover_texts_name_the_points_and_a_click_on_a_result_ring_picks_it(ex):
    # plotly hands a click to the point nearest the cursor ("closest"), the one whose hover shows
    assert ex.figure.layout.hovermode == "closest" and ex.figure.layout.clickmode == "event"
    assert ex.figure.data[0].text[0].startswith("id 0<br>name: ABC")
    ex.examples = {"positive": [JSON_DUMPS]}
    rings = named(ex.figure.layout.shapes, "results")
    assert len(rings) == len(ex.result)
    # the rings are layout shapes that let the click through: it reaches the ringed base point
    second = ex.result["id"].iloc[1]
    assert (rings[1].xanchor, rings[1].yanchor) == tuple(float(v[0]) for v in ex.index.xy([second]))
    _click(ex, second)
    assert ex.examples["positive"] == [JSON_DUMPS, second]
