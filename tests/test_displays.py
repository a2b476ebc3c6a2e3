"""What a notebook shows: the HTML cards and reprs of Collection, QdrantCollection and Report,
result frames that stay pandas frames, and tab completion on the package (``__dir__``)."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from qdrant_client import QdrantClient

import explorekit as ek
from explorekit.backends.qdrant import to_qdrant

HOSTILE = "<img src=x onerror=alert(1)>"


class _Tags(HTMLParser):
    """Every tag and attribute of a page, to prove a hostile key stays text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]

    def handle_data(self, data):
        self.text += data


def parsed(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


def assert_escaped(page: str) -> None:
    tags = parsed(page)
    assert "img" not in tags.tags and "onerror" not in tags.attrs and "script" not in tags.tags
    assert HOSTILE in tags.text  # shown as text, whole


@pytest.fixture(scope="module")
def col():
    rng = np.random.default_rng(3)
    payload = [{HOSTILE: i, "city": "Paris" if i % 4 else None, "tags": ["a"]} for i in range(300)]
    out = ek.Collection.from_arrays(
        {"image": rng.normal(size=(300, 8)), "text": rng.normal(size=(300, 5))},
        payload=payload,
        distance={"image": "cosine", "text": "euclid"},
        name="cards <b>",
    )
    out.quantize({"scalar": {"type": "int8"}}, using="image")
    return out


def test_collection_card_shows_points_spaces_schema_state_and_memory(col):
    page = col._repr_html_()
    assert_escaped(page)
    text = parsed(page).text
    assert "explorekit.Collection 'cards <b>'" in text and "points300" in text.replace(" ", "")
    for expected in ("image", "text", "8", "5", "cosine", "euclid", "scalar int8", "not built", "75% filled"):
        assert expected in text, expected
    assert "int" in text and "str" in text and "json" in text
    usage = col.memory_usage()
    total = int((usage["original_bytes"] + usage["index_bytes"]).sum() + usage["quantized_bytes"].sum())
    assert f"{total / 1000:.1f} kB" in text
    assert "str, 75% filled" in repr(col) and "image (8, cosine" in repr(col)
    assert repr(col).startswith("<explorekit.Collection 'cards <b>': points 300")


def test_collection_card_follows_the_index(col):
    assert not re.search(r"built \(\d+ trees\)", col._repr_html_())
    col.build_index(using="text")
    assert re.search(r"built \(\d+ trees\)", parsed(col._repr_html_()).text)


def test_long_schemas_are_cut():
    many = ek.Collection.from_arrays(np.eye(3), payload=[{f"k{i}": 1 for i in range(50)}] * 3)
    text = parsed(many._repr_html_()).text
    assert "k19" in text and "k20" not in text and "... and 30 more" in text


def test_qdrant_collection_card(col):
    remote = to_qdrant(col, QdrantClient(":memory:"), "cards", progress=False)
    page = remote._repr_html_()
    assert_escaped(page)
    text = parsed(page).text
    assert "explorekit.QdrantCollection 'cards'" in text and "local mode (in memory)" in text
    assert "300" in text and "image" in text and "euclid" in text and "not indexed" in text
    assert repr(remote).startswith("<explorekit.QdrantCollection 'cards': server local mode (in memory), points 300")
    assert "local mode (in memory)" in repr(ek.connect(client=remote.client))


def test_report_card_lists_items_and_the_saved_size(tmp_path):
    report = ek.Report("Findings <i>").add("# Notes", title=HOSTILE).add(pd.DataFrame({"a": [1]}), title="table")
    assert_escaped(report._repr_html_())
    assert "saved not yet" in repr(report) and "2 item(s)" in repr(report)
    path = report.save(tmp_path / "r.html")
    text = parsed(report._repr_html_()).text
    size = path.stat().st_size
    assert str(path)[:20] in text and f"{size / 1000:.1f} kB" in text
    assert "markdown" in text and "table" in text


def test_result_frames_keep_pandas_display(col):
    frame = col.search(np.ones(8), using="image", limit=3)
    assert type(frame) is pd.DataFrame and type(frame)._repr_html_ is pd.DataFrame._repr_html_


def test_tab_completion_shows_lazy_attributes_without_loading_them():
    code = (
        "import sys, explorekit as ek; names = dir(ek); "
        "print(all(n in names for n in ['plots', 'Explorer', 'Report', 'connect', 'datasets', 'QdrantCollection', "
        "'widgets', 'Collection'])); print(sorted({'plotly', 'ipywidgets', 'explorekit.plots'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "[]"]
