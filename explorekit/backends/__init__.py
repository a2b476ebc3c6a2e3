"""Backends: the same explorekit calls answered by a Qdrant server instead of local numpy.

Only :mod:`explorekit.backends.qdrant` exists; it needs the ``qdrant`` extra
(``pip install "explorekit[qdrant]"``) and is loaded on first use of ``ek.connect``, so
``import explorekit`` never imports qdrant-client.

Examples
--------
>>> import explorekit as ek
>>> conn = ek.connect(":memory:")          # or url="https://...:6333", api_key=...
>>> local = ek.Collection.from_arrays([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]], ids=[1, 2])
>>> remote = conn.upload(local, "articles", progress=False)
>>> conn["articles"].search([0.1, 0.2, 0.3], limit=1)["id"].tolist()
[1]
"""

from __future__ import annotations

__all__ = ["qdrant"]
