"""Quantizers against Qdrant's own engine (qdrant-edge), directly and through the public API.

Oracle: one qdrant-edge shard per distance, one *named vector per quantization config* (so a
single shard and one ``optimize()`` cover many configs), ``m=0`` (no HNSW graph: a plain scan
of the quantized vectors) and ``indexing_threshold=1`` KB (so the segment is optimised and the
quantized storage built even for a few hundred points).

* scalar int8: scores equal edge's within 1e-4 (the encoding is deterministic);
* binary, every encoding x query encoding: scores equal edge's exactly;
* product: bit-reproducible only with 256 vectors or fewer (they are their own centroids);
  above that, recall is compared instead.
"""

from __future__ import annotations

import json
import tempfile

import compiled_kernels
import numpy as np
import pandas as pd
import pytest
import qdrant_edge as qe
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import explorekit as ek
from explorekit._support.errors import QuantizationError
from explorekit.quantization import BinaryQuantizer, load_quantizer, make_quantizer, normalize_config
from explorekit.scoring.distances import preprocess, similarity

DISTANCES = ("cosine", "dot", "euclid", "manhattan")
_QE_DIST = {
    "cosine": qe.Distance.Cosine,
    "dot": qe.Distance.Dot,
    "euclid": qe.Distance.Euclid,
    "manhattan": qe.Distance.Manhattan,
}
SCALARS = {f"sq{i}": {"scalar": {"type": "int8", "quantile": q}} for i, q in enumerate([None, 0.99, 0.9, 0.5])}
BINARIES = {
    f"bq_{e}_{q}": {"binary": {"encoding": e, "query_encoding": q}}
    for e in ("one_bit", "two_bits", "one_and_half_bits")
    for q in ("default", "binary", "scalar4bits", "scalar8bits")
}
PRODUCTS = {f"pq_{c}": {"product": {"compression": c}} for c in ("x4", "x8", "x16", "x32", "x64")}


# ---------------------------------------------------------------------- the edge oracle
def edge_config(cfg: dict):
    ((kind, body),) = normalize_config(cfg).items()
    if kind == "scalar":
        return qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=body["quantile"])
    if kind == "binary":
        enc = {
            "one_bit": qe.BinaryQuantizationEncoding.OneBit,
            "two_bits": qe.BinaryQuantizationEncoding.TwoBits,
            "one_and_half_bits": qe.BinaryQuantizationEncoding.OneAndHalfBits,
        }[body["encoding"]]
        query = {
            "default": qe.BinaryQuantizationQueryEncoding.Default,
            "binary": qe.BinaryQuantizationQueryEncoding.Binary,
            "scalar4bits": qe.BinaryQuantizationQueryEncoding.Scalar4Bits,
            "scalar8bits": qe.BinaryQuantizationQueryEncoding.Scalar8Bits,
        }[body["query_encoding"]]
        return qe.BinaryQuantizationConfig(encoding=enc, query_encoding=query)
    ratio = getattr(qe.CompressionRatio, body["compression"].upper())
    return qe.ProductQuantizationConfig(compression=ratio)


def edge_shard(vectors: np.ndarray, distance: str, configs: dict[str, dict], path=None):
    """One optimised shard, one named vector per config, all holding ``vectors``."""
    params = {
        name: qe.EdgeVectorParams(
            size=vectors.shape[1],
            distance=_QE_DIST[distance],
            quantization_config=edge_config(cfg),
            hnsw_config=qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000),
        )
        for name, cfg in configs.items()
    }
    path = tempfile.mkdtemp(prefix="edge-quant-") if path is None else str(path)
    shard = qe.EdgeShard.create(
        path, qe.EdgeConfig(vectors=params, optimizers=qe.EdgeOptimizersConfig(indexing_threshold=1))
    )
    for start in range(0, len(vectors), 1000):
        shard.update(
            qe.UpdateOperation.upsert_points(
                [
                    qe.Point(i, {name: vectors[i].tolist() for name in configs}, None)
                    for i in range(start, min(start + 1000, len(vectors)))
                ]
            )
        )
    shard.optimize()
    return shard


def edge_query(
    shard, query, using: str, limit: int, *, rescore=None, oversampling=None, exact=False
) -> tuple[list, np.ndarray]:
    params = qe.SearchParams(
        exact=exact, quantization=qe.QuantizationSearchParams(rescore=rescore, oversampling=oversampling)
    )
    found = shard.query(qe.QueryRequest(limit=limit, query=query, params=params))
    return [p.id for p in found], np.array([p.score for p in found], np.float64)


def nearest(vector, using):
    return qe.Query.Nearest(np.asarray(vector, np.float32).tolist(), using=using)


def anisotropic(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, dim)) * rng.uniform(0.2, 3.0, size=dim) + 0.3 * rng.normal(size=dim)).astype(np.float32)


# ---------------------------------------------------------------------- direct: scores = edge's
@pytest.mark.oracle
@pytest.mark.parametrize("distance", DISTANCES)
def test_scalar_scores_equal_edge(distance, tmp_path):
    data = anisotropic(300, 20, seed=1)  # 20: padded to 32 as in Qdrant; 300 >= 127
    shard = edge_shard(data, distance, SCALARS, path=tmp_path)
    stored = preprocess(data, distance)
    queries = preprocess(anisotropic(3, 20, seed=2) * 1.5, distance)
    for name, cfg in SCALARS.items():
        quantizer = make_quantizer(cfg, distance).fit(stored)
        sims = quantizer.similarity(queries)
        for query, sim in zip(queries, sims):
            ids, scores = edge_query(shard, nearest(query, name), name, 20, rescore=False)
            np.testing.assert_allclose(
                quantizer.display(sim)[ids], scores, rtol=0, atol=1e-4, err_msg=f"{distance} {cfg}"
            )
            assert set(np.argsort(-sim, kind="stable")[:20]) == set(ids), (distance, cfg)


@pytest.mark.oracle
@pytest.mark.parametrize("distance", DISTANCES)
def test_binary_scores_equal_edge(distance, tmp_path):
    data = anisotropic(200, 70, seed=3)  # 70 components: two 64-bit words
    shard = edge_shard(data, distance, BINARIES, path=tmp_path)
    stored = preprocess(data, distance)
    queries = preprocess(anisotropic(3, 70, seed=4) * 1.5, distance)
    for name, cfg in BINARIES.items():
        quantizer = make_quantizer(cfg, distance).fit(stored)
        shown = quantizer.display(quantizer.similarity(queries))
        for query, row in zip(queries, shown):
            ids, scores = edge_query(shard, nearest(query, name), name, 25, rescore=False)
            np.testing.assert_array_equal(row[ids], scores.astype(np.float32), err_msg=f"{distance} {cfg}")


@pytest.mark.oracle
@pytest.mark.parametrize("distance", DISTANCES)
def test_product_small_collection_equals_edge(distance, tmp_path):
    data = anisotropic(200, 40, seed=5)  # <= 256 vectors: they are the centroids
    shard = edge_shard(data, distance, PRODUCTS, path=tmp_path)
    stored = preprocess(data, distance)
    queries = preprocess(anisotropic(3, 40, seed=6), distance)
    for name, cfg in PRODUCTS.items():
        quantizer = make_quantizer(cfg, distance).fit(stored)
        shown = quantizer.display(quantizer.similarity(queries))
        for query, row in zip(queries, shown):
            ids, scores = edge_query(shard, nearest(query, name), name, 20, rescore=False)
            np.testing.assert_allclose(row[ids], scores, rtol=2e-5, atol=2e-5, err_msg=f"{distance} {cfg}")


@pytest.mark.oracle
@pytest.mark.parametrize("distance", ["cosine", "euclid"])
def test_product_recall_close_to_edge(distance, tmp_path):
    rng = np.random.default_rng(7)
    basis = rng.normal(size=(32, 32)) * (1.0 / np.arange(1, 33) ** 0.7)[:, None]
    data = (rng.normal(size=(3100, 32)) @ basis).astype(np.float32)
    data, held_out = data[:3000], data[3000:]
    configs = {"pq_x8": PRODUCTS["pq_x8"], "pq_x16": PRODUCTS["pq_x16"]}
    shard = edge_shard(data, distance, configs, path=tmp_path)
    stored, queries = preprocess(data, distance), preprocess(held_out, distance)
    truth = np.argsort(-similarity(queries, stored, distance), axis=1)[:, :10]
    for name, cfg in configs.items():
        quantizer = make_quantizer(cfg, distance).fit(stored)
        mine = np.argsort(-quantizer.similarity(queries), axis=1)[:, :10]
        ours = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(mine, truth)])
        theirs = np.mean(
            [
                len(set(edge_query(shard, nearest(q, name), name, 10, rescore=False)[0]) & set(b)) / 10
                for q, b in zip(queries, truth)
            ]
        )
        assert ours >= theirs - 0.08, (name, ours, theirs)


# ---------------------------------------------------------------------- end to end, public API
E2E = {
    "sq": {"scalar": {"type": "int8", "quantile": 0.99}},
    "bq": {"binary": {"encoding": "one_bit", "query_encoding": "default"}},
    "bq2": {"binary": {"encoding": "two_bits", "query_encoding": "scalar8bits"}},
    "pq": {"product": {"compression": "x8"}},
}


def _requests(data: np.ndarray, rng: np.random.Generator):
    """(explorekit kind, kwargs, edge query builder) for each query kind, raw vector examples."""

    def pick():
        return (data[rng.integers(len(data))] + rng.normal(0, 0.3, data.shape[1])).astype(np.float32)

    a, b, c, d, e = (pick() for _ in range(5))
    return [
        ("search", {"query": a}, lambda u: qe.Query.Nearest(a.tolist(), using=u)),
        (
            "recommend",
            {"positive": [a, b], "negative": [c], "strategy": "best_score"},
            lambda u: qe.Query.RecommendBestScore(qe.RecommendQuery([a.tolist(), b.tolist()], [c.tolist()]), using=u),
        ),
        (
            "recommend",
            {"positive": [a], "negative": [c, d], "strategy": "sum_scores"},
            lambda u: qe.Query.RecommendSumScores(qe.RecommendQuery([a.tolist()], [c.tolist(), d.tolist()]), using=u),
        ),
        (
            "discover",
            {"target": e, "context": [(a, c), (b, d)]},
            lambda u: qe.Query.Discover(
                qe.DiscoverQuery(
                    e.tolist(), [qe.ContextPair(a.tolist(), c.tolist()), qe.ContextPair(b.tolist(), d.tolist())]
                ),
                using=u,
            ),
        ),
        (
            "discover",
            {"context": [(a, c), (b, d)]},
            lambda u: qe.Query.Context(
                qe.ContextQuery([qe.ContextPair(a.tolist(), c.tolist()), qe.ContextPair(b.tolist(), d.tolist())]),
                using=u,
            ),
        ),
    ]


def _check_valid_answer(
    ids: list,
    scores: np.ndarray,
    quantized: pd.DataFrame,
    exact: pd.DataFrame,
    limit: int,
    candidates: int,
    rescore: bool,
    label,
) -> None:
    """Is (ids, scores) what Qdrant's rule gives for *some* order of equal quantized scores?

    ``quantized`` is the query's quantized list (best first, longer than ``candidates`` so that
    every point tied with the last candidate is in it); ``exact`` the exact list of every point.
    """
    q_rank = {pid: r for r, pid in enumerate(quantized["id"])}
    q_score = quantized["score"].to_numpy()
    x_rank = {pid: r for r, pid in enumerate(exact["id"])}
    x_score = exact.set_index("id")["score"]
    cut = candidates if rescore else limit
    last = q_score[min(cut, len(q_score)) - 1]

    def may_be_candidate(pid) -> bool:
        return pid in q_rank and (q_rank[pid] < cut or q_score[q_rank[pid]] == last)

    assert all(may_be_candidate(pid) for pid in ids), label
    if not rescore:
        np.testing.assert_allclose(scores, q_score[: len(ids)], rtol=1e-5, atol=1e-4, err_msg=str(label))
        return
    np.testing.assert_allclose(scores, x_score.loc[ids].to_numpy(), rtol=1e-5, atol=1e-5, err_msg=str(label))
    sure = [pid for pid, r in q_rank.items() if r < cut and q_score[r] != last]  # candidates anyway
    worst = max(x_rank[pid] for pid in ids)
    worst_score = x_score.loc[exact["id"].iloc[worst]]
    missing = [
        pid
        for pid in sure
        if x_rank[pid] < worst
        and pid not in ids
        and not np.isclose(x_score.loc[pid], worst_score, rtol=1e-6, atol=1e-6)
    ]  # ties: either
    assert not missing, (label, missing)


@pytest.mark.oracle
@pytest.mark.parametrize("distance", ["cosine", "euclid"])
def test_quantized_queries_equal_edge(distance, tmp_path):
    """search, best_score, sum_scores, discover, context x rescore x oversampling, every method.

    Scalar and product answers must equal edge's. Binary scores are small integers with many
    ties, which Qdrant orders arbitrarily (heap order), so there both answers must be valid
    outcomes of the rule for some order of the tied candidates (see _check_valid_answer).
    """
    data = anisotropic(220, 24, seed=11)  # PQ stays reproducible (<= 256 vectors)
    shard = edge_shard(data, distance, E2E, path=tmp_path)
    col = ek.Collection.from_arrays({name: data for name in E2E}, distance=distance)
    for name, cfg in E2E.items():
        col.quantize(cfg, using=name)
    rng = np.random.default_rng(12)
    limit = 8
    for name in E2E:
        for kind, kwargs, build in _requests(data, rng):
            call = getattr(col, kind)
            exact = call(**kwargs, using=name, limit=len(data), params={"exact": True})
            for rescore in (False, True):
                for oversampling in (None, 2.0, 4.0):
                    what = "context" if kind == "discover" and "target" not in kwargs else kind
                    label = (name, what, kwargs.get("strategy"), rescore, oversampling)
                    params = {"quantization": {"rescore": rescore, "oversampling": oversampling}}
                    got = call(**kwargs, using=name, limit=limit, params=params)
                    ids, scores = edge_query(
                        shard, build(name), name, limit, rescore=rescore, oversampling=oversampling
                    )
                    n = int(limit * oversampling) if oversampling else limit
                    quantized = call(**kwargs, using=name, limit=n + 100, params={"quantization": {"rescore": False}})
                    for answer in ((ids, scores), (got["id"].tolist(), got["score"].to_numpy())):
                        _check_valid_answer(*answer, quantized, exact, limit, n, rescore, label)
                    if not name.startswith("bq"):  # few ties: the same list, position by position
                        np.testing.assert_allclose(
                            got["score"].to_numpy(), scores, rtol=1e-5, atol=1e-4, err_msg=str(label)
                        )
                        unique = [i for i, v in enumerate(scores) if np.sum(np.isclose(scores, v)) == 1]
                        assert [got["id"][i] for i in unique] == [ids[i] for i in unique], label


@pytest.mark.oracle
def test_exact_and_ignore_turn_quantization_off(tmp_path):
    data = anisotropic(220, 24, seed=13)
    shard = edge_shard(data, "cosine", {"sq": E2E["sq"]}, path=tmp_path)
    col = ek.Collection.from_arrays(data).quantize(E2E["sq"])
    query = data[5] + 0.1
    exact = col.search(query, limit=10, params={"exact": True})
    ignored = col.search(query, limit=10, params={"quantization": {"ignore": True}})
    quantized = col.search(query, limit=10, params={"quantization": {"rescore": False}})
    ids, scores = edge_query(shard, nearest(query, "sq"), "sq", 10, exact=True)
    assert exact["id"].tolist() == ids == ignored["id"].tolist()
    np.testing.assert_allclose(exact["score"], scores, rtol=1e-6)
    assert not np.allclose(quantized["score"], exact["score"], rtol=1e-6)


def test_default_rescore_per_method():
    data = anisotropic(300, 16, seed=14)
    for cfg, rescored in ((E2E["sq"], False), (E2E["bq"], True), (E2E["pq"], False)):
        col = ek.Collection.from_arrays(data).quantize(cfg)
        default = col.search(data[0] + 0.2, limit=5)
        explicit = col.search(data[0] + 0.2, limit=5, params={"quantization": {"rescore": rescored}})
        pd.testing.assert_frame_equal(
            default.reset_index(drop=True), explicit.reset_index(drop=True), check_like=False, obj=str(cfg)
        )
        assert make_quantizer(cfg, "cosine").default_rescore is rescored


# ---------------------------------------------------------------------- sizes
@pytest.mark.parametrize(
    "cfg, ratio",
    [
        ({"scalar": {"type": "int8"}}, 4),
        ({"binary": {"encoding": "one_bit"}}, 32),
        ({"binary": {"encoding": "two_bits"}}, 16),
        ({"binary": {"encoding": "one_and_half_bits"}}, 64 / 3),
    ],
)
def test_code_sizes(cfg, ratio):
    data = anisotropic(5000, 384, seed=15)
    col = ek.Collection.from_arrays(data).quantize(cfg)
    usage = col.memory_usage().iloc[0]
    quantizer = make_quantizer(cfg, "cosine").fit(preprocess(data, "cosine"))
    assert data.nbytes / quantizer.codes_.nbytes == pytest.approx(ratio, rel=1e-3)
    assert usage["quantized_bytes"] == quantizer.nbytes
    assert usage["compression"] == pytest.approx(ratio, rel=0.01)  # parameters add < 1%


@pytest.mark.parametrize("compression, per_vector", [("x4", 384), ("x8", 192), ("x16", 96), ("x32", 48), ("x64", 24)])
def test_product_sizes(compression, per_vector):
    data = anisotropic(300, 24, seed=16)
    data = np.hstack([data] * 16)  # 384 components
    quantizer = make_quantizer({"product": {"compression": compression}}, "dot").fit(data)
    assert quantizer.codes_.shape == (per_vector, 300)
    assert quantizer.nbytes == 300 * per_vector + 256 * 384 * 4  # codes + codebooks
    assert data.nbytes / quantizer.codes_.nbytes == 4 * 384 / per_vector


def test_product_memory_usage_below_originals():
    data = anisotropic(3000, 64, seed=20)
    col = ek.Collection.from_arrays(data).quantize({"product": {"compression": "x16"}})
    usage = col.memory_usage().iloc[0]
    assert usage["quantized_bytes"] == 3000 * 16 + 256 * 64 * 4
    assert usage["compression"] > 5


# ---------------------------------------------------------------------- properties
@settings(deadline=None, max_examples=40)
@given(
    arrays(np.float32, st.tuples(st.integers(1, 30), st.integers(1, 40)), elements=st.floats(-4, 4, width=32)),
    st.sampled_from(["one_bit", "two_bits", "one_and_half_bits"]),
    st.sampled_from(["default", "scalar4bits", "scalar8bits"]),
)
def test_binary_matches_a_plain_reference(data, encoding, query_encoding):
    """dim - 2 * (differing bits), query levels weighted, computed one bit at a time."""
    quantizer = BinaryQuantizer(
        normalize_config({"binary": {"encoding": encoding, "query_encoding": query_encoding}}), "dot"
    )
    quantizer.fit(data)
    got = quantizer.similarity(data[:3])
    stored_bits = quantizer._bits(data).astype(int)
    for i, query in enumerate(data[:3]):
        if query_encoding == "default":
            levels, q = 1, quantizer._bits(query[None])[0].astype(int)
        else:
            bits = 4 if query_encoding == "scalar4bits" else 8
            levels = 2**bits - 1
            ext = {
                "one_bit": query,
                "two_bits": np.concatenate([query, query]),
                "one_and_half_bits": np.concatenate([query, [max(query[j : j + 2]) for j in range(0, len(query), 2)]]),
            }[encoding]
            top = np.float32(np.abs(ext).max())
            delta = np.float32(2 * top / np.float32(levels))
            q = np.array(
                [
                    int(np.floor(np.float32(v + top) / delta + 0.5)) if delta > 1.2e-7 else 0
                    for v in ext.astype(np.float32)
                ]
            ) % (levels + 1)
        for j, row in enumerate(stored_bits):
            xor = sum((levels - u) if b else u for u, b in zip(q, row)) / levels
            assert got[i, j] == pytest.approx(data.shape[1] - 2 * xor, abs=1e-4)


@settings(deadline=None, max_examples=40)
@given(
    arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 40)), elements=st.floats(-10, 10, width=32)),
    st.sampled_from(DISTANCES),
)
def test_scalar_is_the_metric_on_dequantized_vectors(data, distance):
    stored = preprocess(data, distance)
    quantizer = make_quantizer({"scalar": {"type": "int8"}}, distance).fit(stored)
    pad = (16 - data.shape[1] % 16) % 16  # Qdrant pads to a multiple of 16
    filler = 0.0 if distance in ("cosine", "dot") else float(quantizer.offset_)

    def padded(v: np.ndarray) -> np.ndarray:
        return np.hstack([v, np.full((len(v), pad), filler, np.float32)])

    def value(codes: np.ndarray) -> np.ndarray:
        return float(quantizer.offset_) + float(quantizer.alpha_) * codes

    codes_x = quantizer.encode_values(padded(stored)).astype(np.float64)
    codes_q = quantizer.encode_values(padded(stored[:2])).astype(np.float64)
    want = similarity(value(codes_q), value(codes_x), distance)
    got = quantizer.similarity(stored[:2])
    # Qdrant's float32 formula adds terms as large as dim * max|value|^2 that cancel
    top = max(abs(float(quantizer.offset_)), abs(float(value(np.float64(127.0)))))
    scale = (data.shape[1] + pad) * top * top + float(np.abs(want).max())
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * scale + 1e-6)


@settings(deadline=None, max_examples=25)
@given(
    st.integers(0, 10_000),
    st.sampled_from([E2E["sq"], E2E["bq"], E2E["bq2"], E2E["pq"]]),
    st.sampled_from(["cosine", "dot", "euclid", "manhattan"]),
)
def test_rescored_search_returns_exact_scores(seed, cfg, distance):
    data = anisotropic(120, 8, seed)
    col = ek.Collection.from_arrays(data, distance=distance).quantize(cfg)
    got = col.search(data[3] * 0.9, limit=7, params={"quantization": {"rescore": True, "oversampling": 2}})
    every = col.search(data[3] * 0.9, limit=120, params={"exact": True}).set_index("id")["score"]
    np.testing.assert_allclose(got["score"], every.loc[got["id"]].to_numpy(), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------- rows, upserts, saving
@pytest.mark.parametrize("cfg", list(E2E.values()), ids=list(E2E))
def test_rows_add_keep_and_state(cfg):
    stored = preprocess(anisotropic(400, 20, seed=17), "cosine")
    quantizer = make_quantizer(cfg, "cosine").fit(stored[:300])
    queries = stored[:5]
    full = quantizer.similarity(queries)
    rows = np.array([299, 3, 150, 0])
    np.testing.assert_array_equal(quantizer.similarity(queries, rows), full[:, rows])
    grown = quantizer.copy()
    grown.add(stored[300:])
    assert len(grown) == 400 and len(quantizer) == 300
    np.testing.assert_array_equal(grown.similarity(queries)[:, :300], full)
    shrunk = grown.copy()
    shrunk.keep(rows)
    np.testing.assert_array_equal(shrunk.similarity(queries), full[:, rows])
    meta, arrays_ = grown.state()
    json.dumps(meta)  # JSON-able
    again = load_quantizer(meta, {k: np.array(v) for k, v in arrays_.items()})
    np.testing.assert_array_equal(again.similarity(queries), grown.similarity(queries))


def test_collection_upsert_delete_and_save_keep_codes(tmp_path):
    data = anisotropic(300, 16, seed=18)
    col = ek.Collection.from_arrays(data).quantize(E2E["sq"])
    col.upsert([1000, 1001], data[:2] * 0.5)
    col.delete([5, 6, 7])
    params = {"quantization": {"rescore": False}}
    before = col.search(data[10], limit=10, params=params)
    again = ek.Collection.load(col.save(tmp_path / "c"))
    pd.testing.assert_frame_equal(before, again.search(data[10], limit=10, params=params))
    fresh = ek.Collection.from_arrays(np.vstack([np.delete(data, [5, 6, 7], axis=0), data[:2] * 0.5]))
    fresh.quantize(E2E["sq"])  # re-fit on other data: a different range, possibly other scores
    assert len(again) == len(fresh) == 299


# ---------------------------------------------------------------------- configs and errors
def test_normalize_accepts_qdrant_client_models():
    from qdrant_client import models

    assert normalize_config(
        models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
        )
    ) == {"scalar": {"type": "int8", "quantile": 0.99}}
    assert normalize_config(
        models.BinaryQuantization(
            binary=models.BinaryQuantizationConfig(encoding=models.BinaryQuantizationEncoding.TWO_BITS)
        )
    ) == {"binary": {"encoding": "two_bits", "query_encoding": "default"}}
    assert normalize_config(
        models.ProductQuantization(product=models.ProductQuantizationConfig(compression=models.CompressionRatio.X32))
    ) == {"product": {"compression": "x32"}}


@pytest.mark.parametrize(
    "config, fragments",
    [
        ({"scaler": {"type": "int8"}}, ["Unknown quantization method 'scaler'", "Did you mean 'scalar'"]),
        ({"scalar": {"type": "int4"}}, ["Unknown scalar type 'int4'", "int8"]),
        ({"scalar": {}}, ["Missing 'type'", "int8"]),
        ({"scalar": {"type": "int8", "quantile": 0.3}}, ["quantile 0.3", "[0.5, 1.0]"]),
        ({"scalar": {"type": "int8", "quantile": "high"}}, ["quantile 'high'"]),
        ({"binary": {"encoding": "three_bits"}}, ["Unknown binary encoding 'three_bits'", "two_bits"]),
        ({"binary": {"query_encoding": "scalar2bits"}}, ["Unknown binary query_encoding", "scalar4bits"]),
        ({"binary": {"bits": 1}}, ["Unknown key in the binary quantization config 'bits'"]),
        ({"product": {"compression": "x3"}}, ["Unknown product compression 'x3'", "x4"]),
        ({"product": {}}, ["Missing 'compression'"]),
        ({"scalar": {"type": "int8"}, "binary": {}}, ["exactly one method key"]),
        ("int8", ["not a dict with exactly one method key"]),
        ({"turbo": {"bits": 4}}, ["TurboQuant", "not supported"]),
        ({"product": "x16"}, ["is not a dict"]),
    ],
)
def test_bad_configs(config, fragments):
    with pytest.raises(QuantizationError) as err:
        make_quantizer(config, "cosine")
    for fragment in fragments:
        assert fragment in str(err.value)


def test_bad_quantize_call_leaves_collection_unchanged():
    data = anisotropic(50, 8, seed=19)
    col = ek.Collection.from_arrays(data)
    with pytest.raises(QuantizationError, match="compression"):
        col.quantize({"product": {"compression": "x5"}})
    assert col.memory_usage()["quantization"].isna().all()
    with pytest.raises(QuantizationError, match="fitted"):
        make_quantizer({"binary": {}}, "dot").similarity(data)


# ---------------------------------------------------------------------- scans split across cores
@pytest.mark.parametrize("distance", DISTANCES)
def test_scalar_split_scan_equals_one_run(distance, monkeypatch):
    """A scan large enough to be split across cores gives the single-run scores, bit for bit."""
    from explorekit.quantization import _base

    stored = preprocess(anisotropic(60_000, 40, seed=5), distance)  # 40: padded to 48
    assert stored.size >= _base.PARALLEL_SCAN
    quantizer = make_quantizer({"scalar": {"type": "int8", "quantile": 0.99}}, distance).fit(stored)
    queries = preprocess(anisotropic(3, 40, seed=6), distance)
    rows = np.random.default_rng(0).permutation(60_000)[:55_000]
    cases = [(queries[:1], None), (queries, None), (queries, rows)]
    split = [quantizer.similarity(q, r) for q, r in cases]
    monkeypatch.setattr(_base, "PARALLEL_SCAN", 1 << 62)
    whole = [quantizer.similarity(q, r) for q, r in cases]
    for got, want in zip(split, whole):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(split[2], split[1][:, rows])
    shrunk = quantizer.copy()  # cached per-row code sums follow the codes
    shrunk.keep(rows[:1000])
    np.testing.assert_array_equal(shrunk.similarity(queries), whole[1][:, rows[:1000]])


@pytest.mark.parametrize("distance", DISTANCES)
def test_product_split_scan_equals_one_run(distance, monkeypatch):
    """Lookup-table (few queries) and decoded (many queries) scans: split == one run."""
    from explorekit.quantization import _base

    stored = preprocess(anisotropic(72_000, 32, seed=8), distance)
    quantizer = make_quantizer({"product": {"compression": "x16"}}, distance).fit(stored[:200])
    quantizer.add(stored[200:])  # 200 vectors: they are the centroids
    queries = preprocess(anisotropic(6, 32, seed=9), distance)
    rows = np.random.default_rng(1).permutation(72_000)[:70_000]
    cases = [(queries[:1], None), (queries[:3], None), (queries, None), (queries, rows)]
    split = [quantizer.similarity(q, r) for q, r in cases]
    monkeypatch.setattr(_base, "PARALLEL_SCAN", 1 << 62)
    for (q, r), got in zip(cases, split):
        np.testing.assert_array_equal(got, quantizer.similarity(q, r))
    np.testing.assert_array_equal(split[3], split[2][:, rows])


def _numpy_scan(monkeypatch, quantizer, queries, rows):
    """The same scores through the numpy path (the compiled kernels switched off)."""
    from explorekit.quantization import _pq_kernel, _sq_kernel

    with monkeypatch.context() as patch:
        for module in (_pq_kernel, _sq_kernel):
            patch.setattr(module, "load", lambda: None)
        return quantizer.similarity(queries, rows)


def _assert_kernel_equals_numpy(monkeypatch, quantizer, queries, row_sets, counts):
    """Compiled and numpy scans, in one run and split across the cores: the same bits."""
    from explorekit.quantization import _base

    for parallel in (1 << 62, 1):
        monkeypatch.setattr(_base, "PARALLEL_SCAN", parallel)
        for k in counts:
            for rows in row_sets:
                got = quantizer.similarity(queries[:k], rows)
                want = _numpy_scan(monkeypatch, quantizer, queries[:k], rows)
                assert got.dtype == want.dtype == np.float32 and got.shape == want.shape
                np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("n", [9_000, 9_003])  # 64-bit code reads: whole words or not
@pytest.mark.parametrize("compression", ["x4", "x8", "x16", "x32"])
@pytest.mark.parametrize("distance", DISTANCES)
def test_product_kernel_bit_identical_to_numpy(compression, distance, n, monkeypatch):
    """The numba lookup-table scan adds the same float32 terms in the same order as numpy."""
    from explorekit.quantization import _pq_kernel

    compiled_kernels.require(_pq_kernel)
    dim = 38  # x32 / x16: the last sub-vector is shorter
    stored = preprocess(anisotropic(n, dim, seed=21), distance)
    quantizer = make_quantizer({"product": {"compression": compression}}, distance).fit(stored[:256])
    quantizer.add(stored[256:])
    queries = preprocess(anisotropic(4, dim, seed=22), distance)
    rng = np.random.default_rng(23)
    row_sets = [None, rng.permutation(n)[:5_003], rng.integers(0, n, 700)[::2], np.array([], np.intp)]
    _assert_kernel_equals_numpy(monkeypatch, quantizer, queries, row_sets, (1, 2, 3, 4))


@pytest.mark.parametrize("cfg", [{"product": {"compression": "x8"}}, {"scalar": {"type": "int8"}}], ids=["pq", "sq"])
def test_kernels_fall_back_to_numpy_for_odd_rows(cfg, monkeypatch):
    """Negative positions (numpy wraps them) and out-of-range ones behave as with numpy."""
    stored = anisotropic(600, 16, seed=24)
    quantizer = make_quantizer(cfg, "euclid").fit(stored[:256])
    quantizer.add(stored[256:])
    rows = np.array([-1, 0, 5, -600])
    np.testing.assert_array_equal(
        quantizer.similarity(stored[:2], rows), _numpy_scan(monkeypatch, quantizer, stored[:2], rows)
    )
    with pytest.raises(IndexError):
        quantizer.similarity(stored[:1], np.array([600]))


# ---------------------------------------------------------------------- compiled int8 scan


@pytest.mark.parametrize("dim", [1, 7, 20, 40, 1100])  # 1100: beyond float32's exact sums
@pytest.mark.parametrize("distance", DISTANCES)
def test_scalar_kernel_bit_identical_to_numpy(dim, distance, monkeypatch):
    """Integer sums in the kernel, float products in numpy: the same float32 scores."""
    from explorekit.quantization import _sq_kernel

    compiled_kernels.require(_sq_kernel)
    n = 1_003 if dim < 1000 else 301
    stored = preprocess(anisotropic(n, dim, seed=31), distance)
    quantizer = make_quantizer({"scalar": {"type": "int8", "quantile": 0.99}}, distance).fit(stored)
    queries = preprocess(anisotropic(5, dim, seed=32) * 1.3, distance)
    rng = np.random.default_rng(33)
    row_sets = [None, rng.permutation(n)[: n // 2 + 1], rng.integers(0, n, 300)[::3], np.array([], np.intp)]
    _assert_kernel_equals_numpy(monkeypatch, quantizer, queries, row_sets, (1, 2, 5))


# ---------------------------------------------------------------------- AVX-512 product scan
def test_simd_lane_order_and_table_planes():
    from explorekit.quantization import _simd

    order = _simd.LANE_ROW
    assert sorted(order.tolist()) == list(range(_simd.LANES))
    np.testing.assert_array_equal(order[order], np.arange(_simd.LANES))  # its own inverse
    tables = np.random.default_rng(36).normal(size=(2, 3, 256)).astype(np.float32)
    planes = _simd.table_planes(tables)
    assert planes.shape == (2, 3, 1024) and planes.dtype == np.uint8
    back = planes.reshape(2, 3, 4, 256).transpose(0, 1, 3, 2).copy().view(np.float32)[..., 0]
    np.testing.assert_array_equal(back, tables)


@pytest.mark.parametrize("n", [1, 63, 64, 65, 300, 4_161])  # tails of 64-row lookups
@pytest.mark.parametrize("compression", ["x4", "x16", "x64"])
def test_product_simd_scan_on_odd_sizes(n, compression, monkeypatch):
    """Every row count, one query or a group: the compiled scan equals numpy bit for bit."""
    from explorekit.quantization import _pq_kernel

    compiled_kernels.require(_pq_kernel)
    dim = 40
    stored = preprocess(anisotropic(max(n, 256), dim, seed=37), "cosine")
    quantizer = make_quantizer({"product": {"compression": compression}}, "cosine").fit(stored[:256])
    quantizer.keep(np.arange(min(n, 256)))
    if n > 256:
        quantizer.add(stored[256:n])
    queries = preprocess(anisotropic(19, dim, seed=38), "cosine")  # 19: two query groups
    _assert_kernel_equals_numpy(monkeypatch, quantizer, queries, [None], (1, 19))


@pytest.mark.parametrize(
    "cfg",
    [{"scalar": {"type": "int8"}}, {"binary": {"encoding": "two_bits"}}, {"product": {"compression": "x8"}}],
    ids=["sq", "bq", "pq"],
)
@pytest.mark.parametrize("distance", DISTANCES)
def test_scores_do_not_depend_on_the_other_queries(cfg, distance):
    """A query stacked with 40 others gets the scores it gets alone (what batching relies on)."""
    stored = preprocess(anisotropic(2_000, 24, seed=39), distance)
    quantizer = make_quantizer(cfg, distance).fit(stored)
    queries = preprocess(anisotropic(41, 24, seed=40), distance)
    together = quantizer.similarity(queries)
    for i in (0, 17, 40):
        np.testing.assert_array_equal(quantizer.similarity(queries[i : i + 1])[0], together[i])


# ---------------------------------------------------------------------- batches = single calls
def _batch_requests(data: np.ndarray) -> list[tuple[str, dict]]:
    a, b, c = data[10] + 0.2, data[20], data[30] - 0.1
    half = {"must": [{"key": "group", "match": {"any": [0, 1]}}]}  # 2/3 of the rows
    few = {"must": [{"key": "group", "match": {"value": 2}}, {"key": "rare", "match": {"value": True}}]}
    return [
        ("search", {"query": a}),
        ("search", {"query": 7}),
        ("search", {"query": b, "filter": half}),
        ("search", {"query": c, "filter": few}),
        ("search", {"query": a, "offset": 3}),
        ("recommend", {"positive": [1, b], "negative": [c], "strategy": "best_score"}),
        ("recommend", {"positive": [a, 2], "negative": [4], "strategy": "sum_scores", "filter": half}),
        ("recommend", {"positive": [a, 2], "strategy": "average_vector"}),
        ("recommend", {"negative": [5], "strategy": "best_score", "filter": few}),
        ("discover", {"target": a, "context": [(b, c), (3, 4)]}),
        ("discover", {"target": 6, "context": [(b, c)], "filter": half}),
        ("discover", {"context": [(b, c), (8, 9)]}),
        ("discover", {"context": []}),
    ]


@pytest.mark.parametrize("cfg", list(E2E.values()) + [{"product": {"compression": "x4"}}], ids=list(E2E) + ["pq4"])
@pytest.mark.parametrize("rescore", [None, False, True])
def test_batches_equal_single_calls(cfg, rescore, monkeypatch):
    """Every kind through search_batch / recommend_batch / discover_batch = the single calls,
    and the requests of a batch share one scan of the codes."""
    data = anisotropic(3_000, 24, seed=41)
    rng = np.random.default_rng(42)
    payload = pd.DataFrame({"group": np.arange(3_000) % 3, "rare": rng.random(3_000) < 0.1})
    col = ek.Collection.from_arrays(data, payload=payload).quantize(cfg)
    params = {"quantization": {"rescore": rescore, "oversampling": 2.5}}
    requests = [
        (kind, {**kwargs, "limit": 7, "params": params, "with_payload": False})
        for kind, kwargs in _batch_requests(data)
    ]
    single = [getattr(col, kind)(**kwargs) for kind, kwargs in requests]
    quantizer = col._space(None).quantizer
    calls = []
    original = type(quantizer).similarity
    monkeypatch.setattr(
        type(quantizer), "similarity", lambda self, q, rows=None: calls.append(len(q)) or original(self, q, rows)
    )
    batched = {
        kind: iter(getattr(col, f"{kind}_batch")([kw for k, kw in requests if k == kind]))
        for kind in ("search", "recommend", "discover")
    }
    for (kind, kwargs), alone in zip(requests, single):
        together = next(batched[kind])
        assert together.attrs["path"] == alone.attrs["path"] == "quantized", kwargs
        assert together["id"].tolist() == alone["id"].tolist(), (kind, kwargs)
        np.testing.assert_array_equal(together["score"].to_numpy(), alone["score"].to_numpy())
    selective = sum(
        1 for _, kw in requests if kw.get("filter") is not None and kw["filter"]["must"][0]["match"].get("value") == 2
    )
    assert len(calls) == 3 + selective  # one shared scan per batch call, plus the few-row ones
