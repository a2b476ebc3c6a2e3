"""ek.analysis.clusters: clusters from the distance matrix, their medoids and what sets them apart.

Planted clusters are found (every distance, HDBSCAN and DBSCAN), the pieces are checked by hand
(scores to distances, medoids by shortest paths, lifts from facet counts), and bad input names
the fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import explorekit as ek
from explorekit.analysis.clusters import clusters, connected, distances, medoid_rows, over_represented

SIZES = (40, 30, 20)


def planted(distance: str, seed: int = 0, dim: int = 8) -> tuple[ek.Collection, np.ndarray]:
    """Three tight groups far apart; payload ``group`` (the truth) and ``colour`` (noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim))
    centres *= 10 / np.linalg.norm(centres, axis=1, keepdims=True)  # one norm: dot's scores are comparable
    truth = np.repeat(np.arange(3), SIZES)
    points = centres[truth] + rng.normal(size=(len(truth), dim)) * 0.3
    payload = pd.DataFrame({"group": [f"g{t}" for t in truth], "colour": rng.choice(["red", "blue"], len(truth))})
    ids = rng.permutation(1000)[: len(truth)]  # ids out of order, not row numbers
    return ek.Collection.from_arrays(points, ids=ids.tolist(), payload=payload, distance=distance), truth


def same_partition(a, b) -> bool:
    pairs = set(zip(a, b))
    return len(pairs) == len(set(a)) == len(set(b))


@pytest.mark.parametrize("distance", ["cosine", "dot", "euclid", "manhattan"])
@pytest.mark.parametrize("method", ["hdbscan", "dbscan"])
def test_planted_clusters_are_found(distance, method):
    col, truth = planted(distance)
    found = clusters(col, sample=len(col), limit=10, method=method, min_cluster_size=10)
    by_id = dict(zip(col.ids.tolist(), truth))
    labels = found.labels
    assert sorted(labels["id"]) == sorted(col.ids.tolist())
    kept = labels[labels["cluster"] >= 0]
    assert len(kept) >= 0.95 * len(labels)  # dot's scores favour long vectors: a point or two of noise
    assert same_partition(kept["cluster"].tolist(), [by_id[i] for i in kept["id"]])
    summary = found.summary
    assert summary["size"].tolist() == kept["cluster"].value_counts().sort_index().tolist()
    if method == "hdbscan" or distance != "dot":
        assert summary["size"].tolist() == list(SIZES)  # all found, numbered by size
    assert summary["label"].tolist() == ["group=g0", "group=g1", "group=g2"]
    for c, medoid in zip(summary["cluster"], summary["medoid"]):
        assert labels.set_index("id").loc[medoid, "cluster"] == c


def test_lifts_by_hand():
    col, truth = planted("euclid")
    found = clusters(col, sample=len(col), limit=10, min_cluster_size=10, keys=["group"])
    top = found.values[found.values["cluster"] == 2].iloc[0]
    # g2 holds 20 of 90 points; inside its cluster 20 of 20: lift 90 / 20
    assert (top["key"], top["value"], top["count"], top["share"], top["overall"]) == ("group", "g2", 20, 1.0, 20)
    assert top["lift"] == pytest.approx(4.5)
    assert "colour" not in set(found.values["key"])


def test_over_represented_from_facets():
    payload = pd.DataFrame(
        {"k": ["a", "a", "a", "b", "b", "b", "b", "b"], "t": [["x"], ["x", "y"], [], ["y"], [], [], [], []]}
    )
    col = ek.Collection.from_arrays(np.eye(8), payload=payload)
    labels = pd.DataFrame({"id": list(range(8)), "cluster": [0, 0, 0, 0, 1, 1, 1, -1]})
    values = over_represented(col, labels, ["k", "t"], min_share=0.25, min_lift=1.2)
    rows = values[["cluster", "key", "value", "count", "overall"]].values.tolist()
    # cluster 0 (ids 0-3): k=a 3/4 vs 3/8 -> lift 2; t=x 2/4 vs 2/8 -> 2; t=y 2/4 vs 2/8 -> 2
    # cluster 1 (ids 4-6): k=b 3/3 vs 5/8 -> 1.6
    assert sorted(rows) == [[0, "k", "a", 3, 3], [0, "t", "x", 2, 2], [0, "t", "y", 2, 2], [1, "k", "b", 3, 5]]
    assert values.loc[values["value"] == "b", "lift"].item() == pytest.approx(1.6)
    assert values["cluster"].tolist()[:1] == [0] and values["value"].tolist()[0] == "a"  # 3/4*log 2 first


def test_scores_become_symmetric_distances():
    m = sp.csr_matrix(([0.9, 0.4, 0.5], ([0, 1, 2], [1, 2, 0])), shape=(3, 3))
    cos = distances(m, "cosine").toarray()
    np.testing.assert_allclose(cos, [[0, 0.1, 0.5], [0.1, 0, 0.6], [0.5, 0.6, 0]], atol=1e-8)
    dot = distances(m, "dot").toarray()  # max score 0.9 -> 0
    np.testing.assert_allclose(dot, [[0, 0, 0.4], [0, 0, 0.5], [0.4, 0.5, 0]], atol=1e-8)
    assert distances(m, "dot")[0, 1] > 0  # the closest pair stays an edge
    np.testing.assert_allclose(distances(m, "euclid").toarray(), [[0, 0.9, 0.5], [0.9, 0, 0.4], [0.5, 0.4, 0]])


def test_medoid_is_the_centre_of_a_path():
    # a chain 0 - 1 - 2 - 3 - 4 with unit edges: the middle has the smallest sum of path lengths
    rows, cols = [0, 1, 2, 3], [1, 2, 3, 4]
    g = distances(sp.csr_matrix((np.ones(4), (rows, cols)), shape=(5, 5)), "euclid")
    assert medoid_rows(g, np.zeros(5, dtype=int)) == {0: 2}
    assert medoid_rows(g, np.array([1, 1, -1, 0, 0])) == {0: 3, 1: 0}  # ties: the first row


def test_connected_chains_separate_parts():
    g = distances(sp.csr_matrix(([1.0, 2.0], ([0, 2], [1, 3])), shape=(4, 4)), "euclid")
    joined = connected(g)
    from scipy.sparse import csgraph

    assert csgraph.connected_components(joined, directed=False)[0] == 1
    assert joined.nnz == g.nnz + 2 and joined.max() == pytest.approx(20.0)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), sample=st.integers(10, 60), limit=st.integers(2, 8))
def test_labels_cover_the_sample(seed, sample, limit):
    col, _ = planted("cosine", seed=seed)
    found = clusters(col, sample=sample, limit=limit, min_cluster_size=5, seed=seed)
    labels = found.labels
    assert len(labels) == min(sample, len(col)) and labels["id"].is_unique
    assert set(labels["id"]) <= set(col.ids.tolist())
    sizes = labels[labels["cluster"] >= 0]["cluster"].value_counts().sort_index()
    assert found.summary["size"].tolist() == sizes.tolist()
    assert found.summary["size"].is_monotonic_decreasing
    assert ((found.values["share"] >= 0.2) & (found.values["lift"] >= 1.5)).all()


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"method": "kmeans"}, ek.RequestError, "hdbscan"),
        ({"limit": 3, "min_samples": 4}, ek.RequestError, "min_samples=4 is more than limit=3"),
        ({"filter": {"must": [{"key": "group", "match": {"value": "none"}}]}}, ek.RequestError, "at least 2"),
        ({"method": "dbscan", "eps": "far"}, ek.RequestError, "eps"),
        ({"keys": ["grup"]}, ek.ExploreError, "group"),
    ],
)
def test_bad_input(kwargs, error, fragment):
    col, _ = planted("euclid")
    with pytest.raises(error, match=fragment):
        clusters(col, **kwargs)


def test_same_clusters_through_qdrant():
    """The server computes the matrix and the facets; the clustering is the same."""
    col, _ = planted("cosine")
    remote = ek.connect(":memory:").upload(col, "clusters_check", progress=False)
    here = clusters(col, sample=len(col), limit=10, min_cluster_size=10)
    there = clusters(remote, sample=len(col), limit=10, min_cluster_size=10)
    pd.testing.assert_frame_equal(
        here.labels.sort_values("id").reset_index(drop=True), there.labels.sort_values("id").reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(here.summary, there.summary)
    pd.testing.assert_frame_equal(here.values, there.values)
