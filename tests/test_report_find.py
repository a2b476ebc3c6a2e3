"""Issue 19 in the saved report, without a browser (tests/browser/test_report_browser.py opens it):
points named by the Explorer's label rule, a category beside them, request summaries that name
examples by label, ties said above the table, and a row counter the page can update.

What the search box reads is the figure's embedded ``explore`` JSON: a label and a category for
every point the map shows, under the same keys as its neighbours. Labels are user data: they
must reach the page as data (JSON with ``<`` escaped, HTML-escaped text), never as markup.
"""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from hypothesis import given, settings
from hypothesis import strategies as st

import explorekit as ek
from explorekit.query.display import category_field, label_field, name_with_id
from explorekit.query.results import results_text
from explorekit.report import _tables

RNG = np.random.default_rng(19)
VEC = RNG.normal(size=(30, 4)).astype(np.float32)
PAYLOAD = pd.DataFrame(
    {
        "doc": [f"A long docstring number {i} " * 8 for i in range(30)],  # text, but not a name (too long)
        "kind": ["function", "class", "method"] * 10,  # 3 values: the category
        "name": [f"fn_{i}" for i in range(30)],  # short, distinct: the label
    }
)
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    "\"quotes' & <b>bold</b>",
    "line\u2028separator",
    "\U0001f642 \u65e5\u672c\u8a9e " * 60,  # long unicode text
]


def collection(payload: pd.DataFrame = PAYLOAD) -> ek.Collection:
    return ek.Collection.from_arrays(VEC[: len(payload)], payload=payload)


def map_of(col: ek.Collection) -> go.Figure:
    n = len(col)
    return go.Figure(go.Scatter(x=VEC[:n, 0], y=VEC[:n, 1], mode="markers", customdata=np.array(col.ids)[:, None]))


def explore_of(page: str, index: int = 0) -> dict:
    specs = re.findall(r'<script type="application/json" id="ek-spec-\d+">(.*?)</script>', page, flags=re.S)
    return json.loads(specs[index])["explore"]


def request_line(page: str, index: int = 0) -> str:
    """The text of the index-th request summary, as a reader sees it."""
    found = re.findall(r'<p class="ek-request"><b>Request</b> (.*?)</p>', page, flags=re.S)
    return html.unescape(found[index])


def test_points_are_named_by_the_explorers_label_rule():
    col = collection()
    explore = explore_of(ek.Report("T").add(map_of(col), collection=col, k=3).to_html())
    frame = col.retrieve(list(col.ids))
    assert explore["label_field"] == label_field(frame) == "name"
    assert explore["category_field"] == category_field(frame) == "kind"
    assert explore["labels"] == {str(i): PAYLOAD["name"][i] for i in range(30)}
    assert explore["categories"] == {str(i): PAYLOAD["kind"][i] for i in range(30)}


def test_label_keyword_names_the_field_and_the_category_is_never_the_label():
    col = collection()
    explore = explore_of(ek.Report("T").add(map_of(col), collection=col, k=3, label="kind").to_html())
    assert explore["label_field"] == "kind" and explore["labels"]["4"] == "class"
    # never the name a second time: no other field has a few values, so no category at all
    assert explore["category_field"] is None and explore["categories"] == {}


def test_fruit_is_named_by_fruit_and_coloured_by_family():
    fruit = ek.datasets.load("clusters2d", as_collection=True)
    fig = go.Figure(go.Scatter(x=fruit.payload["x"], y=fruit.payload["y"], customdata=np.array(fruit.ids)[:, None]))
    explore = explore_of(ek.Report("T").add(fig, collection=fruit, k=2, max_points=10).to_html())
    assert (explore["label_field"], explore["category_field"]) == ("fruit", "family")
    assert len(explore["labels"]) == len(explore["categories"]) == len(fruit)  # every point can be found


def test_hostile_labels_stay_data_in_the_page():
    payload = pd.DataFrame({"name": HOSTILE, "kind": ["<b>a</b>", "<b>a</b>", "b", "b", "b"]})
    col = collection(payload)
    result = col.recommend(positive=[0, 1], negative=[2], limit=2)
    page = ek.Report("T").add(map_of(col), collection=col, k=2).add(result).to_html()
    explore = explore_of(page)
    assert explore["labels"]["0"] == HOSTILE[0] and explore["labels"]["4"] == HOSTILE[4][:159] + "\u2026"
    assert explore["categories"]["0"] == "<b>a</b>"
    assert "<img src=x" not in page and "<script>alert" not in page and "<b>bold" not in page
    line = request_line(page)
    assert f"positive [{name_with_id(HOSTILE[0], 0)}, {name_with_id(HOSTILE[1], 1)}]" in line
    assert f"negative [{name_with_id(HOSTILE[2], 2)}]" in line


@settings(max_examples=60, deadline=None)
@given(label=st.text(min_size=1, max_size=40), pid=st.integers(0, 10**6))
def test_any_label_is_escaped_in_a_request_summary(label, pid):
    body = {"query": {"recommend": {"positive": [pid]}}, "limit": 3}
    markup = _tables.request_html(body, {str(pid): label})
    line = re.search(r'<p class="ek-request"><b>Request</b> (.*?)</p>', markup, flags=re.S).group(1)
    assert "<" not in line and html.unescape(line).startswith(f"recommend \u00b7 positive [{name_with_id(label, pid)}]")


def test_a_map_anywhere_in_the_report_names_the_examples():
    col = collection()
    result = col.discover(target=5, context=[(1, 2)], limit=3)
    page = ek.Report("T").add(result).add(map_of(col), collection=col, k=2).to_html()  # the map comes after
    assert (
        request_line(page)
        == "discover \u00b7 target fn_5 (5) \u00b7 1 context pair(s) \u00b7 [+fn_1 (1) / \u2212fn_2 (2)] \u00b7 limit 3"
    )
    alone = ek.Report("T").add(result, collection=col, label="kind").to_html()  # a table's own collection=
    assert request_line(alone).startswith("discover \u00b7 target method (5)")
    bare = ek.Report("T").add(result).to_html()  # nothing names them: ids, as before
    assert request_line(bare).startswith("discover \u00b7 target 5 \u00b7")


def test_a_tables_examples_are_named_by_the_collections_label_field_whatever_they_are():
    # Both examples are called "dumps" (json.dumps, pickle.dumps): between those two rows alone the
    # module differs and the name does not, which once made the report name them "m0 (0), m1 (1)".
    names = ["dumps", "dumps"] + [f"fn_{i}" for i in range(28)]
    payload = pd.DataFrame({"name": names, "module": [f"m{i}" for i in range(30)]})
    col = collection(payload)
    assert label_field(payload) == "name"
    page = ek.Report("T").add(col.recommend(positive=[0, 1], limit=3), collection=col).to_html()
    assert request_line(page).startswith("recommend \u00b7 positive [dumps (0), dumps (1)]")


def test_example_ids_of_every_kind_of_request():
    assert _tables.example_ids({"query": {"recommend": {"positive": [3, {"id": 4}], "negative": [3, [0.1]]}}}) == [3, 4]
    assert _tables.example_ids({"query": {"context": [{"positive": "a", "negative": 7}]}}) == ["a", 7]
    assert _tables.example_ids({"query": {"nearest": 9}}) == [9]
    assert _tables.example_ids({"query": {"nearest": [0.5, 0.5]}}) == []
    assert _tables.example_ids(None) == []


def tied_result() -> pd.DataFrame:
    """Twelve copies of one vector: a search for it cuts among points that tie."""
    col = ek.Collection.from_arrays(np.vstack([np.ones((12, 4)), RNG.normal(size=(8, 4))]).astype(np.float32))
    return col.search([1.0, 1.0, 1.0, 1.0], limit=5)


def test_ties_are_said_above_the_table():
    result = tied_result()
    assert result.attrs["ties"]["tied"] == 12
    page = ek.Report("T").add(result).to_html()
    said = re.search(r'<p class="ek-ties" role="note">(.*?)</p>', page)
    assert said and html.unescape(said.group(1)) == results_text(result)
    assert said.start() < page.index('<table class="ek-table">')  # read before the rows


def test_row_counter_knows_how_many_rows_the_page_holds():
    col = collection()
    result = col.search(VEC[0], limit=25)
    page = ek.Report("T").add(result, max_rows=20).to_html()
    assert '<span class="ek-count" data-rows="20" aria-live="polite">25 row(s)</span>' in page


def test_a_report_of_an_explorer_names_points_by_the_explorers_label_field():
    col = ek.datasets.load("clusters2d", as_collection=True)
    explorer = ek.Explorer(col, projection="identity", label="family")
    explorer.examples = {"positive": [0]}
    page = explorer.to_report().to_html()
    assert "positive [pome (0)]" in page  # the Explorer's label=, not the report's default (fruit)
