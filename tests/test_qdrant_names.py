"""qdrant-client's keyword names and models on the query methods (explorekit/query/keywords.py).

Every alias gives the same answer as explorekit's own keyword; qdrant-client models work as
keyword values and nested anywhere in a dict body; a name that means nothing is an ExploreError
naming it and the accepted names; and a request written with qdrant-client's names gets
qdrant-client local mode's answer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from oracle import Trio, assert_same, ids_scores
from qdrant_client import QdrantClient, models

import explorekit as ek
from explorekit.backends.qdrant import to_qdrant

RNG = np.random.default_rng(18)
VECTORS = {"image": RNG.normal(size=(80, 6)).astype(np.float32), "text": RNG.normal(size=(80, 4)).astype(np.float32)}
PAYLOAD = [{"city": ["Berlin", "Paris", "Rome"][i % 3], "size": i % 7} for i in range(80)]
COL = ek.Collection.from_arrays(VECTORS, payload=PAYLOAD, name="names_test")
V = VECTORS["image"][3] + 0.1

FILTER = {"must": [{"key": "city", "match": {"value": "Paris"}}]}
FILTER_MODEL = models.Filter(must=[models.FieldCondition(key="city", match=models.MatchValue(value="Paris"))])
PARAMS = {"exact": True}
PARAMS_MODEL = models.SearchParams(exact=True)

# (method, qdrant-client-style keywords, explorekit keywords): the two calls must agree
CASES = [
    ("search", {"query_vector": V, "using": "image"}, {"query": V, "using": "image"}),
    ("search", {"query_vector": ("image", V)}, {"query": V, "using": "image"}),
    ("search", {"query_vector": {"name": "image", "vector": V.tolist()}}, {"query": V, "using": "image"}),
    (
        "search",
        {"query": V, "using": "image", "query_filter": FILTER},
        {"query": V, "using": "image", "filter": FILTER},
    ),
    (
        "search",
        {"query": V, "using": "image", "query_filter": FILTER_MODEL, "search_params": PARAMS_MODEL},
        {"query": V, "using": "image", "filter": FILTER, "params": PARAMS},
    ),
    (
        "search",
        {"query": V, "using": "image", "with_vector": ["text"], "collection_name": "names_test"},
        {"query": V, "using": "image", "with_vectors": ["text"]},
    ),
    (
        "search",
        {"query": 5, "using": "image", "score_threshold": 0.2, "limit": 4, "with_payload": ["size"]},
        {"query": 5, "using": "image", "score_threshold": 0.2, "limit": 4, "with_payload": ["size"]},
    ),
    (
        "recommend",
        {"positive": [1], "negative": [2], "using": "text", "query_filter": FILTER_MODEL, "search_params": PARAMS},
        {"positive": [1], "negative": [2], "using": "text", "filter": FILTER, "params": PARAMS},
    ),
    (
        "recommend",
        {
            "positive": [1],
            "using": "text",
            "lookup_from": models.LookupLocation(collection="names_test", vector="text"),
        },
        {"positive": [1], "using": "text", "lookup_from": {"collection": "names_test", "vector": "text"}},
    ),
    (
        "recommend",
        {"positive": [1], "using": "text", "strategy": models.RecommendStrategy.BEST_SCORE},
        {"positive": [1], "using": "text", "strategy": "best_score"},
    ),
    (
        "discover",
        {"target": 4, "context": [models.ContextPair(positive=1, negative=2)], "using": "image"},
        {"target": 4, "context": [(1, 2)], "using": "image"},
    ),
    (
        "discover",
        {"context": [models.ContextPair(positive=1, negative=2)], "using": "image", "query_filter": FILTER_MODEL},
        {"context": [(1, 2)], "using": "image", "filter": FILTER},
    ),
    ("scroll", {"scroll_filter": FILTER_MODEL, "limit": 5}, {"filter": FILTER, "limit": 5}),
    (
        "scroll",
        {"scroll_filter": FILTER, "with_vector": True, "collection_name": "names_test"},
        {"filter": FILTER, "with_vectors": True},
    ),
    ("retrieve", {"ids": [3, 1], "with_vector": ["image"]}, {"ids": [3, 1], "with_vectors": ["image"]}),
    ("count", {"count_filter": FILTER_MODEL, "exact": True, "collection_name": "names_test"}, {"filter": FILTER}),
]


@pytest.mark.parametrize(("method", "qdrant_style", "own"), CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_every_alias_gives_the_same_answer(method, qdrant_style, own):
    got = getattr(COL, method)(**qdrant_style)
    want = getattr(COL, method)(**own)
    if method == "count":
        assert got == want > 0
        return
    assert len(want) > 0
    pd.testing.assert_frame_equal(got, want)


def test_query_takes_query_points_keywords_and_models():
    recommend = models.RecommendQuery(
        recommend=models.RecommendInput(positive=[1], negative=[2], strategy=models.RecommendStrategy.SUM_SCORES)
    )
    got = COL.query(query=recommend, using="text", query_filter=FILTER_MODEL, search_params=PARAMS_MODEL, limit=4)
    want = COL.recommend(positive=[1], negative=[2], strategy="sum_scores", using="text", filter=FILTER, limit=4)
    assert ids_scores(got) == ids_scores(want)
    near = COL.query(query=models.NearestQuery(nearest=V.tolist()), using="image", with_vectors=True, limit=3)
    assert ids_scores(near) == ids_scores(COL.search(V, using="image", limit=3))
    assert "image" in near.columns


def test_models_nested_in_a_dict_body():
    body = {
        "query": models.NearestQuery(nearest=V.tolist()),
        "using": "image",
        "filter": FILTER_MODEL,
        "params": models.SearchParams(quantization=models.QuantizationSearchParams(rescore=True, oversampling=2.0)),
        "limit": 5,
    }
    want = COL.search(V, using="image", filter=FILTER, limit=5)
    assert ids_scores(COL.query(body)) == ids_scores(want)
    batch = COL.search_batch(
        [{"query": V, "using": "image", "filter": FILTER_MODEL, "params": PARAMS_MODEL, "limit": 5}]
    )
    assert ids_scores(batch[0]) == ids_scores(want)
    lookup = {
        "query": {"recommend": {"positive": [1]}},
        "using": "text",
        "lookup_from": models.LookupLocation(collection="names_test"),
    }
    assert ids_scores(COL.query(lookup)) == ids_scores(
        COL.recommend(positive=[1], using="text", lookup_from="names_test")
    )


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("search", {"query": V, "using": "image"}),
        ("recommend", {"positive": [1], "using": "image"}),
        ("discover", {"target": 1, "context": [(2, 3)], "using": "image"}),
        ("scroll", {}),
        ("retrieve", {"ids": [1]}),
        ("count", {}),
        ("query", {"query": V.tolist(), "using": "image"}),
        ("search_batch", {"requests": [{"query": V, "using": "image"}]}),
    ],
)
def test_an_unknown_keyword_names_itself_and_the_accepted_names(method, args):
    with pytest.raises(ek.RequestError) as caught:
        getattr(COL, method)(**args, query_filtr=FILTER)
    text = str(caught.value)
    assert "'query_filtr'" in text and f"{method}() accepts [" in text and "collection_name" in text
    if method in ("search", "recommend", "discover", "query"):
        assert "Did you mean 'query_filter'" in text


def test_an_alias_and_its_keyword_together_are_refused():
    with pytest.raises(ek.RequestError, match="filter= and query_filter= both give 'filter'"):
        COL.search(V, using="image", filter=FILTER, query_filter=FILTER)
    with pytest.raises(ek.RequestError, match=r"query \(positionally\) and query_vector= both give 'query'"):
        COL.search(V, query_vector=V, using="image")
    with pytest.raises(ek.RequestError, match="names the vector 'image' but using='text'"):
        COL.search(query_vector=("image", V), using="text")


def test_extra_positional_arguments_are_refused_not_dropped():
    with pytest.raises(ek.RequestError, match=r"search\(\) takes 1 positional argument\(s\) \['query'\] but got 2"):
        COL.search(V, "image")


def test_collection_name_must_match_a_named_collection():
    with pytest.raises(ek.RequestError, match="collection_name='other', but this collection is 'names_test'"):
        COL.search(V, using="image", collection_name="other")
    unnamed = ek.Collection.from_arrays(VECTORS["image"])
    assert len(unnamed.search(V, collection_name="anything", limit=2)) == 2


def test_remote_collection_takes_the_same_names():
    remote = to_qdrant(COL, QdrantClient(":memory:"), "names_test", progress=False)
    got = remote.search(query_vector=("image", V), query_filter=FILTER_MODEL, search_params=PARAMS_MODEL, limit=5)
    assert_same(ids_scores(got), ids_scores(COL.search(V, using="image", filter=FILTER, limit=5)))
    scrolled = remote.scroll(scroll_filter=FILTER_MODEL, limit=4, collection_name="names_test")
    assert scrolled["id"].tolist() == COL.scroll(filter=FILTER, limit=4)["id"].tolist()
    assert remote.count(count_filter=FILTER_MODEL) == COL.count(FILTER) == 27
    assert remote.count() == len(COL)
    with pytest.raises(ek.RequestError, match="'scroll_filtr'"):
        remote.scroll(scroll_filtr=FILTER)


@pytest.mark.oracle
def test_a_request_in_qdrant_clients_names_gets_local_modes_answer():
    trio = Trio(VECTORS["image"], payload=PAYLOAD, distance="dot", edge=False)
    request = {
        "query": V.tolist(),
        "query_filter": FILTER_MODEL,
        "search_params": models.SearchParams(exact=True),
        "score_threshold": -5.0,
        "limit": 7,
        "with_payload": False,
    }
    want = trio.client.query_points(trio.name, **request).points
    got = trio.col.query(collection_name=trio.name, **request)
    assert_same(ids_scores(got), [(p.id, p.score) for p in want], limit=7)
    rec = {"positive": [1, 4], "negative": [2], "strategy": models.RecommendStrategy.BEST_SCORE}
    want = trio.client.query_points(
        trio.name,
        query=models.RecommendQuery(recommend=models.RecommendInput(**rec)),
        query_filter=FILTER_MODEL,
        limit=5,
    ).points
    got = trio.col.recommend(**rec, query_filter=FILTER_MODEL, limit=5, collection_name=trio.name)
    assert_same(ids_scores(got), [(p.id, p.score) for p in want], limit=5)
    points, _ = trio.client.scroll(trio.name, scroll_filter=FILTER_MODEL, limit=6, with_payload=True)
    got = trio.col.scroll(collection_name=trio.name, scroll_filter=FILTER_MODEL, limit=6, with_payload=True)
    assert got["id"].tolist() == [p.id for p in points]
    assert got["city"].tolist() == [p.payload["city"] for p in points]
    want = trio.client.count(trio.name, count_filter=FILTER_MODEL, exact=True).count
    assert trio.col.count(collection_name=trio.name, count_filter=FILTER_MODEL, exact=True) == want
