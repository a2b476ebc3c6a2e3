"""Projections (PCA, UMAP, the plane), their cache and saved state, and the progress line."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.sparse as sp

import explorekit as ek
from explorekit._support import progress as _progress
from explorekit.analysis.projection import Projection, cached, place, project


def _pca_reference(matrix: np.ndarray) -> np.ndarray:
    centred = matrix.astype(np.float64) - matrix.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def test_pca_matches_svd_up_to_sign(digits):
    frame = project(digits, using="pixels", projection="pca")
    assert frame.columns.tolist() == ["id", "x", "y"]
    assert frame["id"].tolist() == digits.ids.tolist()
    ref = _pca_reference(digits.vectors("pixels"))
    got = frame[["x", "y"]].to_numpy(np.float64)
    for axis in range(2):
        sign = np.sign(ref[:, axis] @ got[:, axis])
        np.testing.assert_allclose(got[:, axis], sign * ref[:, axis], rtol=1e-4, atol=2e-3)
    info = frame.attrs["projection"]
    assert info["method"] == "pca" and info["points"] == info["fitted_on"] == len(digits)
    assert 0 < info["explained_variance"][1] <= info["explained_variance"][0] < 1


def test_projection_is_computed_once_and_cached(text):
    project(text, projection="pca")
    first = cached(text._space(None), "pca")
    again = project(text, projection="pca")
    assert cached(text._space(None), "pca") is first
    np.testing.assert_array_equal(again[["x", "y"]].to_numpy(), first.coords)


def test_other_parameters_refit_and_replace():
    rng = np.random.default_rng(1)
    col = ek.Collection.from_arrays(rng.normal(size=(400, 6)), distance="euclid")
    whole = project(col, projection="pca")
    sampled = project(col, projection="pca", sample=100, seed=3)
    proj = cached(col._space(None), "pca")
    assert proj.params == {"seed": 3, "sample": 100} and len(proj.fit_rows) == 100
    assert whole.attrs["projection"]["fitted_on"] == 400 and sampled.attrs["projection"]["fitted_on"] == 100
    # every point, fitted or not, goes through the same basis
    np.testing.assert_allclose(
        place(col, col.vectors()[:7], projection="pca"), sampled[["x", "y"]].to_numpy()[:7], atol=1e-4
    )
    assert project(col, projection="pca") is not None and cached(col._space(None), "pca") is proj  # None = reuse


def test_place_ids_and_vectors_on_the_pca_map(text):
    frame = project(text, projection="pca")
    ids = text.ids[[3, 10, 500]].tolist()
    np.testing.assert_array_equal(place(text, ids), frame[["x", "y"]].to_numpy()[[3, 10, 500]])
    raw = text.vectors()[[3, 10]] * 7.0  # cosine: placed as a query is scored (normalised)
    np.testing.assert_allclose(place(text, raw), frame[["x", "y"]].to_numpy()[[3, 10]], atol=1e-4)
    mixed = place(text, [ids[0], text.vectors()[10].tolist()])
    np.testing.assert_allclose(mixed, frame[["x", "y"]].to_numpy()[[3, 10]], atol=1e-4)


def test_two_dimensional_vectors_are_their_own_map():
    col = ek.datasets.load("clusters2d", as_collection=True)
    frame = project(col)
    assert frame.attrs["projection"]["method"] == "identity"
    np.testing.assert_array_equal(frame[["x", "y"]].to_numpy(), col.vectors())
    np.testing.assert_array_equal(place(col, [[1.5, -2.0]]), [[1.5, -2.0]])


def test_state_round_trip_is_json_and_arrays(text):
    project(text, projection="pca")
    proj = cached(text._space(None), "pca")
    meta, arrays = proj.state()
    json.dumps(meta)
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    back = Projection.from_state(json.loads(json.dumps(meta)), {k: v.copy() for k, v in arrays.items()})
    np.testing.assert_array_equal(back.coords, proj.coords)
    vectors = text.vectors()[:4]
    np.testing.assert_allclose(back.transform(text._space(None), vectors), proj.transform(text._space(None), vectors))


def test_saved_collection_keeps_its_map(tmp_path):
    rng = np.random.default_rng(0)
    col = ek.Collection.from_arrays(rng.normal(size=(50, 5)), distance="cosine")
    frame = project(col, projection="pca", seed=4, sample=40)
    col.save(tmp_path / "c")
    loaded = ek.Collection.load(tmp_path / "c")
    proj = cached(loaded._space(None), "pca")
    assert proj is not None and proj.params == {"seed": 4, "sample": 40}
    np.testing.assert_array_equal(
        project(loaded, projection="pca")[["x", "y"]].to_numpy(), frame[["x", "y"]].to_numpy()
    )


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda c: project(c, projection="tsne"), "Unknown projection method 'tsne'"),
        (lambda c: project(c, projection="identity"), "only for 2-D vectors"),
        (lambda c: project(c, projection="pca", sample=0), "sample: 0 is not a positive integer"),
        (lambda c: project(c, projection="umap", seed=-1), "seed: -1 is not a non-negative integer"),
        (lambda c: project(c, projection="umap", min_dist=3), "min_dist: 3 is not a number in"),
        (lambda c: project(c, projection="umap"), "UMAP needs at least 10"),
        (lambda c: place(c, [[1.0, 2.0]]), "expected dim: 3, got 2"),
        (lambda c: place(c, [99]), "No point with id 99"),
    ],
)
def test_bad_input(call, match):
    col = ek.Collection.from_arrays(np.eye(3), distance="dot")
    with pytest.raises(ek.ExploreError, match=match):
        call(col)
    assert col._space(None).extras == {}


def test_missing_umap_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)
    col = ek.Collection.from_arrays(np.random.default_rng(0).normal(size=(30, 4)))
    with pytest.raises(ek.MissingDependencyError, match="pip install umap-learn"):
        project(col, projection="umap")


def test_core_modules_do_not_import_ui_or_umap():
    code = (
        "import sys, explorekit.analysis.projection, explorekit.analysis.explain, explorekit.analysis.zones, explorekit._support.progress; "
        "print(sorted({'plotly', 'ipywidgets', 'anywidget', 'umap', 'IPython'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_umap_fits_caches_places_and_samples(digits):
    col = digits
    frame = project(col, using="pca", projection="umap", sample=1200, seed=0)
    proj = cached(col._space("pca"), "umap")
    assert proj.model is not None and len(proj.fit_rows) == 1200 and np.isfinite(proj.coords).all()
    assert frame.attrs["projection"] == {
        "method": "umap",
        "points": 1797,
        "fitted_on": 1200,
        "seed": 0,
        "sample": 1200,
        "n_neighbors": 15,
        "min_dist": 0.1,
        "using": "pca",
    }
    project(col, using="pca", projection="umap")
    assert cached(col._space("pca"), "umap") is proj  # from the cache, no refit
    # the map keeps digits apart: most 2-D neighbours share the label (random: ~0.1)
    xy, labels = proj.coords, col.payload["digit"].to_numpy()
    d = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(axis=1)] == labels).mean() > 0.8
    # ids sit where the map put them; a stored vector given raw is placed near its point
    ids = col.ids[proj.fit_rows[:5]].tolist()
    np.testing.assert_array_equal(place(col, ids, using="pca", projection="umap"), proj.coords[proj.fit_rows[:5]])
    raw = place(col, col.vectors("pca")[proj.fit_rows[:20]], using="pca", projection="umap")
    spread = np.ptp(proj.coords, axis=0).max()
    assert np.median(np.linalg.norm(raw - proj.coords[proj.fit_rows[:20]], axis=1)) < 0.05 * spread
    # the state keeps coordinates only; place() after a reload refits the same map
    meta, arrays = proj.state()
    assert set(arrays) == {"coords", "fit_rows"}
    back = Projection.from_state(meta, arrays)
    again = back.transform(col._space("pca"), col.vectors("pca")[:3])
    assert back.model is not None and np.isfinite(again).all()
    np.testing.assert_allclose(back.coords, proj.coords, atol=1e-3)


def test_progress_is_quiet_for_quick_work(capsys, monkeypatch):
    monkeypatch.delenv("EXPLOREKIT_PROGRESS", raising=False)
    assert list(_progress.progress(range(3), desc="quick")) == [0, 1, 2]
    with _progress.task("quick task"):
        pass
    assert capsys.readouterr().err == ""


def test_progress_lines(capsys, monkeypatch):
    monkeypatch.setenv("EXPLOREKIT_PROGRESS", "1")
    assert list(_progress.progress([1, 2], desc="steps")) == [1, 2]
    with _progress.task("fit") as status:
        status.note("fit: stage two")
    with pytest.raises(RuntimeError):
        with _progress.task("broken"):
            raise RuntimeError("boom")
    err = capsys.readouterr().err
    assert "steps: 100%|" in err and "2/2" in err and "fit: stage two [00:00]" in err and "broken (failed)" in err
    monkeypatch.setenv("EXPLOREKIT_PROGRESS", "0")
    with _progress.task("silent"):
        time.sleep(0.01)
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------ maps from the distance matrix (issue 20)
def _clusters(distance: str) -> ek.Collection:
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(4, 16)) * 4
    vectors = np.vstack([c + rng.normal(size=(60, 16)) for c in centres]).astype(np.float32)
    return ek.Collection.from_arrays(vectors, payload=[{"group": i // 60} for i in range(240)], distance=distance)


@pytest.mark.parametrize("distance", ["cosine", "dot", "euclid", "manhattan"])
def test_matrix_distances_are_the_clusters_distances_plus_a_zero_diagonal(distance):
    """One score -> distance rule for clusters and UMAP maps (they differed: min/max, clipping, TINY)."""
    from explorekit.analysis.clusters import distances
    from explorekit.analysis.projection import matrix_distances

    matrix, _ = _clusters(distance).distance_matrix(sample=40, limit=4, format="offsets", seed=2)
    umap_input, clusters_input = matrix_distances(matrix, distance), distances(matrix, distance)
    off_diagonal = umap_input - sp.diags(umap_input.diagonal())
    off_diagonal.eliminate_zeros()
    assert (off_diagonal != clusters_input).nnz == 0
    assert umap_input.nnz == clusters_input.nnz + matrix.shape[0]  # each point's 0 to itself is stored


@pytest.mark.parametrize("distance", ["cosine", "dot", "euclid", "manhattan"])
def test_matrix_distances_are_what_umap_reads(distance):
    from explorekit.analysis.projection import matrix_distances

    col = _clusters(distance)
    matrix, ids = col.distance_matrix(sample=50, limit=5, using=None, format="offsets", seed=1)
    d = matrix_distances(matrix, distance)
    assert d.shape == matrix.shape and (d != d.T).nnz == 0, "symmetric"
    assert np.all(d.diagonal() == 0) and d.data.min() >= 0
    assert np.all(np.diff(d.indptr) >= 6), "itself and at least its five neighbours in every row"
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    expected = {
        "cosine": 1 - matrix.data,
        "dot": matrix.data.max() - matrix.data,
        "euclid": matrix.data,
        "manhattan": matrix.data,
    }[distance]
    np.testing.assert_allclose(
        np.asarray(d[rows, matrix.indices]).ravel(), np.maximum(expected, 0), rtol=1e-6, atol=1e-6
    )
    for i in range(matrix.shape[0]):  # each point's neighbours keep their order: nearest first
        found = np.asarray(d[i, matrix.indices[matrix.indptr[i] : matrix.indptr[i + 1]]]).ravel()
        assert np.all(np.diff(found) >= -1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("distance", ["cosine", "dot", "euclid"])
def test_a_map_from_the_matrix_keeps_the_clusters_apart(distance):
    col = _clusters(distance)
    frame = project(col, from_matrix=True, sample=240, seed=0)
    assert list(frame.columns) == ["id", "x", "y"] and sorted(frame["id"]) == sorted(col.ids)
    assert frame.attrs["projection"]["from_matrix"] is True
    group = col.payload.loc[frame["id"], "group"].to_numpy()
    xy = frame[["x", "y"]].to_numpy()
    centres = np.array([xy[group == g].mean(axis=0) for g in range(4)])
    within = np.mean([np.linalg.norm(xy[group == g] - centres[g], axis=1).mean() for g in range(4)])
    between = np.linalg.norm(centres[:, None] - centres[None], axis=2)[np.triu_indices(4, 1)].min()
    assert between > 3 * within


@pytest.mark.slow
def test_a_map_of_a_qdrant_collection_from_the_matrix_downloads_no_vector():
    from qdrant_client import QdrantClient

    from explorekit.backends.qdrant import to_qdrant

    remote = to_qdrant(_clusters("euclid"), QdrantClient(":memory:"), "clusters", progress=False)
    asked = []
    for name in ("scroll", "retrieve", "query_points", "query_batch_points"):
        original = getattr(remote.client, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            asked.append((_name, kwargs.get("with_vectors")))
            return _original(*args, **kwargs)

        setattr(remote.client, name, spy)
    frame = remote.project(from_matrix=True, sample=100, seed=0)
    assert len(frame) == 100 and set(frame["id"]) <= set(range(240))
    assert all(not with_vectors for _, with_vectors in asked), asked


@pytest.mark.parametrize(
    "kw, match",
    [(dict(projection="pca"), "from_matrix"), (dict(sample=0), "sample"), (dict(n_neighbors=0), "n_neighbors")],
)
def test_bad_input_from_the_matrix(kw, match):
    with pytest.raises(ek.ExploreError, match=match):
        project(_clusters("cosine"), from_matrix=True, **kw)
