"""Legible figures, checked from their data: readable legend names, fitted ranges, names on the
slope charts, the legend outside the plot, rank numbers that do not pile up, the examples on top."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import explorekit as ek
from explorekit import plots
from explorekit._support.text import shorten
from explorekit.analysis.rescoring import rescoring_effect
from explorekit.plots._rescoring import LABEL_CHARS


def role(fig: go.Figure, name: str) -> list:
    return [t for t in fig.data if (t.meta or {}).get("role") == name]


# ------------------------------------------------------------------ rescoring and recall
@pytest.fixture(scope="module")
def binary(text):
    return ek.Collection.from_arrays(
        text.vectors(), ids=text.ids.tolist(), payload=text.payload.reset_index(drop=True), distance="cosine"
    ).quantize({"binary": {}})


def recall_frame() -> pd.DataFrame:
    rows = []
    for method, base in (("binary", 0.77), ("scalar int8", 0.9)):
        for rescore in (False, True):
            for over, gain in ((1, 0.0), (2, 0.1), (4, 0.2)):
                rows.append(
                    {
                        "method": method,
                        "rescore": rescore,
                        "oversampling": over,
                        "recall": min(1.0, base + rescore * gain),
                    }
                )
    return pd.DataFrame(rows)


def test_recall_curve_names_its_lines_in_words():
    fig = plots.recall_curve(recall_frame(), group=["method", "rescore"])
    names = [t.name for t in role(fig, "recall")]
    assert names == ["binary, no rescoring", "binary, rescored", "scalar int8, no rescoring", "scalar int8, rescored"]
    assert role(fig, "recall")[0].meta["group"] == "method=binary, rescore=False"  # the key stays machine-readable


def test_recall_curve_fits_its_y_range_to_the_data():
    frame = recall_frame()
    low, high = plots.recall_curve(frame).layout.yaxis.range
    assert frame["recall"].min() == 0.77 and frame["recall"].max() == 1.0
    assert 0.7 < low < 0.77 and 1.0 < high < 1.03  # was [0, 1.02]: 0.77 ... 1.0 squashed into a quarter


def test_recall_curve_range_of_one_value_keeps_a_margin():
    frame = pd.DataFrame({"oversampling": [1, 2], "recall": [1.0, 1.0]})
    low, high = plots.recall_curve(frame).layout.yaxis.range
    assert low < 1.0 < high and high - low < 0.1


def test_rescoring_chart_writes_the_label_beside_the_exact_ranks(binary, text):
    frame = rescoring_effect(binary, "search", query=17, limit=10, oversampling=3, with_payload=["qualname"])
    fig = plots.rescoring(frame, label="qualname")
    (names,) = role(fig, "labels")
    ranked = frame[frame["exact_rank"].notna()].sort_values("exact_rank")
    drawn = sorted(zip(names.y, names.text, (row[0] for row in names.customdata)))
    short = [shorten(q, LABEL_CHARS) for q in ranked["qualname"]]  # long names end in an ellipsis
    assert drawn == list(zip(ranked["exact_rank"].astype(float), short, ranked["id"]))
    assert fig.layout.xaxis.range[1] > 2.5  # room right of the last column for the names
    assert not role(plots.rescoring(frame), "labels")


def test_rescoring_chart_refuses_a_label_it_does_not_have(binary):
    frame = rescoring_effect(binary, "search", query=17, limit=5, oversampling=2)
    with pytest.raises(ek.ExploreError, match="with_payload=\\['qualname'\\]"):
        plots.rescoring(frame, label="qualname")


def test_stages_chart_refuses_a_label_it_cannot_find():
    col = ek.Collection.from_arrays({"a": np.eye(3, dtype=np.float32)}, payload=[{"t": str(i)} for i in range(3)])
    result = col.query({"prefetch": [{"query": [1, 0, 0], "using": "a", "limit": 3}], "query": [1, 0, 0], "using": "a"})
    with pytest.raises(ek.ExploreError, match="label field 'title'"):
        plots.stages(result, col, label="title")
