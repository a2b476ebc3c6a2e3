"""Legible figures, checked from their data: readable legend names, fitted ranges, names on the
slope charts, the legend outside the plot, rank numbers that do not pile up, the examples on top."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import explorekit as ek
from explorekit import plots
from explorekit._support.text import clean_rst, shorten
from explorekit.analysis.rescoring import rescoring_effect
from explorekit.plots._rescoring import LABEL_CHARS
from explorekit.report._neighbours import _text
from explorekit.report.tables import result_table


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


# ------------------------------------------------------------------ explanation figures
def query_figures(fruit, text):
    pairs = [(1, 175), (135, 255), (50, 220)]
    p = text.payload
    dumps = int(p.index[(p.module == "json") & (p.qualname == "dumps")][0])
    pdumps = int(p.index[(p.module == "pickle") & (p.qualname == "dumps")][0])
    remove = int(p.index[(p.module == "os") & (p.qualname == "remove")][0])
    best = text.recommend(positive=[dumps, pdumps], negative=[remove], strategy="best_score", limit=10)
    return {
        "discovery, one pair (notebook 03, figure 2)": plots.discovery(
            fruit, fruit.discover(target=90, context=pairs[:1], limit=8)
        ),
        "discovery, three pairs (notebook 03, figure 4)": plots.discovery(
            fruit, fruit.discover(target=90, context=pairs, limit=8)
        ),
        "context": plots.context(fruit, fruit.discover(context=pairs, limit=20)),
        "recommendation (the demo's why)": plots.recommendation(text, best, color="kind", height=620),
        "recommendation, small": plots.recommendation(
            fruit, fruit.recommend(positive=[10, 11], negative=[130], limit=12), height=420
        ),
    }


@pytest.fixture(scope="module")
def figures(fruit, text):
    return query_figures(fruit, text)


def test_the_legend_sits_beside_the_plot(figures):
    for name, fig in figures.items():
        legend = fig.layout.legend
        assert legend.x > 1 and legend.xanchor == "left" and legend.orientation == "v", name  # was y=-0.12
        for trace in fig.data:
            bar = getattr(getattr(trace, "marker", None), "colorbar", None)
            if bar is not None and trace.marker.colorscale is not None:
                assert bar.x > 1 and bar.y + bar.len <= 0.5, name  # the colour bar below the legend


def test_examples_are_drawn_over_the_results(figures):
    examples = {"positive", "negative", "target", "average", "query"}
    for name, fig in figures.items():
        roles = [(t.meta or {}).get("role") for t in fig.data]
        last_result = roles.index("results")
        assert all(i > last_result for i, r in enumerate(roles) if r in examples), (name, roles)
        assert all(
            isinstance(t, go.Scattergl) for t in fig.data if (t.meta or {}).get("role") in examples | {"results"}
        )


def label_boxes_px(fig):
    """The rank numbers' boxes (x, y, w, h) in pixels, and the result positions in pixels."""
    from explorekit.plots._clusters import label_boxes
    from explorekit.plots._query import LABEL_SHRINK, units_per_pixel

    x0, x1 = fig.layout.xaxis.range
    y0, y1 = fig.layout.yaxis.range
    low, high = np.array([x0, y0]), np.array([x1, y1])
    scale = units_per_pixel(fig, low, high, equal=fig.layout.yaxis.scaleanchor == "x")
    numbers = [a for a in fig.layout.annotations if (a.name or "").startswith("rank ")]
    spots = np.array([[a.x, a.y] for a in numbers]) / scale
    sizes = label_boxes([a.text for a in numbers], np.ones(2)) * LABEL_SHRINK
    (results,) = role(fig, "results")
    rings = np.column_stack([results.x, results.y]) / scale
    return numbers, np.column_stack([spots, sizes]), rings


def test_rank_numbers_do_not_pile_up(figures):
    for name, fig in figures.items():
        numbers, boxes, rings = label_boxes_px(fig)
        (results,) = role(fig, "results")
        assert [a.text for a in numbers] == [str(i + 1) for i in range(len(results.x))], name
        assert not any("+text" in (t.mode or "") for t in role(fig, "results"))  # no numbers stacked on rings
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                apart = abs(a[0] - b[0]) * 2 >= a[2] + b[2] or abs(a[1] - b[1]) * 2 >= a[3] + b[3]
                assert apart, (name, numbers[i].text, numbers[j].text)
            x, y, w, h = boxes[i]
            covered = (np.abs(rings[:, 0] - x) * 2 < w) & (np.abs(rings[:, 1] - y) * 2 < h)
            assert not covered.any(), (name, numbers[i].text)


def test_far_numbers_get_a_line_back_to_their_ring(figures):
    fig = figures["context"]
    (lines,) = role(fig, "rank_lines")
    starts = [(lines.x[i], lines.y[i]) for i in range(0, len(lines.x), 3)]
    (results,) = role(fig, "results")
    ring_xy = np.column_stack([results.x, results.y]).astype(np.float64)
    assert len(starts) > 0
    for start in starts:
        assert np.abs(ring_xy - np.asarray(start)).max(axis=1).min() < 1e-5  # each line starts at a ring


def test_example_names_are_annotations_over_the_points(figures):
    fig = figures["discovery, three pairs (notebook 03, figure 4)"]
    names = sorted(a.name for a in fig.layout.annotations if not (a.name or "").startswith("rank "))
    assert names == [
        "negative 1−",
        "negative 2−",
        "negative 3−",
        "positive 1+",
        "positive 2+",
        "positive 3+",
        "target target",
    ]


# ------------------------------------------------------------------ docstrings as people read them
RST = re.compile(r":[\w.:+-]+:`|``|(?<![\w*])\*[A-Za-z][^*]*[A-Za-z]\*(?![\w*])")


def test_clean_rst_on_the_real_docstrings(text):
    payload = text.payload
    raw = payload["first_line"].dropna()
    marked = raw[raw.str.contains(RST)]
    assert len(marked) > 50  # the bundled set does carry reStructuredText
    cleaned = marked.map(clean_rst)
    assert not cleaned.str.contains(RST).any(), cleaned[cleaned.str.contains(RST)].head().tolist()
    by_name = dict(zip(payload.loc[marked.index, "qualname"], cleaned))
    assert by_name["NodeTransformer"].startswith("A NodeVisitor subclass")  # was A :class:`NodeVisitor` subclass
    stars = raw[raw.str.contains(r"\*args|\*\*kw|stmt\* ")]
    assert len(stars) and (stars.map(clean_rst) == stars.str.replace("`", "")).all()  # stars that mark nothing stay


def test_stored_text_is_untouched(text):
    payload = text.payload
    assert payload["first_line"].str.contains("``").any() and payload["text"].str.contains("``").any()


def test_tables_hover_and_panel_show_clean_docstrings(text):
    payload = text.payload
    p = payload[payload["first_line"].str.contains(":class:`", regex=False)].head(1)
    point = int(p.index[0])
    page = result_table(text.retrieve([point]), max_rows=5)
    assert ":class:" not in page and "A NodeVisitor subclass" in page
    fig = plots.map(text, hover_data=["qualname", "first_line"])
    hover = [h for t in fig.data for h in (t.text if t.text is not None else []) if "NodeVisitor subclass" in h]
    assert hover and all(":class:" not in h for h in hover)
    assert _text(payload.loc[point, "first_line"]).startswith("A NodeVisitor subclass")
