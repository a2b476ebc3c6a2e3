"""The worked examples of docs/qdrant-semantics.md ("Worked examples"), with hand-computed
expectations, checked against explorekit and (the same requests) against both oracles."""

from __future__ import annotations

import pytest
from oracle import Trio, assert_same, ids_scores


@pytest.fixture(scope="module")
def cos():
    return Trio([[1, 0], [0, 1], [3, 4], [4, 3], [-1, 0], [12, -5]], ids=[1, 2, 3, 4, 5, 6], distance="cosine")


@pytest.fixture(scope="module")
def euc():
    return Trio([[0, 0], [1, 0], [2, 0], [3, 0], [10, 0]], ids=[1, 2, 3, 4, 5], distance="euclid")


@pytest.fixture(scope="module")
def dot():
    return Trio([[1, 0], [0, 2], [3, 4], [-1, -1]], ids=[1, 2, 3, 4], distance="dot")


@pytest.fixture(scope="module")
def man():
    return Trio([[0, 0], [1, 1], [2, 0], [-3, 1]], ids=[1, 2, 3, 4], distance="manhattan")


def expect(trio, kind, want, *, oracles=("local", "edge"), **kw):
    got = ids_scores(trio.ek(kind, **kw))
    assert_same(got, want, rel=1e-5, abs_=1e-6, label="hand")
    if "local" in oracles:
        assert_same(got, trio.local(kind, **kw), label="local")
    if "edge" in oracles:
        assert_same(got, trio.edge_query(kind, **kw), label="edge")


def test_example_a(cos):
    kw = dict(positive=[1], negative=[2])
    expect(cos, "recommend", [(6, 0.997630), (4, 0.447214), (3, 0.178885), (5, -0.894427)], **kw)
    expect(cos, "recommend", [(6, 0.74), (4, 0.722222), (5, -0.5), (3, -0.722222)], strategy="best_score", **kw)
    expect(cos, "recommend", [(6, 1.307692), (4, 0.2), (3, -0.2), (5, -1.0)], strategy="sum_scores", **kw)
    expect(cos, "recommend", [(6, 0.74)], strategy="best_score", score_threshold=0.7222222, **kw)


def test_example_a_offset_raw(cos):
    # raw vectors: nothing excluded; the first (id 1: 0.75) is skipped by offset
    expect(
        cos,
        "recommend",
        [(6, 0.74), (4, 0.722222)],
        positive=[[1, 0]],
        negative=[[0, 1]],
        strategy="best_score",
        limit=2,
        offset=1,
    )


def test_example_b(cos):
    expect(
        cos,
        "recommend",
        [(6, -0.361111), (1, -0.5), (5, -0.5), (4, -0.6875), (3, -0.722222)],
        negative=[2],
        strategy="best_score",
    )
    expect(
        cos, "recommend", [(6, 0.384615), (1, 0.0), (5, 0.0), (4, -0.6), (3, -0.8)], negative=[2], strategy="sum_scores"
    )


def test_example_c(cos):
    expect(cos, "discover", [(3, 1.722222), (4, 1.6875), (6, 1.361111), (2, 0.75)], target=[0, 1], context=[(1, 5)])
    expect(cos, "discover", [(4, 0.0), (6, 0.0), (3, -0.166667), (5, -0.5)], target=None, context=[(1, 2)])
    expect(cos, "discover", [(4, 0.0), (6, 0.0), (3, -0.166667)], target=None, context=[(1, 2)], score_threshold=-0.2)


def test_example_d(euc):
    expect(euc, "search", [(1, 0.0), (2, 1.0), (3, 2.0), (4, 3.0), (5, 10.0)], query=[0, 0])
    expect(euc, "search", [(1, 0.0), (2, 1.0)], query=[0, 0], score_threshold=2.0)
    expect(
        euc,
        "recommend",
        [(1, 8.0), (2, 9.0), (3, 10.0), (4, 11.0), (5, 18.0)],
        positive=[[0, 0], [2, 0]],
        negative=[[10, 0]],
    )
    expect(euc, "recommend", [(2, 9.0), (4, 11.0)], positive=[1, 3], negative=[5])
    expect(euc, "recommend", [(2, 9.0)], positive=[1, 3], negative=[5], score_threshold=10.0)
    expect(
        euc,
        "recommend",
        [(1, 0.5), (2, 0.25), (3, 0.1), (4, 0.05), (5, 1 / 202)],
        positive=[[0, 0]],
        strategy="best_score",
    )
    expect(euc, "recommend", [(2, 0.25), (3, 0.1), (4, 0.05), (5, 1 / 202)], positive=[1], strategy="best_score")
    expect(
        euc,
        "recommend",
        [(1, 100), (2, 80), (3, 60), (4, 40), (5, -100)],
        positive=[[0, 0]],
        negative=[[10, 0]],
        strategy="sum_scores",
    )


def test_example_e_and_threshold_quirk(euc):
    expect(
        euc,
        "discover",
        [(1, 0.0), (2, 0.0), (3, 0.0), (4, 0.0), (5, -100 / 101)],
        target=None,
        context=[([0, 0], [10, 0])],
    )
    expect(
        euc,
        "discover",
        [(4, 1.5), (3, 1.25), (2, 1.1), (1, 1.05), (5, -0.99)],
        target=[3, 0],
        context=[([0, 0], [10, 0])],
    )
    # threshold follows the collection distance even for best_score: an upper bound on euclid
    expect(euc, "recommend", [], positive=[[0, 0]], strategy="best_score", score_threshold=0.05)
    expect(
        euc,
        "recommend",
        [(1, 0.5), (2, 0.25), (3, 0.1), (4, 0.05), (5, 1 / 202)],
        positive=[[0, 0]],
        strategy="best_score",
        score_threshold=0.6,
    )


def test_example_e_target_only(euc):
    # target only, no pairs: local mode refuses an empty context; edge (the server) accepts it
    expect(
        euc,
        "discover",
        [(4, 0.5), (3, 0.25), (2, 0.1), (1, 0.05), (5, 0.01)],
        target=[3, 0],
        context=[],
        oracles=("edge",),
    )


def test_empty_context_scores_zero_like_the_server(euc):
    got = ids_scores(euc.ek("discover", target=None, context=[]))
    assert sorted(got) == [(1, 0.0), (2, 0.0), (3, 0.0), (4, 0.0), (5, 0.0)]
    assert_same(got, euc.edge_query("discover", target=None, context=[]))


def test_example_f(cos):
    expect(
        cos,
        "recommend",
        [(3, 0.989949), (4, 0.989949), (1, 0.707107), (2, 0.707107), (6, 0.380750), (5, -0.707107)],
        positive=[[3, 4], [1, 0]],
    )
    expect(cos, "recommend", [(4, 0.983870), (6, 0.653620), (2, 0.447214), (5, -0.894427)], positive=[3, 1])


def test_example_g(dot):
    expect(dot, "search", [(3, 7.0), (2, 2.0), (1, 1.0), (4, -2.0)], query=[1, 1])
    expect(
        dot,
        "recommend",
        [(3, 0.9375), (2, 0.833333), (4, -0.25), (1, -0.75)],
        positive=[[1, 1]],
        negative=[[1, 0]],
        strategy="best_score",
    )
    expect(
        dot,
        "recommend",
        [(3, 4.0), (2, 2.0), (1, 0.0), (4, -1.0)],
        positive=[[1, 1]],
        negative=[[1, 0]],
        strategy="sum_scores",
    )


def test_manhattan_check(man):
    expect(man, "recommend", [(1, 0.5), (2, 1 / 6), (3, 1 / 6), (4, 0.1)], positive=[[0, 0]], strategy="best_score")
    expect(man, "search", [(1, 0.0), (2, 2.0), (3, 2.0), (4, 4.0)], query=[0, 0])


def test_stored_cosine_vectors_are_normalised(cos):
    frame = cos.col.retrieve([3, 6], with_vectors=True)
    assert frame["vector"][0].tolist() == pytest.approx([0.6, 0.8])
    assert frame["vector"][1].tolist() == pytest.approx([0.9230769, -0.3846154])


def test_tie_rule_is_insertion_order(cos):
    got = cos.col.discover(context=[(1, 2)])["id"].tolist()
    assert got[:2] == [4, 6]  # 0.0 tie: 4 was inserted before 6
