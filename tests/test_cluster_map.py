"""ek.plots.map(col, clusters=...): the map coloured by cluster, each cluster labelled apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_clusters import SIZES, planted

import explorekit as ek
from explorekit.plots._clusters import _overlap, label_boxes, place_labels, units_per_px


@pytest.fixture(scope="module")
def clustered():
    col, truth = planted("euclid", dim=2)
    found = ek.analysis.clusters(col, sample=80, limit=10, min_cluster_size=8, seed=1)
    return col, found


def test_traces_by_cluster_then_noise_then_unsampled(clustered):
    col, found = clustered
    fig = ek.plots.map(col, clusters=found)
    by_cluster = {t.meta["cluster"]: t for t in fig.data}
    labels = found.labels
    for c, members in labels.groupby("cluster"):
        assert sorted(by_cluster[c].customdata[:, 0].tolist()) == sorted(members["id"].tolist())
    unsampled = set(col.ids.tolist()) - set(labels["id"])
    assert len(unsampled) == len(col) - 80
    assert sorted(by_cluster[-2].customdata[:, 0].tolist()) == sorted(unsampled)
    order = [t.meta["cluster"] for t in fig.data]
    assert order == sorted(order) and order[0] == -2  # grey underneath
    ranks = [t.legendrank for t in sorted(fig.data, key=lambda t: t.legendrank)]
    listed = sorted(c for c in order if c >= 0) + [c for c in (-1, -2) if c in by_cluster]
    assert [by_cluster[c].legendrank for c in listed] == ranks
    first = by_cluster[0]
    size = int((labels["cluster"] == 0).sum())
    assert first.name == f"0 \u00b7 {found.summary['label'][0]} ({size})"


def test_one_label_per_cluster_apart_from_the_others(clustered):
    col, found = clustered
    fig = ek.plots.map(col, clusters=found)
    notes = list(fig.layout.annotations)
    assert [a.text for a in notes] == [
        f"{c} \u00b7 {label.split(', ')[0]}" for c, label in zip(found.summary["cluster"], found.summary["label"])
    ]
    coords = ek.projection.project(col).set_index("id")
    for c, note in zip(found.summary["cluster"], notes):
        members = found.labels.loc[found.labels["cluster"] == c, "id"]
        middle = coords.loc[members, ["x", "y"]].median().to_numpy()
        np.testing.assert_allclose([note.x, note.y], middle, rtol=1e-5)  # the arrow points at the middle


@settings(max_examples=30, deadline=None)
@given(
    middles=st.lists(st.tuples(st.floats(0, 10), st.floats(0, 10)), min_size=1, max_size=12),
    words=st.lists(st.text("abcdefgh =", min_size=1, max_size=30), min_size=12, max_size=12),
)
def test_placed_labels_do_not_overlap(middles, words):
    middles = np.array(middles)
    words = words[: len(middles)]
    scale = units_per_px(np.array([10.0, 10.0]), equal=True)
    spots = place_labels(middles, words, scale)
    boxes = label_boxes(words, scale)
    for i in range(len(spots)):
        for j in range(i):
            assert not _overlap(spots[i], *boxes[i], (*spots[j], *boxes[j]))


def test_a_label_already_free_stays_at_its_middle():
    spots = place_labels(np.array([[0.0, 0.0], [100.0, 100.0]]), ["a", "b"], np.array([0.01, 0.01]))
    assert spots == [(0.0, 0.0), (100.0, 100.0)]


def test_bad_input(clustered):
    col, found = clustered
    with pytest.raises(ek.ExploreError, match="not both"):
        ek.plots.map(col, clusters=found, color="group")
    with pytest.raises(ek.ExploreError, match="not a clustering"):
        ek.plots.map(col, clusters=[0, 1])


def test_a_plain_frame_of_labels_works(clustered):
    col, found = clustered
    fig = ek.plots.map(col, clusters=pd.DataFrame({"id": found.labels["id"], "cluster": found.labels["cluster"]}))
    assert next(t for t in fig.data if t.meta["cluster"] == 0).name.startswith("cluster 0 (")
    assert len(fig.layout.annotations) == len(found.summary) and sum(SIZES) == len(col)
