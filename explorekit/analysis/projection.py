"""2-D maps of a vector space: PCA (numpy), UMAP (umap-learn) or the plane itself.

:func:`project` computes the map once per collection and vector name and keeps it on the
vector space (``space.extras["projection:<method>"]``), so figures, widgets and reports reuse
it; :func:`place` puts query vectors and raw examples on the same map (the PCA basis, or
UMAP's ``transform``). A saved collection keeps its maps (see :class:`Projection`).

Projections (the keyword is ``projection=`` everywhere: here, ``ek.plots.map``, the other
figures, ``ek.Explorer``, the demo report and the CLI; ``method=`` is a deprecated alias)
-------------------------------------------------------------------------------------------
``"auto"``      the default (:data:`DEFAULT_PROJECTION`): ``"identity"`` for 2-D vectors (the
                plane itself, so zones stay exact), else PCA: a map at once, UMAP on request.
``"pca"``       the two leading principal axes, fitted on up to 200,000 points.
``"umap"``      UMAP with exact neighbours (numpy, the collection's distance; cosine and dot
                use the angle), fitted on up to 10,000 points; the other points are placed
                with ``transform``. Its first call in a process compiles numba code
                (tens of seconds); a status line counts the seconds meanwhile.

``from_matrix=True`` maps a random sample from Qdrant's distance matrix instead of the vectors
(:func:`matrix_map`): UMAP with ``metric="precomputed"`` on the sparse matrix of each sampled
point's nearest neighbours. On a Qdrant collection the server computes the matrix, so no vector
is downloaded.

Examples
--------
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], distance="dot")
>>> project(col, projection="pca").columns.tolist()
['id', 'x', 'y']
>>> place(col, [[1, 0, 0], 3]).round(3).tolist() == project(col)[["x", "y"]].values[[0, 3]].round(3).tolist()
True
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from explorekit._support.errors import DimensionError, ExploreError, MissingDependencyError, short_repr, unknown
from explorekit._support.progress import bar_options, progress, task
from explorekit._support.threads import blas_threads
from explorekit._support.validation import MAX_COUNT
from explorekit.collection import Collection
from explorekit.data.store import SavedState, VectorSpace
from explorekit.query.requests import parse_examples
from explorekit.scoring.distances import preprocess, similarity

METHODS = ("auto", "pca", "umap", "identity")
#: The one default map, for every function and view that draws one: PCA at once (the plane
#: itself for 2-D vectors); UMAP, slower to fit, when asked for with ``projection="umap"``.
DEFAULT_PROJECTION = "auto"
DEFAULT_SAMPLE = {"pca": 200_000, "umap": 10_000}
_BLOCK = 1 << 24  # floats per block of the neighbour search
_TRANSFORM_BATCH = 5_000


@dataclass
class Projection:
    """A fitted map of one vector space: coordinates of every point and what placed them.

    ``state()`` / ``from_state()`` give JSON metadata plus numpy arrays (no pickle), which is
    how a saved collection keeps its maps. For PCA that is everything; for UMAP only the
    coordinates and the fitted rows are saved: after loading, the first :func:`place` refits
    UMAP on the same rows with the same seed (the same map) to get a model for ``transform``.
    """

    method: str
    params: dict
    coords: np.ndarray  # (n, 2) float32, collection row order
    fit_rows: np.ndarray  # rows the model was fitted on (int64, sorted)
    distance: str
    dim: int
    mean: np.ndarray | None = None  # PCA
    components: np.ndarray | None = None
    explained: list = field(default_factory=list)
    model: Any = None  # fitted umap.UMAP (memory only)

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta = {
            "method": self.method,
            "params": dict(self.params),
            "distance": self.distance,
            "dim": self.dim,
            "explained": [float(v) for v in self.explained],
            "version": 1,
        }
        arrays = {"coords": self.coords, "fit_rows": self.fit_rows}
        if self.mean is not None:
            arrays.update(mean=self.mean, components=self.components)
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "Projection":
        return cls(
            meta["method"],
            dict(meta["params"]),
            np.asarray(arrays["coords"], np.float32),
            np.asarray(arrays["fit_rows"], np.int64),
            meta["distance"],
            int(meta["dim"]),
            arrays.get("mean"),
            arrays.get("components"),
            list(meta.get("explained", [])),
        )

    @property
    def points(self) -> int:
        return len(self.coords)

    def describe(self) -> dict:
        """What made the map, for figure notes: method, points, fitted_on, seed, axes."""
        out = {"method": self.method, "points": self.points, "fitted_on": int(len(self.fit_rows)), **self.params}
        if self.explained:
            out["explained_variance"] = [round(float(v), 4) for v in self.explained]
        return out

    def transform(self, space: "VectorSpace", vectors: np.ndarray) -> np.ndarray:
        """Map coordinates of preprocessed vectors (rows as the space stores them)."""
        if self.method == "identity":
            return np.asarray(vectors, np.float32).copy()
        if self.method == "pca":
            return _pca_coords(vectors, self.mean, self.components)
        if self.model is None:
            self._refit(space)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.model.transform(_umap_input(vectors, self.distance)), np.float32)

    def _refit(self, space: "VectorSpace") -> None:
        model, embedding = _fit_umap(space.stored[self.fit_rows], self.distance, self.params)
        self.model = model
        drift = float(np.abs(embedding - self.coords[self.fit_rows]).max()) if len(embedding) else 0.0
        if drift > 1e-3 * max(1.0, float(np.ptp(self.coords))):  # another machine or umap version
            self.coords = _umap_coords(space, self.fit_rows, model, embedding, self.distance)


def projection_argument(projection: Any, method: Any, where: str) -> Any:
    """The projection a caller asked for: ``projection=``, or the deprecated ``method=`` (with a
    FutureWarning pointing at the caller's line). Giving both, differently, is an ExploreError.

    ``where`` names the function for the messages. Call it straight from the public function.

    >>> projection_argument("umap", None, "map")
    'umap'
    """
    if method is None:
        return projection
    if projection != DEFAULT_PROJECTION and projection != method:
        raise ExploreError(
            f"{where}: projection={short_repr(projection)} and method={short_repr(method)} name two maps. "
            "method= is the old name of projection=; pass only projection=."
        )
    warnings.warn(
        f"{where}: method= is deprecated; use projection={short_repr(method)} (the same keyword as "
        "ek.Explorer and every figure).",
        FutureWarning,
        stacklevel=3,
    )
    return method


def project(
    col: "Collection",
    using: str | None = None,
    projection: str = DEFAULT_PROJECTION,
    *,
    sample: int | None = None,
    seed: int | None = None,
    n_neighbors: int | None = None,
    min_dist: float | None = None,
    from_matrix: bool = False,
    method: str | None = None,
) -> pd.DataFrame:
    """2-D coordinates of every point, computed once and cached on the vector space.

    Parameters
    ----------
    col, using : the collection and vector name.
    projection : ``"auto"`` (default, :data:`DEFAULT_PROJECTION`: the plane for 2-D vectors,
        else PCA), ``"pca"``, ``"umap"`` or ``"identity"`` (2-D vectors only). ``method=`` is
        its deprecated old name.
    sample : fit on this many points (a seeded sample) and place the rest with the fitted
        map; default 200,000 for PCA and 10,000 for UMAP.
    seed : sampling and UMAP seed (default 0).
    n_neighbors, min_dist : UMAP's parameters (default 15 and 0.1).

    from_matrix : map a random ``sample`` (default 10,000) from the distance matrix
        (:func:`matrix_map`, UMAP only) instead of the vectors; ``col`` may then be a
        Qdrant collection, whose server computes the matrix. Not cached.

    Arguments left as None reuse whatever map of that projection is cached; giving a different
    value fits a new one, which replaces it.

    Returns
    -------
    DataFrame with ``id``, ``x``, ``y`` (float32), one row per point in collection order;
    ``attrs["projection"]`` says how it was made (method, points, fitted_on, seed, ...).
    """
    method = projection_argument(projection, method, "project")
    if from_matrix:
        if method not in ("auto", "umap"):
            raise ExploreError(
                f"from_matrix=True maps with UMAP; projection={method!r} needs the vectors. Use projection='umap'."
            )
        params = _check_params(
            "umap", MAX_COUNT, dict(sample=sample, seed=seed, n_neighbors=n_neighbors, min_dist=min_dist)
        )
        return matrix_map(col, using, params["sample"], params["n_neighbors"], params["min_dist"], params["seed"])
    space = col.space(using)
    proj = _projection(space, method, sample=sample, seed=seed, n_neighbors=n_neighbors, min_dist=min_dist)
    frame = pd.DataFrame({"id": col.ids.to_numpy(), "x": proj.coords[:, 0], "y": proj.coords[:, 1]})
    frame.attrs["projection"] = {**proj.describe(), "using": space.name}
    return frame


def place(
    col: "Collection",
    vectors: Any,
    using: str | None = None,
    projection: str = DEFAULT_PROJECTION,
    *,
    method: str | None = None,
) -> np.ndarray:
    """Coordinates, shape ``(m, 2)``, of vectors and/or point ids on the map of :func:`project`.

    ``vectors`` is a 2-D array, or a list mixing point ids (their own map position) and
    vectors (given as a query would be: normalised for cosine, then mapped with the PCA basis
    or UMAP's ``transform``). Uses the cached map of ``projection``, fitting it first if needed
    (``method=`` is its deprecated old name).
    """
    method = projection_argument(projection, method, "place")
    space = col.space(using)
    examples = parse_examples(vectors, "vectors")
    raw = [i for i, e in enumerate(examples) if not e.is_id]
    ids = [i for i, e in enumerate(examples) if e.is_id]
    rows = col.store.ids.rows([examples[i].id for i in ids], what="vectors") if ids else None
    for i in raw:
        size = examples[i].vector.shape[0]
        if size != space.dim:
            raise DimensionError(
                f"vectors[{i}]: expected dim: {space.dim}, got {size}. The map of "
                f"{space.label} places vectors of that dimension only."
            )
    proj = _projection(space, method)  # everything checked: now fit if needed
    out = np.zeros((len(examples), 2), np.float32)
    if ids:
        out[ids] = proj.coords[rows]
    if raw:
        matrix = preprocess(np.vstack([examples[i].vector for i in raw]), space.distance)
        out[raw] = proj.transform(space, matrix)
    return out


def cached(space: VectorSpace, method: str) -> Projection | None:
    """The cached map of ``method`` on a vector space, if any (no fitting).

    A map read back by persistence (a ``SavedState``) becomes a :class:`Projection` here; one
    that does not fit the space (a damaged or edited file) is dropped with a warning and fitted
    again when asked for.
    """
    key = f"projection:{method}"
    value = space.extras.get(key)
    if isinstance(value, SavedState):
        value = _from_saved(value, key, space)
        if value is None:
            space.extras.pop(key, None)
        else:
            space.extras[key] = value
    return value


def _from_saved(saved: SavedState, key: str, space: VectorSpace) -> Projection | None:
    try:
        proj = Projection.from_state(saved.meta, saved.arrays)
        problem = _projection_problem(proj, key, space)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        problem = f"could not be read ({type(err).__name__}: {err})"
    if problem is None:
        return proj
    warnings.warn(
        f"the saved map {key!r} of {space.label} {problem}; it is fitted again when a map is drawn.",
        UserWarning,
        stacklevel=3,
    )
    return None


def _projection_problem(proj: Any, key: str, space: VectorSpace) -> str | None:
    """What makes a loaded projection unusable on ``space``, or None."""
    if key != f"projection:{proj.method}" or proj.method not in ("pca", "umap"):
        return f"is a {proj.method!r} map"
    if proj.dim != space.dim or proj.distance != space.distance:
        return f"was made for {proj.dim}-d {proj.distance} vectors"
    coords, rows = proj.coords, proj.fit_rows
    if (
        coords.ndim != 2
        or coords.shape[1] != 2
        or rows.ndim != 1
        or (len(rows) and (rows.min() < 0 or rows.max() >= len(coords)))
    ):
        return f"has coordinates of shape {coords.shape} and fitted rows outside them"
    if proj.method == "pca" and (
        proj.mean is None
        or proj.mean.shape != (space.dim,)
        or proj.components is None
        or proj.components.shape != (2, space.dim)
    ):
        return "has a PCA basis of the wrong shape"
    if not all(isinstance(v, (int, float, str, type(None))) for v in proj.params.values()):
        return f"has parameters {proj.params!r}"
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in proj.explained):
        return f"has explained variances {proj.explained!r}"
    return None


def resolve_method(method: Any, space: "VectorSpace") -> str:
    """``"auto"`` made concrete for this space, after checking the name."""
    if method not in METHODS:
        raise ExploreError(
            unknown(
                "projection method",
                method,
                METHODS,
                "Use projection='pca', 'umap', 'identity' (2-D vectors) or 'auto'.",
            )
        )
    if method == "auto":
        return "identity" if space.dim == 2 else "pca"
    if method == "identity" and space.dim != 2:
        raise ExploreError(
            f"projection='identity': {space.label} has {space.dim} dimensions; the plane "
            "itself is a map only for 2-D vectors. Use projection='pca' or 'umap'."
        )
    return method


def _projection(space: "VectorSpace", method: str, **given: Any) -> Projection:
    method = resolve_method(method, space)
    params = _check_params(method, len(space.stored), given)
    key = f"projection:{method}"
    current = cached(space, method)
    if (
        current is not None
        and current.points == len(space.stored)
        and all(current.params.get(k) == v for k, v in params.items() if given.get(k) is not None)
    ):
        return current
    params = {**_check_params(method, len(space.stored), {}), **params}
    proj = _fit(space, method, params)
    if method != "identity":
        space.extras[key] = proj
    return proj


def _check_params(method: str, n: int, given: dict) -> dict:
    out: dict[str, Any] = {"seed": 0}
    for name in ("seed", "sample", "n_neighbors"):
        value = given.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if name == "seed" else 1)
        ):
            kind = "non-negative" if name == "seed" else "positive"
            example = {"seed": 0, "sample": 10000, "n_neighbors": 15}[name]
            raise ExploreError(f"{name}: {short_repr(value)} is not a {kind} integer. Pass e.g. {name}={example}.")
    min_dist = given.get("min_dist")
    if min_dist is not None and (
        isinstance(min_dist, bool) or not isinstance(min_dist, (int, float)) or not 0 <= min_dist <= 1
    ):
        raise ExploreError(f"min_dist: {short_repr(min_dist)} is not a number in [0, 1]. UMAP's default is 0.1.")
    if given.get("seed") is not None:
        out["seed"] = int(given["seed"])
    if method in DEFAULT_SAMPLE:
        out["sample"] = min(n, int(given.get("sample") or DEFAULT_SAMPLE[method]))
    if method == "umap":
        out["n_neighbors"] = int(given.get("n_neighbors") or 15)
        out["min_dist"] = float(given["min_dist"]) if min_dist is not None else 0.1
    return out


def _fit(space: "VectorSpace", method: str, params: dict) -> Projection:
    n = len(space.stored)
    if method == "identity":
        return Projection(
            "identity",
            params,
            space.stored.astype(np.float32, copy=True),
            np.arange(n, dtype=np.int64),
            space.distance,
            space.dim,
        )
    rows = _sample_rows(n, params["sample"], params["seed"])
    if method == "pca":
        mean, components, explained = _fit_pca(space.stored[rows])
        coords = _pca_coords(space.stored, mean, components)
        return Projection("pca", params, coords, rows, space.distance, space.dim, mean, components, explained)
    if n < 10:
        raise ExploreError(
            f"projection='umap': {space.label} has {n} points; UMAP needs at least 10. Use projection='pca' for so few points."
        )
    model, embedding = _fit_umap(space.stored[rows], space.distance, params)
    coords = _umap_coords(space, rows, model, embedding, space.distance)
    return Projection("umap", params, coords, rows, space.distance, space.dim, model=model)


def _sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    if size >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False)).astype(np.int64)


def _fit_pca(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """Mean, the two leading principal axes (rows) and their share of the variance."""
    mean = matrix.mean(axis=0, dtype=np.float64)
    centre = mean.astype(np.float32)
    cov = np.zeros((matrix.shape[1], matrix.shape[1]))
    for start in range(0, len(matrix), 32_768):  # float32 products, float64 sums
        block = matrix[start : start + 32_768] - centre
        cov += block.T @ block
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:2]
    components = vectors[:, order].T
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * np.where(signs == 0, 1.0, signs)[:, None]  # deterministic signs
    total = float(values.sum())
    explained = [float(values[i]) / total if total > 0 else 0.0 for i in order]
    if len(components) < 2:  # 1-D vectors: y = 0
        components = np.vstack([components, np.zeros((2 - len(components), matrix.shape[1]))])
        explained += [0.0] * (2 - len(explained))
    return mean, components, explained


def _pca_coords(vectors: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """``(x - mean) @ components.T`` in float32 (one product; no float64 copy of the matrix)."""
    basis = np.ascontiguousarray(components.T, dtype=np.float32)
    return np.asarray(vectors, np.float32) @ basis - (mean @ components.T).astype(np.float32)


def _umap_input(vectors: np.ndarray, distance: str) -> np.ndarray:
    """Rows UMAP sees: unit vectors for cosine and dot (the angle), the vectors otherwise."""
    vectors = np.asarray(vectors, np.float32)
    if distance not in ("cosine", "dot"):
        return np.ascontiguousarray(vectors)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)


class _ExactNeighbours:
    """Exact k-nearest neighbours in numpy, with the query() that UMAP's transform calls."""

    _angular_trees = False

    def __init__(self, data: np.ndarray, metric: str) -> None:
        self.data, self.metric = data, metric
        self.norms = np.einsum("ij,ij->i", data, data)

    def query(self, queries: np.ndarray, k: int, epsilon: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        queries = np.asarray(queries, np.float32)
        k = min(k, len(self.data))
        indices = np.empty((len(queries), k), np.int32)
        dists = np.empty((len(queries), k), np.float32)
        step = max(1, _BLOCK // max(1, len(self.data)))
        for start in range(0, len(queries), step):
            block = queries[start : start + step]
            if self.metric == "manhattan":
                d = -similarity(block, self.data, "manhattan")
            else:
                d = self.norms[None, :] - 2.0 * (block @ self.data.T) + np.einsum("ij,ij->i", block, block)[:, None]
            part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < d.shape[1] else np.tile(np.arange(k), (len(d), 1))
            near = np.take_along_axis(d, part, axis=1)
            order = np.argsort(near, axis=1, kind="stable")
            indices[start : start + len(block)] = np.take_along_axis(part, order, axis=1)
            near = np.maximum(np.take_along_axis(near, order, axis=1), 0.0)
            dists[start : start + len(block)] = near if self.metric == "manhattan" else np.sqrt(near)
        return indices, dists


def _fit_umap(matrix: np.ndarray, distance: str, params: dict) -> tuple[Any, np.ndarray]:
    n = len(matrix)
    with task(f"UMAP: fitting {n:,} points (the first call in a process compiles numba code)") as status:
        try:
            import umap
        except ImportError as err:
            raise MissingDependencyError(
                f"projection='umap' needs umap-learn ({err}). Install it with pip install umap-learn, or use projection='pca'."
            ) from None
        data = _umap_input(matrix, distance)
        metric = "manhattan" if distance == "manhattan" else "euclidean"
        index = _ExactNeighbours(data, metric)
        k = min(params["n_neighbors"], n - 1)
        status.note(f"UMAP: exact {k} nearest neighbours of {n:,} points")
        with blas_threads(1):  # one BLAS thread: the same seed gives the same map on any machine
            indices, dists = index.query(data, k)
        status.note(f"UMAP: fitting {n:,} points (the first call in a process compiles numba code)")
        model = umap.UMAP(
            n_components=2,
            n_neighbors=k,
            min_dist=params["min_dist"],
            metric=metric,
            random_state=params["seed"],
            transform_seed=params["seed"],
            n_jobs=1,
            precomputed_knn=(indices, dists, index),
            verbose=False,  # no log text; the epochs still get their bar through tqdm_kwds
            tqdm_kwds=bar_options(f"UMAP: optimising the layout of {n:,} points, epochs"),
        )
        with warnings.catch_warnings(), blas_threads(1):  # sums in another order move a UMAP map far
            warnings.simplefilter("ignore")
            embedding = np.asarray(model.fit_transform(data), np.float32)
        model.tqdm_kwds = {**model.tqdm_kwds, "disable": True}  # transforms have their own bar (placing)
    return model, embedding


def _umap_coords(
    space: "VectorSpace", rows: np.ndarray, model: Any, embedding: np.ndarray, distance: str
) -> np.ndarray:
    n = len(space.stored)
    coords = np.zeros((n, 2), np.float32)
    coords[rows] = embedding
    rest = np.setdiff1d(np.arange(n), rows)
    if len(rest):
        batches = [rest[i : i + _TRANSFORM_BATCH] for i in range(0, len(rest), _TRANSFORM_BATCH)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for batch in progress(batches, desc=f"UMAP: placing the other {len(rest):,} points"):
                coords[batch] = model.transform(_umap_input(space.stored[batch], distance))
    return coords


def matrix_map(col: Any, using: str | None, sample: int, n_neighbors: int, min_dist: float, seed: int) -> pd.DataFrame:
    """A UMAP map of ``sample`` random points from the distance matrix alone: ``id, x, y``.

    ``col`` is anything with ``distance_matrix`` and ``distance`` (a Collection, or a Qdrant
    collection, where the server computes the matrix). Each sampled point's ``n_neighbors - 1``
    nearest (among the sample) become a sparse, symmetric distance matrix (:func:`matrix_distances`)
    that UMAP reads with ``metric="precomputed"``. ``attrs["projection"]`` says how it was made.
    """
    limit = max(1, n_neighbors - 1)
    matrix, ids = col.distance_matrix(sample=sample, limit=limit, using=using, format="offsets", seed=seed)
    n = len(ids)
    if n < 3:
        raise ExploreError(
            f"from_matrix: the distance matrix holds {n} points; a map needs at least 3. "
            "Give a larger sample=, or use the vectors (from_matrix=False)."
        )
    distances = matrix_distances(matrix, col.distance(using))
    k = int(min(n_neighbors, np.diff(distances.indptr).min()))
    with task(f"UMAP: fitting {n:,} points from the distance matrix") as status:
        try:
            import umap
        except ImportError as err:
            raise MissingDependencyError(
                f"from_matrix=True needs umap-learn ({err}). Install it with pip install umap-learn."
            ) from None
        status.note(f"UMAP: fitting {n:,} points from the distance matrix ({k} neighbours each)")
        model = umap.UMAP(
            n_components=2, n_neighbors=k, min_dist=min_dist, metric="precomputed", random_state=seed, n_jobs=1
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            embedding = np.asarray(model.fit_transform(distances), np.float32)
    frame = pd.DataFrame({"id": ids, "x": embedding[:, 0], "y": embedding[:, 1]})
    frame.attrs["projection"] = {
        "method": "umap",
        "from_matrix": True,
        "points": n,
        "n_neighbors": k,
        "min_dist": min_dist,
        "seed": seed,
        "distance": col.distance(using),
    }
    return frame


_TINY = 1e-9  # a zero distance (duplicates) stays a stored edge of the sparse matrix


def score_distances(matrix: Any, distance: str) -> Any:
    """The matrix's scores as a symmetric sparse distance matrix (the union of both directions).

    The one score -> distance rule of a distance matrix, for clusters
    (:mod:`explorekit.analysis.clusters`) and UMAP maps (:func:`matrix_distances`). Euclid and manhattan scores are
    distances; cosine becomes ``1 - s``; dot, unbounded, ``max(s) - s`` (0 for the closest
    pair, every point's order of neighbours kept). Every distance is clipped at 0 (float32
    rounding) and raised by ``_TINY`` (1e-9) so a zero distance (duplicates) stays a stored edge, which
    sparse operations would otherwise drop as "not neighbours". A pair found in both directions
    has the same score both ways up to rounding; the larger is kept because the sparse
    ``maximum`` is the union in one step (a minimum would lose one-way pairs to the implicit 0).
    No diagonal: a point is not its own neighbour.

    >>> import scipy.sparse as sp
    >>> m = sp.csr_matrix(([0.9, 0.9, 0.5], ([0, 1, 2], [1, 0, 0])), shape=(3, 3))
    >>> score_distances(m, "cosine").toarray().round(3).tolist()
    [[0.0, 0.1, 0.5], [0.1, 0.0, 0.0], [0.5, 0.0, 0.0]]
    """
    import scipy.sparse as sp  # slow to import; only clusters and maps from a matrix need it

    m = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    if distance == "cosine":
        m.data = 1.0 - m.data
    elif distance not in ("euclid", "manhattan"):  # dot: the most similar pair at distance 0
        m.data = (m.data.max() if m.nnz else 0.0) - m.data
    m.data = np.maximum(m.data, 0.0) + _TINY  # rounding below 0; a zero stays an edge
    both = m.maximum(m.T).tocsr()  # a pair held in one direction holds in both
    both.setdiag(0.0)  # a point is never its own neighbour in the matrix; this keeps it so
    both.eliminate_zeros()
    both.sort_indices()
    return both


def matrix_distances(matrix: Any, distance: str) -> Any:
    """The distance matrix's scores as UMAP's precomputed sparse distances (CSR, symmetric).

    The scores become distances by the same rule as clusters' (:func:`score_distances`:
    cosine ``1 - s``, dot ``max(s) - s``, both directions of each pair); UMAP also wants every
    point at a stored 0 from itself, added here.

    >>> import scipy.sparse
    >>> m = scipy.sparse.csr_matrix((np.array([0.9, 0.5], np.float32), ([0, 1], [1, 2])), shape=(3, 3))
    >>> matrix_distances(m, "cosine").toarray().round(2).tolist()
    [[0.0, 0.1, 0.0], [0.1, 0.0, 0.5], [0.0, 0.5, 0.0]]
    """
    import scipy.sparse  # slow to import; only maps from a matrix need it

    pairs = score_distances(matrix, distance).tocoo()
    n = matrix.shape[0]
    rows = np.concatenate([pairs.row, np.arange(n)])
    cols = np.concatenate([pairs.col, np.arange(n)])
    values = np.concatenate([pairs.data, np.zeros(n)])  # the diagonal: stored zeros (no pair is on it)
    out = scipy.sparse.csr_matrix((values, (rows, cols)), shape=(n, n))
    out.sort_indices()
    return out
