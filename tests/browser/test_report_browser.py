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
from _chromium import PLOT_STATUS, browser, click_point, offline_page, screenshot

import explorekit as ek
from explorekit.query.display import format_score

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
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A page with the integer id 5 and the string id "5", labels that try to run code, points
    with NaN and infinite coordinates, and a Markdown table."""
    ids = [5, "5", 6, "six", "00000000-0000-0000-0000-000000000007"]
    labels = ["int five", "string five"] + [HOSTILE_LABELS[i] for i in ids[2:]]
    twins = ek.Collection.from_arrays(
        [[1, 0], [0, 1], [0.9, 0.1], [0.1, 0.9], [0.7, 0.7]], ids=ids, payload=pd.DataFrame({"label": labels})
    )
    twins_map = go.Figure(
        go.Scatter(
            x=[0, 10, 1, 9, 5],
            y=[0, 10, 1, 9, 2],
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
            assert page.inner_text("#ek-panel .ek-panel-title") == name
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
