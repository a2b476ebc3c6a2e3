"""Answers of the whole-collection requests on a :class:`~explorekit.data.store.Store`.

:func:`answer` takes a checked :mod:`explorekit.query.overview` request and returns what the
public method returns: the distance matrix (:mod:`explorekit.engine.matrix`) as pairs or
offsets, facet counts (:mod:`explorekit.engine.facet`), or a random sample shaped like
``scroll``'s frame.

Examples
--------
>>> import numpy as np, explorekit as ek
>>> from explorekit.query.overview import MatrixRequest
>>> col = ek.Collection.from_arrays(np.eye(3, dtype=np.float32), ids=[5, 6, 7], distance="dot")
>>> answer(col.store, MatrixRequest.build(limit=1)).values.tolist()
[[5.0, 6.0, 0.0], [6.0, 5.0, 0.0], [7.0, 5.0, 0.0]]
"""

from __future__ import annotations

from typing import Any

from explorekit._support.threads import blas_threads
from explorekit.data.store import Store
from explorekit.engine.facet import facet_counts
from explorekit.engine.matrix import distance_matrix, sample_rows
from explorekit.query.filters import store_mask
from explorekit.query.overview import (
    FacetRequest,
    MatrixRequest,
    OverviewRequest,
    SampleRequest,
    facet_frame,
    offsets_matrix,
    pairs_frame,
)
from explorekit.query.results import id_values, to_frame


def answer(store: Store, request: OverviewRequest) -> Any:
    """The answer to one distance-matrix, facet or sample request (see the module docstring)."""
    mask = store_mask(request.filter, store)
    if isinstance(request, MatrixRequest):
        space = store.space(request.using)  # an unknown vector name fails before sampling
        points = min(request.sample, int(mask.sum()))
        with blas_threads(work=points * points * space.dim):  # one thread for small samples
            matrix = distance_matrix(
                store, request.using, mask, request.sample, request.limit, request.seed, request.exact
            )
        a, b, scores = matrix.pairs()
        if request.format == "offsets":
            offsets, ids = offsets_matrix(a, b, scores, id_values(store, matrix.rows))
            offsets.attrs = dict(matrix.info)
            return offsets, ids
        frame = pairs_frame(id_values(store, matrix.rows[a]), id_values(store, matrix.rows[b]), scores)
        frame.attrs.update(matrix.info)
        return frame
    if isinstance(request, FacetRequest):
        values, counts = (
            zip(*hits) if (hits := facet_counts(store.payload, request.key, mask, request.limit)) else ((), ())
        )
        return facet_frame(list(values), list(counts))
    if isinstance(request, SampleRequest):
        rows = sample_rows(mask, request.n, request.seed)
        return to_frame(store, rows, None, request.with_payload, request.with_vectors)
    raise TypeError(f"not an overview request: {request!r}")  # pragma: no cover - the types above are all
