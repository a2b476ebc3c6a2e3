"""The approximate path: annoy and sign-code candidates, always rescored with Qdrant's formulas.

Small data (a few thousand points) with Qdrant's thresholds lowered so that the index answers;
the speed and the 0.95 recall claims live in benchmarks/bench_index.py.
"""

from __future__ import annotations

import compiled_kernels
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import explorekit as ek
from explorekit import index
from explorekit.engine import planner
from explorekit.index import AnnIndex
from explorekit.query.requests import Request

KINDS = ["search", "average_vector", "best_score", "best_score_negatives", "sum_scores", "discover", "context"]
METHODS = ["annoy", "sign_codes"]


@pytest.fixture
def indexed(monkeypatch):
    """Let the index answer small collections and small filtered sets."""
    monkeypatch.setattr(index, "INDEXING_THRESHOLD_KB", 0)
    monkeypatch.setattr(index, "FULL_SCAN_THRESHOLD_KB", 0)


@pytest.fixture(scope="module")
def text():
    """3,000 real MiniLM docstring embeddings stored, 100 others held out as queries."""
    df = ek.datasets.load("stdlib_docs")
    vectors = np.stack(df["embedding"].to_numpy()).astype(np.float32)
    order = np.random.default_rng(7).permutation(len(vectors))
    col = ek.Collection.from_arrays(vectors[order[:3000]])
    col.build_index(n_trees=16)
    return col, vectors[order[3000:3100]]


def blobs(distance: str, n: int = 2000, dim: int = 16, seed: int = 3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, dim)) * 3
    vectors = (centres[rng.integers(0, 12, n)] + rng.normal(size=(n, dim))).astype(np.float32)
    if distance == "dot":
        vectors *= rng.uniform(0.5, 1.5, size=(n, 1)).astype(np.float32)
    col = ek.Collection.from_arrays(vectors, distance=distance).build_index(n_trees=8)
    return col, (centres[:4] + rng.normal(size=(4, dim))).astype(np.float32)


def request(kind: str, q: np.ndarray, ids: list[int], **kw) -> Request:
    a, b, c, d = ids[:4]
    if kind == "search":
        return Request.build("search", query=q, **kw)
    if kind == "average_vector":
        return Request.build("recommend", positive=[a, b], negative=[c], **kw)
    if kind in ("best_score", "sum_scores"):
        return Request.build("recommend", positive=[a, q], negative=[c], strategy=kind, **kw)
    if kind == "best_score_negatives":
        return Request.build("recommend", negative=[c, d], strategy="best_score", **kw)
    if kind == "discover":
        return Request.build("discover", target=q, context=[(a, c), (b, d)], **kw)
    return Request.build("context", context=[(a, c), (b, d)], **kw)


def answer(col, req: Request, method: str | None = None):
    """(rows, shown scores, plan); ``method`` forces the index's candidate generator."""
    space = col.space(req.using)
    if method is not None:
        space.index.method = method
    try:
        plan = col.prepare(req)
        rows, scores = planner.answer([plan])[0]
    finally:
        if space.index is not None:
            space.index.method = "auto"
    return rows, scores, plan


def exact_all(col, req: Request) -> dict[int, float]:
    """Row -> shown exact score of every point the request can return."""
    rows, scores, _ = answer(col, exact(req, limit=len(col), offset=0))
    return dict(zip(rows.tolist(), scores.tolist()))


def exact(req: Request, **changes) -> Request:
    return req.replace(params=ek.SearchParams(exact=True), **changes)


def same_scores(scores, expected) -> None:
    """Equal to the exact path's scores up to float32 summation order (BLAS blocks differ)."""
    np.testing.assert_allclose(scores, np.array(expected, np.float32), rtol=1e-6, atol=1e-7)


def neighbours(col, q: np.ndarray, k: int = 4) -> list[int]:
    rows, _, _ = answer(col, Request.build("search", query=q, limit=k, params={"exact": True}))
    return rows.tolist()


def examples(col, q, rng) -> list[int]:
    near = neighbours(col, q, 2)
    far = rng.choice(len(col), 2, replace=False).tolist()
    ids = near + [x for x in far if x not in near]
    while len(ids) < 4:
        ids.append(int(rng.integers(len(col))))
    return ids


# ---------------------------------------------------------------------------------------------
# scores are exact, order is right, never fewer results


@pytest.mark.parametrize("distance", ["cosine", "dot", "euclid", "manhattan"])
@pytest.mark.parametrize("method", METHODS)
def test_index_scores_are_exact_scores(indexed, distance, method):
    col, queries = blobs(distance)
    rng = np.random.default_rng(0)
    larger_first = distance in ("cosine", "dot")
    for kind in KINDS:
        for q in queries[:2]:
            req = request(kind, q, examples(col, q, rng), limit=10)
            rows, scores, plan = answer(col, req, method)
            assert plan.path in ("annoy", "sign_codes", "exact"), plan.reason
            truth = exact_all(col, req)
            assert len(rows) == min(10, len(truth))
            same_scores(scores, [truth[r] for r in rows])
            shown = scores if (larger_first or kind not in ("search", "average_vector")) else -scores
            assert np.all(np.diff(shown) <= 0), (kind, shown)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("keep", [0.001, 0.01, 0.1, 0.5])
def test_filtered_never_fewer_than_exact(indexed, text, method, keep):
    col, queries = text
    n = len(col)
    rng = np.random.default_rng(int(keep * 1000))
    mask = np.zeros(n, bool)
    mask[rng.choice(n, max(1, int(round(keep * n))), replace=False)] = True
    for kind in KINDS:
        for limit in (10, 40):
            q = queries[0]
            req = request(kind, q, examples(col, q, rng), limit=limit, filter=mask)
            rows, scores, plan = answer(col, req, method)
            exact_rows, _, _ = answer(col, exact(req))
            assert len(rows) == len(exact_rows), (kind, limit, plan.path, plan.reason)
            assert mask[rows].all()


@settings(max_examples=25, deadline=None)
@given(
    keep=st.floats(0.0005, 0.9),
    limit=st.integers(1, 60),
    offset=st.integers(0, 5),
    kind=st.sampled_from(KINDS),
    method=st.sampled_from(METHODS),
    seed=st.integers(0, 10_000),
)
def test_property_never_fewer_and_exact_scores(text, keep, limit, offset, kind, method, seed):
    col, queries = text
    rng = np.random.default_rng(seed)
    mask = rng.random(len(col)) < keep
    q = queries[seed % len(queries)]
    req = request(kind, q, examples(col, q, rng), limit=limit, offset=offset, filter=mask)
    old = index.INDEXING_THRESHOLD_KB, index.FULL_SCAN_THRESHOLD_KB
    index.INDEXING_THRESHOLD_KB = index.FULL_SCAN_THRESHOLD_KB = 0
    try:
        rows, scores, plan = answer(col, req, method)
    finally:
        index.INDEXING_THRESHOLD_KB, index.FULL_SCAN_THRESHOLD_KB = old
    truth = exact_all(col, req)
    exact_count = max(0, min(limit, len(truth) - offset))
    assert len(rows) == exact_count, plan.reason
    same_scores(scores, [truth[r] for r in rows])


# ---------------------------------------------------------------------------------------------
# recall on real embeddings with held-out queries


def recall(col, req, rows, scores, k=10) -> float:
    truth = np.array(sorted(exact_all(col, req).values(), reverse=True), np.float32)
    if len(truth) == 0:
        return 1.0
    kth = truth[min(k, len(truth)) - 1]
    return float(np.sum(scores[:k] >= kth)) / min(k, len(truth))  # ties count as hits


@pytest.mark.parametrize("method", METHODS)
def test_recall_on_held_out_text(indexed, text, method):
    col, queries = text
    rng = np.random.default_rng(1)
    for kind in KINDS:
        values = []
        for q in queries[:15]:
            req = request(kind, q, examples(col, q, rng), limit=10)
            rows, scores, plan = answer(col, req, method)
            values.append(recall(col, req, rows, scores))
        assert np.mean(values) >= 0.9, (kind, method, np.mean(values), plan.reason)


def test_hnsw_ef_raises_recall(indexed, text):
    col, queries = text
    low, high = [], []
    for q in queries[:20]:
        for ef, out in ((10, low), (400, high)):
            req = Request.build("search", query=q, limit=10, params={"hnsw_ef": ef})
            rows, scores, plan = answer(col, req, "annoy")
            assert f"ef={ef} (hnsw_ef)" in plan.reason
            out.append(recall(col, req, rows, scores))
    assert np.mean(high) >= np.mean(low)
    assert np.mean(high) >= 0.98


def test_negatives_only_best_score_uses_annoy_farthest(indexed, text):
    col, queries = text
    req = Request.build("recommend", negative=[0, 1], strategy="best_score", limit=10)
    rows, scores, plan = answer(col, req, "annoy")
    assert plan.path == "annoy", plan.reason  # certified, no fallback
    assert recall(col, req, rows, scores) == 1.0


# ---------------------------------------------------------------------------------------------
# the planner's choices and reasons


def test_small_collection_is_scanned_exactly_like_qdrant():
    col, queries = blobs("cosine")
    rows, _, plan = answer(col, Request.build("search", query=queries[0]))
    assert plan.path == "exact" and "indexing_threshold" in plan.reason


def test_few_passing_points_are_scanned_exactly(monkeypatch, text):
    monkeypatch.setattr(index, "INDEXING_THRESHOLD_KB", 0)
    col, queries = text
    mask = np.zeros(len(col), bool)
    mask[:100] = True
    _, _, plan = answer(col, Request.build("search", query=queries[0], filter=mask))
    assert plan.path == "exact" and "full_scan_threshold" in plan.reason and "100 of 3,000" in plan.reason


def test_exact_param_bypasses_the_index(indexed, text):
    col, queries = text
    _, _, plan = answer(col, Request.build("search", query=queries[0], params={"exact": True}))
    assert plan.path == "exact" and "exact=True" in plan.reason


def test_auto_method_picks_a_path_and_says_why(indexed, text):
    col, queries = text
    _, _, plan = answer(col, Request.build("search", query=queries[0]))
    assert plan.path in ("annoy", "sign_codes", "exact")
    assert "estimated ms" in plan.reason


def test_first_query_without_an_index_answers_exactly_and_builds_nothing(indexed):
    """A query never builds the index in the caller's thread (issue 17): exact, and the reason
    names col.build_index(); after build_index the same query may use the index."""
    vectors = np.random.default_rng(0).normal(size=(500, 8)).astype(np.float32)
    col = ek.Collection.from_arrays(vectors, distance="euclid")
    rows, _, plan = answer(col, Request.build("search", query=vectors[0], limit=3))
    assert col._space(None).index is None
    assert plan.path == "exact" and plan.reason.startswith(planner.NO_INDEX) and plan.wants_index
    assert "col.build_index()" in plan.reason and rows[0] == 0
    col.build_index()
    rows, _, plan = answer(col, Request.build("search", query=vectors[0], limit=3))
    assert isinstance(col._space(None).index, AnnIndex) and not plan.wants_index
    assert planner.NO_INDEX not in plan.reason and rows[0] == 0


def test_fallback_is_recorded(indexed):
    """Context pairs no point satisfies: annoy cannot certify, the answer is still exact-scored."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(1500, 8)).astype(np.float32)
    col = ek.Collection.from_arrays(vectors).build_index(n_trees=5)
    p, n = rng.normal(size=8).astype(np.float32), rng.normal(size=8).astype(np.float32)
    req = Request.build("context", context=[(p, n), (n, p)], limit=5)
    rows, scores, plan = answer(col, req, "annoy")
    assert plan.path in ("sign_codes", "exact") and "could not certify" in plan.reason
    truth = exact_all(col, req)
    same_scores(scores, [truth[r] for r in rows])


# ---------------------------------------------------------------------------------------------
# building, saving, loading


def test_default_trees_follow_size_and_dimension():
    assert index.default_n_trees(300, 2) == 10
    assert index.default_n_trees(100_000, 384) > index.default_n_trees(6_000, 384) >= index.default_n_trees(6_000, 64)
    assert index.default_n_trees(10**7, 4096) == 64


def test_save_and_load_memory_maps(tmp_path, indexed):
    col, queries = blobs("euclid")
    built = col._space(None).index
    meta = built.save(tmp_path / "index-0.ann")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(meta["files"])
    loaded = AnnIndex.load(tmp_path / "index-0.ann", dim=16, metric="euclid")
    assert isinstance(loaded.codes.words, np.memmap)
    assert loaded.nbytes >= (tmp_path / "index-0.ann").stat().st_size
    assert loaded.tuning == built.tuning and loaded.n_trees == built.n_trees
    before = answer(col, Request.build("search", query=queries[0]), "annoy")[:2]
    col._space(None).index = index.load_index(tmp_path / "index-0.ann", meta, col._space(None))
    after = answer(col, Request.build("search", query=queries[0]), "annoy")[:2]
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])


def test_collection_save_keeps_the_index(tmp_path, indexed):
    col, queries = blobs("cosine")
    col.save(tmp_path / "col")
    back = ek.Collection.load(tmp_path / "col")
    assert isinstance(back._space(None).index, AnnIndex)
    a = answer(col, Request.build("search", query=queries[0]), "sign_codes")[:2]
    b = answer(back, Request.build("search", query=queries[0]), "sign_codes")[:2]
    np.testing.assert_array_equal(a[0], b[0])


def test_memory_usage_reports_index_bytes():
    col, _ = blobs("cosine")
    assert col.memory_usage().loc["", "index_bytes"] > 0


def test_bad_input(tmp_path):
    col, _ = blobs("cosine")
    with pytest.raises(ek.ExploreError, match=r"n_trees=0 is not a positive integer"):
        col.build_index(n_trees=0)
    with pytest.raises(ek.ExploreError, match=r"'fast' is not one of"):
        col._space(None).index.method = "fast"
    col._space(None).index.save(tmp_path / "ix.ann")
    with pytest.raises(ek.PersistenceError, match=r"is 16-d angular, expected 8-d angular"):
        AnnIndex.load(tmp_path / "ix.ann", dim=8, metric="cosine")
    with pytest.raises(ek.PersistenceError, match=r"cannot be read"):
        AnnIndex.load(tmp_path / "missing.ann", dim=16, metric="cosine")


# ---------------------------------------------------------------------------------------------
# Qdrant as the oracle: every (id, score) an approximate answer returns is Qdrant's


@pytest.mark.oracle
@pytest.mark.parametrize("distance", ["cosine", "euclid"])
def test_approximate_answers_are_qdrant_scores(indexed, distance):
    from oracle import Trio

    rng = np.random.default_rng(11)
    centres = rng.normal(size=(6, 12)) * 3
    vectors = (centres[rng.integers(0, 6, 600)] + rng.normal(size=(600, 12))).astype(np.float32)
    trio = Trio(vectors, distance=distance, edge=False)
    trio.col.build_index(n_trees=6)
    q = vectors[5] + 0.1
    calls = [
        ("search", dict(query=q.tolist())),
        ("recommend", dict(positive=[1, 2], negative=[3])),
        ("recommend", dict(positive=[1, q.tolist()], negative=[3], strategy="best_score")),
        ("recommend", dict(negative=[3, 4], strategy="best_score")),
        ("recommend", dict(positive=[1, 2], negative=[3], strategy="sum_scores")),
        ("discover", dict(target=q.tolist(), context=[(1, 3), (2, 4)])),
        ("discover", dict(context=[(1, 3), (2, 4)])),
    ]
    for method in METHODS:
        trio.col._space(None).index.method = method
        for kind, kw in calls:
            got = trio.ek(kind, **kw, limit=10, with_payload=False)
            qdrant = dict(trio.local(kind, **kw, limit=len(vectors)))
            short = trio.local(kind, **kw, limit=10)
            assert len(got) == len(short)
            for pid, score in zip(got["id"], got["score"]):
                assert score == pytest.approx(qdrant[pid], rel=1e-5, abs=1e-6), (method, kind, pid)


# ---------------------------------------------------------------------------------------------
# the compiled sign-code kernels agree with the numpy path


def _numpy_estimate(monkeypatch, codes, queries, rows):
    from explorekit.index import _codes_kernel

    with monkeypatch.context() as patch:
        patch.setattr(_codes_kernel, "load", lambda: None)
        return codes.estimate(queries, rows)


@pytest.mark.parametrize("distance", ["cosine", "dot", "euclid", "manhattan"])
@pytest.mark.parametrize("n, dim", [(5_000, 37), (4_099, 130), (1, 64)])
def test_codes_kernel_bit_identical_to_numpy(distance, n, dim, monkeypatch, tmp_path):
    """One compiled pass computes the same float32 estimate as numpy: every row, subsets,
    several queries, codes loaded memory-mapped."""
    from explorekit.index import _codes_kernel
    from explorekit.index._codes import SignCodes

    compiled_kernels.require(_codes_kernel)
    rng = np.random.default_rng(n + dim)
    stored = (rng.normal(size=(n, dim)) * np.linspace(2, 0.2, dim) + 0.3).astype(np.float32)
    queries = rng.normal(size=(4, dim)).astype(np.float32)
    codes = SignCodes.fit(stored, distance)
    codes.save(tmp_path / "w.npy", tmp_path / "r.npy")
    loaded = SignCodes.load(tmp_path / "w.npy", tmp_path / "r.npy", codes.mean.tolist(), distance)
    row_sets = [None, rng.permutation(n)[: max(1, n // 2)], rng.integers(0, n, 2_500), np.array([], np.int64)]
    for which in (codes, loaded):
        for k in (1, 4):
            for rows in row_sets:
                got = which.estimate(queries[:k], rows)
                want = _numpy_estimate(monkeypatch, which, queries[:k], rows)
                assert got.dtype == want.dtype == np.float32 and got.shape == want.shape
                np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
