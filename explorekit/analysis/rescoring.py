"""What rescoring does to one quantized query, point by point, from public calls only.

Qdrant answers a quantized query in three steps: take the best ``floor(oversampling * limit)``
candidates by *quantized* score, re-score them with the original vectors (when ``rescore`` is
on), and keep the best ``limit``. :func:`rescoring_effect` shows each step for one query: the
quantized candidate list, the rescored order, each point's rank change, and which points
rescoring rescued, dropped, or could not recover. Everything comes from ordinary
``search`` / ``recommend`` / ``discover`` calls with ``params``, so it shows exactly what those
calls return. :func:`recall_by_oversampling` measures recall@limit over several queries.

Examples
--------
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[0.1, 0.1, 0.1], [5.0, 5.0, -0.1], [-1.0, -1.0, -1.0]],
...                                 distance="dot").quantize({"binary": {}})
>>> frame = rescoring_effect(col, "search", query=[1.0, 1.0, 1.0], limit=1, oversampling=2)
>>> frame[["id", "quantized_rank", "quantized_score", "rescored_rank", "exact_score", "rescued"]]
   id  quantized_rank  quantized_score  rescored_rank  exact_score  rescued
0   0               0              3.0              1          0.3    False
1   1               1              1.0              0          9.9     True
>>> frame.attrs["recall_without_rescore"], frame.attrs["recall_with_rescore"]
(0.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from explorekit._support.errors import QuantizationError, RequestError, short_repr
from explorekit.query.params import candidate_count

if TYPE_CHECKING:
    from explorekit.collection import Collection

KINDS = ("search", "recommend", "discover")
_OWN = ("limit", "offset", "params", "score_threshold", "with_payload", "with_vectors")
COLUMNS = [
    "id",
    "quantized_rank",
    "quantized_score",
    "rescored_rank",
    "exact_score",
    "exact_rank",
    "rank_change",
    "returned_without_rescore",
    "returned",
    "rescued",
    "dropped",
    "lost",
]


def rescoring_effect(
    col: "Collection",
    kind: str = "search",
    *,
    limit: int = 10,
    oversampling: float | None = 4.0,
    with_payload: bool | Sequence[str] = False,
    **request: Any,
) -> pd.DataFrame:
    """Quantized candidates, their rescored order and each point's fate, for one query.

    Parameters
    ----------
    col : a quantized :class:`~explorekit.Collection` (see ``col.quantize``).
    kind : ``"search"``, ``"recommend"`` or ``"discover"`` (context search: discover without
        ``target``).
    limit, oversampling : as in Qdrant's ``limit`` and ``quantization.oversampling``;
        ``floor(oversampling * limit)`` candidates are taken by quantized score.
    with_payload : add payload columns (True, or a list of columns) after the ones below.
    **request : the query's own arguments, exactly as for ``col.<kind>`` (``query``,
        ``positive``, ``negative``, ``strategy``, ``target``, ``context``, ``using``,
        ``filter``, ``lookup_from``).

    Returns
    -------
    pandas.DataFrame
        One row per candidate (ordered by quantized rank), then one row per point of the exact
        top ``limit`` that was not a candidate. Ranks are 0-based, ``<NA>`` where the point is
        not ranked on that side:

        ``id``; ``quantized_rank`` and ``quantized_score`` (score as returned without
        rescoring); ``rescored_rank`` (rank among the candidates after rescoring) and
        ``exact_score`` (score with the original vectors); ``exact_rank`` (rank in the exact
        search's top ``limit``); ``rank_change`` (quantized minus rescored rank, positive =
        moved up); booleans ``returned_without_rescore`` (in the quantized top ``limit``),
        ``returned`` (in the rescored top ``limit``: what the query returns with rescoring),
        ``rescued`` (returned only thanks to rescoring), ``dropped`` (pushed out by
        rescoring) and ``lost`` (in the exact top ``limit`` but not returned).

        ``attrs`` holds ``query`` (the request), ``limit``, ``oversampling``,
        ``candidates``, ``recall_without_rescore`` and ``recall_with_rescore``
        (recall@limit against the exact search) and ``quantization`` (the method).

    Raises
    ------
    QuantizationError
        When the vector space is not quantized, or ``oversampling`` is below 1.
    RequestError
        For an unknown ``kind`` or arguments this function sets itself (``limit``...).
    """
    if kind not in KINDS:
        raise RequestError(
            f"rescoring_effect: kind={short_repr(kind)} is not one of {list(KINDS)}. "
            "Use 'search', 'recommend' or 'discover' (discover without target is "
            "context search)."
        )
    clash = [key for key in request if key in _OWN]
    if clash:
        raise RequestError(
            f"rescoring_effect: {clash} are set by rescoring_effect itself. Pass limit= "
            "and oversampling=; offset, score_threshold and params are not used."
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise RequestError(f"rescoring_effect: limit={short_repr(limit)} is not a positive integer.")
    if oversampling is not None and (
        isinstance(oversampling, bool) or not isinstance(oversampling, (int, float)) or not oversampling >= 1.0
    ):
        raise QuantizationError(
            f"rescoring_effect: oversampling={short_repr(oversampling)} is not a "
            "number >= 1.0 (Qdrant's rule). Use e.g. 2.0 or 4.0."
        )
    method = _method(col, request.get("using"))
    n = candidate_count(limit, oversampling, len(col))
    call = getattr(col, kind)

    def run(size: int, params: dict) -> pd.DataFrame:
        return call(**request, limit=size, params=params, with_payload=False)

    quantized = run(n, {"quantization": {"rescore": False}})
    rescored = run(n, {"quantization": {"rescore": True}})
    exact = run(limit, {"exact": True})

    frame = pd.DataFrame(
        {
            "id": quantized["id"],
            "quantized_rank": pd.array(np.arange(len(quantized)), dtype="Int64"),
            "quantized_score": quantized["score"].to_numpy(np.float64),
        }
    )
    after = pd.DataFrame(
        {
            "id": rescored["id"],
            "rescored_rank": pd.array(np.arange(len(rescored)), dtype="Int64"),
            "exact_score": rescored["score"].to_numpy(np.float64),
        }
    )
    truth = pd.DataFrame(
        {
            "id": exact["id"],
            "exact_rank": pd.array(np.arange(len(exact)), dtype="Int64"),
            "_truth_score": exact["score"].to_numpy(np.float64),
        }
    )
    frame = frame.merge(after, on="id", how="outer").merge(truth, on="id", how="outer")
    frame["exact_score"] = frame["exact_score"].fillna(frame["_truth_score"])
    frame = frame.drop(columns="_truth_score")
    frame = frame.sort_values(["quantized_rank", "exact_rank"], na_position="last", kind="stable").reset_index(
        drop=True
    )
    frame["rank_change"] = frame["quantized_rank"] - frame["rescored_rank"]
    before_top = (frame["quantized_rank"] < limit).fillna(False).astype(bool)
    after_top = (frame["rescored_rank"] < limit).fillna(False).astype(bool)
    in_truth = (frame["exact_rank"] < limit).fillna(False).astype(bool)
    frame["returned_without_rescore"] = before_top
    frame["returned"] = after_top
    frame["rescued"] = after_top & ~before_top
    frame["dropped"] = before_top & ~after_top
    frame["lost"] = in_truth & ~after_top
    frame = frame[COLUMNS]
    if with_payload is not False and len(frame):
        frame = _add_payload(col, frame, with_payload)
    denominator = max(1, min(limit, len(exact)))
    frame.attrs.update(
        {
            "query": {"kind": kind, **_final_request(rescored, limit, oversampling)},
            "limit": limit,
            "oversampling": oversampling,
            "candidates": n,
            "quantization": method,
            "recall_without_rescore": float((before_top & in_truth).sum()) / denominator,
            "recall_with_rescore": float((after_top & in_truth).sum()) / denominator,
        }
    )
    return frame


def recall_by_oversampling(
    col: "Collection",
    requests: Iterable[dict[str, Any]],
    *,
    kind: str = "search",
    limit: int = 10,
    oversampling: Sequence[float] = (1.0, 2.0, 4.0),
    rescore: Sequence[bool] = (False, True),
) -> pd.DataFrame:
    """Mean recall@limit of quantized queries against exact ones, per oversampling and rescore.

    ``requests`` are keyword dicts for ``col.<kind>`` (e.g. ``[{"query": v} for v in held_out]``).
    Returns a DataFrame with ``oversampling``, ``rescore``, ``recall``, ``queries`` and
    ``quantization`` columns, ready for ``explorekit.plots.recall_curve``.
    """
    requests = [dict(r) for r in requests]
    if not requests:
        raise RequestError(
            "recall_by_oversampling: no requests given. Pass a list of keyword dicts, e.g. [{'query': vector}, ...]."
        )
    if kind not in KINDS:
        raise RequestError(f"recall_by_oversampling: kind={short_repr(kind)} is not one of {list(KINDS)}.")
    method = _method(col, requests[0].get("using"))
    batch = getattr(col, f"{kind}_batch")
    truth = batch([{**r, "limit": limit, "params": {"exact": True}, "with_payload": False} for r in requests])
    rows = []
    for over in oversampling:
        for flag in rescore:
            params = {"quantization": {"rescore": bool(flag), "oversampling": float(over)}}
            got = batch([{**r, "limit": limit, "params": params, "with_payload": False} for r in requests])
            recalls = [len(set(g["id"]) & set(t["id"])) / max(1, min(limit, len(t))) for g, t in zip(got, truth)]
            rows.append(
                {
                    "oversampling": float(over),
                    "rescore": bool(flag),
                    "recall": float(np.mean(recalls)),
                    "queries": len(requests),
                    "quantization": method,
                }
            )
    return pd.DataFrame(rows)


def _method(col: "Collection", using: Any) -> str:
    """The quantization method of the queried vector space (raises if there is none)."""
    col.vectors(using)  # the collection's own error for an unknown or missing name
    usage = col.memory_usage()
    row = usage.iloc[0] if using is None else usage.loc[using]
    method = row.get("quantization")
    if method is None or (isinstance(method, float) and math.isnan(method)):
        raise QuantizationError(
            f"The vector space {using!r} is not quantized, so there is nothing to "
            "rescore. Call col.quantize(config, using=...) first, e.g. "
            "col.quantize({'binary': {}})."
        )
    return str(method)


def _final_request(frame: pd.DataFrame, limit: int, oversampling: float | None) -> dict:
    """The request whose answer this explains: ``limit`` results, rescored, oversampled."""
    body = dict(frame.attrs.get("query", {}))
    quantization: dict[str, Any] = {"rescore": True}
    if oversampling is not None:
        quantization["oversampling"] = float(oversampling)
    body.update({"limit": limit, "params": {"quantization": quantization}})
    return body


def _add_payload(col: "Collection", frame: pd.DataFrame, with_payload: Any) -> pd.DataFrame:
    payload = col.retrieve(list(frame["id"]))
    keep = [c for c in payload.columns if c != "id"]
    if with_payload is not True:
        keep = [c for c in keep if c in set(with_payload)]
    out = frame.merge(payload[["id", *keep]], on="id", how="left", sort=False)
    out.attrs = frame.attrs
    return out
