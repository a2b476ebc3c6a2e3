"""ek.Report: what the saved HTML contains (no browser; tests/browser/ opens the pages).

The page must be one offline file: plotly.js inlined once per report, each figure's JSON with
its precomputed neighbours (exactly ``col.search(id)``'s answer), result tables with their
request, Markdown escaped, widgets never serialised.
"""

from __future__ import annotations

import html
import json
import re
import sys
import urllib.parse
from contextlib import contextmanager
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plotly.offline import get_plotlyjs

import explorekit as ek
from explorekit.report import _markdown, _neighbours, _tables

if sys.platform != "win32":
    import resource
    import signal

VEC = np.random.default_rng(3).normal(size=(40, 6)).astype(np.float32)
PAYLOAD = pd.DataFrame({"name": [f"p{i}" for i in range(40)], "group": [i % 3 for i in range(40)]})


@pytest.fixture()
def col() -> ek.Collection:
    return ek.Collection.from_arrays(VEC, ids=list(range(100, 140)), payload=PAYLOAD)


def map_of(col: ek.Collection, ids: list | None = None) -> go.Figure:
    """A map as explorekit.plots draws one: ids in customdata (first column)."""
    ids = list(col.ids) if ids is None else ids
    rows = [list(col.ids).index(i) for i in ids]
    return go.Figure(
        go.Scattergl(
            x=VEC[rows, 0], y=VEC[rows, 1], mode="markers", customdata=np.array([[i, "x"] for i in ids], dtype=object)
        )
    )


def specs(page: str) -> list[dict]:
    return [
        json.loads(m)
        for m in re.findall(r'<script type="application/json" id="ek-spec-\d+">(.*?)</script>', page, flags=re.S)
    ]


def test_add_chains_and_keeps_order(col):
    report = ek.Report("T")
    out = report.add("text").add(map_of(col)).add(col.search(VEC[0], limit=3))
    assert out is report
    assert report.items == ["markdown", "figure", "table"] and len(report) == 3
    assert "3 item(s)" in repr(report)


def test_plotly_js_is_inlined_once(col, tmp_path):
    page = ek.Report("T").add(map_of(col)).add(map_of(col)).add(go.Figure(go.Bar(y=[1, 2]))).to_html()
    marker = get_plotlyjs()[:400]
    assert page.count(marker) == 1
    assert len(specs(page)) == 3
    assert not re.search(r"<script[^>]+src=", page), "no external scripts: the page must work offline"
    assert not re.search(r"<link[^>]+href=\"?https?:", page)


def test_no_figure_no_plotly_js(col):
    page = ek.Report("T").add("only text").to_html()
    assert len(page) < 100_000


def test_neighbours_are_the_collections_exact_answers(col):
    fig = map_of(col)
    spec = specs(ek.Report("T").add(fig, collection=col, k=4).to_html())[0]
    explore = spec["explore"]
    assert explore["ids"] == [[str(i) for i in range(100, 140)]]  # integer ids keep their text as key
    assert explore["computed"] == explore["shown"] == 40
    for pid in (100, 117, 139):
        expected = col.search(pid, limit=4, params={"exact": True})
        got = explore["neighbours"][str(pid)]
        assert [n[0] for n in got] == [str(i) for i in expected["id"]]
        np.testing.assert_allclose([n[1] for n in got], expected["score"], rtol=1e-5)
        assert explore["labels"][str(pid)] == f"p{pid - 100}"  # 'name' is picked as the label
    assert explore["xy"]["105"] == pytest.approx([float(VEC[5, 0]), float(VEC[5, 1])])
    assert spec["figure"]["data"][0]["type"] == "scattergl"


def test_euclid_neighbours_are_distances():
    points = ek.Collection.from_arrays([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]], distance="euclid")
    fig = go.Figure(go.Scatter(x=[0, 1, 3], y=[0, 0, 0], customdata=[0, 1, 2]))
    explore = specs(ek.Report("T").add(fig, collection=points, k=2).to_html())[0]["explore"]
    assert explore["neighbours"]["0"] == [["1", 1.0], ["2", 3.0]]
    assert explore["distance"] == "euclid" and "smaller is closer" in explore["note"]


def test_max_points_caps_and_says_so(col):
    explore = specs(ek.Report("T").add(map_of(col), collection=col, max_points=10).to_html())[0]["explore"]
    assert explore["computed"] == 10 and len(explore["neighbours"]) == 10 and explore["shown"] == 40
    assert "10 of the 40 points" in explore["note"]


def test_traces_without_ids_are_left_alone(col):
    fig = map_of(col)
    fig.add_trace(go.Scatter(x=[0], y=[0], name="query"))  # no customdata
    fig.add_trace(go.Scatter(x=[0], y=[0], customdata=[["not-an-id"]]))  # ids of nothing
    explore = specs(ek.Report("T").add(fig, collection=col).to_html())[0]["explore"]
    assert explore["ids"][1:] == [None, None]


def test_result_table_shows_its_request(col):
    result = col.recommend(positive=[101, 102], negative=[103], strategy="best_score", limit=5)
    page = ek.Report("T").add(result, title="Recommend").to_html()
    assert (
        "recommend \u00b7 positive [101, 102] \u00b7 negative [103] \u00b7 strategy best_score \u00b7 limit 5" in page
    )
    assert '"strategy": "best_score"' in page  # the whole body, under a fold
    rows = re.findall(r'<tr data-id="(\d+)" data-key="\1">', page)
    assert [int(r) for r in rows] == result["id"].tolist()


def test_table_without_attrs_says_so_and_takes_request(col):
    frame = pd.concat([col.search(VEC[0], limit=2), col.search(VEC[1], limit=2)])
    assert "No request recorded" in ek.Report("T").add(frame).to_html()
    page = ek.Report("T").add(frame, request={"query": {"nearest": [0.5, 0.5]}, "limit": 2}).to_html()
    assert "search \u00b7 near a vector (2-d) \u00b7 limit 2" in page


def test_table_cells(col):
    frame = col.search(VEC[0], limit=3, with_vectors=True)
    frame["img"] = "data:image/png;base64,AAAA"
    frame["tags"] = [["a", "b"]] * 3
    page = ek.Report("T").add(frame, max_rows=2).to_html()
    assert "(6-d)" in page and '<img alt="" src="data:image/png;base64,AAAA">' in page and "a, b" in page
    assert "1 more row(s) not written (max_rows=2)" in page


def test_markdown_is_escaped():
    page = ek.Report("T").add("# Head\n<script>alert(1)</script> [x](javascript:alert(1)) **b**").to_html()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page and "<strong>b</strong>" in page
    assert not re.search(r"<a[^>]*javascript", page, flags=re.I)


def tight(markup: str) -> str:
    """HTML without the newlines markdown-it puts between block tags."""
    return re.sub(r">\s+<", "><", markup)


def test_markdown_blocks():
    out = tight(_markdown.render("## A\n\n- one\n- two *it*\n\n```\nx < 1\n```\n\n> quote"))
    assert "<h3>A</h3>" in out and "<ul><li>one</li><li>two <em>it</em></li></ul>" in out
    assert "<pre><code>x &lt; 1\n</code></pre>" in out and "<blockquote><p>quote</p></blockquote>" in out


def test_script_breaking_payload_is_neutralised():
    col = ek.Collection.from_arrays([[1.0, 0.0], [0.0, 1.0]], payload=pd.DataFrame({"label": ["</script><b>x", "ok"]}))
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], customdata=[0, 1], text=["</script>", "b"]))
    page = ek.Report("T").add(fig, collection=col).to_html()
    spec = specs(page)[0]
    assert spec["explore"]["labels"]["0"] == "</script><b>x"
    assert page.count("</script>") == page.count("<script")


@pytest.mark.slow
def test_figure_widget_is_added_as_a_plain_figure(col):
    widget = go.FigureWidget(map_of(col))
    report = ek.Report("T").add(widget, collection=col)
    page = report.to_html()
    assert "widget-view" not in page and "_esm" not in page
    assert specs(page)[0]["explore"]["computed"] == 40


@pytest.mark.slow
def test_figure_widget_with_numeric_arrays_keeps_its_ids(col):
    """plotly 7's to_dict() writes numpy arrays as binary specs; the report's copy keeps the arrays."""
    widget = go.FigureWidget(
        go.Scattergl(x=VEC[:, 0], y=VEC[:, 1], mode="markers", customdata=np.arange(100, 140)[:, None])
    )
    explore = specs(ek.Report("T").add(widget, collection=col, k=3).to_html())[0]["explore"]
    assert explore["ids"] == [[str(i) for i in range(100, 140)]] and len(explore["xy"]) == 40


def test_report_items_protocol(col):
    class Holder:
        def _report_items_(self):
            yield "## From a widget", {}
            yield map_of(col), {"collection": col, "title": "Map"}

    assert ek.Report("T").add(Holder()).items == ["markdown", "figure"]


def test_qdrant_collection_gives_the_same_neighbours(col):
    from qdrant_client import QdrantClient

    from explorekit.backends.qdrant import to_qdrant

    remote = to_qdrant(col, QdrantClient(":memory:"), "report_test", progress=False)
    local = specs(ek.Report("T").add(map_of(col), collection=col).to_html())[0]["explore"]
    served = specs(ek.Report("T").add(map_of(col), collection=remote).to_html())[0]["explore"]
    for pid in ("100", "120"):
        assert [n[0] for n in served["neighbours"][pid]] == [n[0] for n in local["neighbours"][pid]]
        np.testing.assert_allclose(
            [n[1] for n in served["neighbours"][pid]], [n[1] for n in local["neighbours"][pid]], rtol=1e-5
        )


def test_save_writes_one_file(col, tmp_path):
    path = ek.Report("Saved").add(map_of(col), collection=col).save(tmp_path / "sub" / "r.html")
    assert path.is_absolute() and path.exists() and path.read_text().startswith("<!DOCTYPE html>")
    assert list(path.parent.iterdir()) == [path]
    assert ek.Report("S").to_html(tmp_path / "x.html") == (tmp_path / "x.html").resolve()


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda r, c: r.add(42), "cannot add int"),
        (lambda r, c: r.add(map_of(c), collection=c, k=0), "k: 0 is not a positive integer"),
        (lambda r, c: r.add(map_of(c), collection=c, label="nope"), "label='nope' is not a payload field"),
        (lambda r, c: r.add(map_of(c), collection=c, using="image"), "vector name"),
        (lambda r, c: r.add(go.Figure(go.Bar(y=[1])), collection=c), "no trace of this figure holds ids"),
        (lambda r, c: r.add(c.search(VEC[0]), max_rows=0), "max_rows: 0"),
        (lambda r, c: r.save("report.txt"), "does not end in .html"),
    ],
)
def test_bad_input(col, call, fragment):
    report = ek.Report("T").add("keep")
    with pytest.raises(ek.ExploreError, match=re.escape(fragment)):
        call(report, col)
    assert report.items == ["markdown"]  # nothing half-added


def test_bad_title():
    with pytest.raises(ek.ExploreError, match="non-empty string"):
        ek.Report("")


def test_describe_requests():
    assert (
        _tables.describe(
            {
                "query": {"discover": {"target": 3, "context": [{"positive": 1, "negative": 2}]}},
                "limit": 4,
                "using": "text",
            }
        )
        == "discover \u00b7 target 3 \u00b7 1 context pair(s) \u00b7 [+1 / \u22122] \u00b7 using 'text' \u00b7 limit 4"
    )
    assert (
        _tables.describe({"query": {"context": [{}, {}]}, "limit": 10, "filter": "kind == 'x'"})
        == "context search \u00b7 2 pair(s) \u00b7 filter kind == 'x' \u00b7 limit 10"
    )


def test_setup_notebook_sets_an_html_renderer():
    import plotly.io as pio

    before = pio.renderers.default
    try:
        ek.report.setup_notebook()
        assert pio.renderers.default == "plotly_mimetype+explorekit"
        bundle = pio.renderers["explorekit"].to_mimebundle(go.Figure(go.Bar(y=[1])).to_dict())
        assert 'class="plotly-graph-div"' in bundle["text/html"] and "mathjax" not in bundle["text/html"].lower()
    finally:
        pio.renderers.default = before


def test_command_line_report(tmp_path):
    from explorekit import cli

    out = tmp_path / "cli.html"
    args = cli.parser().parse_args(
        [
            "report",
            "--dataset",
            "clusters2d",
            "--positive",
            "1",
            "2",
            "--negative",
            "200",
            "--strategy",
            "best_score",
            "--context",
            "1:200",
            "--target",
            "90",
            "--color",
            "fruit",
            "--k",
            "3",
            "--out",
            str(out),
        ]
    )
    path = cli.report(args, log=lambda text: None)
    page = path.read_text()
    found = specs(page)
    assert path == out.resolve() and len(found) == 3  # the map and one figure per query
    assert all(spec["explore"]["k"] == 3 for spec in found)
    fruit = ek.datasets.load("clusters2d").set_index("id")["fruit"]  # the map names the examples
    positive, negative, target = (f"{fruit[i]} ({i})" for i in (1, 200, 90))
    assert (
        f"recommend \u00b7 positive [{positive}, {fruit[2]} (2)] \u00b7 negative [{negative}] \u00b7 strategy" in page
    )
    assert f"discover \u00b7 target {target} \u00b7 1 context pair(s) \u00b7 [+{positive} / \u2212{negative}]" in page


def test_command_line_errors_are_one_line(capsys, tmp_path):
    from explorekit import cli

    code = cli.main(["report", "--dataset", "clusters2d", "--positive", "99999", "--out", str(tmp_path / "x.html")])
    assert code == 2
    assert "explorekit: No point with id 99999" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


@pytest.mark.slow
def test_demo_writes_a_report_and_prints_its_path(tmp_path, capsys):
    from explorekit import demo

    out = tmp_path / "demo.html"
    assert demo.main(["--out", str(out), "--projection", "pca", "--k", "3"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == str(out.resolve())
    found = specs(out.read_text())
    assert found[0]["explore"]["computed"] == found[0]["explore"]["shown"] == 6041


@pytest.mark.slow
def test_explorer_hands_its_state_to_a_report():
    fruit = ek.datasets.load("clusters2d", as_collection=True)
    explorer = ek.Explorer(fruit, projection="pca", color="fruit")
    explorer.examples = {"positive": [1, 2], "negative": [200]}
    report = ek.Report("T").add(explorer, title="Explorer", k=3)
    assert report.items[:3] == ["markdown", "figure", "table"]
    page = report.to_html()
    assert "application/vnd.jupyter.widget" not in page and "_esm" not in page
    explore = specs(page)[0]["explore"]
    assert explore["computed"] == len(fruit) and explore["k"] == 3
    rows = [int(r) for r in re.findall(r'<tr data-id="(\d+)" data-key="\1">', page)]
    assert rows == explorer.result["id"].tolist()
    fruit = fruit.payload["fruit"]
    assert f"<b>positive</b>: {fruit[1]} (1), {fruit[2]} (2)</li><li><b>negative</b>: {fruit[200]} (200)" in page


# ---------------------------------------------------------------- issue 15: saving the page
def planted_links(folder, victim):
    """Symbolic links to ``victim`` at the names a careless writer would use for r.html."""
    for name in ("r.html", "r.html.tmp"):
        (folder / name).symlink_to(victim)


def test_save_never_writes_through_a_planted_link(tmp_path):
    victim = tmp_path / "elsewhere" / "thesis.tex"
    victim.parent.mkdir()
    victim.write_text("my thesis")
    folder = tmp_path / "out"
    folder.mkdir()
    planted_links(folder, victim)
    path = ek.Report("Saved").add("text").save(folder / "r.html")
    assert victim.read_text() == "my thesis"
    assert not path.is_symlink() and path.read_text().startswith("<!DOCTYPE html>")
    assert (folder / "r.html.tmp").is_symlink()  # not ours: left as it was
    assert sorted(p.name for p in folder.iterdir()) == ["r.html", "r.html.tmp"]


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_failed_write_raises_persistence_error_and_leaves_no_temporary_file(tmp_path):
    """A real full-disk condition: the file size limit makes the write fail half-way."""
    report = ek.Report("Big").add("x " * 200_000)
    with file_size_limit(64 * 1024):
        with pytest.raises(ek.PersistenceError, match=re.escape(repr(str(tmp_path / "r.html")))):
            report.save(tmp_path / "r.html")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ek.PersistenceError, match="could not write .*a-file"):
        report.save(tmp_path / "a-file" / "r.html")


def test_text_that_is_not_unicode_gives_a_clear_error(tmp_path):
    report = ek.Report("Broken \udc80 bytes")  # a lone surrogate, e.g. from os.fsdecode
    with pytest.raises(ek.ExploreError, match="not valid Unicode"):
        report.save(tmp_path / "r.html")
    assert list(tmp_path.iterdir()) == []


@contextmanager
def file_size_limit(size: int):
    """Writes beyond ``size`` bytes fail with EFBIG (and no SIGXFSZ kills the process)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    before = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, before)


def test_save_checks_its_path(tmp_path):
    report = ek.Report("T").add("text")
    (tmp_path / "folder.html").mkdir()
    for bad, fragment in [
        (None, "None is not a file path"),
        ("", "'' is not a file path"),
        ("  ", "'  ' is not a file path"),
        (b"r.html", "b'r.html' is not a file path"),
        (tmp_path, "is a folder"),
        (tmp_path / "folder.html", "is a folder"),
    ]:
        with pytest.raises(ek.ExploreError, match=re.escape(fragment)):
            report.save(bad)
    assert list(tmp_path.iterdir()) == [tmp_path / "folder.html"]

    class PathLike:
        def __fspath__(self) -> str:
            return str(tmp_path / "any.html")

    assert report.save(PathLike()) == (tmp_path / "any.html").resolve()


# ---------------------------------------------------------------- issue 15: 5 and "5" are two points
UUID_ID = "00000000-0000-0000-0000-000000000007"


def twins() -> ek.Collection:
    """The integer 5 and the string "5" with different neighbours and labels."""
    return ek.Collection.from_arrays(
        [[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9], [0.7, 0.7]],
        ids=[5, "5", 6, "six", UUID_ID],
        payload=pd.DataFrame({"label": ["int five", "string five", "six (int)", "six (str)", "uuid"]}),
    )


def test_int_and_string_ids_have_their_own_keys():
    col = twins()
    fig = go.Figure(
        go.Scatter(x=[0, 10, 1, 9, 5], y=[0, 10, 0, 10, 5], customdata=np.array(col.ids, dtype=object)[:, None])
    )
    result = col.search([1.0, 0.0], limit=5)
    page = ek.Report("T").add(fig, collection=col, k=2).add(result).to_html()
    explore = specs(page)[0]["explore"]
    assert explore["ids"] == [["5", "s:5", "6", "s:six", "u:" + UUID_ID]]
    assert explore["xy"]["5"] == [0, 0] and explore["xy"]["s:5"] == [10, 10]
    assert explore["labels"]["5"] == "int five" and explore["labels"]["s:5"] == "string five"
    for pid, key in [(5, "5"), ("5", "s:5")]:
        expected = col.search(pid, limit=2)["id"].tolist()
        assert [n[0] for n in explore["neighbours"][key]] == [_neighbours.point_key(i) for i in expected]
    assert [n[0] for n in explore["neighbours"]["5"]] == ["6", "u:" + UUID_ID]
    assert result["id"].tolist() == [5, 6, UUID_ID, "six", "5"]
    assert re.findall(r'<tr data-id="([^"]*)" data-key="([^"]*)">', page) == [
        ("5", "5"),
        ("6", "6"),
        (UUID_ID, "u:" + UUID_ID),
        ("six", "s:six"),
        ("5", "s:5"),
    ]


# ---------------------------------------------------------------- issue 15: NaN and infinite coordinates
def strict_json(text: str):
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_coordinates_are_left_out_with_a_caption(col):
    x, y = VEC[:, 0].astype(np.float64), VEC[:, 1].astype(np.float64)
    x[3], y[7], x[9] = np.nan, np.inf, -np.inf
    fig = go.Figure(
        [
            go.Scatter(x=x.tolist(), y=y.tolist(), mode="markers", customdata=list(col.ids)),
            go.Scattergl(x=x, y=y, mode="markers"),
        ]
    )
    page = ek.Report("T").add(fig, collection=col, caption="My *map*").add(go.Figure(fig)).to_html()
    found = [
        strict_json(m)
        for m in re.findall(r'<script type="application/json" id="ek-spec-\d+">(.*?)</script>', page, flags=re.S)
    ]
    assert len(found) == 2
    explore = found[0]["explore"]
    assert set(explore["xy"]) == {str(i) for i in col.ids} - {"103", "107", "109"}
    assert explore["shown"] == explore["computed"] == 40  # their neighbours still show from a table
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert captions[0].startswith(
        "My <em>map</em> 6 points are not drawn: a coordinate of each is not a finite number (NaN or infinity)."
    )
    assert captions[1] == "6 points are not drawn: a coordinate of each is not a finite number (NaN or infinity)."
    assert np.isnan(fig.data[0].x[3]) and fig.data[0].y[7] == np.inf  # the caller's figure is unchanged


# ---------------------------------------------------------------- issue 15: Markdown
#: (Markdown, why it is dangerous): none of these may leave a link, image, tag or handler that runs code
#: or leaves the page's host
HOSTILE_MARKDOWN = [
    ("[x](javascript:alert(1))", "javascript"),
    ("[x](JaVaScRiPt:alert(1))", "mixed case"),
    ("[x]( javascript:alert(1) )", "spaces"),
    ("[x](<java script:alert(1)>)", "space inside"),
    ("[x](java&#10;script:alert(1))", "entity newline"),
    ("[x](java&#x09;script:alert(1))", "entity tab"),
    ("[x](&#106;avascript:alert(1))", "decimal entity"),
    ("[x](&#x6A;avascript&#x3A;alert(1))", "hex entities"),
    ("[x](javascript&colon;alert(1))", "named entity"),
    ("[x](%6Aavascript:alert(1))", "percent-encoded scheme"),
    ("[x](javascript%3Aalert(1))", "percent-encoded colon"),
    ("[x](&#0;javascript:alert(1))", "NUL entity"),
    ("[x](vbscript:msgbox(1))", "vbscript"),
    ("[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "data html"),
    ("![x](data:image/svg+xml;base64,PHN2Zz4=)", "data image"),
    ("![x](data:image/png;base64,AAAA)", "data png"),
    ("[x](file:///etc/passwd)", "file"),
    ("[x](//evil.example/x)", "protocol-relative"),
    ("[x](///evil.example/x)", "three slashes"),
    ("[x](/\\evil.example)", "slash backslash"),
    ("[x](<\\\\evil.example>)", "escaped backslashes"),
    ("[x](\\/evil.example)", "escaped slash"),
    ("[x](/%5Cevil.example)", "percent backslash"),
    ("[x](%2F%2Fevil.example)", "percent slashes"),
    ("![x](//evil.example/pixel.png)", "protocol-relative image"),
    ("[x][r]\n\n[r]: //evil.example", "reference definition"),
    ("[x][r]\n\n[r]: javascript:alert(1)", "reference javascript"),
    ("<javascript:alert(1)>", "autolink javascript"),
    ("<//evil.example>", "autolink protocol-relative"),
    ("<script>alert(1)</script>", "script tag"),
    ("<img src=x onerror=alert(1)>", "img onerror"),
    ('<a href="javascript:alert(1)">x</a>', "raw anchor"),
    ("<svg onload=alert(1)>", "svg onload"),
    ('[x](https://ok.example "t\\" onmouseover=\\"alert(1))', "title breaking out"),
    ('[x](https://ok.example" onmouseover="alert(1))', "href breaking out"),
    ("```\n</code></pre><script>alert(1)</script>\n```", "code fence"),
    ('```js" onmouseover="alert(1)\nx\n```', "fence info"),
    ("| a |\n|---|\n| <script>alert(1)</script> |", "table cell"),
]

SAFE_MARKDOWN = [
    ("[a](https://qdrant.tech/docs?x=1&y=2#z)", "https://qdrant.tech/docs?x=1&y=2#z"),
    ("[a](http://example.org)", "http://example.org"),
    ("[a](mailto:me@example.org)", "mailto:me@example.org"),
    ("[a](notes.html)", "notes.html"),
    ("[a](../up/notes.html#top)", "../up/notes.html#top"),
    ("[a](/root/x)", "/root/x"),
    ("[a](#section)", "#section"),
    ("[a](?page=2)", "?page=2"),
    ("![i](images/map.png)", "images/map.png"),
    ("<https://qdrant.tech>", "https://qdrant.tech"),
]


class Tags(HTMLParser):
    """Every start tag of some HTML with its attributes (HTML-unescaped)."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def leaves_the_page(url: str) -> bool:
    """Whether a browser would follow ``url`` to another host or run it, read independently of
    the renderer: as written and percent-decoded, ends stripped, tabs and newlines dropped,
    backslashes as slashes."""
    for reading in (url, urllib.parse.unquote(url)):
        text = re.sub(r"[\t\n\r]", "", reading.strip("".join(map(chr, range(0x21))))).replace("\\", "/")
        head = re.split(r"[/?#]", text, maxsplit=1)[0]
        if text.startswith("//") or (":" in head and head.split(":")[0].lower() not in ("http", "https", "mailto")):
            return True
        if re.search(r"[\x00-\x1f]", text):
            return True
    return False


def dangers(markup: str) -> list[str]:
    """What in ``markup`` could run code or leave the page."""
    found = []
    for tag, attrs in Tags(markup).tags:
        if tag not in {
            "p",
            "a",
            "img",
            "em",
            "strong",
            "code",
            "pre",
            "table",
            "thead",
            "tbody",
            "tr",
            "th",
            "td",
            "ul",
            "ol",
            "li",
            "h2",
            "h3",
            "blockquote",
            "br",
            "hr",
        }:
            found.append(f"tag <{tag}>")
        found += [f"attribute {name}" for name in attrs if name.startswith("on")]
        for name in ("href", "src"):
            if name in attrs and (attrs[name] is None or leaves_the_page(attrs[name])):
                found.append(f"{name}={attrs[name]!r}")
    return found


def test_markdown_links_are_only_http_mailto_or_relative():
    bad = {
        why: dangers(html_out)
        for text, why in HOSTILE_MARKDOWN
        for html_out in (_markdown.render(text), _markdown.inline(text))
        if dangers(html_out)
    }
    assert bad == {}
    for text, url in SAFE_MARKDOWN:
        assert url in [a.get("href") or a.get("src") for _, a in Tags(_markdown.render(text)).tags], text


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            list("jJavsScript:/\\%3aA0 \t&#;x.-@?=")
            + ["&#x09;", "%2F", "%5C", "//", "\x00", "http", "mailto", "&colon;"]
        ),
        max_size=16,
    ).map("".join)
)
def test_any_link_target_is_made_safe_or_dropped(target):
    for text in (f"[x]({target})", f"![x]({target})", f"<{target}>", f"[x]\n\n[x]: {target}"):
        assert dangers(_markdown.render(text)) == [], text


def test_markdown_tables_nested_lists_and_escapes():
    out = _markdown.render(
        "| name | score |\n| :--- | ---: |\n| *a* | 0.5 |\n\n"
        "- one\n  - one.a\n    - one.a.i\n- two\n\n"
        "\\*not em\\* \\[not](a link) 1 &lt; 2 `<b>`"
    ).replace("\n", "")
    assert '<table><thead><tr><th style="text-align:left">name</th><th style="text-align:right">score</th>' in out
    assert '<td style="text-align:left"><em>a</em></td>' in out
    assert "<ul><li>one<ul><li>one.a<ul><li>one.a.i</li></ul></li></ul></li><li>two</li></ul>" in out
    assert "<p>*not em* [not](a link) 1 &lt; 2 <code>&lt;b&gt;</code></p>" in out
    assert _markdown.render("# one\n###### six") == "<h2>one</h2>\n<h6>six</h6>\n"


# ---------------------------------------------------------------- issue 15: every other string is data
HOSTILE_TEXT = [
    "</script><script>window.__ekPwned=1</script>",
    '<img src=x onerror="window.__ekPwned=1">',
    "\"quotes' & <b>",
    "line\u2028separator\u2029para",
    "<!--",
    "]]>",
    "{{x}}",
]


def test_strings_cannot_break_out_of_the_page():
    n = len(HOSTILE_TEXT)
    col = ek.Collection.from_arrays(
        np.eye(n, dtype=np.float32) + 0.1,
        ids=HOSTILE_TEXT,
        payload=pd.DataFrame({"label": HOSTILE_TEXT, HOSTILE_TEXT[1]: HOSTILE_TEXT}),
    )
    fig = go.Figure(
        go.Scatter(
            x=list(range(n)),
            y=list(range(n)),
            customdata=np.array(HOSTILE_TEXT, dtype=object),
            text=HOSTILE_TEXT,
            name=HOSTILE_TEXT[0],
        ),
        layout={"title": {"text": HOSTILE_TEXT[1]}},
    )
    result = col.search(np.ones(n), limit=n, filter={"must": [{"key": "label", "match": {"any": HOSTILE_TEXT}}]})
    report = (
        ek.Report(HOSTILE_TEXT[0] + HOSTILE_TEXT[3], description=HOSTILE_TEXT[2])
        .add(fig, collection=col, title=HOSTILE_TEXT[1], caption=HOSTILE_TEXT[0])
        .add(result, title=HOSTILE_TEXT[2], caption=HOSTILE_TEXT[1])
    )
    page = report.to_html()
    tags = Tags(page).tags
    assert [t for t, a in tags if t == "script"] == ["script"] * 3  # plotly.js, one spec, report.js
    assert not [(t, a) for t, a in tags for name in a if name.startswith("on")]
    assert not [a for t, a in tags if t == "img"]
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, flags=re.S)
    assert not any("\u2028" in s or "\u2029" in s or "<!--" in s for s in scripts[1:])
    explore = strict_json(scripts[1])["explore"]
    assert sorted(explore["labels"].values()) == sorted(HOSTILE_TEXT)
    assert [k[2:] for k in explore["ids"][0]] == HOSTILE_TEXT
    title = re.search(r"<h1>(.*?)</h1>", page, flags=re.S).group(1)
    assert html.unescape(title) == HOSTILE_TEXT[0] + HOSTILE_TEXT[3]
    header = re.search(r'<table class="ek-table"><thead><tr>(.*?)</tr>', page).group(1)
    assert html.unescape(re.findall(r"<th>(.*?)</th>", header)[3]) == HOSTILE_TEXT[1]
    keys = [html.unescape(k) for k in re.findall(r'<tr data-id="[^"]*" data-key="([^"]*)">', page)]
    assert sorted(keys) == sorted("s:" + t for t in HOSTILE_TEXT)


def test_only_data_images_reach_the_panel():
    """A payload column of thumbnails with a later web address: the page must stay offline."""
    pixel = "data:image/png;base64,iVBORw0KGgo="
    col = ek.Collection.from_arrays(
        np.eye(5, dtype=np.float32) + 0.1,
        payload=pd.DataFrame({"thumb": [pixel, pixel, pixel, "https://tracker.example/p.png", "javascript:alert(1)"]}),
    )
    fig = go.Figure(go.Scatter(x=list(range(5)), y=list(range(5)), customdata=list(range(5))))
    explore = specs(ek.Report("T").add(fig, collection=col).to_html())[0]["explore"]
    assert explore["images"] == {"0": pixel, "1": pixel, "2": pixel}
