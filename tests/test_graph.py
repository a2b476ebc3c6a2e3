"""The neighbour graph (ek.analysis.graph) and its figure (ek.plots.graph).

Hand-computed graphs on points of a line, breadth-first properties against numpy brute force on
random data, the same graph through a Qdrant-backed collection, and the figure's data: node
ids and hover, one edge per linked pair, wider edges for closer pairs, map positions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import explorekit as ek
from explorekit.analysis.graph import expand, neighbour_graph
from explorekit.plots._graph import strength

LINE = [[0.0], [1.0], [3.0], [7.0], [15.0]]


@pytest.fixture(scope="module")
def line():
    kinds = [{"kind": k, "n": i} for i, k in enumerate("aabab")]
    return ek.Collection.from_arrays(LINE, distance="euclid", payload=kinds)


def roles(fig, role):
    return [t for t in fig.data if (t.meta or {}).get("role") == role]


def test_line_graph_by_hand(line):
    # from 15: nearest 7 (8), then 3 (12); from 7: 3 (4), 1 (6); from 3: 1 (2), 0 (3)
    nodes, edges = neighbour_graph(line, 4, limit=2, depth=2)
    assert nodes[["id", "depth", "expanded"]].values.tolist() == [
        [4, 0, True],
        [3, 1, True],
        [2, 1, True],
        [1, 2, False],
        [0, 2, False],
    ]
    assert edges[["source", "target", "score", "rank"]].values.tolist() == [
        [4, 3, 8.0, 1],
        [4, 2, 12.0, 2],
        [3, 2, 4.0, 1],
        [3, 1, 6.0, 2],
        [2, 1, 2.0, 1],
        [2, 0, 3.0, 2],
    ]
    assert not edges["mutual"].any()  # 2's nearest are 1 and 0, not 3
    assert nodes["kind"].tolist() == ["b", "a", "b", "a", "a"]  # payload, in node order
    assert nodes.attrs["graph"]["distance"] == "euclid" and not nodes.attrs["graph"]["truncated"]


def test_depth_zero_is_the_start_alone(line):
    nodes, edges = neighbour_graph(line, 2, depth=0)
    assert nodes["id"].tolist() == [2] and len(edges) == 0 and list(edges.columns)[:3] == ["source", "target", "score"]


def test_filter_applies_to_neighbours_not_the_start(line):
    nodes, edges = neighbour_graph(
        line, 4, limit=2, depth=2, filter={"must": [{"key": "kind", "match": {"value": "a"}}]}
    )
    assert nodes["id"].tolist() == [4, 3, 1, 0]  # 4 is "b" but it is the start
    assert set(nodes["kind"].iloc[1:]) == {"a"}
    assert edges[["source", "target"]].values.tolist() == [[4, 3], [4, 1], [3, 1], [3, 0], [1, 0], [1, 3]]
    assert edges["mutual"].tolist() == [False, False, True, False, False, True]


def test_max_nodes_stops_growth_and_says_so(line):
    nodes, edges = neighbour_graph(line, 4, limit=2, depth=3, max_nodes=3)
    assert nodes["id"].tolist() == [4, 3, 2]
    assert nodes.attrs["graph"]["truncated"]
    assert set(edges["target"]) <= {4, 3, 2}


def test_expand_adds_one_node_and_leaves_the_graph_alone(line):
    graph = neighbour_graph(line, 4, limit=1, depth=1)
    grown = expand(line, graph, [3])
    assert graph.nodes["id"].tolist() == [4, 3] and len(graph.edges) == 1
    assert grown.nodes["id"].tolist() == [4, 3, 2] and grown.nodes["depth"].tolist() == [0, 1, 2]
    assert grown.nodes["kind"].tolist() == ["b", "a", "b"]
    assert expand(line, grown, [3]) is grown  # already expanded: nothing to ask
    with pytest.raises(ek.RequestError, match=r"not in the graph"):
        expand(line, graph, [0])


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"start": 99}, ek.UnknownIdError, "99"),
        ({"start": 0, "depth": -1}, ek.RequestError, "depth"),
        ({"start": 0, "limit": 0}, ek.RequestError, "limit"),
        ({"start": 0, "using": "image"}, ek.UnknownVectorError, "image"),
    ],
)
def test_bad_input(line, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        neighbour_graph(line, **kwargs)


def brute_top(vectors: np.ndarray, row: int, limit: int) -> set[int]:
    """Row numbers of the ``limit`` nearest (cosine) to ``row``, ties at the cut included."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit @ unit[row]
    scores[row] = -np.inf
    cut = np.sort(scores)[::-1][limit - 1]
    return set(np.flatnonzero(scores >= cut - 1e-6).tolist())


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(5, 40),
    limit=st.integers(1, 5),
    depth=st.integers(0, 3),
)
def test_breadth_first_properties(seed, n, limit, depth):
    vectors = np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32)
    col = ek.Collection.from_arrays(vectors)
    nodes, edges = neighbour_graph(col, 0, limit=limit, depth=depth)
    depth_of = dict(zip(nodes["id"], nodes["depth"]))
    assert nodes["id"].is_unique and depth_of[0] == 0
    assert not (edges["source"] == edges["target"]).any()  # a point is never its own neighbour
    for source, out in edges.groupby("source", sort=False):
        assert depth_of[source] < depth  # only nodes above the last level are expanded
        assert len(out) == min(limit, n - 1)
        assert set(out["target"]) <= brute_top(vectors, source, limit)
        assert out["score"].is_monotonic_decreasing
    expanded = set(nodes.loc[nodes["expanded"], "id"])
    assert expanded == set(nodes.loc[nodes["depth"] < depth, "id"])
    for node, d in depth_of.items():  # a node's depth is one more than its nearest source's
        if node != 0:
            assert d == 1 + min(depth_of[s] for s in edges.loc[edges["target"] == node, "source"])


def test_same_graph_through_qdrant(text):
    small = ek.Collection.from_arrays(text.vectors()[:300], payload=text.payload.iloc[:300].reset_index(drop=True))
    remote = ek.connect(":memory:").upload(small, "graph_check")
    here = neighbour_graph(small, 5, limit=3, depth=2, with_payload=["qualname"])
    there = neighbour_graph(remote, 5, limit=3, depth=2, with_payload=["qualname"])
    pd.testing.assert_frame_equal(here.nodes, there.nodes, check_dtype=False)
    pd.testing.assert_frame_equal(
        here.edges.drop(columns="score"), there.edges.drop(columns="score"), check_dtype=False
    )
    np.testing.assert_allclose(here.edges["score"], there.edges["score"], atol=1e-5)


# ---------------------------------------------------------------------------------------- figure
def test_figure_nodes_carry_ids_and_hover(line):
    fig = ek.plots.graph(line, start=4, limit=2, depth=2, label="kind", hover_data=["n"])
    nodes = roles(fig, "nodes")
    assert [t.name for t in nodes] == ["start", "1 hop", "2 hops"]
    assert [t.customdata[:, 0].tolist() for t in nodes] == [[4], [3, 2], [1, 0]]
    assert list(nodes[1].text) == ["a", "b"]
    assert nodes[2].hovertext[0] == "2 hops (not expanded)<br>id 1<br>n: 1"
    assert fig.layout.meta["graph"] == {"start": 4, "limit": 2, "depth": 2, "using": None, "distance": "euclid"}


def test_figure_hover_of_payload_missing_for_every_shown_node():
    payload = [{"color": None}, {"color": "blue"}, {}]
    col = ek.Collection.from_arrays([[0.0], [1.0], [3.0]], distance="euclid", payload=payload)
    start = roles(ek.plots.graph(col, start=0, depth=0), "nodes")[0]  # raised TypeError: 'add' str/object
    assert list(start.hovertext) == ["start (not expanded)<br>id 0<br>color: -"]
    hop = roles(ek.plots.graph(col, start=1, limit=2, depth=1), "nodes")[1]  # some missing: was NaN text
    assert sorted(hop.hovertext) == [
        "1 hop (not expanded)<br>id 0<br>color: -",
        "1 hop (not expanded)<br>id 2<br>color: -",
    ]


def test_figure_draws_each_pair_once_wider_when_closer(line):
    fig = ek.plots.graph(line, start=4, limit=2, depth=2)
    segments = [(len(t.x) // 3, t.line.width) for t in roles(fig, "edges")]
    assert sum(count for count, _ in segments) == 6
    widths = {t.name: t.line.width for t in roles(fig, "edges")}
    assert widths["score 2\u20134"] > widths["score 12\u201312"]  # smaller distance, wider line
    only_a = {"must": [{"key": "kind", "match": {"value": "a"}}]}
    fig = ek.plots.graph(line, start=4, limit=2, depth=2, filter=only_a)
    labels = roles(fig, "edge_labels")[0]
    assert len(labels.x) == 5  # 3 <-> 1 once
    assert list(labels.text)[:3] == ["4 \u2192 3<br>score 8", "4 \u2192 1<br>score 14", "3 \u2194 1<br>score 6"]


def test_strength_runs_from_far_to_close():
    np.testing.assert_allclose(strength(pd.DataFrame({"score": [0.2, 0.8, 0.5]}), "dot"), [0.0, 1.0, 0.5])
    assert strength(pd.DataFrame({"score": [5.0, 1.0]}), "manhattan").tolist() == [0.0, 1.0]
    assert strength(pd.DataFrame({"score": [0.3, 0.3]}), "cosine").tolist() == [1.0, 1.0]


def test_figure_on_map_positions(line):
    positions = pd.DataFrame({"id": [0, 1, 2, 3, 4], "x": [0.0, 1, 2, 3, 4], "y": [9.0, 8, 7, 6, 5]})
    fig = ek.plots.graph(line, start=4, limit=2, depth=1, positions=positions)
    nodes = roles(fig, "nodes")
    assert nodes[1].x.tolist() == [3.0, 2.0] and nodes[1].y.tolist() == [6.0, 7.0]
    edges = roles(fig, "edges")
    assert sorted(v for t in edges for v in t.x if v is not None) == [2.0, 3.0, 4.0, 4.0]
    with pytest.raises(ek.ExploreError, match="no coordinates"):
        ek.plots.graph(line, start=4, limit=2, depth=1, positions=positions.iloc[:3])


def test_figure_layout_is_seeded(line):
    one = ek.plots.graph(line, start=4, limit=2, depth=2, seed=3)
    two = ek.plots.graph(line, start=4, limit=2, depth=2, seed=3)
    assert [t.x.tolist() for t in roles(one, "nodes")] == [t.x.tolist() for t in roles(two, "nodes")]


def test_figure_bad_input(line):
    with pytest.raises(ek.ExploreError, match="start="):
        ek.plots.graph(line)
    with pytest.raises(ek.ExploreError, match="label"):
        ek.plots.graph(line, start=0, label="knd")


def test_payload_keys_named_like_node_columns_are_kept_apart():
    col = ek.Collection.from_arrays(
        LINE, distance="euclid", payload=[{"depth": 10 * i, "expanded": "x"} for i in range(5)]
    )
    graph = neighbour_graph(col, 4, limit=1, depth=1)
    assert list(graph.nodes.columns) == ["id", "depth", "expanded", "payload.depth", "payload.expanded"]
    assert graph.nodes["depth"].tolist() == [0, 1] and graph.nodes["payload.depth"].tolist() == [40, 30]
    grown = expand(col, graph, [3])
    assert grown.nodes["payload.depth"].tolist() == [40, 30, 20]
