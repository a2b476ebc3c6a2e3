"""A saved ek.Report in headless Chromium with the network off.

Every figure must draw (its SVG is in the page, no console errors, no request leaves the
machine), a click on a point of a map must show that point's neighbours with the scores
``col.search(id)`` gives, a click on a result row must show that point, and the panel's list
must be browsable (clicking a neighbour moves to it). Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from _chromium import PLOT_STATUS, SEARCH_HITS, browser, click_point, offline_page, screenshot, type_into

import explorekit as ek
from explorekit.query.display import format_score
from explorekit.query.results import results_text

pytestmark = pytest.mark.browser
K = 6


def fruit_map(col: ek.Collection) -> go.Figure:
    """The map: from explorekit.plots when it offers one, else a plain scatter with ids."""
    payload = col.payload
    return go.Figure(
        go.Scattergl(
            x=payload["x"],
            y=payload["y"],
            mode="markers",
            customdata=np.array(col.ids)[:, None],
            marker={"color": payload["sweetness"], "colorscale": "Viridis", "size": 8},
            text=payload["fruit"],
            hovertemplate="%{text}<extra>id %{customdata[0]}</extra>",
        ),
        layout={"title": "Fruit in the plane", "height": 480},
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    fruit = ek.datasets.load("clusters2d", as_collection=True)
    digits = ek.datasets.load("digits", as_collection=True)
    coords = ek.projection.project(digits, using="pca", projection="pca")
    digit_map = go.Figure(
        go.Scatter(
            x=coords["x"],
            y=coords["y"],
            mode="markers",
            customdata=coords[["id"]].to_numpy(),
            marker={"color": digits.payload["digit"], "size": 5},
        ),
        layout={"title": "Digits (PCA of the pca vector)", "height": 420},
    )
    result = fruit.recommend(positive=[1, 2], negative=[200], strategy="best_score", limit=8)
    report = (
        ek.Report("Browser check", description="Offline report used by the browser test.")
        .add("## Maps\nClick any point: its neighbours come from the page itself.")
        .add(fruit_map(fruit), title="Fruit", collection=fruit, k=K)
        .add(result, title="best_score recommendation")
        .add(digit_map, title="Digits", collection=digits, using="pixels", k=K, max_points=500)
        .add(go.Figure(go.Bar(x=["a", "b"], y=[3, 1])), title="A plain bar chart")
    )
    path = report.save(tmp_path_factory.mktemp("report") / "report.html")
    return {"path": path, "fruit": fruit, "digits": digits, "result": result}


def panel_ids(page) -> list[str]:
    return page.eval_on_selector_all("#ek-panel .ek-neighbours li", "els => els.map(e => e.dataset.id)")


def test_report_renders_offline_and_clicks_show_neighbours(saved):
    fruit = saved["fruit"]
    with browser() as chromium, offline_page(chromium, str(saved["path"])) as (page, log):
        page.wait_for_selector("body[data-ek-ready='1']", timeout=60_000)
        state = page.evaluate("window.__ekReport")
        assert state["figures"] == state["rendered"] == 3, state
        status = page.evaluate(PLOT_STATUS, ".ek-plot")
        assert len(status) == 3 and all(s["svg"] >= 1 and s["traces"] >= 1 for s in status), status
        screenshot(page, "report_page", docs=True)

        # click point 7 of the fruit map
        click_point(page, status[0]["id"], 0, 7, expect="#ek-panel:not([hidden]) .ek-neighbours li")
        clicked = page.get_attribute("#ek-panel", "data-id")
        expected = fruit.search(int(clicked), limit=K, params={"exact": True})
        assert clicked == str(fruit.ids[7])
        assert panel_ids(page) == [str(i) for i in expected["id"]]
        scores = page.eval_on_selector_all("#ek-panel .ek-score", "els => els.map(e => e.textContent)")
        assert scores == [format_score(s) for s in expected["score"]]  # 4 significant digits, as in tables
        # the point and its neighbours are ringed on the map
        page.wait_for_function(f"document.getElementById('{status[0]['id']}').data.at(-1).x.length === {K + 1}")
        screenshot(page, "report_click", docs=True)

        # a neighbour in the panel is a link to that point
        first = panel_ids(page)[0]
        page.click(f"#ek-panel .ek-neighbours li[data-id='{first}']")
        page.wait_for_function(f"document.getElementById('ek-panel').dataset.id === '{first}'")
        assert panel_ids(page) == [str(i) for i in fruit.search(int(first), limit=K)["id"]]

        # a result row shows its point and neighbours
        row_id = str(saved["result"]["id"][2])
        page.click(f"tr[data-id='{row_id}']")
        page.wait_for_function(f"document.getElementById('ek-panel').dataset.id === '{row_id}'")
        assert panel_ids(page) == [str(i) for i in fruit.search(int(row_id), limit=K)["id"]]

        # sorting and filtering the result table stay in the page
        page.click(".ek-result th:nth-child(2)")
        page.fill(".ek-filter", "plum")
        visible = page.eval_on_selector_all(".ek-table tbody tr:not([hidden])", "rows => rows.length")
        assert visible == int((saved["result"]["fruit"] == "plum").sum())
        assert log.errors == [] and log.blocked == [], (log.errors, log.blocked)


def test_thumbnails_and_capped_points(saved):
    digits = saved["digits"]
    with browser() as chromium, offline_page(chromium, str(saved["path"])) as (page, log):
        page.wait_for_selector("body[data-ek-ready='1']", timeout=60_000)
        spec_id = page.eval_on_selector_all(".ek-plot", "els => els[1].id")
        explore = page.evaluate(
            f"JSON.parse(document.getElementById("
            f"document.getElementById('{spec_id}').dataset.spec).textContent).explore"
        )
        assert explore["computed"] == 500 and explore["shown"] == len(digits)
        # a precomputed point far from any other on the map, so the click lands on it
        xy = np.array([explore["xy"][str(i)] for i in digits.ids])
        gaps = np.sort(np.linalg.norm(xy[:, None] - xy[None], axis=2), axis=1)[:, 1]
        computed = np.array([str(i) in explore["neighbours"] for i in digits.ids])
        row = int(np.argmax(np.where(computed, gaps, -1)))
        click_point(page, spec_id, 0, row, expect="#ek-panel:not([hidden]) .ek-neighbours li img.ek-thumb")
        clicked = int(page.get_attribute("#ek-panel", "data-id"))
        expected = digits.search(clicked, using="pixels", limit=K)
        assert panel_ids(page) == [str(i) for i in expected["id"]]
        screenshot(page, "report_digits_click", docs=True)
        missing = next(i for i in digits.ids if str(i) not in explore["neighbours"])
        page.evaluate(
            f"document.querySelector('#{spec_id}').emit('plotly_click', "
            f"{{points: [{{curveNumber: 0, pointNumber: {list(digits.ids).index(missing)}}}]}})"
        )
        page.wait_for_function(f"document.getElementById('ek-panel').dataset.id === '{missing}'")
        assert "not precomputed" in page.inner_text("#ek-panel")
        assert log.errors == [] and log.blocked == [], (log.errors, log.blocked)


def test_demo_report_works_offline(tmp_path):
    """What `make demo` writes (PCA here for speed; UMAP as the demo does when refreshing the
    README images with EXPLOREKIT_DOCS_IMAGES=1): the map is clickable, nothing is fetched."""
    from explorekit import demo

    projection = "umap" if os.environ.get("EXPLOREKIT_DOCS_IMAGES") == "1" else "pca"
    path = demo.build(tmp_path / "demo.html", projection=projection, k=8, log=lambda text: None)
    with browser() as chromium, offline_page(chromium, str(path), width=1400, height=1000) as (page, log):
        page.wait_for_selector("body[data-ek-ready='1']", timeout=60_000)
        state = page.evaluate("window.__ekReport")
        assert state["figures"] == state["rendered"] == 2 and state["errors"] == []
        plot = page.evaluate(PLOT_STATUS, ".ek-plot")[0]["id"]
        click_point(page, plot, 1, 40, expect="#ek-panel:not([hidden]) .ek-neighbours li")
        assert len(panel_ids(page)) == 8
        page.wait_for_timeout(300)
        screenshot(page, "demo_report_click", docs=True)
        assert log.errors == [] and log.blocked == []


# ---------------------------------------------------------------- issue 15
PWNED = "window.__ekPwned = 1"
HOSTILE_LABELS = {
    6: f"</script><script>{PWNED}</script>",
    "six": f'<img src=x onerror="{PWNED}">',
    "00000000-0000-0000-0000-000000000007": "\"quotes' & \u2028 <b>bold?</b>",
    8: "<img src=x onerror=alert(1)> " + "\u00fcn\u00efc\u00f8d\u00e9 \U0001f642 \u65e5\u672c\u8a9e " * 40,
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A page with the integer id 5 and the string id "5", labels that try to run code, points
    with NaN and infinite coordinates, and a Markdown table."""
    ids = [5, "5", 6, "six", "00000000-0000-0000-0000-000000000007", 8]
    labels = ["int five", "string five"] + [HOSTILE_LABELS[i] for i in ids[2:]]
    twins = ek.Collection.from_arrays(
        [[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9], [0.7, 0.7], [-1, -0.2]],
        ids=ids,
        payload=pd.DataFrame({"label": labels}),
    )
    twins_map = go.Figure(
        go.Scatter(
            x=[0, 10, 1, 9, 5, 2],
            y=[0, 10, 1, 9, 2, 8],
            mode="markers",
            customdata=np.array(ids, dtype=object)[:, None],
            text=labels,
        ),
        layout={"height": 400},
    )
    fruit = ek.datasets.load("clusters2d", as_collection=True)
    x, y = fruit.payload["x"].to_numpy(float, copy=True), fruit.payload["y"].to_numpy(float, copy=True)
    x[[3, 30]], y[60] = [np.nan, np.inf], -np.inf
    holes = go.Figure(
        go.Scatter(x=x, y=y, mode="markers", customdata=np.array(fruit.ids)[:, None]), layout={"height": 400}
    )
    report = (
        ek.Report("Hostile")
        .add("| fruit | count |\n| --- | ---: |\n| plum | 3 |\n| pear | 5 |", title="A Markdown table")
        .add(twins_map, title="Twins", collection=twins, k=2)
        .add(holes, title="Holes", collection=fruit, k=3)
    )
    return {
        "path": report.save(tmp_path_factory.mktemp("hostile") / "hostile.html"),
        "twins": twins,
        "points": len(fruit),
        "left_out": 3,
    }


def test_int_five_and_string_five_show_their_own_neighbours(hostile):
    twins = hostile["twins"]
    with browser() as chromium, offline_page(chromium, str(hostile["path"])) as (page, log):
        page.wait_for_selector("body[data-ek-ready='1']", timeout=60_000)
        plot = page.evaluate(PLOT_STATUS, ".ek-plot")[0]["id"]
        for index, x, pid, key, name in [(0, 0, 5, "5", "int five"), (1, 10, "5", "s:5", "string five")]:
            page.evaluate("document.getElementById('ek-panel').innerHTML = ''")
            click_point(page, plot, 0, index, expect="#ek-panel:not([hidden]) .ek-panel-title")
            assert page.inner_text("#ek-panel .ek-panel-label") == name
            assert page.get_attribute("#ek-panel", "data-key") == key
            # the clicked point is ringed once the page has made room for the panel
            page.wait_for_function(f"document.getElementById('{plot}').data.at(-1).x[0] === {x}")
            expected = twins.search(pid, limit=2)
            assert page.eval_on_selector_all("#ek-panel .ek-neighbours li", "els => els.map(e => e.dataset.key)") == [
                ek.report._neighbours.point_key(i) for i in expected["id"]
            ]
            shown = page.eval_on_selector_all("#ek-panel .ek-label", "els => els.map(e => e.textContent)")
            assert shown == [HOSTILE_LABELS[i] for i in expected["id"]]  # shown as text, never run
        screenshot(page, "report_int_and_string_ids")
        assert page.evaluate("window.__ekPwned") is None
        assert log.errors == [] and log.blocked == [], (log.errors, log.blocked)


def test_non_finite_coordinates_do_not_blank_the_figure(hostile):
    with browser() as chromium, offline_page(chromium, str(hostile["path"])) as (page, log):
        page.wait_for_selector("body[data-ek-ready='1']", timeout=60_000)
        state = page.evaluate("window.__ekReport")
        assert state["figures"] == state["rendered"] == 2 and state["errors"] == [], state
        status = page.evaluate(PLOT_STATUS, ".ek-plot")
        assert all(s["svg"] >= 1 and s["traces"] >= 1 for s in status), status
        drawn = page.evaluate(f"document.querySelectorAll('#{status[1]['id']} .scatterlayer path.point').length")
        assert drawn == hostile["points"] - hostile["left_out"]
        caption = page.inner_text("#item-2 figcaption")
        assert caption.startswith("3 points are not drawn: a coordinate of each is not a finite number")
        click_point(page, status[1]["id"], 0, 10, expect="#ek-panel:not([hidden]) .ek-neighbours li")
        assert log.errors == [] and log.blocked == [], (log.errors, log.blocked)


def test_markdown_table_is_a_table(hostile):
    with browser() as chromium, offline_page(chromium, str(hostile["path"])) as (page, log):
        page.wait_for_selector("body[data-ek-ready='1']", timeout=60_000)
        cells = page.eval_on_selector_all(
            "section.ek-markdown table th, section.ek-markdown table td", "els => els.map(e => e.textContent)"
        )
        assert cells == ["fruit", "count", "plum", "3", "pear", "5"]
        assert log.errors == [] and log.blocked == []


# ---------------------------------------------------------------- issue 19: find, name, count, ties
TEXT_K = 5
CONTEXT = [(2196, 2778), (5992, 1365)]  # thousands of points tie at loss 0 (tests/test_ties.py)


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    """The bundled text set: a PCA map with every point's neighbours, a context search whose
    answer is cut among tied points, and a recommendation by two examples."""
    text = ek.datasets.load("stdlib_docs", as_collection=True)
    coords = ek.projection.project(text, projection="pca")
    kinds = text.payload["kind"].astype("category").cat.codes
    text_map = go.Figure(
        go.Scattergl(
            x=coords["x"],
            y=coords["y"],
            mode="markers",
            customdata=coords[["id"]].to_numpy(),
            marker={"color": kinds.loc[coords["id"]].to_numpy(), "size": 4},
        ),
        layout={"title": "The standard library's docstrings (PCA)", "height": 520},
    )
    context = text.discover(context=CONTEXT, limit=10)
    recommended = text.recommend(positive=[2778, 3950], limit=5)
    report = (
        ek.Report("Find a point")
        .add(text_map, title="Docstrings", collection=text, k=TEXT_K, max_points=len(text))
        .add(context, title="Context search")
        .add(recommended, title="Like json.dumps and pickle.dumps")
    )
    path = report.save(tmp_path_factory.mktemp("named") / "named.html")
    return {"path": path, "text": text, "context": context}


FIND = ".ek-find-input"


def test_search_box_finds_a_point_by_name_and_opens_it_offline(named):
    text, payload = named["text"], named["text"].payload
    with browser() as chromium, offline_page(chromium, str(named["path"])) as (page, log):
        page.wait_for_selector("body[data-ek-ready='1']", timeout=60_000)
        assert page.get_attribute(FIND, "placeholder") == "Find a point by name or id"

        # part of a name, any case: the labels that start with it come first, then those that contain it
        type_into(page, FIND, "PICKLE")
        hits = page.evaluate(SEARCH_HITS, FIND)
        names = payload["name"].str.lower()
        prefix, inside = int(names.str.startswith("pickle").sum()), int((names.str.find("pickle") > 0).sum())
        assert [h["label"].lower().startswith("pickle") for h in hits] == [True] * prefix + [False] * inside
        assert all("pickle" in h["label"].lower() for h in hits) and hits[0]["selected"]
        assert page.inner_text(".ek-find-status") == f"{prefix + inside} matches"
        page.keyboard.press("Escape")
        assert page.evaluate(SEARCH_HITS, FIND) == []

        # five functions are called dumps: the list tells them apart by id and kind, the keyboard picks json's
        type_into(page, FIND, "dumps")
        hits = page.evaluate(SEARCH_HITS, FIND)
        dumps = payload.index[payload["name"] == "dumps"]
        assert {int(h["id"]) for h in hits[: len(dumps)]} == set(dumps)
        assert [h["label"] for h in hits[: len(dumps)]] == ["dumps"] * len(dumps)
        assert all(h["category"] == payload.loc[int(h["id"]), "kind"] for h in hits)
        target = [h["id"] for h in hits].index("2778")
        for _ in range(target):
            page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowUp")
        assert [h["selected"] for h in page.evaluate(SEARCH_HITS, FIND)].index(True) == target
        screenshot(page, "report_search", docs=True)
        page.keyboard.press("Enter")

        # the panel opens with the label, the id beside it, and the neighbours named with their kind
        page.wait_for_function("document.getElementById('ek-panel').dataset.id === '2778'")
        assert page.inner_text("#ek-panel .ek-panel-label") == "dumps"
        assert page.inner_text("#ek-panel .ek-panel-pid") == "(2778)"
        expected = text.search(2778, limit=TEXT_K, params={"exact": True})
        items = page.eval_on_selector_all(
            "#ek-panel .ek-neighbours li",
            "els => els.map(e => [e.dataset.id, e.querySelector('.ek-label').textContent,"
            " e.querySelector('.ek-cat').textContent])",
        )
        assert items == [[str(i), payload.loc[i, "name"], payload.loc[i, "kind"]] for i in expected["id"]]
        # ringed and centred on the map
        plot = page.evaluate(PLOT_STATUS, ".ek-plot")[0]["id"]
        page.wait_for_function("window.__ekReport.found && window.__ekReport.found.id === '2778'")
        ring = page.evaluate(f"document.getElementById('{plot}').data.at(-1).x.length")
        assert ring == TEXT_K + 1
        x, y = page.evaluate("JSON.parse(document.getElementById('ek-spec-0').textContent).explore.xy['2778']")
        centre = page.evaluate(
            f"(() => {{ const l = document.getElementById('{plot}')._fullLayout;"
            " return [(l.xaxis.range[0] + l.xaxis.range[1]) / 2, (l.yaxis.range[0] + l.yaxis.range[1]) / 2]; })()"
        )
        assert centre == pytest.approx([x, y], abs=1e-6)
        screenshot(page, "report_search_chosen")

        # the mouse chooses a hit too
        type_into(page, FIND, "urlpars")
        page.click(".ek-find-list [role=option] >> nth=0")
        urlparse = int(payload.index[payload["name"] == "urlparse"][0])
        page.wait_for_function(f"document.getElementById('ek-panel').dataset.id === '{urlparse}'")
        assert page.inner_text("#ek-panel .ek-panel-label") == "urlparse"
        assert log.errors == [] and log.blocked == [] and log.dialogs == [], (log.errors, log.blocked)


def test_request_summaries_and_ties_are_said_by_name(named):
    with browser() as chromium, offline_page(chromium, str(named["path"])) as (page, log):
        page.wait_for_selector("body[data-ek-ready='1']", timeout=60_000)
        ties = page.locator("#item-1 .ek-ties")
        assert ties.is_visible()
        assert ties.inner_text() == results_text(named["context"])
        tied = named["context"].attrs["ties"]["tied"]
        assert tied > 1000 and f"10 shown of {tied:,} tied at score 0 (insertion order" in ties.inner_text()
        request = page.inner_text("#item-1 .ek-request")
        assert "[+open (2196) / \u2212dumps (2778), +ZipFile (5992) / \u2212reader (1365)]" in request
        assert "positive [dumps (2778), dumps (3950)]" in page.inner_text("#item-2 .ek-request")
        assert page.locator("#item-2 .ek-ties").count() == 0  # no tie, nothing said
        assert log.errors == [] and log.blocked == []


def test_row_counter_follows_the_filter(saved):
    result = saved["result"]
    with browser() as chromium, offline_page(chromium, str(saved["path"])) as (page, log):
        page.wait_for_selector("body[data-ek-ready='1']", timeout=60_000)
        count = ".ek-result .ek-tools span >> nth=0"  # the row count, first thing after the filter box
        assert page.inner_text(count).startswith(f"{len(result)} row(s)")
        rows = page.eval_on_selector_all(".ek-table tbody tr", "rows => rows.map(r => r.textContent.toLowerCase())")
        # a word of the first row that some other rows lack, so the filter keeps some rows and hides others
        needle = next(w for w in rows[0].split() if 0 < sum(w in r for r in rows) < len(rows))
        page.fill(".ek-filter", needle)
        visible = page.eval_on_selector_all(".ek-table tbody tr:not([hidden])", "rows => rows.length")
        assert 0 < visible == sum(needle in r for r in rows) < len(result)
        assert page.inner_text(count) == f"{visible} of {len(result)} row(s) match"
        page.fill(".ek-filter", "no such fruit")
        assert page.inner_text(count) == f"0 of {len(result)} row(s) match"
        page.fill(".ek-filter", "")
        assert page.inner_text(count) == f"{len(result)} row(s)"
        assert log.errors == [] and log.blocked == []


TWINS_FIND = "#item-1 .ek-find-input"  # the twins map (the hostile page has two maps)


def test_hostile_labels_are_found_as_text_and_never_run(hostile):
    twins = hostile["twins"]
    with browser() as chromium, offline_page(chromium, str(hostile["path"])) as (page, log):
        page.wait_for_selector("body[data-ek-ready='1']", timeout=60_000)
        shown = ek.report._neighbours._text  # the report cuts labels to 160 characters
        for typed, pid in [
            ("<img", 8),
            ('onerror="window', "six"),
            ("</script>", 6),
            ("' & ", "00000000-0000-0000-0000-000000000007"),
            ("\U0001f642 \u65e5", 8),
        ]:
            type_into(page, TWINS_FIND, typed)
            hits = page.evaluate(SEARCH_HITS, TWINS_FIND)
            assert str(pid) in [h["id"] for h in hits], (typed, hits)
            hit = next(h for h in hits if h["id"] == str(pid))
            assert hit["label"] == shown(HOSTILE_LABELS[pid])
            assert page.locator(".ek-find-list img, .ek-find-list script, .ek-find-list b").count() == 0
            target = [h["id"] for h in hits].index(str(pid))
            for _ in range(target):
                page.keyboard.press("ArrowDown")
            page.keyboard.press("Enter")
            key = ek.report._neighbours.point_key(pid)
            page.wait_for_function(f"document.getElementById('ek-panel').dataset.key === {key!r}")
            assert page.inner_text("#ek-panel .ek-panel-label") == shown(HOSTILE_LABELS[pid])
            expected = twins.search(pid, limit=2)
            assert page.eval_on_selector_all("#ek-panel .ek-neighbours li", "els => els.map(e => e.dataset.key)") == [
                ek.report._neighbours.point_key(i) for i in expected["id"]
            ]
        assert page.locator("#ek-panel img, #ek-panel b, .ek-find img").count() == 0
        assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
        assert page.evaluate("window.__ekPwned") is None
        screenshot(page, "report_search_hostile")
        assert log.dialogs == [] and log.errors == [] and log.blocked == [], (log.dialogs, log.errors)
