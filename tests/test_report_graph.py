"""A neighbour graph in a report: its nodes are clickable offline like a map's points.

The report precomputes each node's nearest with the graph's own ``limit`` and ``using`` (so a
click lists the nodes its edges lead to), and the edges' line breaks are not counted as points
left out of the figure.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import explorekit as ek
from explorekit.report._neighbours import point_key


@pytest.fixture(scope="module")
def named():
    rng = np.random.default_rng(7)
    vectors = {"a": rng.normal(size=(60, 5)).astype(np.float32), "b": rng.normal(size=(60, 3)).astype(np.float32)}
    return ek.Collection.from_arrays(vectors, payload=[{"name": f"p{i}"} for i in range(60)], distance="cosine")


def spec(report: ek.Report) -> dict:
    page = report.to_html()
    text = re.search(r'<script type="application/json" id="ek-spec-0">(.*?)</script>', page, re.S).group(1)
    return json.loads(text.replace("\\u003c", "<"))


def test_clicks_list_the_graphs_own_neighbours(named):
    fig = ek.plots.graph(named, start=3, limit=4, depth=2, using="b")
    nodes, edges = ek.analysis.neighbour_graph(named, 3, limit=4, depth=2, using="b")
    explore = spec(ek.Report("graph").add(fig, collection=named))["explore"]
    assert explore["k"] == 4 and explore["using"] == "b"
    for source, out in edges.groupby("source", sort=False):
        got = explore["neighbours"][point_key(source)]
        assert [g[0] for g in got] == [point_key(t) for t in out["target"]]
        np.testing.assert_allclose([g[1] for g in got], out["score"], atol=1e-6)
    assert set(explore["xy"]) == {point_key(i) for i in nodes["id"]}  # nodes only, not edge midpoints


def test_edge_gaps_are_not_points_left_out(named):
    fig = ek.plots.graph(named, start=3, limit=3, depth=2, using="a")
    page = ek.Report("graph").add(fig, collection=named, using="a").to_html()
    assert "not drawn" not in page


def test_explicit_k_and_using_win(named):
    fig = ek.plots.graph(named, start=3, limit=3, depth=1, using="a")
    explore = spec(ek.Report("graph").add(fig, collection=named, k=2, using="b"))["explore"]
    assert explore["k"] == 2 and explore["using"] == "b"
    expected = named.search(3, using="b", limit=2)["id"].tolist()
    assert [n[0] for n in explore["neighbours"]["3"]] == [point_key(i) for i in expected]
