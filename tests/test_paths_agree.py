"""Every path scores its final candidates with the same canonical code, so an approximate or
rescored answer differs from the exact one only by missing points, never by a score bit."""

from __future__ import annotations

import numpy as np
import pytest

import explorekit as ek
from explorekit import index

RNG = np.random.default_rng(11)
BASE = RNG.normal(size=(40, 24)).astype(np.float32)
VECTORS = (BASE[RNG.integers(0, 40, 3000)] + 0.3 * RNG.normal(size=(3000, 24))).astype(np.float32)

REQUESTS = [
    ("search", dict(query=VECTORS[3] + 0.1)),
    ("search", dict(query=7)),
    ("recommend", dict(positive=[1, 2], negative=[3])),
    ("recommend", dict(positive=[1, VECTORS[9]], negative=[3], strategy="best_score")),
    ("recommend", dict(negative=[5], strategy="best_score")),
    ("recommend", dict(positive=[1, 2], negative=[3, 4], strategy="sum_scores")),
    ("discover", dict(target=10, context=[(11, 12), (13, 14)])),
    ("discover", dict(target=None, context=[(11, 12)])),
]


@pytest.fixture(params=["cosine", "dot", "euclid", "manhattan"])
def col(request, monkeypatch):
    monkeypatch.setattr(index, "INDEXING_THRESHOLD_KB", 0)
    monkeypatch.setattr(index, "FULL_SCAN_THRESHOLD_KB", 0)
    return ek.Collection.from_arrays(VECTORS, distance=request.param)


@pytest.mark.parametrize("kind,kwargs", REQUESTS, ids=[f"{k}{i}" for i, (k, _) in enumerate(REQUESTS)])
def test_index_scores_are_bit_identical_to_exact(col, kind, kwargs):
    exact = getattr(col, kind)(**kwargs, limit=20, params={"exact": True}, with_payload=False)
    approx = getattr(col, kind)(**kwargs, limit=20, with_payload=False)
    assert exact.attrs["path"] == "exact" and approx.attrs["reason"]
    scores = dict(zip(exact["id"], exact["score"]))
    common = [(i, s) for i, s in zip(approx["id"], approx["score"]) if i in scores]
    if kind == "discover" and kwargs["target"] is None:      # context: large groups tie at 0.0
        assert set(approx["score"]) <= set(exact["score"]) | {0.0}
    else:
        assert len(common) >= 15, (approx.attrs["path"], approx.attrs["reason"])
    for pid, score in common:
        assert score == scores[pid], (pid, score, scores[pid], approx.attrs["path"])


@pytest.mark.parametrize("config", [{"binary": {}}, {"scalar": {"type": "int8"}}])
def test_rescored_scores_are_bit_identical_to_exact(config):
    col = ek.Collection.from_arrays(VECTORS).quantize(config)
    exact = col.search(VECTORS[0], limit=10, params={"exact": True})
    rescored = col.search(VECTORS[0], limit=10, params={"quantization": {"rescore": True, "oversampling": 4.0}})
    scores = dict(zip(exact["id"], exact["score"]))
    assert rescored.attrs["path"] == "quantized"
    for pid, score in zip(rescored["id"], rescored["score"]):
        if pid in scores:
            assert score == scores[pid]
