"""rescoring_effect and recall_by_oversampling: built from public calls, so they must agree
with those calls exactly, for every quantization method and query kind."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import explorekit as ek
from explorekit._support.errors import QuantizationError, RequestError
from explorekit.analysis.rescoring import COLUMNS, recall_by_oversampling, rescoring_effect

METHODS = {
    "scalar": {"scalar": {"type": "int8", "quantile": 0.99}},
    "binary": {"binary": {"encoding": "one_bit"}},
    "binary2": {"binary": {"encoding": "two_bits", "query_encoding": "scalar4bits"}},
    "product": {"product": {"compression": "x16"}},
}


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    rng = np.random.default_rng(30)
    return (rng.normal(size=(600, 32)) * rng.uniform(0.3, 2.0, size=32)).astype(np.float32)


@pytest.fixture(scope="module", params=list(METHODS))
def col(request, data) -> ek.Collection:
    payload = pd.DataFrame({"title": [f"point {i}" for i in range(len(data))], "group": np.arange(len(data)) % 3})
    return ek.Collection.from_arrays(data, payload=payload).quantize(METHODS[request.param])


def _requests(data: np.ndarray) -> list[tuple[str, dict]]:
    a, b, c, d = data[10] + 0.2, data[20], data[30] - 0.1, data[40]
    return [
        ("search", {"query": a}),
        ("search", {"query": 7, "filter": {"must": [{"key": "group", "match": {"value": 1}}]}}),
        ("recommend", {"positive": [1, b], "negative": [c], "strategy": "best_score"}),
        ("recommend", {"positive": [a, 2], "strategy": "average_vector"}),
        ("discover", {"target": a, "context": [(b, c)]}),
        ("discover", {"context": [(b, c), (d, 3)]}),
    ]


@pytest.mark.parametrize("oversampling", [None, 1.0, 2.5, 4.0])
def test_frame_agrees_with_the_public_calls(col, data, oversampling):
    limit = 6
    for kind, kwargs in _requests(data):
        frame = rescoring_effect(col, kind, limit=limit, oversampling=oversampling, **kwargs)
        call = getattr(col, kind)
        over = {"oversampling": oversampling} if oversampling else {}
        with_rescore = call(**kwargs, limit=limit, params={"quantization": {"rescore": True, **over}})
        without = call(**kwargs, limit=limit, params={"quantization": {"rescore": False, **over}})
        exact = call(**kwargs, limit=limit, params={"exact": True})
        label = (kind, kwargs.keys(), oversampling)
        assert list(frame.columns) == COLUMNS, label
        n = math.floor(oversampling * limit) if oversampling and oversampling > 1 else limit
        assert frame.attrs["candidates"] == n
        assert frame["quantized_rank"].notna().sum() == min(n, len(frame)), label

        returned = frame[frame["returned"]].sort_values("rescored_rank")
        assert returned["id"].tolist() == with_rescore["id"].tolist(), label
        np.testing.assert_allclose(returned["exact_score"], with_rescore["score"], rtol=1e-6)
        before = frame[frame["returned_without_rescore"]].sort_values("quantized_rank")
        assert before["id"].tolist() == without["id"].tolist(), label
        np.testing.assert_allclose(before["quantized_score"], without["score"], rtol=1e-6)

        assert set(frame.loc[frame["lost"], "id"]) == set(exact["id"]) - set(with_rescore["id"])
        assert set(frame.loc[frame["rescued"], "id"]) == set(with_rescore["id"]) - set(without["id"])
        assert set(frame.loc[frame["dropped"], "id"]) == set(without["id"]) - set(with_rescore["id"])
        ranked = frame.dropna(subset=["quantized_rank"])
        assert (ranked["rank_change"] == ranked["quantized_rank"] - ranked["rescored_rank"]).all()
        truth = set(exact["id"])
        assert frame.attrs["recall_with_rescore"] == len(truth & set(with_rescore["id"])) / len(exact)
        assert frame.attrs["recall_without_rescore"] == len(truth & set(without["id"])) / len(exact)


def test_exact_scores_are_exact(col, data):
    frame = rescoring_effect(col, "search", query=data[5] * 0.5, limit=5, oversampling=3)
    every = col.search(data[5] * 0.5, limit=len(data), params={"exact": True}).set_index("id")["score"]
    np.testing.assert_allclose(frame["exact_score"], every.loc[frame["id"]].to_numpy(), rtol=1e-6)


def test_payload_and_attrs(col, data):
    frame = rescoring_effect(col, "search", query=data[0], limit=3, oversampling=2, with_payload=["title"])
    assert list(frame.columns) == COLUMNS + ["title"]
    assert frame["title"].tolist() == [f"point {i}" for i in frame["id"]]
    attrs = frame.attrs
    assert attrs["query"]["params"] == {"quantization": {"rescore": True, "oversampling": 2.0}}
    assert attrs["query"]["limit"] == 3 and attrs["quantization"] in ("scalar", "binary", "product")


def test_recall_rises_with_oversampling_when_rescoring(col, data):
    rng = np.random.default_rng(31)
    requests = [{"query": data[i] + rng.normal(0, 0.3, data.shape[1])} for i in range(0, 600, 60)]
    table = recall_by_oversampling(col, requests, limit=5, oversampling=(1, 2, 4, 8))
    assert list(table.columns) == ["oversampling", "rescore", "recall", "queries", "quantization"]
    rescored = table[table["rescore"]].sort_values("oversampling")["recall"].to_numpy()
    assert (np.diff(rescored) >= -1e-12).all()  # candidate sets grow, so recall cannot fall
    assert table["recall"].between(0, 1).all()


def test_figure_from_the_frame(col, data):
    from explorekit import plots

    frame = rescoring_effect(col, "search", query=data[1], limit=5, oversampling=4)
    fig = plots.rescoring(frame)  # the plot only draws the frame it is given
    drawn = {
        row[0] for trace in fig.data if trace.customdata is not None for row in trace.customdata if row[0] is not None
    }
    assert drawn and drawn <= set(frame["id"])


@pytest.mark.parametrize(
    "call, error, fragments",
    [
        (lambda c, v: rescoring_effect(c, "serach", query=v), RequestError, ["kind='serach'", "search"]),
        (
            lambda c, v: rescoring_effect(c, "search", query=v, params={"exact": True}),
            RequestError,
            ["['params']", "set by rescoring_effect"],
        ),
        (
            lambda c, v: rescoring_effect(c, "search", query=v, oversampling=0.5),
            QuantizationError,
            ["oversampling=0.5", ">= 1.0"],
        ),
        (lambda c, v: rescoring_effect(c, "search", query=v, limit=0), RequestError, ["limit=0"]),
        (lambda c, v: recall_by_oversampling(c, []), RequestError, ["no requests"]),
    ],
)
def test_bad_input(data, call, error, fragments):
    col = ek.Collection.from_arrays(data).quantize(METHODS["binary"])
    with pytest.raises(error) as err:
        call(col, data[0])
    for fragment in fragments:
        assert fragment in str(err.value)


def test_unquantized_collection(data):
    col = ek.Collection.from_arrays({"a": data, "b": data})
    col.quantize(METHODS["scalar"], using="a")
    rescoring_effect(col, "search", query=data[0], using="a")
    with pytest.raises(QuantizationError, match="'b' is not quantized"):
        rescoring_effect(col, "search", query=data[0], using="b")
    with pytest.raises(ek.ExploreError, match="imgae|Unknown vector"):
        rescoring_effect(col, "search", query=data[0], using="imgae")
