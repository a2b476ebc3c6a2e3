"""explorekit requests -> qdrant-client models, Qdrant answers -> explorekit DataFrames.

Point ids: Qdrant stores unsigned integers and UUIDs only. explorekit also allows arbitrary
strings; such an id is sent as ``uuid5(ID_NAMESPACE, id)`` and the original is kept in the
payload field :data:`ID_FIELD` (``"_explorekit_id"``), which is read back and hidden in every
result. Integers and UUIDs are sent as they are.

Server errors (HTTP, gRPC, or qdrant-client local mode's ``ValueError``) become
:class:`~explorekit.BackendError` carrying the server's message; the common cases are also
the matching explorekit error (an unknown id is a ``BackendError`` *and* an ``UnknownIdError``).

Examples
--------
>>> to_point_id(7), to_point_id("936DA01F9ABD4d9d80C702AF85C822A8")
(7, '936da01f-9abd-4d9d-80c7-02af85c822a8')
>>> to_point_id("cat") == to_point_id("cat")
True
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorekit._support.errors import (
    BackendError,
    DimensionError,
    ExploreError,
    MissingDependencyError,
    UnknownCollectionError,
    UnknownIdError,
    UnknownVectorError,
)
from explorekit.data.ids import normalize_id

ID_FIELD = "_explorekit_id"
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "explorekit:point-id")
MAX_ID = 2**64 - 1
QDRANT_DISTANCE = {"cosine": "Cosine", "dot": "Dot", "euclid": "Euclid", "manhattan": "Manhattan"}
EK_DISTANCE = {v: k for k, v in QDRANT_DISTANCE.items()}


def qdrant_modules() -> tuple[Any, Any]:
    """``(QdrantClient, models)``, or a MissingDependencyError naming the extra to install."""
    try:
        from qdrant_client import QdrantClient, models
    except ImportError:
        raise MissingDependencyError(
            'The Qdrant backend needs qdrant-client: pip install "explorekit[qdrant]"'
        ) from None
    return QdrantClient, models


# ---------------------------------------------------------------------------------- ids


def to_point_id(value: Any, where: str = "id") -> int | str:
    """The id Qdrant stores for an explorekit id (ints and UUIDs as they are, strings as uuid5)."""
    pid = normalize_id(value)
    if isinstance(pid, int):
        if pid > MAX_ID:
            raise ExploreError(
                f"{where}: point id {pid} is above 2**64-1, the largest id Qdrant stores. "
                "Use smaller integers, or strings (stored as UUIDs)."
            )
        return pid
    return pid if is_uuid(pid) else str(uuid.uuid5(ID_NAMESPACE, pid))


def is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def original_id(point_id: Any, payload: Mapping | None) -> int | str:
    """The explorekit id of a point Qdrant returned."""
    if payload and ID_FIELD in payload:
        return payload[ID_FIELD]
    return point_id if isinstance(point_id, int) else str(point_id)


# ---------------------------------------------------------------------------------- errors


class RemoteUnknownIdError(BackendError, UnknownIdError):
    """The server did not find a point id."""


class RemoteDimensionError(BackendError, DimensionError):
    """The server rejected a vector of the wrong dimension."""


class RemoteUnknownVectorError(BackendError, UnknownVectorError):
    """The server does not know a vector name."""


class RemoteUnknownCollectionError(BackendError, UnknownCollectionError):
    """The server does not know a collection."""


_KINDS = (
    (
        re.compile(r"no point with id|point .* not found|not found.*point", re.I),
        RemoteUnknownIdError,
        "Check the id with col.retrieve([...]).",
    ),
    (
        re.compile(r"collection .*(not found|doesn't exist|does not exist)", re.I),
        RemoteUnknownCollectionError,
        "List the server's collections with conn.collections.",
    ),
    (
        re.compile(r"dimension|not aligned", re.I),
        RemoteDimensionError,
        "Pass vectors of the collection's dimension (col.dim(using)).",
    ),
    (
        re.compile(r"vector name|vector .* not found|vector .* is not found", re.I),
        RemoteUnknownVectorError,
        "Pass using= one of col.vector_names.",
    ),
)


def server_message(err: BaseException) -> tuple[str, int | None]:
    """The server's own message and HTTP status (None when not over HTTP)."""
    status = getattr(err, "status_code", None)
    content = getattr(err, "content", None)
    if isinstance(content, (bytes, str)):
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        try:
            text = json.loads(text)["status"]["error"]
        except (ValueError, KeyError, TypeError):
            pass
        return str(text).strip() or getattr(err, "reason_phrase", "") or str(err), status
    details = getattr(err, "details", None)
    if callable(details):  # grpc.RpcError
        code = getattr(err, "code", None)
        name = getattr(code(), "name", "") if callable(code) else ""
        return f"{details()} (gRPC {name})".strip(), None
    source = getattr(err, "source", None)  # ResponseHandlingException
    if source is not None:
        return f"could not reach the Qdrant server: {source}", None
    return str(err) or type(err).__name__, status


def backend_error(err: BaseException, what: str) -> BackendError:
    """The explorekit error for a server-side failure of ``what``."""
    message, status = server_message(err)
    cls, hint = BackendError, ""
    for pattern, kind, fix in _KINDS:
        if pattern.search(message):
            cls, hint = kind, " " + fix
            break
    http = f" (HTTP {status})" if status else ""
    out = cls(f"Qdrant error in {what}{http}: {message}.{hint}".replace("..", "."))
    out.server_message, out.status_code, out.server_error = message, status, err  # type: ignore[attr-defined]
    return out


def _backend_types() -> tuple[type, ...]:
    types: list[type] = [ValueError, AssertionError, KeyError, ConnectionError, TimeoutError]
    try:
        from qdrant_client.http.exceptions import ApiException, ResponseHandlingException

        types += [ApiException, ResponseHandlingException]
    except ImportError:  # pragma: no cover
        pass
    try:
        import grpc

        types.append(grpc.RpcError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


@contextmanager
def server_errors(what: str) -> Iterator[None]:
    """Turn what the client or server raises inside the block into a BackendError."""
    try:
        yield
    except ExploreError:
        raise
    except _backend_types() as err:
        raise backend_error(err, what) from None


# ---------------------------------------------------------------------------------- spaces


@dataclass(frozen=True)
class RemoteSpace:
    """One vector name of a Qdrant collection: name ("" = the unnamed vector), size, distance."""

    name: str
    dim: int
    distance: str

    @property
    def label(self) -> str:
        return "(the unnamed vector)" if self.name == "" else repr(self.name)


def spaces_of(info: Any) -> dict[str, RemoteSpace]:
    """Dense vector spaces of a ``CollectionInfo`` (sparse vectors are left out)."""
    vectors = info.config.params.vectors
    if vectors is None:
        return {}
    if hasattr(vectors, "size"):
        vectors = {"": vectors}
    out = {}
    for name, params in vectors.items():
        distance = getattr(params.distance, "value", params.distance)
        out[name] = RemoteSpace(name, int(params.size), EK_DISTANCE.get(str(distance), str(distance).lower()))
    return out


def vector_params(models: Any, spaces: Mapping[str, tuple[int, str]]) -> Any:
    """A ``vectors_config`` for create_collection from ``{name: (dim, distance)}``."""
    made = {
        name: models.VectorParams(size=dim, distance=models.Distance(QDRANT_DISTANCE[distance]))
        for name, (dim, distance) in spaces.items()
    }
    return made[""] if set(made) == {""} else made


def check_dim(vector: np.ndarray, space: RemoteSpace, where: str) -> None:
    if vector.shape[0] != space.dim:
        raise DimensionError(
            f"Vector dimension error: expected dim: {space.dim}, got {vector.shape[0]} ({where}, given). "
            f"The searched vector {space.label} has dimension {space.dim}; pass vectors of that length "
            "or look ids up in a matching space."
        )
