"""explorekit: explore vector data in Jupyter with Qdrant's exact answers.

>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
>>> col.recommend(positive=[0], strategy="best_score")["id"].tolist()
[2, 1]
"""

from __future__ import annotations

import importlib
from typing import Any

from explorekit._support.errors import (
    BackendError,
    DimensionError,
    DuplicateIdError,
    ExploreError,
    FilterError,
    MissingDependencyError,
    NonFiniteError,
    PersistenceError,
    QuantizationError,
    RequestError,
    UnknownCollectionError,
    UnknownIdError,
    UnknownVectorError,
)
from explorekit.collection import Collection
from explorekit.query.params import SearchParams

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "Collection",
    "DimensionError",
    "DuplicateIdError",
    "ExploreError",
    "Explorer",
    "FilterError",
    "MissingDependencyError",
    "NonFiniteError",
    "PersistenceError",
    "QuantizationError",
    "QdrantCollection",
    "Report",
    "RequestError",
    "SearchParams",
    "UnknownCollectionError",
    "UnknownIdError",
    "UnknownVectorError",
    "analysis",
    "connect",
    "datasets",
    "encoders",
    "explain",
    "plots",
    "projection",
    "report",
    "rescoring",
    "widgets",
    "zones",
]

_LAZY_MODULES = {
    "datasets": "datasets",
    "encoders": "encoders",
    "plots": "plots",
    "widgets": "widgets",
    "report": "report",
    "analysis": "analysis",
    "projection": "analysis.projection",
    "explain": "analysis.explain",
    "zones": "analysis.zones",
    "rescoring": "analysis.rescoring",
}
_LAZY_NAMES = {
    "Explorer": ("widgets", "Explorer"),
    "Report": ("report", "Report"),
    "connect": ("backends.qdrant", "connect"),
    "QdrantCollection": ("backends.qdrant", "QdrantCollection"),
}


def __getattr__(name: str) -> Any:
    """Load UI modules on first use, so ``import explorekit`` stays free of plotly and widgets."""
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{_LAZY_MODULES[name]}")
    if name in _LAZY_NAMES:
        module, attr = _LAZY_NAMES[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module 'explorekit' has no attribute {name!r}")


def __dir__() -> list[str]:
    """Every public name, the lazily loaded ones too, so tab completion on ``ek.`` shows them.

    >>> import explorekit as ek
    >>> {"plots", "Explorer", "Report", "connect", "datasets"} <= set(dir(ek))
    True
    """
    return sorted(set(globals()) | set(__all__) | set(_LAZY_MODULES) | set(_LAZY_NAMES))
