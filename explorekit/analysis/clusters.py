"""Clusters of a collection from its distance matrix, and what distinguishes each one.

:func:`clusters` is Qdrant's recipe for "what is in this collection" (its distance-based data
exploration article): take the Distance Matrix of a random sample (``col.distance_matrix(...,
format="offsets")``: each sampled point's ``limit`` nearest among the sample), cluster it with
scikit-learn's HDBSCAN or DBSCAN on the sparse matrix as precomputed distances, then describe
each cluster by its most central point and by the payload values it holds more often than the
sample does (``col.facet`` inside the cluster against ``col.facet`` over the sample). Only
public methods of the collection are called, so a
:class:`~explorekit.backends.qdrant.QdrantCollection` clusters its server's matrix.

Scores become distances as follows: euclid and manhattan scores are distances already;
cosine gives ``1 - score``; dot gives ``max(score) - score`` (the most similar pair of the
matrix is at distance 0). A pair the matrix does not hold is "far" (not a neighbour).

Examples
--------
>>> import numpy as np, explorekit as ek
>>> rng = np.random.default_rng(0)
>>> centres = np.array([[0, 0], [10, 0], [0, 10]])
>>> points = np.vstack([c + rng.normal(size=(30, 2)) for c in centres])
>>> col = ek.Collection.from_arrays(points, distance="euclid",
...                                 payload=[{"side": "abc"[i // 30]} for i in range(90)])
>>> found = clusters(col, sample=90, limit=10, min_cluster_size=10)
>>> found.summary[["size", "label"]].values.tolist()
[[30, 'side=a'], [30, 'side=b'], [30, 'side=c']]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from explorekit._support.errors import ExploreError, RequestError, short_repr, unknown
from explorekit._support.lazy import lazy_module
from explorekit._support.validation import check_count
from explorekit.analysis.projection import DEFAULT_PROJECTION, project
from explorekit.analysis.projection import score_distances as distances  # the one score -> distance rule

sp = lazy_module("scipy.sparse")  # the clustering itself: not paid by importing explorekit

METHODS = ("hdbscan", "dbscan")
NOISE = -1
MEDOID_SOURCES = 256  # medoids from all shortest paths up to this cluster size, a seeded sample beyond
FACET_LIMIT = 10_000  # values per key counted (every value of a key that is worth describing)
LAYOUT_K = range(2, 11)  # k-means on a map tries these k and keeps the best silhouette
LAYOUT_SAMPLE = 1_000  # points of a map the silhouette and the cluster descriptions look at


class Clusters(NamedTuple):
    """The answer of :func:`clusters`.

    ``labels``   ``id``, ``cluster`` (``-1``: noise) for every sampled point.
    ``summary``  one row per cluster: ``cluster``, ``size``, ``medoid`` (its most central
                 point), ``label`` (its two most distinctive ``key=value``, with
                 different values), ``values`` (the
                 over-represented values as text).
    ``values``   over-represented payload values: ``cluster``, ``key``, ``value``, ``count``
                 (points of the cluster holding it), ``share`` (count / size), ``overall``
                 (points of the sample holding it), ``lift`` (share / overall share).
    """

    labels: pd.DataFrame
    summary: pd.DataFrame
    values: pd.DataFrame


def clusters(
    col: Any,
    sample: int = 1_000,
    limit: int = 15,
    using: str | None = None,
    filter: Any = None,
    method: str = "hdbscan",
    *,
    min_cluster_size: int | None = None,
    min_samples: int | None = None,
    eps: float | None = None,
    keys: Sequence[str] | None = None,
    min_share: float = 0.2,
    min_lift: float = 1.5,
    seed: int = 0,
) -> Clusters:
    """Clusters of a random sample, found from its distance matrix; see the module text.

    Parameters
    ----------
    col : Collection or QdrantCollection
    sample, limit, using, filter : the distance matrix's (``col.distance_matrix``): points
        sampled (after ``filter``) and neighbours kept per point. More neighbours join more of
        the sample; ``limit`` of 10-30 suits clustering.
    method : ``"hdbscan"`` (clusters of any density, the default) or ``"dbscan"``.
    min_cluster_size : HDBSCAN's smallest cluster (default: 1% of the sample, at least 5).
    min_samples : how many neighbours make a point dense (default ``min(limit, 5)``; at most
        ``limit``).
    eps : DBSCAN's neighbourhood radius (default: the 90th percentile of the distance from a
        point to its ``min_samples``-th neighbour).
    keys : payload keys to describe clusters by (default: every key of strings, integers or
        booleans whose values repeat: fewer distinct values than half the sample).
    min_share, min_lift : a value is over-represented in a cluster when at least
        ``min_share`` of the cluster holds it and it is ``min_lift`` times as common there as
        in the sample.
    seed : the sample's seed (also of medoids estimated on large clusters).

    Returns
    -------
    Clusters ``(labels, summary, values)``; ``labels.attrs["clusters"]`` holds the settings.

    Raises
    ------
    RequestError
        A bad argument, or fewer than two points to cluster.
    """
    if method not in METHODS:
        raise RequestError(unknown("clustering method", method, METHODS, f"Pass method= one of {list(METHODS)}."))
    limit = check_count(limit, "limit", 1)
    matrix, ids = col.distance_matrix(
        sample=sample, limit=limit, filter=filter, using=using, format="offsets", seed=seed
    )
    ids = list(ids)
    if len(ids) < 2:
        raise RequestError(
            f"clusters: {len(ids)} point(s) pass the filter {short_repr(filter)}; at least 2 are needed to cluster."
        )
    distance = col.distance(using)
    graph = distances(matrix, distance)
    min_samples = _check_min_samples(min_samples, limit)
    labels = _fit(graph, method, min_samples, min_cluster_size, eps)
    frame = pd.DataFrame({"id": pd.Series(ids, dtype=object), "cluster": labels.astype(np.int64)})
    frame.attrs["clusters"] = {
        "sample": len(ids),
        "limit": limit,
        "using": using,
        "method": method,
        "distance": distance,
        "min_samples": min_samples,
        "seed": seed,
    }
    medoids = {c: ids[r] for c, r in medoid_rows(graph, labels, seed).items()}
    values = over_represented(col, frame, keys, min_share=min_share, min_lift=min_lift)
    return Clusters(frame, _summary(frame, medoids, values), values)


def _check_min_samples(min_samples: Any, limit: int) -> int:
    if min_samples is None:
        return min(limit, 5)
    value = check_count(min_samples, "min_samples", 1)
    if value > limit:
        raise RequestError(
            f"min_samples={value} is more than limit={limit}: the matrix holds {limit} neighbours per point. "
            f"Pass min_samples <= {limit}, or a larger limit."
        )
    return value


def _fit(graph: sp.csr_matrix, method: str, min_samples: int, min_cluster_size: Any, eps: Any) -> np.ndarray:
    """scikit-learn's labels for the sparse distances (HDBSCAN on the :func:`connected` graph)."""
    from sklearn.cluster import DBSCAN, HDBSCAN

    n = graph.shape[0]
    if method == "dbscan":
        if eps is not None and (isinstance(eps, bool) or not isinstance(eps, (int, float, np.number))):
            raise RequestError(f"eps={short_repr(eps)} is not a number. Pass a distance, or None for the default.")
        radius = _default_eps(graph, min_samples) if eps is None else float(eps)
        if not math.isfinite(radius) or radius <= 0:
            raise RequestError(f"eps={short_repr(eps)} is not a positive distance.")
        return _renumber(DBSCAN(eps=radius, min_samples=min_samples + 1, metric="precomputed").fit(graph).labels_)
    size = max(5, n // 100) if min_cluster_size is None else check_count(min_cluster_size, "min_cluster_size", 2)
    found = HDBSCAN(min_cluster_size=size, min_samples=min_samples, metric="precomputed", copy=True)
    return _renumber(found.fit(connected(graph)).labels_.astype(np.int64))


def connected(graph: sp.csr_matrix) -> sp.csr_matrix:
    """The graph with its separate parts chained by edges longer than any it holds (HDBSCAN
    needs one connected graph; parts with nothing in common join only at the top of its tree).

    >>> g = sp.csr_matrix(([1.0, 1.0], ([0, 1], [1, 0])), shape=(3, 3))
    >>> connected(g).toarray().tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 10.0], [0.0, 10.0, 0.0]]
    """
    count, part = sp.csgraph.connected_components(graph, directed=False)
    if count == 1:
        return graph
    far = 10.0 * (float(graph.data.max()) if graph.nnz else 1.0)
    firsts = np.array([np.flatnonzero(part == p)[-1 if p == 0 else 0] for p in range(count)])
    bridge = sp.coo_matrix((np.full(count - 1, far), (firsts[:-1], firsts[1:])), shape=graph.shape)
    return (graph + bridge + bridge.T).tocsr()


def _default_eps(graph: sp.csr_matrix, min_samples: int) -> float:
    """The 90th percentile of the distance from a point to its ``min_samples``-th stored
    neighbour: nine points in ten are dense at this radius."""
    kth = []
    for i in range(graph.shape[0]):
        row = np.sort(graph.data[graph.indptr[i] : graph.indptr[i + 1]])
        if len(row):
            kth.append(row[min(min_samples, len(row)) - 1])
    return float(np.percentile(kth, 90)) if kth else 0.0


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Clusters numbered by size (0 the largest; ties by first row), noise kept at -1."""
    found = [c for c in np.unique(labels) if c != NOISE]
    order = sorted(found, key=lambda c: (-int((labels == c).sum()), int(np.flatnonzero(labels == c)[0])))
    out = np.full_like(labels, NOISE)
    for new, old in enumerate(order):
        out[labels == old] = new
    return out


def medoid_rows(graph: sp.csr_matrix, labels: np.ndarray, seed: int = 0) -> dict[int, int]:
    """Each cluster's most central row: the smallest sum of shortest-path distances to the other
    members along the matrix's edges inside the cluster (from a seeded sample of
    ``MEDOID_SOURCES`` members on larger clusters); members cut off count as farthest.

    >>> g = distances(sp.csr_matrix(np.array([[0, 1, 2.0], [1, 0, 1], [2, 1, 0]])), "euclid")
    >>> medoid_rows(g, np.array([0, 0, 0]))
    {0: 1}
    """
    rng = np.random.default_rng(seed)
    out = {}
    for c in sorted(int(v) for v in np.unique(labels) if v != NOISE):
        rows = np.flatnonzero(labels == c)
        part = graph[rows][:, rows]
        sources = rows if len(rows) <= MEDOID_SOURCES else np.sort(rng.choice(rows, MEDOID_SOURCES, replace=False))
        local = np.searchsorted(rows, sources)
        paths = sp.csgraph.shortest_path(part, directed=False, indices=local)
        cut = (~np.isfinite(paths)).sum(axis=0)
        total = np.where(np.isfinite(paths), paths, 0.0).sum(axis=0)
        best = np.lexsort((np.arange(len(rows)), total, cut))[0]
        out[c] = int(rows[best])
    return out


def facet_keys(col: Any, ids: list, keys: Sequence[str] | None) -> list[str]:
    """The payload keys clusters are described by: given, or those whose values repeat."""
    payload = col.retrieve(ids).drop(columns=["id"])
    if keys is not None:
        names = [keys] if isinstance(keys, str) else list(keys)
        for name in names:
            if name not in payload.columns:
                raise ExploreError(
                    unknown("payload key (keys)", name, list(payload.columns), "keys= takes payload keys.")
                )
        return names
    chosen = []
    for name in payload.columns:
        flat = payload[name].explode().dropna()
        if not len(flat) or not flat.map(lambda v: isinstance(v, (str, bool, int, np.integer))).all():
            continue
        distinct = flat.astype(str).nunique()
        if 2 <= distinct < len(payload) / 2:
            chosen.append(name)
    return chosen


def over_represented(
    col: Any, labels: pd.DataFrame, keys: Sequence[str] | None, *, min_share: float = 0.2, min_lift: float = 1.5
) -> pd.DataFrame:
    """Per cluster, the payload values it holds more often than the sample, from ``col.facet``
    counts inside the cluster and over the whole sample (both as ``has_id`` filters)."""
    ids = labels["id"].tolist()
    rows = []
    for key in facet_keys(col, ids, keys):
        overall = _counts(col, key, ids)
        for c, members in labels[labels["cluster"] != NOISE].groupby("cluster"):
            inside = _counts(col, key, members["id"].tolist())
            for value, count in inside.items():
                share = count / len(members)
                lift = share / (overall[value] / len(ids))
                if share >= min_share and lift >= min_lift:
                    rows.append((int(c), key, value, int(count), share, int(overall[value]), lift))
    frame = pd.DataFrame(rows, columns=["cluster", "key", "value", "count", "share", "overall", "lift"])
    weight = frame["share"] * np.log(frame["lift"].astype(float))  # how much of the cluster it explains
    frame = frame.assign(_w=weight).sort_values(["cluster", "_w", "count"], ascending=[True, False, False])
    return frame.drop(columns="_w").reset_index(drop=True)


def _counts(col: Any, key: str, ids: list) -> dict[Any, int]:
    facet = col.facet(key, filter={"must": [{"has_id": ids}]}, limit=FACET_LIMIT)
    return dict(zip(facet["value"].tolist(), facet["count"].tolist()))


def _summary(labels: pd.DataFrame, medoids: dict[int, Any], values: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for c, members in labels[labels["cluster"] != NOISE].groupby("cluster"):
        mine = values[values["cluster"] == c]
        text = [f"{k}={v}" for k, v in zip(mine["key"], mine["value"])]
        distinct: dict[str, str] = {}
        for k, v in zip(mine["key"], mine["value"]):
            distinct.setdefault(str(v), f"{k}={v}")
        rows.append((int(c), len(members), medoids[int(c)], ", ".join(list(distinct.values())[:2]), "; ".join(text)))
    frame = pd.DataFrame(rows, columns=["cluster", "size", "medoid", "label", "values"])
    frame["medoid"] = frame["medoid"].astype(object)
    return frame


def layout_clusters(
    col: Any, using: str | None = None, projection: str = DEFAULT_PROJECTION, *, seed: int = 0
) -> Clusters:
    """Clusters of the 2-D map itself: k-means (scikit-learn, seeded) on every point's map
    position, with the ``k`` of 2-10 whose silhouette on a sample of :data:`LAYOUT_SAMPLE` points
    is best; each cluster described as :func:`clusters` does (on that sample), its medoid the
    point nearest its centre. The clusters are of the picture, not of the full space: for
    vectors of more than two dimensions the map is a projection.

    >>> import numpy as np, explorekit as ek
    >>> rng = np.random.default_rng(0)
    >>> points = np.vstack([c + rng.normal(size=(30, 2)) for c in ([0, 0], [10, 0], [0, 10])])
    >>> col = ek.Collection.from_arrays(points, distance="euclid",
    ...                                 payload=[{"side": "abc"[i // 30]} for i in range(90)])
    >>> found = layout_clusters(col)
    >>> found.summary[["size", "label"]].values.tolist(), found.labels.attrs["clusters"]["method"]
    ([[30, 'side=a'], [30, 'side=b'], [30, 'side=c']], 'kmeans')
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    points = project(col, using=using, projection=projection)
    coords = np.column_stack([points["x"].to_numpy(np.float64), points["y"].to_numpy(np.float64)])
    ids = points["id"].tolist()
    if len(ids) < 3:
        raise RequestError(f"layout_clusters: {len(ids)} point(s) on the map; at least 3 are needed to cluster.")
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(ids), size=min(LAYOUT_SAMPLE, len(ids)), replace=False))
    best: tuple[float, Any] = (-np.inf, None)
    for k in [k for k in LAYOUT_K if k < len(sample)]:
        fit = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(coords[sample])
        if len(set(fit.labels_.tolist())) > 1:
            score = float(silhouette_score(coords[sample], fit.labels_))
            best = max(best, (score, fit), key=lambda pair: pair[0])
    if best[1] is None:
        raise RequestError("layout_clusters: every point of the map is at the same place; nothing to cluster.")
    fit = best[1]
    labels = _renumber(fit.predict(coords).astype(np.int64))
    frame = pd.DataFrame({"id": pd.Series(ids, dtype=object), "cluster": labels})
    frame.attrs["clusters"] = {
        "method": "kmeans",
        "on": "map",
        "projection": points.attrs.get("projection", {}).get("method", projection),
        "k": int(fit.n_clusters),
        "silhouette": best[0],
        "points": len(ids),
        "using": using,
        "seed": seed,
    }
    medoids = {}
    for c in range(int(labels.max()) + 1):
        rows = np.flatnonzero(labels == c)
        centre = coords[rows].mean(axis=0)
        medoids[c] = ids[rows[np.argmin(((coords[rows] - centre) ** 2).sum(axis=1))]]
    described = frame.iloc[sample].reset_index(drop=True)
    values = over_represented(col, described, None)
    return Clusters(frame, _summary(frame, medoids, values), values)


def map_clusters(
    col: Any, using: str | None = None, projection: str = DEFAULT_PROJECTION, *, seed: int = 0
) -> Clusters:
    """Clusters to label a map with: :func:`clusters` (HDBSCAN of the distance matrix of a sample
    of 1,000 points, so its cost does not grow with the collection) when the collection answers
    ``distance_matrix`` and ``facet`` and at least two clusters are found; else
    :func:`layout_clusters` (k-means on the 2-D map). ``labels.attrs["clusters"]["method"]``
    says which (``"hdbscan"`` or ``"kmeans"``); ``["instead_of"]`` says why k-means was used.

    >>> import numpy as np, explorekit as ek
    >>> grid = [[i, j] for i in range(7) for j in range(7)]    # evenly spread: no dense clusters
    >>> found = map_clusters(ek.Collection.from_arrays(grid, distance="euclid"))
    >>> found.labels.attrs["clusters"]["method"], found.labels.attrs["clusters"]["instead_of"]
    ('kmeans', 'HDBSCAN of the distance matrix found 0 clusters')
    """
    reason = "the collection has no distance matrix"
    if callable(getattr(col, "distance_matrix", None)) and callable(getattr(col, "facet", None)):
        try:
            found = clusters(col, using=using, seed=seed)
        except (ExploreError, ImportError, ValueError) as err:  # ValueError: scikit-learn's, on tiny samples
            reason = f"HDBSCAN of the distance matrix failed: {err}"
        else:
            if len(found.summary) >= 2:
                return found
            reason = (
                f"HDBSCAN of the distance matrix found {len(found.summary)} cluster{'s' * (len(found.summary) != 1)}"
            )
    fallback = layout_clusters(col, using, projection, seed=seed)
    fallback.labels.attrs["clusters"]["instead_of"] = reason
    return fallback
