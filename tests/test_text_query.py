"""Query by text: ``encoder=`` on search, recommend, discover and query, local and on Qdrant.

The encoder here is a real, deterministic function (each word hashed to a seeded random
vector, summed): texts that share words land near each other. The documents are embedded
with the same function, so a text query must find the document it shares words with, and it
must answer exactly as the same query given as the encoder's vector does.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same as _assert_same
from oracle import ids_scores
from qdrant_client import QdrantClient

import explorekit as ek
from explorekit.backends.qdrant import to_qdrant
from explorekit.widgets._map import EXAMPLE_SIZE
from explorekit.widgets._shapes import anchors, marker_path, named

DIM = 16
DOCS = [
    "serialize an object to json",
    "parse a json string into an object",
    "open a file for reading",
    "sort a list in place",
    "join path components",
    "split a string at a separator",
    "read a csv file into rows",
    "compute the square root",
]


def assert_same(got, want) -> None:
    """Same ids and scores (tied groups as sets): the text query ran as its vector."""
    _assert_same(ids_scores(got), ids_scores(want))


def word_vector(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).normal(size=DIM)


def hashing_encoder(texts: list[str]) -> np.ndarray:
    """Sum of one seeded random vector per word: a stand-in for a sentence model."""
    return np.array([sum(word_vector(w) for w in text.lower().split()) for text in texts], np.float32)


class CountingEncoder:
    """The hashing encoder, recording what it was asked (every call and its texts)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return hashing_encoder(texts)


def text_collection(**kwargs) -> ek.Collection:
    return ek.Collection.from_arrays(hashing_encoder(DOCS), payload=[{"doc": d} for d in DOCS], **kwargs)


@pytest.fixture(scope="module")
def both():
    """The text collection locally and on a Qdrant (local mode) server."""
    local = text_collection(distance="cosine")
    client = QdrantClient(":memory:")
    remote = to_qdrant(local, client, "texts", progress=False)
    yield {"local": local, "qdrant": remote}
    client.close()


@pytest.mark.parametrize("where", ["local", "qdrant"])
def test_a_text_query_answers_as_its_vector(both, where):
    col = both[where]
    text = "how do I parse json"
    by_text = col.search(text, encoder=hashing_encoder, limit=4)
    assert_same(by_text, col.search(hashing_encoder([text])[0], limit=4))
    assert by_text["doc"].iloc[0] == "parse a json string into an object"
    assert_same(col.query(text, encoder=hashing_encoder, limit=4), by_text)
    assert_same(col.query(query=text, encoder=hashing_encoder, limit=4), by_text)
    assert_same(col.query({"query": {"nearest": text}, "limit": 4}, encoder=hashing_encoder), by_text)


@pytest.mark.parametrize("where", ["local", "qdrant"])
def test_texts_as_recommend_and_discover_examples(both, where):
    col = both[where]
    vec = dict(zip(["json", "file", "string"], hashing_encoder(["json", "file", "string"])))
    assert_same(
        col.recommend(positive=["json", 2], negative="file", strategy="best_score", encoder=hashing_encoder),
        col.recommend(positive=[vec["json"], 2], negative=[vec["file"]], strategy="best_score"),
    )
    assert_same(
        col.discover(target="json", context=[("string", "file")], encoder=hashing_encoder, limit=3),
        col.discover(target=vec["json"], context=[(vec["string"], vec["file"])], limit=3),
    )
    assert_same(
        col.discover(context=[{"positive": "json", "negative": 2}], encoder=hashing_encoder, limit=3),
        col.discover(context=[{"positive": vec["json"], "negative": 2}], limit=3),
    )
    body = {"prefetch": [{"query": {"recommend": {"positive": ["json"]}}, "limit": 5}], "query": "string", "limit": 3}
    plain = {"prefetch": [{"query": {"recommend": {"positive": [vec["json"].tolist()]}}, "limit": 5}]}
    assert_same(col.query(body, encoder=hashing_encoder), col.query({**body, **plain, "query": vec["string"].tolist()}))


WORDS = sorted({w for doc in DOCS for w in doc.split()} | {"xml", "socket", "thread"})
TEXTS = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)
LOCAL = text_collection(distance="cosine")


@settings(max_examples=30, deadline=None)
@given(
    positive=st.lists(TEXTS | st.integers(0, len(DOCS) - 1), min_size=1, max_size=3),
    negative=st.lists(TEXTS, max_size=2),
)
def test_any_texts_answer_as_their_vectors(positive, negative):
    """Property: texts among ids, in any order and with repeats, answer as the encoder's vectors do."""
    as_vectors = [hashing_encoder([e])[0] if isinstance(e, str) else e for e in positive]
    for strategy in ("average_vector", "best_score"):
        got = LOCAL.recommend(positive=positive, negative=negative, strategy=strategy, encoder=hashing_encoder)
        want = LOCAL.recommend(
            positive=as_vectors, negative=[hashing_encoder([t])[0] for t in negative], strategy=strategy
        )
        assert_same(got, want)


def test_the_encoder_gets_every_text_of_a_call_once():
    col, encoder = text_collection(), CountingEncoder()
    col.recommend(positive=["json", "file", "json"], negative=["file", 3], encoder=encoder)
    assert encoder.calls == [["json", "file"]]
    col.search([0.0] * DIM, encoder=encoder)  # no text: the encoder is not called
    assert len(encoder.calls) == 1


@pytest.mark.parametrize("where", ["local", "qdrant"])
def test_a_string_is_a_text_only_with_an_encoder(both, where):
    """Without encoder= a string is a point id; an unknown one says how to search by text."""
    col = both[where]
    for call in (lambda: col.search("parse json"), lambda: col.query("parse json"), lambda: col.recommend(["json"])):
        with pytest.raises(ek.UnknownIdError, match=r"'parse json'|'json'") as err:
            call()
        assert "encoder=ek.encoders.sentence_transformer()" in str(err.value)


def test_string_ids_keep_meaning_the_id():
    """A collection with string ids: "doc3" is the id without an encoder, a text with one, and
    {"id": "doc3"} (or a UUID object) is the id with one."""
    ids = [f"doc{i}" for i in range(len(DOCS))]
    col = text_collection(ids=ids)
    by_id = col.search("doc3", limit=3)
    assert "doc3" not in by_id["id"].tolist()  # the example itself is left out, as for any id query
    assert_same(col.search({"id": "doc3"}, encoder=hashing_encoder, limit=3), by_id)
    by_text = col.search("doc3", encoder=hashing_encoder, limit=3)
    assert_same(by_text, col.search(hashing_encoder(["doc3"])[0], limit=3))
    assert not by_text["id"].equals(by_id["id"])
    assert_same(
        col.recommend(positive=[{"id": "doc3"}, "sort"], encoder=hashing_encoder, limit=3),
        col.recommend(positive=["doc3", hashing_encoder(["sort"])[0]], limit=3),
    )
    uuids = [str(uuid.UUID(int=i + 1)) for i in range(len(DOCS))]
    ucol = text_collection(ids=uuids)
    assert_same(ucol.search(uuid.UUID(uuids[3]), encoder=hashing_encoder, limit=3), ucol.search(uuids[3], limit=3))


BAD_ENCODERS = {
    "wrong dim": (
        lambda texts: np.ones((len(texts), 3)),
        ek.DimensionError,
        r"dim 3, but the collection's vectors have dim 16",
    ),
    "one row too few": (lambda texts: np.ones((len(texts) - 1, DIM)), ek.RequestError, r"shape \(0, 16\) for 1 text"),
    "flat": (lambda texts: np.ones(DIM), ek.RequestError, r"shape \(16,\) for 1 text"),
    "strings": (lambda texts: [["a"] * DIM for _ in texts], ek.RequestError, "an encoder returns numbers"),
    "ragged": (lambda texts: [[1.0, 2.0], [1.0]], ek.RequestError, "an encoder returns numbers"),
    "nan": (lambda texts: np.full((len(texts), DIM), np.nan), ek.NonFiniteError, r"NaN or infinite .* \['json'\]"),
    "not callable": ("all-MiniLM-L6-v2", ek.RequestError, "is not callable"),
}


@pytest.mark.parametrize("name", BAD_ENCODERS)
def test_a_bad_encoder_is_a_clear_error(name):
    encoder, error, message = BAD_ENCODERS[name]
    col = text_collection()
    with pytest.raises(error, match=message):
        col.search("json", encoder=encoder)


def test_the_dimension_error_names_the_vector():
    col = ek.Collection.from_arrays({"a": hashing_encoder(DOCS), "b": np.ones((len(DOCS), 3), np.float32)})
    with pytest.raises(ek.DimensionError, match="dim 16, but the collection's vectors 'b' have dim 3"):
        col.search("json", using="b", encoder=hashing_encoder)
    assert len(col.search("json", using="a", encoder=hashing_encoder)) == len(DOCS)
    with pytest.raises(ek.UnknownVectorError):
        col.search("json", using="c", encoder=hashing_encoder)


def test_batches_refuse_an_encoder_with_the_fix():
    col = text_collection()
    with pytest.raises(ek.RequestError, match=r"requests\[0\]: encoder= is taken by single calls"):
        col.search_batch([{"query": "json", "encoder": hashing_encoder}])


def test_the_ready_encoder_without_the_text_extra_names_the_install():
    """``ek.encoders`` imports sentence-transformers only when asked; without it the error says what to install."""
    code = (
        "import sys; sys.modules['sentence_transformers'] = None\n"
        "import explorekit as ek\n"
        "try:\n"
        "    ek.encoders.sentence_transformer()\n"
        "except ek.MissingDependencyError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'explorekit[text]'" in out, out


def test_only_a_text_set_has_a_dataset_encoder():
    with pytest.raises(
        ek.ExploreError, match=r"'digits': its vectors were not made by a text model.*\['stdlib_docs'\]"
    ):
        ek.encoders.for_dataset("digits")


# --- the Explorer's text box -------------------------------------------------------------------


def _listed(explorer) -> list[str]:
    return [row.children[1].value for row in explorer.example_list.children if row.layout.display != "none"]


def test_the_explorer_shows_the_text_box_only_with_an_encoder():
    col = text_collection()
    assert ek.Explorer(col).text_query.layout.display == "none"
    assert ek.Explorer(col, encoder=hashing_encoder).text_query.layout.display == "flex"
    with pytest.raises(ek.RequestError, match="Explorer: encoder: 'all-MiniLM-L6-v2' is not callable"):
        ek.Explorer(col, encoder="all-MiniLM-L6-v2")


def _marks(ex):
    """The example marks of the Explorer's map (layout shapes drawn above the points)."""
    return named(ex.figure.layout.shapes, "examples")


def _symbol(symbol: str) -> str:
    return marker_path(symbol, EXAMPLE_SIZE)


def test_a_typed_text_is_placed_marked_and_run_as_a_positive():
    col = text_collection()
    ex = ek.Explorer(col, encoder=hashing_encoder, projection="pca")
    ex.text_query.text.value = "how do I parse json"  # Enter in the box
    vector = hashing_encoder(["how do I parse json"])[0]
    assert_same(ex.result, col.search("how do I parse json", encoder=hashing_encoder))
    assert ex.result["doc"].iloc[0] == "parse a json string into an object"
    assert_same(col.query(ex.query), ex.result)  # the body holds the vector: no encoder needed to repeat it
    np.testing.assert_array_equal(ex.examples["positive"][0], vector)
    assert _listed(ex) == ["<b>positive</b> \u201chow do I parse json\u201d"]
    marks = _marks(ex)
    assert [m.path for m in marks] == [_symbol("hexagram")] and [m.fillcolor for m in marks] == ["#1a9850"]
    where = ek.projection.place(col, [vector], projection="pca")[0]
    np.testing.assert_allclose(np.ravel(anchors(ex.figure.layout.shapes, "examples")), where, rtol=1e-5)


def test_a_new_text_replaces_the_old_one_and_clicks_combine_with_it():
    col = text_collection()
    ex = ek.Explorer(col, encoder=hashing_encoder, projection="pca")
    ex.text_query.submit("open a file")
    ex.text_query.submit("parse json")
    assert _listed(ex) == ["<b>positive</b> \u201cparse json\u201d"]
    ex.mode.value = "negative"
    ex.text_query.submit("serialize")
    ex.state.click("negative", 3)
    ex._refresh()
    assert _listed(ex) == [
        "<b>positive</b> \u201cparse json\u201d",
        "<b>negative</b> \u201cserialize\u201d",
        "<b>negative</b> sort a list in place (3)",  # a point by its label (the label field), id beside it
    ]
    want = col.recommend(positive=["parse json"], negative=["serialize", 3], encoder=hashing_encoder)
    assert_same(ex.result, want)
    assert [m.path for m in _marks(ex)] == [_symbol(s) for s in ("hexagram", "hexagram", "triangle-down")]


def test_a_bad_encoder_in_the_box_shows_the_error_and_changes_nothing():
    col = text_collection()
    ex = ek.Explorer(col, encoder=lambda texts: np.ones((len(texts), 3)), projection="pca")
    ex.state.click("positive", 1)
    before = ex.examples
    assert not ex.text_query.submit("parse json")
    assert "dim 3, but the collection&#x27;s vectors have dim 16" in ex.status.value
    assert ex.examples == before


def test_the_text_box_on_a_qdrant_collection(both):
    """The box asks the collection's public API only: on a Qdrant server it answers the same."""
    ex = ek.Explorer(both["qdrant"], encoder=hashing_encoder, projection="pca")
    ex.text_query.submit("how do I parse json")
    assert_same(ex.result, both["local"].search("how do I parse json", encoder=hashing_encoder))
    assert [m.path for m in _marks(ex)] == [_symbol("hexagram")]
    assert np.isfinite(anchors(ex.figure.layout.shapes, "examples")).all()
