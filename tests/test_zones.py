"""zones: discovery ranks and context losses over every point and over the plane."""

from __future__ import annotations

import numpy as np
import pytest

import explorekit as ek
from explorekit.analysis import zones
from tests.oracle import Trio
from tests.oracle import reference_similarity as _sim


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(3).normal(size=(80, 4)).astype(np.float32)


@pytest.mark.oracle
@pytest.mark.parametrize("distance", ["cosine", "dot", "euclid", "manhattan"])
@pytest.mark.parametrize("target", [0, None])
def test_every_point_scores_as_qdrant_scores_it(data, distance, target):
    trio = Trio(data, distance=distance, edge=False)
    kw = dict(context=[(1, 2), (3, 4), (5, 6)])
    if target is not None:
        kw["target"] = target
    z = zones.points(trio.col, **kw)
    want = dict(trio.local("discover", limit=len(data), **kw))
    eligible = z[z["eligible"]]
    assert set(eligible["id"]) == set(want)
    np.testing.assert_allclose(eligible["score"], [want[i] for i in eligible["id"]], rtol=1e-5, atol=2e-6)
    ids = [1, 2, 3, 4, 5, 6] + ([target] if target is not None else [])
    assert not z.loc[z["id"].isin(ids), "eligible"].any()


@pytest.mark.parametrize("distance", ["cosine", "euclid"])
def test_discovery_columns(data, distance):
    col = ek.Collection.from_arrays(data, distance=distance)
    z = zones.points(col, target=data[0].tolist(), context=[(1, 2), (3, data[4].tolist())])
    signs = np.vstack(
        [np.sign(_sim(data[[p]], data, distance)[0] - _sim(data[[n]], data, distance)[0]) for p, n in [(1, 2), (3, 4)]]
    )
    np.testing.assert_array_equal(z[["pair_0", "pair_1"]].to_numpy().T, signs)
    np.testing.assert_array_equal(z["rank"], signs.sum(0))
    np.testing.assert_array_equal(z["satisfied"], (signs > 0).sum(0))
    np.testing.assert_array_equal(np.floor(z["score"]), z["rank"])
    assert z.columns.tolist()[:3] == ["id", "score", "eligible"]
    result = col.discover(target=data[0].tolist(), context=[(1, 2), (3, data[4].tolist())], limit=15)
    np.testing.assert_allclose(z.set_index("id").loc[result["id"], "score"], result["score"], rtol=1e-6)


def test_context_columns(data):
    col = ek.Collection.from_arrays(data, distance="cosine")
    z = zones.points(col, context=[(1, 2), (3, 4)])
    d = np.vstack(
        [_sim(data[[p]], data, "cosine")[0] - _sim(data[[n]], data, "cosine")[0] for p, n in [(1, 2), (3, 4)]]
    )
    loss = np.minimum(d, 0) / (1 + np.abs(np.minimum(d, 0)))
    np.testing.assert_allclose(z[["pair_0", "pair_1"]].to_numpy().T, loss, atol=1e-6)
    np.testing.assert_allclose(z["loss"], loss.sum(0), atol=2e-6)
    assert (z["zero_loss"] == (z["loss"] == 0)).all() and z["zero_loss"].any() and not z["zero_loss"].all()
    np.testing.assert_array_equal(z["satisfied"], (z[["pair_0", "pair_1"]] == 0).sum(axis=1))


def test_other_kinds_give_scores(data):
    col = ek.Collection.from_arrays(data, distance="euclid")
    z = zones.points(col, positive=[1], negative=[2], strategy="best_score")
    result = col.recommend(positive=[1], negative=[2], strategy="best_score", limit=5)
    np.testing.assert_allclose(z.set_index("id").loc[result["id"], "score"], result["score"], rtol=1e-6)
    z = zones.points(col, query=data[0].tolist())
    np.testing.assert_allclose(z["score"], np.sqrt(((data - data[0]) ** 2).sum(1)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("distance", ["euclid", "cosine", "dot", "manhattan"])
def test_grid_is_what_a_point_there_would_score(distance):
    col = ek.datasets.load("clusters2d", as_collection=True)
    xy = col.vectors()
    col = ek.Collection.from_arrays(xy, ids=col.ids.tolist(), distance=distance)
    query = dict(target=5, context=[(50, 120), (200, 280)])
    g = zones.grid(col, resolution=30, **query)
    info = g.attrs["grid"]
    assert len(g) == 900 and info["nx"] == info["ny"] == 30
    assert g["x"].iloc[1] > g["x"].iloc[0] and g["y"].iloc[30] > g["y"].iloc[0]  # x varies fastest
    # a collection whose points sit on the cells, with the examples given as vectors
    vec = {i: xy[col._ids.row(i)].tolist() for i in (5, 50, 120, 200, 280)}
    cells = ek.Collection.from_arrays(g[["x", "y"]].to_numpy(), distance=distance)
    z = zones.points(cells, target=vec[5], context=[(vec[50], vec[120]), (vec[200], vec[280])])
    for column in ("score", "rank", "target", "pair_0", "pair_1"):
        np.testing.assert_allclose(g[column], z[column], rtol=1e-6, atol=1e-7)
    lines = zones.boundaries(col, **query)
    if distance == "manhattan":
        assert lines.empty
        return
    for pair, a, b, c in lines.itertuples(index=False):
        side = a * g["x"] + b * g["y"] - c
        clear = np.abs(side) > 1e-3 * np.abs(side).max()
        np.testing.assert_array_equal(np.sign(side[clear]), g[f"pair_{pair}"][clear])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda c: zones.grid(c, context=[(0, 1)]), "a zone field is drawn only for 2-D"),
        (lambda c: zones.points(c, 3), "is not a result frame"),
        (lambda c: zones.points(c), "is not a result frame"),
    ],
)
def test_bad_input(data, call, match):
    with pytest.raises(ek.ExploreError, match=match):
        call(ek.Collection.from_arrays(data))


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(resolution=1), "resolution: 1 is not an integer from 2 to 2000"),
        (dict(bounds=(0, 1, 2)), "bounds: \\(0, 1, 2\\) is not"),
        (dict(bounds=(1, 0, 0, 1)), "needs finite x0 < x1"),
    ],
)
def test_bad_grid_input(kw, match):
    col = ek.Collection.from_arrays([[0, 0], [1, 1], [2, 0]], distance="euclid")
    with pytest.raises(ek.ExploreError, match=match):
        zones.grid(col, context=[(0, 1)], **kw)
