"""Moving points between a local Collection and a Qdrant collection.

* :func:`push` (``conn.upload(col, name)``) uploads ids, every named vector and the payload in
  batches. It creates the collection only when it is missing (and otherwise checks that its
  vectors match), and upserts by id, so running it again after an interruption finishes the
  job without duplicating anything.
* :func:`pull` (``conn[name].to_collection(...)``) brings a sample (``limit``, in id order or at
  random) or a filtered part back into a local Collection, e.g. to fit a map projection on it.

Examples
--------
>>> import explorekit as ek
>>> from qdrant_client import QdrantClient
>>> client = QdrantClient(":memory:")
>>> col = ek.Collection.from_arrays([[1.0, 0.0], [0.0, 1.0]], ids=["cat", "dog"])
>>> conn = ek.connect(client=client)
>>> remote = conn.upload(col, "pets", progress=False)
>>> remote.to_collection().ids.tolist()
['dog', 'cat']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from explorekit._support.errors import (
    BackendError,
    DuplicateIdError,
    ExploreError,
    QuantizationError,
    RequestError,
    short_repr,
)
from explorekit._support.progress import progress
from explorekit.backends._convert import (
    ID_FIELD,
    is_uuid,
    original_id,
    qdrant_modules,
    server_errors,
    spaces_of,
    to_point_id,
    vector_params,
)
from explorekit.backends._queries import to_filter
from explorekit.collection import Collection
from explorekit.quantization import normalize_config

_FORMAT = 1


def push(
    col: Collection,
    client: Any,
    name: str,
    quantization: Any = None,
    batch_size: int = 256,
    *,
    progress: bool = True,
    **create_options: Any,
) -> Any:
    """Upload a local collection to Qdrant: ids, named vectors and payload.

    Parameters
    ----------
    col : Collection
        The local collection.
    client : qdrant_client.QdrantClient or Connection
        Where to upload.
    name : str
        The Qdrant collection; created when missing (vectors, distances, ``quantization`` and
        ``create_options`` such as ``hnsw_config``, ``shard_number``, ``replication_factor``,
        ``on_disk_payload``), otherwise checked: same vector names, sizes and distances.
    quantization : dict or qdrant-client quantization model, optional
        ``{"scalar": {"type": "int8", "quantile": 0.99}}``, ``{"binary": {...}}`` or
        ``{"product": {"compression": "x16"}}``, set when the collection is created.
    batch_size : int
        Points per upsert request.
    progress : bool
        Show progress per batch.

    Returns
    -------
    qdrant_client.QdrantClient
        The client the points went to (``to_qdrant`` wraps it in a QdrantCollection).

    Raises
    ------
    BackendError
        The collection exists with other vectors, or the server refuses a request.
    """
    _, models = qdrant_modules()
    client = getattr(client, "client", client) if not hasattr(client, "query_batch_points") else client
    if not hasattr(client, "upsert"):
        raise RequestError(f"upload: client={short_repr(client)} is not a qdrant_client.QdrantClient.")
    if not isinstance(name, str) or not name:
        raise RequestError(f"upload: name={short_repr(name)} is not a collection name (a non-empty string).")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise RequestError(f"batch_size: {short_repr(batch_size)} is not a positive integer. Use e.g. 256.")
    if not isinstance(col, Collection):
        raise RequestError(f"upload: {short_repr(col)} is not an explorekit Collection.")
    quant = quantization_config(quantization, models)
    originals = col.store.ids.values
    sent = [to_point_id(v, f"ids[{i}]") for i, v in enumerate(originals)]
    mapped = [i for i, v in enumerate(originals) if isinstance(v, str) and not is_uuid(v)]
    if len(set(sent)) != len(sent):
        raise DuplicateIdError(
            "upload: two ids map to the same Qdrant id (a string id's uuid5 equals a "
            "UUID id of the collection). Rename one of them."
        )
    columns = list(col.store.payload.columns)
    if ID_FIELD in columns:
        raise ExploreError(
            f"upload: the payload field {ID_FIELD!r} is reserved for the original string ids. Rename that column."
        )
    spaces = {key: (space.dim, space.distance) for key, space in col.store.spaces.items()}
    metadata = {
        "explorekit": {
            "format": _FORMAT,
            "payload_columns": columns,
            "int_ids": col.store.ids.all_int,
            "mapped_ids": bool(mapped),
        }
    }
    _ensure_collection(client, models, name, spaces, quant, metadata, create_options)
    records = col.store.payload.to_records()
    for i in mapped:
        records[i][ID_FIELD] = originals[i]
    starts = range(0, len(sent), int(batch_size))
    for start in _progress(starts, len(starts), f"upload {name!r}", progress):
        stop = start + int(batch_size)
        if set(spaces) == {""}:
            vectors: Any = col.store.spaces[""].stored[start:stop].tolist()
        else:
            vectors = {key: space.stored[start:stop].tolist() for key, space in col.store.spaces.items()}
        batch = models.Batch(ids=sent[start:stop], vectors=vectors, payloads=records[start:stop])
        with server_errors(f"upload {name!r}, points {start}..{min(stop, len(sent)) - 1}"):
            client.upsert(name, points=batch, wait=True)
    return client


def _ensure_collection(
    client: Any, models: Any, name: str, spaces: dict, quant: Any, metadata: dict, options: dict
) -> None:
    with server_errors(f"upload {name!r}"):
        exists = client.collection_exists(name)
        if exists:
            have = {k: (s.dim, s.distance) for k, s in spaces_of(client.get_collection(name)).items()}
            if have != spaces:
                raise BackendError(
                    f"upload: collection {name!r} already exists on the server with vectors {_show(have)}, "
                    f"but this collection has {_show(spaces)}. Upload under another name, or delete it "
                    f"first with client.delete_collection({name!r})."
                )
            return
        config = vector_params(models, spaces)
        try:
            client.create_collection(
                name, vectors_config=config, quantization_config=quant, metadata=metadata, **options
            )
        except Exception as err:  # servers before 1.16 know no collection metadata
            if "metadata" not in str(getattr(err, "content", err)):
                raise
            client.create_collection(name, vectors_config=config, quantization_config=quant, **options)


def _show(spaces: dict) -> str:
    return "{" + ", ".join(f"{k or '<unnamed>'}: {d}-d {dist}" for k, (d, dist) in spaces.items()) + "}"


def quantization_config(quantization: Any, models: Any) -> Any:
    """explorekit's quantization dict -> the qdrant-client model (models pass through)."""
    if quantization is None:
        return None
    if hasattr(quantization, "model_dump") and not isinstance(quantization, dict):
        return quantization
    config = normalize_config(quantization)
    ((method, body),) = config.items()
    given = dict(quantization.get(method) or {}) if isinstance(quantization, dict) else {}
    body = {k: v for k, v in body.items() if v is not None}
    for placement in ("always_ram", "memory"):  # where the server keeps the codes
        if given.get(placement) is not None:
            body[placement] = given[placement]
    try:
        if method == "scalar":
            return models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(**body))
        if method == "binary":
            return models.BinaryQuantization(binary=models.BinaryQuantizationConfig(**body))
        return models.ProductQuantization(product=models.ProductQuantizationConfig(**body))
    except ValueError as err:
        raise QuantizationError(
            f"quantization: {short_repr(quantization)} is not accepted by qdrant-client: "
            f"{' '.join(str(err).splitlines()[1:3])}"
        ) from None


def _progress(items: Iterable[int], total: int, desc: str, show: bool) -> Iterable[int]:
    return progress(items, total=total, desc=desc) if show else items


def pull(
    remote: Any, limit: int | None = None, filter: Any = None, *, order: str = "id", local_name: str | None = None
) -> Collection:
    """A local Collection of the points of a Qdrant collection (all, a sample, or a filtered part).

    Parameters
    ----------
    remote : QdrantCollection
        The Qdrant collection.
    limit : int, optional
        At most this many points (None: all that pass ``filter``).
    filter : dict, str or qdrant-client Filter, optional
        A Qdrant filter or a pandas query string (translated to a Qdrant filter).
    order : "id" or "random"
        ``"id"``: the first points in Qdrant's id order; ``"random"``: a random sample drawn
        by the server (Qdrant's ``sample: random`` query; needs ``limit``).
    local_name : str, optional
        A ``name=`` for the local Collection (for ``lookup_from`` by name). Unnamed by
        default, so a sample never takes the place of a local collection of the same name.

    Returns
    -------
    Collection
        Same ids (string ids restored), vectors, distances and payload.
    """
    _, models = qdrant_modules()
    client, name = remote.client, remote.name
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise RequestError(f"limit: {short_repr(limit)} is not a positive integer (or None for every point).")
    if order not in ("id", "random"):
        raise RequestError(f"order: {short_repr(order)} is neither 'id' nor 'random'.")
    if isinstance(filter, (np.ndarray, list)) or hasattr(filter, "dtype"):
        raise RequestError(
            "from_qdrant: filter must be a Qdrant filter or a pandas query string; a boolean "
            "array has no meaning before the points are fetched."
        )
    flt = to_filter(remote, filter, models)
    if order == "random" and limit is not None:
        with server_errors(f"from_qdrant {name!r} (random sample)"):
            points = client.query_points(
                name,
                query=models.SampleQuery(sample=models.Sample.RANDOM),
                query_filter=flt,
                limit=int(limit),
                with_payload=True,
                with_vectors=True,
            ).points
    else:
        points = remote._scroll_points(flt, limit, True, True, desc=f"from_qdrant {name!r}")
    ids = [original_id(p.id, p.payload) for p in points]
    records = [{k: v for k, v in (p.payload or {}).items() if k != ID_FIELD} for p in points]
    spaces = remote.spaces
    vectors = {
        key: _matrix(
            [p.vector if key == "" and not isinstance(p.vector, dict) else p.vector[key] for p in points], space.dim
        )
        for key, space in spaces.items()
    }
    distances = {key: space.distance for key, space in spaces.items()}
    if set(vectors) == {""}:
        return Collection.from_arrays(vectors[""], ids=ids, payload=records, distance=distances[""], name=local_name)
    return Collection.from_arrays(vectors, ids=ids, payload=records, distance=distances, name=local_name)


def _matrix(rows: list, dim: int) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), dim)
