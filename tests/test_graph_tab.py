"""The Explorer's graph tab, driven without a browser (what plotly and the front end would send).

Clicks go through each node trace's own click dispatch; every number must equal the public API's
(ek.analysis.neighbour_graph / expand, col.recommend) for the same arguments.
"""

from __future__ import annotations

import pandas as pd
import pytest
from plotly.callbacks import Points

import explorekit as ek
from explorekit.analysis.graph import expand, neighbour_graph


@pytest.fixture()
def explorer(fruit):
    return ek.Explorer(fruit, projection="auto", color="fruit")


def node_traces(tab):
    return [t for t in tab.figure.data if (t.meta or {}).get("role") == "nodes"]


def click_node(tab, point_id) -> None:
    """What plotly does on a click: every node trace's handler runs; the one holding the point gets it."""
    for k, trace in enumerate(tab.figure.data):
        if (trace.meta or {}).get("role") != "nodes":
            continue
        ids = trace.customdata[:, 0].tolist()
        inds = [ids.index(point_id)] if point_id in ids else []
        trace._dispatch_on_click(Points(point_inds=inds, xs=[], ys=[], trace_name=trace.name, trace_index=k), None)


def test_the_graph_tab_starts_at_the_first_example(explorer, fruit):
    assert "graph" in explorer.tabs.titles
    explorer.examples = {"positive": [7]}
    explorer.show_tab("graph")
    tab = explorer.graph_tab
    expected = neighbour_graph(fruit, 7, limit=3, depth=1)
    pd.testing.assert_frame_equal(tab.graph.nodes, expected.nodes)
    assert sorted(i for t in node_traces(tab) for i in t.customdata[:, 0].tolist()) == sorted(expected.nodes["id"])


def test_a_click_expands_the_node(explorer, fruit):
    tab = explorer.graph_tab
    tab.start(7)
    first = tab.graph
    leaf = first.nodes["id"].iloc[2]
    click_node(tab, leaf)
    grown = expand(fruit, first, [leaf])
    pd.testing.assert_frame_equal(tab.graph.nodes, grown.nodes)
    pd.testing.assert_frame_equal(tab.graph.edges, grown.edges)
    assert len(node_traces(tab)) == 3  # start, 1 hop, 2 hops
    assert "new node(s)" in tab.status.value


def test_a_click_can_add_a_positive_or_negative_example(explorer, fruit):
    tab = explorer.graph_tab
    tab.start(7)
    near = tab.graph.nodes["id"].iloc[1]
    tab.action.set_state({"index": 1})  # what the browser sends for "positive"
    click_node(tab, near)
    far = tab.graph.nodes["id"].iloc[3]
    tab.action.set_state({"index": 2})  # "negative"
    click_node(tab, far)
    assert explorer.examples["positive"] == [near] and explorer.examples["negative"] == [far]
    pd.testing.assert_frame_equal(explorer.result, fruit.recommend(positive=[near], negative=[far]))
    assert len(tab.graph.nodes) == 4  # adding examples does not grow the graph


def test_the_explorer_filter_applies_to_neighbours(explorer, fruit):
    explorer.filter_box.value = "fruit == 'plum'"
    tab = explorer.graph_tab
    tab.start_box.value = "7"
    plums = set(fruit.scroll(filter="fruit == 'plum'")["id"])
    assert set(tab.graph.nodes["id"].iloc[1:]) <= plums


def test_typed_query_and_bad_start_show_in_the_status(explorer, fruit):
    tab = explorer.graph_tab
    tab.start_box.value = "fruit == 'pear'"
    assert tab.graph.nodes["id"].iloc[0] == fruit.scroll(filter="fruit == 'pear'", limit=1)["id"][0]
    tab.start_box.value = "123456"
    assert "123456" in tab.status.value and "&#9888;" in tab.status.value
    assert tab.graph.nodes["id"].iloc[0] == fruit.scroll(filter="fruit == 'pear'", limit=1)["id"][0]  # unchanged
