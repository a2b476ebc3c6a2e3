"""Multi-stage queries (prefetch, fusion, MMR, order_by, sample, groups) against qdrant-client
local mode: the same REST body through ``col.query(body)`` and through ``query_points``; ids
exactly, scores to 1e-5, tied groups as sets (tests/oracle.py, ``assert_same``).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import assert_same, ids_scores
from qdrant_client import QdrantClient, models

import explorekit as ek
from explorekit._support.errors import RequestError
from explorekit.backends.qdrant import to_qdrant

N = 90
RNG = np.random.default_rng(21)
IDS = [int(i) for i in RNG.permutation(1000)[:N]]  # not in row order: scrolls must sort them
VEC = {
    "cos": RNG.normal(size=(N, 8)).astype(np.float32),
    "dot": RNG.normal(size=(N, 8)).astype(np.float32),
    "euc": RNG.normal(size=(N, 4)).astype(np.float32),
    "man": RNG.normal(size=(N, 4)).astype(np.float32),
}
DIST = {"cos": "cosine", "dot": "dot", "euc": "euclid", "man": "manhattan"}
QC = {
    "cosine": models.Distance.COSINE,
    "dot": models.Distance.DOT,
    "euclid": models.Distance.EUCLID,
    "manhattan": models.Distance.MANHATTAN,
}


def _record(i: int) -> dict:
    out = {
        "tag": ["a", "b", "c"][i % 3],
        "n": int(i % 7),
        "x": float(RNG.normal()),  # unique: order_by answers have one order
        "arr": [int(v) for v in RNG.integers(0, 5, size=int(RNG.integers(0, 4)))],
    }
    if i % 5:
        out["opt"] = int(i % 4)
    if i % 11 == 0:
        out["grp"] = [1, True]  # a value that is no group id: the point joins no group
    elif i % 2:
        out["grp"] = "g" + str(i % 6)
    return out


RECORDS = [_record(i) for i in range(N)]
NAME = "pipeline"
COL = ek.Collection.from_arrays(VEC, ids=IDS, payload=RECORDS, distance=DIST, name=NAME)
CLIENT = QdrantClient(":memory:")
CLIENT.create_collection(
    NAME, vectors_config={k: models.VectorParams(size=v.shape[1], distance=QC[DIST[k]]) for k, v in VEC.items()}
)
CLIENT.upsert(
    NAME,
    points=[
        models.PointStruct(id=pid, vector={k: v[i].tolist() for k, v in VEC.items()}, payload=RECORDS[i])
        for i, pid in enumerate(IDS)
    ],
)


REMOTE = to_qdrant(COL, QdrantClient(":memory:"), NAME, progress=False)  # the same suite through the backend


def vec(name: str, seed: int) -> list[float]:
    return np.random.default_rng(seed).normal(size=VEC[name].shape[1]).round(3).tolist()


def local(body: dict) -> list[tuple]:
    req = models.QueryRequest.model_validate(body)
    res = CLIENT.query_points(
        NAME,
        query=req.query,
        prefetch=req.prefetch,
        query_filter=req.filter,
        using=req.using,
        limit=req.limit or 10,
        offset=req.offset,
        score_threshold=req.score_threshold,
        lookup_from=req.lookup_from,
        with_payload=False,
    )
    return [(p.id, p.score) for p in res.points]


def same(body: dict, exact_order: bool = False) -> pd.DataFrame:
    """``body`` through explorekit and through the Qdrant-backed collection, both against local mode."""
    want = local(body)
    frames = []
    for col in (COL, REMOTE):
        got = col.query(body)
        if exact_order:
            assert got["id"].tolist() == [pid for pid, _ in want], body
            assert np.allclose(got["score"], [s for _, s in want], rtol=1e-5, atol=2e-6)
        else:
            assert_same(ids_scores(got), want, limit=body.get("limit", 10), label=f"{type(col).__name__} {body}")
        if "prefetch" in body:
            paths = [f.attrs["stage"] for f in got.attrs["stages"]]
            assert paths[-1] == "query" and len(paths) == len(set(paths))
        frames.append(got)
    if "prefetch" in body:  # each stage's candidates: the server's (one request per subtree) = ours
        for mine, theirs in zip(frames[0].attrs["stages"], frames[1].attrs["stages"], strict=True):
            assert mine.attrs["stage"] == theirs.attrs["stage"]
            assert_same(ids_scores(theirs), ids_scores(mine), limit=mine.attrs["limit"], label=mine.attrs["stage"])
    return frames[0]


# ------------------------------------------------------------------ every kind as the final stage
WIDE = [{"query": vec("cos", 1), "using": "cos", "limit": 40}, {"query": vec("euc", 2), "using": "euc", "limit": 30}]
FINALS = {
    "nearest": {"nearest": vec("cos", 3)},
    "nearest_id": {"nearest": IDS[5]},
    "recommend_avg": {"recommend": {"positive": [IDS[1], IDS[2]], "negative": [IDS[3]]}},
    "recommend_best": {
        "recommend": {"positive": [IDS[1]], "negative": [IDS[3], vec("cos", 4)], "strategy": "best_score"}
    },
    "recommend_sum": {"recommend": {"positive": [IDS[1], IDS[7]], "negative": [IDS[3]], "strategy": "sum_scores"}},
    "discover": {"discover": {"target": IDS[9], "context": [{"positive": IDS[4], "negative": IDS[6]}]}},
    "context": {"context": [{"positive": IDS[4], "negative": IDS[6]}, {"positive": vec("cos", 5), "negative": IDS[8]}]},
}


@pytest.mark.parametrize("kind", FINALS)
def test_every_vector_kind_rescores_the_prefetched_candidates(kind):
    body = {"prefetch": WIDE, "query": FINALS[kind], "using": "cos", "limit": 12}
    got = same(body)
    first, second, top = got.attrs["stages"]
    assert set(got["id"]) <= set(first["id"]) | set(second["id"])  # the example ids left out there too
    assert top["id"].tolist() == got["id"].tolist()


@pytest.mark.parametrize("using", ["cos", "dot", "euc", "man"])
def test_a_small_vector_prefetch_then_a_full_rescoring(using):
    body = {"prefetch": {"query": vec(using, 7), "using": using, "limit": 25}, "query": vec(using, 8), "using": using}
    same(body)
    same({**body, "score_threshold": 0.1 if using in ("cos", "dot") else 2.5, "offset": 3, "limit": 6})


@pytest.mark.parametrize(
    "fusion",
    [
        {"fusion": "rrf"},
        {"fusion": "dbsf"},
        {"rrf": {"k": 60}},
        {"rrf": {"k": 1, "weights": [2.0, 0.5]}},
        {"rrf": {"weights": [1.0, 0.0]}},
    ],
)
def test_fusion(fusion):
    same({"prefetch": WIDE, "query": fusion, "limit": 15})
    same({"prefetch": WIDE, "query": fusion, "limit": 5, "offset": 4})


FORMULAS = [
    {"formula": {"sum": ["$score", {"mult": [0.1, "n"]}]}},
    {
        "formula": {"sum": ["$score[0]", {"mult": [2, "$score[1]"]}, {"key": "tag", "match": {"value": "a"}}]},
        "defaults": {"$score[1]": 0.0},
    },
    {"formula": {"mult": ["$score", {"exp_decay": {"x": "x", "scale": 2}}]}},
]


@pytest.mark.parametrize("formula", FORMULAS)
def test_formula_over_prefetches(formula):
    same({"prefetch": WIDE, "query": formula, "limit": 12})
    same(
        {
            "prefetch": [{"prefetch": WIDE, "query": formula, "limit": 20}, WIDE[0]],
            "query": {"fusion": "rrf"},
            "limit": 8,
        }
    )


def test_a_formula_stage_frame_shows_what_each_score_is_made_of():
    got = COL.query({"prefetch": WIDE, "query": FORMULAS[0], "limit": 5})
    stage = got.attrs["stages"][-1]
    assert list(stage.columns[:3]) == ["id", "score", "rank"] and "n" in stage.columns
    n = dict(zip(COL.payload.index, COL.payload["n"]))
    assert stage["n"].tolist() == [n[i] for i in stage["id"]]
    assert np.allclose(stage["$score"] + 0.1 * stage["n"], stage["score"], rtol=1e-6)


def test_formula_threshold_and_offset():
    same({"prefetch": WIDE, "query": FORMULAS[0], "limit": 6, "offset": 3, "score_threshold": 0.1})


def test_fusion_threshold_keeps_scores_at_least_it():
    want = local({"prefetch": WIDE, "query": {"fusion": "rrf"}, "limit": 70})
    cut = want[20][1]
    got = same({"prefetch": WIDE, "query": {"fusion": "rrf"}, "limit": 70, "score_threshold": cut})
    assert got["score"].min() >= cut - 1e-7


def test_dbsf_with_a_single_point_list_and_an_empty_list():
    prefetch = [
        {"query": vec("cos", 1), "using": "cos", "limit": 1},
        {"query": vec("dot", 2), "using": "dot", "limit": 20},
        {"query": vec("euc", 2), "using": "euc", "filter": {"must": [{"key": "n", "match": {"value": 99}}]}},
    ]
    same({"prefetch": prefetch, "query": {"fusion": "dbsf"}, "limit": 30})


@pytest.mark.parametrize("diversity", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("using", ["cos", "euc"])
def test_mmr(diversity, using):
    mmr = {"nearest": vec(using, 11), "mmr": {"diversity": diversity, "candidates_limit": 30}}
    same({"query": mmr, "using": using, "limit": 8}, exact_order=True)
    same({"query": mmr, "using": using, "limit": 5, "offset": 2}, exact_order=True)
    same({"prefetch": WIDE, "query": mmr, "using": using, "limit": 8}, exact_order=True)


def test_mmr_default_candidates_and_diversity():
    same({"query": {"nearest": vec("dot", 12), "mmr": {}}, "using": "dot", "limit": 6}, exact_order=True)


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_order_by_over_candidates(direction):
    order = {"order_by": {"key": "x", "direction": direction}}
    got = same({"prefetch": WIDE, "query": order, "limit": 15}, exact_order=True)
    x = dict(zip(COL.payload.index, COL.payload["x"]))
    assert got["order_value"].tolist() == [x[i] for i in got["id"]]  # as local mode's order_value
    assert list(REMOTE.query({"prefetch": WIDE, "query": order, "limit": 15}).columns[:3]) == [
        "id",
        "score",
        "order_value",
    ]
    same({"query": order, "limit": 7, "filter": {"must": [{"key": "tag", "match": {"value": "b"}}]}}, exact_order=True)


def test_query_less_prefetch_is_a_scroll_in_id_order():
    body = {
        "prefetch": {"limit": 20, "filter": {"must": [{"key": "tag", "match": {"value": "a"}}]}},
        "query": vec("cos", 3),
        "using": "cos",
    }
    same(body)


def test_sample_returns_points_of_the_candidates():
    got = COL.query({"prefetch": WIDE[0], "query": {"sample": "random"}, "limit": 5})
    assert len(got) == 5 and set(got["id"]) <= set(COL.query(WIDE[0])["id"])


# ------------------------------------------------------------------ every kind inside a prefetch
INNER = {
    **FINALS,
    "rrf": None,
    "mmr": {"nearest": vec("cos", 13), "mmr": {"diversity": 0.7, "candidates_limit": 20}},
    "order_by": {"order_by": "x"},
}
NO_CUT = ("context",)  # most points score 0: a cut tie group holds different points on each side


@pytest.mark.parametrize("kind", INNER)
@pytest.mark.parametrize("final", ["rrf", "nearest"])
def test_every_kind_inside_a_prefetch(kind, final):
    if kind in NO_CUT and final == "rrf":
        pytest.skip("RRF reads ranks, and ranks inside a tie group are arbitrary in Qdrant")
    if kind == "rrf":
        stage = {"prefetch": WIDE, "query": {"fusion": "rrf"}, "limit": 25}
    else:
        stage = {"prefetch": WIDE, "query": INNER[kind], "using": "cos", "limit": 80 if kind in NO_CUT else 25}
    other = {"query": vec("dot", 14), "using": "dot", "limit": 20}
    query = {"fusion": "rrf"} if final == "rrf" else {"nearest": vec("cos", 15)}
    same({"prefetch": [stage, other], "query": query, **({} if final == "rrf" else {"using": "cos"}), "limit": 10})


def test_three_deep():
    leaf = {
        "query": vec("man", 1),
        "using": "man",
        "limit": 60,
        "filter": {"must_not": [{"key": "tag", "match": {"value": "c"}}]},
    }
    middle = {
        "prefetch": [leaf, {"query": vec("euc", 3), "using": "euc", "limit": 50}],
        "query": {"fusion": "dbsf"},
        "limit": 40,
    }
    upper = {"prefetch": [middle, WIDE[0]], "query": vec("dot", 4), "using": "dot", "limit": 20}
    same(
        {
            "prefetch": upper,
            "query": {"rrf": {"k": 5}},
            "limit": 10,
            "filter": {"must": [{"key": "n", "range": {"gte": 1}}]},
        }
    )
    got = same({"prefetch": upper, "query": {"nearest": vec("cos", 5)}, "using": "cos", "limit": 10})
    paths = [f.attrs["stage"] for f in got.attrs["stages"]]
    assert paths == [
        "prefetch[0].prefetch[0].prefetch[0]",
        "prefetch[0].prefetch[0].prefetch[1]",
        "prefetch[0].prefetch[0]",
        "prefetch[0].prefetch[1]",
        "prefetch[0]",
        "query",
    ]
    assert got.attrs["stages"][-1]["id"].tolist() == got["id"].tolist()


def test_filters_propagate_into_the_leaves_and_should_clauses_become_alternatives():
    outer = {"should": [{"key": "tag", "match": {"value": "a"}}]}
    inner = {"should": [{"key": "tag", "match": {"value": "b"}}], "must": [{"key": "n", "range": {"lt": 5}}]}
    body = {
        "prefetch": {"query": vec("cos", 1), "using": "cos", "limit": 15, "filter": inner},
        "query": {"fusion": "rrf"},
        "filter": outer,
    }
    got = same(body)
    assert set(got["id"]) & set(COL.scroll(filter={"must": [{"key": "tag", "match": {"value": "b"}}]})["id"])


def test_example_ids_of_a_stage_are_left_out_below_it():
    body = {
        "prefetch": {"query": vec("cos", 1), "using": "cos", "limit": 30},
        "query": {"nearest": IDS[0]},
        "using": "cos",
    }
    got = same(body)
    assert IDS[0] not in set(got.attrs["stages"][0]["id"])


OTHER_VEC = np.random.default_rng(3).normal(size=(6, 8)).astype(np.float32)
OTHER = ek.Collection.from_arrays({"img": OTHER_VEC}, ids=IDS[:6], name="pipeline_other")
CLIENT.create_collection(
    "pipeline_other", vectors_config={"img": models.VectorParams(size=8, distance=models.Distance.COSINE)}
)
CLIENT.upsert(
    "pipeline_other", points=[models.PointStruct(id=IDS[i], vector={"img": OTHER_VEC[i].tolist()}) for i in range(6)]
)


def test_lookup_from_inside_a_prefetch():
    """Ids looked up in another collection are not left out of this one's candidates."""
    stage = {
        "query": {"recommend": {"positive": [IDS[0], IDS[1]], "negative": [IDS[2]]}},
        "using": "cos",
        "lookup_from": {"collection": "pipeline_other", "vector": "img"},
        "limit": 30,
    }
    body = {"prefetch": [stage, WIDE[1]], "query": {"fusion": "dbsf"}, "limit": 15}
    got = COL.query(body)
    assert_same(ids_scores(got), local(body), limit=15)
    body = {
        "prefetch": WIDE[0],
        "query": IDS[3],
        "using": "cos",
        "lookup_from": {"collection": "pipeline_other", "vector": "img"},
    }
    got = COL.query(body)
    assert_same(ids_scores(got), local(body), limit=10)


def test_lookup_from_naming_this_collection_leaves_example_ids_out_of_every_stage():
    """lookup_from naming the queried collection itself: its example ids are left out of the
    stages below, locally, on the server and in the backend's stage chart (review 2021 finding 9:
    the chart showed the example id the server had excluded)."""
    inner = {"query": VEC["cos"][0].tolist(), "using": "cos", "limit": 5}  # IDS[0] is its own nearest
    stage = {
        "prefetch": [inner],
        "query": {"recommend": {"positive": [IDS[0]]}},
        "using": "cos",
        "limit": 10,
        "lookup_from": {"collection": NAME, "vector": "cos"},
    }
    got = same({"prefetch": [stage], "query": {"fusion": "rrf"}, "limit": 10})
    assert all(IDS[0] not in set(frame["id"]) for frame in got.attrs["stages"])


def test_a_collection_object_in_a_prefetchs_lookup_from_leaves_the_result_usable():
    """attrs["query"] holds JSON only (the collection by its name): pandas deep-copies attrs on
    every operation, and a Collection holds a lock (review 2021 finding 4: TypeError: cannot
    pickle '_thread.RLock' object on r["id"])."""
    stage = {"query": IDS[0], "using": "cos", "lookup_from": {"collection": OTHER, "vector": "img"}, "limit": 20}
    body = {"prefetch": [stage], "query": vec("cos", 7), "using": "cos", "limit": 5}
    named = {**body, "prefetch": [{**stage, "lookup_from": {"collection": "pipeline_other", "vector": "img"}}]}
    for col in (COL, REMOTE):
        got = col.query(body)
        assert_same(ids_scores(got), local(named), limit=5)
        assert got["id"].tolist() == got.head(5)["id"].tolist() == copy.deepcopy(got)["id"].tolist()
        assert got.attrs["query"]["prefetch"][0]["lookup_from"] == {"collection": "pipeline_other", "vector": "img"}


QUERY_MODELS = {
    "nearest": (models.NearestQuery(nearest=vec("cos", 8)), "cos"),
    "recommend": (models.RecommendQuery(recommend=models.RecommendInput(positive=[IDS[0]], negative=[IDS[1]])), "cos"),
    "discover": (
        models.DiscoverQuery(
            discover=models.DiscoverInput(target=IDS[0], context=[models.ContextPair(positive=IDS[1], negative=IDS[2])])
        ),
        "cos",
    ),
    "context": (models.ContextQuery(context=[models.ContextPair(positive=IDS[1], negative=IDS[2])]), "cos"),
    "order_by": (models.OrderByQuery(order_by="x"), None),
}


@pytest.mark.parametrize("kind", QUERY_MODELS)
def test_a_query_model_as_keyword_is_local_modes_answer(kind):
    """col.query(query=models.XQuery(...)): the one model conversion on every path (review 2021
    finding 7: RequestError "neither a point id nor a vector" on the single-stage path)."""
    model, using = QUERY_MODELS[kind]
    res = CLIENT.query_points(NAME, query=model, using=using, limit=4, with_payload=False)
    want = [(p.id, p.score) for p in res.points]
    for col in (COL, REMOTE):
        got = col.query(query=model, using=using, limit=4)
        assert_same(ids_scores(got), want, limit=4, label=f"{type(col).__name__} {kind}")


def test_no_candidates_no_answer():
    body = {
        "prefetch": {
            "query": vec("cos", 1),
            "using": "cos",
            "filter": {"must": [{"key": "n", "match": {"value": 99}}]},
        },
        "query": vec("cos", 2),
        "using": "cos",
    }
    assert len(same(body)) == 0


def test_payload_vectors_and_attrs():
    got = COL.query(
        {"prefetch": WIDE, "query": {"fusion": "rrf"}, "limit": 3, "with_payload": ["tag"], "with_vector": ["cos"]}
    )
    assert list(got.columns) == ["id", "score", "tag", "cos"]
    assert got.attrs["query"]["query"] == {"fusion": "rrf"}
    assert [f.attrs["kind"] for f in got.attrs["stages"]] == ["nearest", "nearest", "fusion"]
    assert list(got.attrs["stages"][0].columns) == ["id", "score", "rank"]
    assert len(pd.concat([got, got])) == 6  # frames holding stages still concatenate


@pytest.mark.parametrize("selector", [{"exclude": ["tag", "arr"]}, ["tag", "x"], None, False])
def test_payload_selectors_on_both_backends(selector):
    body = {"prefetch": WIDE, "query": {"fusion": "rrf"}, "limit": 3, "with_payload": selector}
    mine, theirs = COL.query(body), REMOTE.query(body)
    assert list(mine.columns) == list(theirs.columns) and mine["id"].tolist() == theirs["id"].tolist()
    grouped = {**body, "group_by": "tag", "limit": 2}
    mine, theirs = COL.query(grouped), REMOTE.query(grouped)
    assert list(mine.columns) == list(theirs.columns)
    for a, b in zip(mine.attrs["stages"], theirs.attrs["stages"], strict=True):  # every stage asked for all points
        assert a.attrs["limit"] == b.attrs["limit"] == len(COL)
        assert_same(ids_scores(b), ids_scores(a), limit=len(COL))


def test_keyword_form_and_models():
    kw = COL.query(
        prefetch=[models.Prefetch(query=vec("cos", 1), using="cos", limit=40)],
        query=models.FusionQuery(fusion=models.Fusion.DBSF),
        limit=5,
    )
    body = COL.query(
        {"prefetch": [{"query": vec("cos", 1), "using": "cos", "limit": 40}], "query": {"fusion": "dbsf"}, "limit": 5}
    )
    assert kw["id"].tolist() == body["id"].tolist()
    flt = {"must": [{"key": "tag", "match": {"value": "a"}}]}
    named = COL.query(prefetch=WIDE, query={"fusion": "rrf"}, query_filter=models.Filter(**flt), limit=5)
    assert (
        named["id"].tolist()
        == COL.query({"prefetch": WIDE, "query": {"fusion": "rrf"}, "filter": flt, "limit": 5})["id"].tolist()
    )


def test_keyword_form_takes_the_query_positionally_as_query_points_does():
    lm = CLIENT.query_points(NAME, vec("cos", 3), using="cos", limit=6).points  # query is its 2nd positional
    for query in (vec("cos", 3), np.asarray(vec("cos", 3))):
        mine = COL.query(query, using="cos", limit=6)  # said "got a body and the keywords"
        assert mine["id"].tolist() == [p.id for p in lm]
        np.testing.assert_allclose(mine["score"], [p.score for p in lm], rtol=1e-5, atol=1e-6)
    assert COL.query(IDS[4], using="euc", limit=3)["id"].tolist() == [
        p.id for p in CLIENT.query_points(NAME, IDS[4], using="euc", limit=3).points
    ]
    with pytest.raises(ek.RequestError, match="got the query twice, positionally .* and as query="):
        COL.query(vec("cos", 3), query=vec("cos", 3), using="cos")
    with pytest.raises(ek.RequestError, match="a query model goes in as query="):
        COL.query(models.NearestQuery(nearest=vec("cos", 3)), using="cos")


def test_batch_with_stages():
    a, b = COL.query(
        {"searches": [{"query": vec("cos", 1), "using": "cos"}, {"prefetch": WIDE, "query": {"fusion": "rrf"}}]}
    )
    assert a["id"].tolist() == COL.query({"query": vec("cos", 1), "using": "cos"})["id"].tolist()
    assert "stages" in b.attrs


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"prefetch": WIDE}, "a query is needed to merge"),
        ({"query": {"fusion": "rrf"}}, "give it a prefetch"),
        ({"prefetch": WIDE, "query": {"fusion": "rrf"}, "using": "cos"}, "fusion queries cannot be combined"),
        ({"prefetch": WIDE, "query": {"rrf": {"k": 0}}}, "k"),
        ({"prefetch": WIDE, "query": {"fusion": "max"}}, "fusion"),
        ({"prefetch": {"query": [1.0], "limit": 0}, "query": {"fusion": "rrf"}}, "limit"),
        ({"prefetch": WIDE, "query": {"order_by": "x"}, "score_threshold": 0.5}, "order_by"),
        ({"query": {"nearest": [1.0], "mmr": {"diversity": 2}}}, "diversity"),
        ({"prefetch": WIDE, "query": {"rrf": {"weights": [1.0]}}}, "weights"),
    ],
)
def test_bad_bodies(body, fragment):
    """Each refused as qdrant-client local mode refuses it (a RequestError naming the part)."""
    with pytest.raises(RequestError, match=fragment):
        COL.query(body)


def test_a_quantized_prefetch_takes_the_quantized_path_with_its_params():
    col = ek.Collection.from_arrays(VEC["dot"], ids=IDS, distance="dot")
    col.quantize({"scalar": {"type": "int8"}})
    q = vec("dot", 30)
    for params in ({"quantization": {"rescore": False}}, {"quantization": {"rescore": True, "oversampling": 2.0}}):
        alone = col.search(q, limit=20, params=params)
        got = col.query({"prefetch": {"query": q, "limit": 20, "params": params}, "query": q, "limit": 5})
        first, top = got.attrs["stages"]
        assert first["id"].tolist() == alone["id"].tolist()
        assert np.allclose(first["score"], alone["score"])
        exact = col.search(q, limit=200, params={"exact": True}).set_index("id")["score"]
        assert np.allclose(top["score"], exact[top["id"]].to_numpy(), rtol=1e-6)  # rescored exactly
        assert got.attrs["path"] == "exact"


def test_deep_bodies_are_refused_with_a_message():
    body: dict = {"query": vec("cos", 1), "using": "cos"}
    for _ in range(100):
        body = {"prefetch": body, "query": {"fusion": "rrf"}}
    with pytest.raises(RequestError, match="nested more than 64 levels"):
        COL.query(body)
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ek.ExploreError, match="nested more than"):
        COL.query({"prefetch": WIDE, "query": {"fusion": "rrf"}, "filter": {"must": [deep]}})


# ------------------------------------------------------------------ groups
def local_groups(body: dict) -> list[tuple]:
    req = models.QueryGroupsRequest.model_validate(body)
    res = CLIENT.query_points_groups(
        NAME,
        group_by=req.group_by,
        query=req.query,
        prefetch=req.prefetch,
        query_filter=req.filter,
        using=req.using,
        limit=req.limit or 10,
        group_size=req.group_size or 3,
        score_threshold=req.score_threshold,
        with_payload=False,
    )
    return [(g.id, p.id, p.score) for g in res.groups for p in g.hits]


@pytest.mark.parametrize("key", ["grp", "arr", "opt", "tag"])
def test_groups(key):
    for body in (
        {"query": vec("cos", 1), "using": "cos", "group_by": key, "group_size": 2, "limit": 4},
        {"prefetch": WIDE, "query": {"fusion": "rrf"}, "group_by": key, "limit": 3},
    ):
        want = local_groups(body)
        for col in (COL, REMOTE):
            got = col.query(body)
            assert list(zip(got["group"], got["id"])) == [(g, i) for g, i, _ in want], body
            assert np.allclose(got["score"], [s for *_, s in want], rtol=1e-5)
    frame = COL.query_groups(vec("cos", 1), using="cos", group_by=key, group_size=2, limit=4)
    assert list(frame.columns[:3]) == ["group", "id", "score"]
    body = {"query": vec("cos", 1), "using": "cos", "group_by": key, "group_size": 2, "limit": 4}
    assert frame["id"].tolist() == COL.query(body)["id"].tolist()
    with_prefetch = REMOTE.query_groups(
        models.FusionQuery(fusion=models.Fusion.DBSF),
        prefetch=[models.Prefetch(query=vec("euc", 2), using="euc", limit=30), WIDE[0]],
        group_by=key,
        limit=3,
    )
    want = local_groups(
        {
            "prefetch": [{"query": vec("euc", 2), "using": "euc", "limit": 30}, WIDE[0]],
            "query": {"fusion": "dbsf"},
            "group_by": key,
            "limit": 3,
        }
    )
    assert list(zip(with_prefetch["group"], with_prefetch["id"])) == [(g, i) for g, i, _ in want]


# ------------------------------------------------------------------ generated pipelines
USINGS = ["cos", "dot", "euc", "man"]
FILTERS = [
    None,
    {"must": [{"key": "tag", "match": {"any": ["a", "b"]}}]},
    {"must_not": [{"key": "n", "range": {"gt": 4}}]},
    {"should": [{"key": "opt", "match": {"value": 1}}, {"key": "tag", "match": {"value": "c"}}]},
]


@st.composite
def stages(draw, depth):
    using = draw(st.sampled_from(USINGS))
    flt = draw(st.sampled_from(FILTERS))
    limit = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 10_000))
    if depth == 0 or draw(st.booleans()):
        kind = draw(st.sampled_from(["nearest", "recommend", "mmr"]))  # context: ties at a cut (above)
    else:
        kind = draw(st.sampled_from(["rrf", "dbsf", "nearest", "recommend", "mmr", "order_by", "formula"]))
    body: dict = {"limit": limit}
    if flt is not None:
        body["filter"] = flt
    if kind in ("rrf", "dbsf", "order_by", "formula") or (
        depth > 0 and kind in ("nearest", "recommend", "mmr") and draw(st.booleans())
    ):
        if depth == 0:
            kind = "nearest"
        else:
            body["prefetch"] = draw(st.lists(stages(depth - 1), min_size=1, max_size=3))
    if kind in ("rrf", "dbsf"):
        body["query"] = {"fusion": kind}
        return body
    if kind == "formula":
        body["query"] = {"formula": {"sum": [{"mult": [0.5, "n"]}, "x", {"key": "tag", "match": {"value": "a"}}]}}
        return body
    if kind == "order_by":
        body["query"] = {"order_by": {"key": "x", "direction": draw(st.sampled_from(["asc", "desc"]))}}
        return body
    body["using"] = using
    ids = draw(st.lists(st.sampled_from(IDS), min_size=2, max_size=2, unique=True))
    if kind == "nearest":
        body["query"] = vec(using, seed) if draw(st.booleans()) else {"nearest": ids[0]}
    elif kind == "recommend":
        strategy = draw(st.sampled_from(["average_vector", "best_score", "sum_scores"]))
        if strategy == "sum_scores" and using == "man":  # piecewise constant: big tie groups, cut by limits
            strategy = "best_score"
        body["query"] = {"recommend": {"positive": [ids[0]], "negative": [ids[1]], "strategy": strategy}}
    elif kind == "context":
        body["query"] = {"context": [{"positive": ids[0], "negative": ids[1]}]}
    else:
        body["query"] = {
            "nearest": vec(using, seed),
            "mmr": {"diversity": draw(st.sampled_from([0.0, 0.3, 1.0])), "candidates_limit": draw(st.integers(1, 30))},
        }
    return body


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stages(3))
def test_generated_pipelines_agree_with_local_mode(body):
    same(body, exact_order="order_by" in str(body.get("query")) or "mmr" in str(body.get("query")))


HAS_COS = {"must": [{"has_vector": "cos"}]}  # every point has it: the filter keeps all of them


@pytest.mark.parametrize(
    "body",
    [
        {
            "query": {"nearest": vec("cos", 30), "mmr": {"diversity": 0.5}},
            "using": "cos",
            "limit": 5,
            "filter": HAS_COS,
        },
        {
            "prefetch": [{"query": vec("cos", 31), "using": "cos", "limit": 9}],
            "query": vec("dot", 32),
            "using": "dot",
            "limit": 5,
            "filter": HAS_COS,
        },
        {
            "prefetch": [{"query": vec("cos", 33), "using": "cos", "limit": 9, "filter": HAS_COS}],
            "query": {"fusion": "rrf"},
            "limit": 5,
        },
        {
            "prefetch": [{"query": vec("cos", 34), "using": "cos", "limit": 9}],
            "query": {"formula": {"sum": ["$score", {"has_vector": "cos"}]}},
            "limit": 5,
        },
    ],
    ids=["mmr", "outer filter", "prefetch filter", "formula condition"],
)
def test_has_vector_filters_every_stage_kind(body):
    """Regression (review 2021 #1): has_vector passed nothing outside the plain query path."""
    same(body)


def test_has_vector_filters_groups_facet_matrix_and_sample():
    """Regression (review 2021 #1): the store's vector names reach every filter, not just the plain query."""
    groups = COL.query_groups(vec("cos", 35), using="cos", group_by="tag", filter=HAS_COS)
    assert groups["group"].nunique() == 3
    assert COL.facet("tag", filter=HAS_COS)["count"].sum() == N
    assert len(COL.distance_matrix(sample=10, limit=2, using="cos", filter=HAS_COS)) == 20
    assert len(COL.sample(7, filter=HAS_COS)) == 7
