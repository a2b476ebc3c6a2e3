"""Backends: the same explorekit calls answered by a Qdrant server instead of local numpy.

Only :mod:`explorekit.backends.qdrant` exists; it needs the ``qdrant`` extra
(``pip install "explorekit[qdrant]"``) and is loaded on first use of ``ek.connect``, so
``import explorekit`` never imports qdrant-client.

Examples
--------
>>> import explorekit as ek
>>> conn = ek.connect(url="https://xyz.cloud.qdrant.io:6333", api_key="...")  # doctest: +SKIP
>>> conn["articles"].search([0.1, 0.2, 0.3], limit=5)                        # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["qdrant"]
