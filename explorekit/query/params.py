"""Search parameters with Qdrant's keys: ``exact``, ``hnsw_ef`` and ``quantization``.

Examples
--------
>>> SearchParams.parse({"exact": True})
SearchParams(exact=True, hnsw_ef=None, ignore=False, rescore=None, oversampling=None)
>>> SearchParams.parse({"quantization": {"oversampling": 2.0}}).to_dict()
{'quantization': {'oversampling': 2.0}}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from explorekit._support.errors import RequestError, short_repr, unknown
from explorekit._support.validation import check_count, check_real

_TOP_KEYS = ("exact", "hnsw_ef", "quantization", "indexed_only", "acorn")
_QUANT_KEYS = ("ignore", "rescore", "oversampling")


@dataclass(frozen=True)
class SearchParams:
    """Qdrant's ``SearchParams``: how a query is answered, never what it means."""

    exact: bool = False
    hnsw_ef: int | None = None
    ignore: bool = False
    rescore: bool | None = None
    oversampling: float | None = None

    @classmethod
    def parse(cls, params: Any, where: str = "params") -> "SearchParams":
        """Accept None, a dict with Qdrant's keys, a SearchParams, or a qdrant-client model."""
        if params is None:
            return cls()
        if isinstance(params, SearchParams):  # built directly: check it like a dict
            return cls.parse(params._given(), where)
        params = _section(
            params,
            where,
            _TOP_KEYS,
            'Pass e.g. params={"exact": True} or {"hnsw_ef": 128}.',
            "Use exact, hnsw_ef or quantization.",
        )
        exact = _bool(params.get("exact", False), f"{where}['exact']")
        ef = params.get("hnsw_ef")
        if ef is not None:
            ef = check_count(ef, f"{where}['hnsw_ef']", 1)
        quant = _section(
            params.get("quantization") or {},
            f"{where}['quantization']",
            _QUANT_KEYS,
            'Use e.g. {"rescore": True, "oversampling": 2.0}.',
            "Use ignore, rescore or oversampling.",
        )
        over = quant.get("oversampling")
        if over is not None:
            over = check_real(
                over,
                f"{where}['quantization']['oversampling']",
                1.0,
                float("inf"),
                "Qdrant requires a finite oversampling >= 1.0; use e.g. 2.0.",
            )
        rescore = quant.get("rescore")
        return cls(
            exact=exact,
            hnsw_ef=ef,
            ignore=_bool(quant.get("ignore", False), f"{where}['quantization']['ignore']"),
            rescore=None if rescore is None else _bool(rescore, f"{where}['quantization']['rescore']"),
            oversampling=over,
        )

    def _given(self) -> dict:
        """Every field in the dict shape :meth:`parse` reads (None fields left out)."""
        quant = {"ignore": self.ignore, "rescore": self.rescore, "oversampling": self.oversampling}
        return {
            "exact": self.exact,
            "hnsw_ef": self.hnsw_ef,
            "quantization": {k: v for k, v in quant.items() if v is not None},
        }

    def to_dict(self) -> dict:
        """The Qdrant JSON form, keeping only what differs from the defaults."""
        out: dict[str, Any] = {}
        if self.exact:
            out["exact"] = True
        if self.hnsw_ef is not None:
            out["hnsw_ef"] = self.hnsw_ef
        quant = {
            k: v
            for k, v in (
                ("ignore", self.ignore or None),
                ("rescore", self.rescore),
                ("oversampling", self.oversampling),
            )
            if v is not None
        }
        if quant:
            out["quantization"] = quant
        return out


def _section(value: Any, where: str, keys: tuple[str, ...], example: str, fix: str) -> dict:
    """One level of params: a dict (a qdrant-client model is dumped to one) of known keys only.

    >>> _section({"exact": True, "hnsw_ef": None}, "params", _TOP_KEYS, "", "")
    {'exact': True}
    """
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    if not isinstance(value, dict):
        raise RequestError(f"{where}: {short_repr(value)} is not a dict. {example}")
    for key in value:
        if key not in keys:
            raise RequestError(unknown(f"key in {where}", key, keys, fix))
    return {k: v for k, v in value.items() if v is not None}  # null means the default, as in Qdrant


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise RequestError(f"{where}: {short_repr(value)} is not true or false. Use True or False.")
    return value


def candidate_count(top: int, oversampling: float | None, scanned: int | None = None) -> int:
    """Qdrant's number of quantized candidates for ``top`` results: ``floor(oversampling x top)`` if > 1.

    At most the ``scanned`` points when given: a huge oversampling or limit takes every point
    (their product may overflow a float).

    >>> candidate_count(10, 2.5), candidate_count(10, None), candidate_count(10, 1.0)
    (25, 10, 10)
    >>> candidate_count(2**63, 1e300, 1000)
    1000
    """
    if oversampling is None or oversampling <= 1.0:
        return top
    product = oversampling * top if scanned is None else min(oversampling * top, scanned)
    return math.floor(product)
