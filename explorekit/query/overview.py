"""Requests and answers of the whole-collection calls: distance matrix, facet counts, random samples.

The three are Qdrant's (1.12+) ``/points/search/matrix/pairs`` and ``/offsets``, ``/facet`` and
``/points/query`` with ``{"sample": "random"}``. Each request is checked here, once, for local
and remote collections alike; the answers are shaped here too:

* a distance matrix as pairs is a DataFrame ``a, b, score``; as offsets, a
  ``scipy.sparse.csr_matrix`` (row ``i``, column ``j`` index into ``ids``) and the ``ids``;
* facet counts are a DataFrame ``value, count``.

Examples
--------
>>> MatrixRequest.build(sample=50, limit=5, format="offsets")
MatrixRequest(sample=50, limit=5, filter=None, using=None, format='offsets', seed=None, exact=None)
>>> pairs_frame(np.array([1, 2]), np.array([2, 1]), np.array([0.5, 0.5], np.float32))
   a  b  score
0  1  2    0.5
1  2  1    0.5
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from explorekit._support.errors import RequestError, short_repr, unknown
from explorekit._support.validation import check_count, check_name
from explorekit.query.requests import parse_selectors
from explorekit.query.results import frame_from_columns

FORMATS = ("pairs", "offsets")
_USING_FIX = "Pass a vector name, e.g. using='image', or None for the unnamed vector."


def check_seed(seed: Any) -> int | np.random.Generator | None:
    """``seed`` as numpy takes it: None, a non-negative integer or a ``numpy.random.Generator``."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    return check_count(seed, "seed", 0)


@dataclass(frozen=True)
class MatrixRequest:
    """``distance_matrix(sample, limit, filter, using, format, seed)``, checked."""

    sample: int = 10
    limit: int = 3
    filter: Any = None
    using: str | None = None
    format: str = "pairs"
    seed: Any = None
    exact: bool | None = None  # Python only: Qdrant's matrix bodies have no such key

    @classmethod
    def build(
        cls,
        sample: Any = 10,
        limit: Any = 3,
        filter: Any = None,
        using: Any = None,
        format: Any = "pairs",
        seed: Any = None,
        exact: Any = None,
    ) -> "MatrixRequest":
        """Check every argument (Qdrant's bounds: ``sample >= 2``, ``limit >= 1``) before any work.

        >>> MatrixRequest.build(sample=1)
        Traceback (most recent call last):
        ...
        explorekit.RequestError: sample: 1 is below 2. Use an integer >= 2 and <= 2**64 - 1.
        """
        if format not in FORMATS:
            raise RequestError(
                unknown(
                    "format",
                    format,
                    FORMATS,
                    "format='pairs' gives a DataFrame a, b, score; "
                    "format='offsets' a scipy.sparse.csr_matrix and the ids.",
                )
            )
        if exact is not None and not isinstance(exact, (bool, np.bool_)):
            raise RequestError(
                f"exact: {short_repr(exact)} is not True, False or None. None lets the size decide; "
                "True forces the exact matrix, False the approximate one."
            )
        return cls(
            sample=check_count(10 if sample is None else sample, "sample", 2),
            limit=check_count(3 if limit is None else limit, "limit", 1),
            filter=filter,
            using=check_name(using, "using", _USING_FIX),
            format=format,
            seed=check_seed(seed),
            exact=None if exact is None else bool(exact),
        )


@dataclass(frozen=True)
class FacetRequest:
    """``facet(key, filter, limit, exact)``, checked."""

    key: str
    filter: Any = None
    limit: int = 10
    exact: bool = True

    @classmethod
    def build(cls, key: Any, filter: Any = None, limit: Any = 10, exact: Any = True) -> "FacetRequest":
        """Check the key (a field name or JSON path) and the limit (``>= 1``).

        >>> FacetRequest.build("colour", limit=3)
        FacetRequest(key='colour', filter=None, limit=3, exact=True)
        """
        if not isinstance(key, str) or not key:
            raise RequestError(
                f"key: {short_repr(key)} is not a payload key. Pass a field name or JSON path, "
                "e.g. 'colour' or 'country.name'."
            )
        if exact is not None and not isinstance(exact, (bool, np.bool_)):
            raise RequestError(f"exact: {short_repr(exact)} is not True or False.")
        return cls(key, filter, check_count(10 if limit is None else limit, "limit", 1), bool(exact is None or exact))


@dataclass(frozen=True)
class SampleRequest:
    """``sample(n, filter, seed)``: ``n`` points drawn at random among those passing ``filter``."""

    n: int = 10
    filter: Any = None
    seed: Any = None
    with_payload: bool | tuple[str, ...] = True
    with_vectors: bool | tuple[str, ...] = False

    @classmethod
    def build(
        cls, n: Any = 10, filter: Any = None, seed: Any = None, with_payload: Any = True, with_vectors: Any = False
    ) -> "SampleRequest":
        """Check ``n`` (``>= 1``), the seed and the selectors.

        >>> SampleRequest.build(3, seed=1).n
        3
        """
        payload, vectors = parse_selectors(with_payload, with_vectors)
        return cls(check_count(10 if n is None else n, "n", 1), filter, check_seed(seed), payload, vectors)


OverviewRequest = MatrixRequest | FacetRequest | SampleRequest


def pairs_frame(a: np.ndarray, b: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """The pairs answer: one row per (sampled point, neighbour), ids as :func:`id_array` types them."""
    return frame_from_columns({"a": a, "b": b, "score": np.asarray(scores, np.float32).astype(np.float64)}, len(a))


def offsets_matrix(
    rows: np.ndarray, columns: np.ndarray, scores: np.ndarray, ids: np.ndarray
) -> tuple[Any, np.ndarray]:
    """The offsets answer: a ``len(ids) x len(ids)`` CSR matrix of the scores, and ``ids``.

    Entries keep Qdrant's order (row by row, best first), and a score of 0 stays an explicit
    entry (a distance of 0 between two equal vectors is still an edge).

    >>> m, ids = offsets_matrix(np.array([0, 1]), np.array([1, 0]), np.array([0.0, 2.0]), np.array([7, 9]))
    >>> m.toarray().tolist(), m.nnz, ids.tolist()
    ([[0.0, 0.0], [2.0, 0.0]], 2, [7, 9])
    """
    import scipy.sparse  # a slow import, needed only for this answer

    rows = np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(ids)))]) if len(ids) else np.zeros(1, int)
    data = np.asarray(scores, dtype=np.float32)[order]
    matrix = scipy.sparse.csr_matrix(
        (data, np.asarray(columns, dtype=np.int64)[order], indptr), shape=(len(ids), len(ids))
    )
    return matrix, ids


def facet_frame(values: list[Any], counts: list[int]) -> pd.DataFrame:
    """The facet answer: ``value`` (object: bools, ints and strings as they are) and ``count``."""
    cells = np.empty(len(values), dtype=object)
    cells[:] = values
    return frame_from_columns({"value": cells, "count": np.asarray(counts, dtype=np.int64)}, len(values))


MATRIX_ENDPOINTS = {"/points/search/matrix/pairs": "pairs", "/points/search/matrix/offsets": "offsets"}
FACET_ENDPOINT = "/facet"
_SERVER_ONLY = {"shard_key", "consistency", "timeout"}  # accepted and ignored, as for the other bodies
_BODY_KEYS = {
    "/points/search/matrix/pairs": {"sample", "limit", "filter", "using"},
    "/points/search/matrix/offsets": {"sample", "limit", "filter", "using"},
    FACET_ENDPOINT: {"key", "limit", "filter", "exact"},
}


def parse_overview_body(body: Any, endpoint: str) -> OverviewRequest:
    """The request of a REST body of ``/points/search/matrix/pairs``, ``.../offsets`` or ``/facet``.

    >>> parse_overview_body({"sample": 10, "limit": 2}, "/points/search/matrix/offsets").format
    'offsets'
    >>> parse_overview_body({"key": "size", "exact": True}, "/facet")
    FacetRequest(key='size', filter=None, limit=10, exact=True)
    """
    allowed = _BODY_KEYS[endpoint]
    for key in body:
        if key not in allowed | _SERVER_ONLY:
            raise RequestError(
                unknown(
                    f"key in the {endpoint} body", key, sorted(allowed), f"The {endpoint} body takes {sorted(allowed)}."
                )
            )
    if endpoint == FACET_ENDPOINT:
        if "key" not in body:
            raise RequestError("/facet: the body needs 'key', the payload key to count values of.")
        return FacetRequest.build(body["key"], body.get("filter"), body.get("limit"), body.get("exact"))
    return MatrixRequest.build(
        body.get("sample"), body.get("limit"), body.get("filter"), body.get("using"), MATRIX_ENDPOINTS[endpoint]
    )
