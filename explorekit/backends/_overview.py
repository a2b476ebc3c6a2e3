"""The whole-collection calls answered by the server's own APIs: no vectors are downloaded.

``distance_matrix`` calls ``search_matrix_pairs`` / ``search_matrix_offsets``, ``facet`` calls
``facet`` and ``sample`` calls ``query_points`` with ``SampleQuery(sample=RANDOM)``; the answers
are shaped by the same builders as locally (:mod:`explorekit.query.overview`). Two things differ
from a local collection:

* the server draws its own random sample, so ``seed`` cannot make it repeatable there (it is
  accepted and has no effect);
* string ids that are not UUIDs live on the server as uuid5 (:mod:`explorekit.backends._convert`):
  the sampled points' original ids are read back from their payload (one ``retrieve`` of that
  field only), and the rows are put in explorekit's id order, as locally.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from explorekit.backends._convert import ID_FIELD, original_id, qdrant_modules, server_errors
from explorekit.backends._queries import payload_selector, to_filter, to_frame, vector_selector
from explorekit.data.ids import scroll_key
from explorekit.query.overview import (
    FacetRequest,
    MatrixRequest,
    OverviewRequest,
    SampleRequest,
    facet_frame,
    offsets_matrix,
    pairs_frame,
)
from explorekit.query.results import id_array


def answer(remote: Any, request: OverviewRequest) -> Any:
    """What the public method returns, asked of the server (see the module docstring)."""
    _, models = qdrant_modules()
    flt = to_filter(remote, request.filter, models)
    if isinstance(request, MatrixRequest):
        return _matrix(remote, request, flt)
    if isinstance(request, FacetRequest):
        with server_errors(f"facet on {remote.name!r}"):
            hits = remote.client.facet(
                remote.name, request.key, facet_filter=flt, limit=request.limit, exact=request.exact
            ).hits
        return facet_frame([h.value for h in hits], [int(h.count) for h in hits])
    if isinstance(request, SampleRequest):
        with server_errors(f"random sample on {remote.name!r}"):
            points = remote.client.query_points(
                remote.name,
                query=models.SampleQuery(sample=models.Sample.RANDOM),
                query_filter=flt,
                limit=request.n,
                with_payload=payload_selector(remote, request.with_payload),
                with_vectors=vector_selector(remote, request.with_vectors),
            ).points
        return to_frame(remote, points, request.with_payload, request.with_vectors, scores=False)
    raise TypeError(f"not an overview request: {request!r}")  # pragma: no cover


def _matrix(remote: Any, request: MatrixRequest, flt: Any) -> Any:
    using = remote.space(request.using).name or None
    args = dict(query_filter=flt, limit=request.limit, sample=request.sample, using=using)
    with server_errors(f"distance matrix on {remote.name!r}"):
        if request.format == "offsets":
            found = remote.client.search_matrix_offsets(remote.name, **args)
            point_ids, rows, columns, scores = found.ids, found.offsets_row, found.offsets_col, found.scores
        else:
            pairs = remote.client.search_matrix_pairs(remote.name, **args).pairs
            point_ids = list(dict.fromkeys([p.a for p in pairs] + [p.b for p in pairs]))
            position = {pid: i for i, pid in enumerate(point_ids)}
            rows = [position[p.a] for p in pairs]
            columns = [position[p.b] for p in pairs]
            scores = [p.score for p in pairs]
    ids = _original_ids(remote, point_ids)
    order = sorted(range(len(ids)), key=lambda i: scroll_key(ids[i]))  # Qdrant's id order, as locally
    new_position = np.empty(len(ids), dtype=np.int64)
    new_position[order] = np.arange(len(ids))
    rows = new_position[np.asarray(rows, dtype=np.int64)]
    columns = new_position[np.asarray(columns, dtype=np.int64)]
    typed = id_array([ids[i] for i in order], remote._int_ids is not False and all(isinstance(v, int) for v in ids))
    scores = np.asarray(scores, dtype=np.float32)
    if request.format == "offsets":
        return offsets_matrix(rows, columns, scores, typed)
    keep = np.argsort(rows, kind="stable")  # rows in id order, each row's neighbours as the server sent them
    return pairs_frame(typed[rows[keep]], typed[columns[keep]], scores[keep])


def _original_ids(remote: Any, point_ids: list) -> list:
    """explorekit's ids of these server point ids (string ids mapped to uuid5 are read back)."""
    if not point_ids or not remote._maybe_mapped:
        return [original_id(pid, None) for pid in point_ids]
    with server_errors(f"retrieve on {remote.name!r}"):
        found = remote.client.retrieve(remote.name, ids=point_ids, with_payload=[ID_FIELD], with_vectors=False)
    by_id = {str(p.id): original_id(p.id, p.payload) for p in found}
    return [by_id.get(str(pid), original_id(pid, None)) for pid in point_ids]
