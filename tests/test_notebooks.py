"""The teaching notebooks: they run, they export to HTML, and the exported pages draw every figure.

Each notebook in ``notebooks/`` is executed with nbclient (its ``parameters`` cell set to
``PROJECTION = "pca"``, so no UMAP fit), exported with nbconvert's ``HTMLExporter`` exactly as
``jupyter nbconvert --to html`` does, and the HTML is opened in headless Chromium with the
network off. Every plotly figure must draw (its SVG is in the page) with no JavaScript error.

What the page may fail to load offline, and only that: the CDN scripts nbconvert's own page
template references (require.js, MathJax for Markdown maths, the widget manager that would
draw the Explorer's saved state; widgets need a live kernel anyway). Each such failure shows
as one "Failed to load resource" console message, which the test pairs with the blocked URL;
any other console error fails the test.

Executed notebooks, their HTML, the reports they save and screenshots are kept in
``tests/artifacts/notebooks/``.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from _chromium import ARTIFACTS, PLOT_STATUS, POINT_POSITION, browser, offline_page, screenshot

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
OUT = ARTIFACTS / "notebooks"
TEMPLATE_CDN = re.compile(
    r"^https://(cdnjs\.cloudflare\.com/ajax/libs/(require\.js|mathjax)/|"
    r"unpkg\.com/@jupyter-widgets/html-manager@)"
)
CELL_TIMEOUT = 300
DOC_FIGURES = {"03": 3, "04": 2}  # notebook prefix -> index of the figure shown in docs/images


@functools.cache
def executed(path: Path) -> tuple[nbformat.NotebookNode, Path]:
    """Run one notebook (once per test session) and export it; returns (notebook, html path)."""
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = 'PROJECTION = "pca"   # set by tests/test_notebooks.py: no UMAP fit'
    OUT.mkdir(parents=True, exist_ok=True)
    NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(OUT)}}
    ).execute()
    nbformat.write(nb, OUT / path.name)
    body, _ = HTMLExporter().from_notebook_node(nb)
    html = OUT / f"{path.stem}.html"
    html.write_text(body, encoding="utf-8")
    return nb, html


def figure_outputs(nb: nbformat.NotebookNode) -> int:
    """Plotly figures among the outputs (the HTML copy the notebook renderer adds)."""
    return sum(
        output.get("data", {}).get("text/html", "").count('class="plotly-graph-div"')
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def test_notebooks_are_built_from_source_and_have_no_outputs():
    check = subprocess.run(
        [sys.executable, str(ROOT / "notebooks" / "_build.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert len(NOTEBOOKS) == 7
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert not any(c.get("outputs") or c.get("execution_count") for c in nb.cells if c.cell_type == "code")
        assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), path.name


@pytest.mark.notebooks
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_keeps_its_figures(path):
    nb, html = executed(path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    count = figure_outputs(nb)
    assert count >= 1, "every notebook teaches with figures"
    page = html.read_text(encoding="utf-8")
    assert page.count('class="plotly-graph-div"') == count, "nbconvert dropped a figure"
    assert "Your element with mimetype" not in page


@pytest.mark.notebooks
@pytest.mark.browser
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exported_notebook_draws_every_figure_offline(path):
    nb, html = executed(path)
    with browser() as chromium, offline_page(chromium, str(html)) as (page, log):
        page.wait_for_load_state("load")
        try:
            page.wait_for_function(
                "Array.from(document.querySelectorAll('.plotly-graph-div'))"
                ".every(d => d.querySelector('svg.main-svg'))",
                timeout=60_000,
            )
        except Exception:  # the assertions below say which figure did not draw
            pass
        status = page.evaluate(PLOT_STATUS, ".plotly-graph-div")
        assert len(status) == figure_outputs(nb)
        assert all(s["svg"] >= 1 and s["traces"] >= 1 for s in status), status
        assert log.page_errors == []
        assert all(TEMPLATE_CDN.match(url) for url in log.blocked), log.blocked
        assert log.console_errors == ["Failed to load resource: net::ERR_FAILED"] * len(log.blocked), log.console_errors
        page.wait_for_timeout(500)
        screenshot(page, f"notebook_{path.stem}", full_page=True)
        if path.stem[:2] in DOC_FIGURES:  # one figure of the exported page, for the README
            page.locator(".plotly-graph-div").nth(DOC_FIGURES[path.stem[:2]]).scroll_into_view_if_needed()
            page.evaluate("window.scrollBy(0, -120)")
            screenshot(page, f"notebook_{path.stem[:2]}_exported_figure", docs=True)


@pytest.mark.notebooks
@pytest.mark.browser
@pytest.mark.timeout(900)
def test_quickstart_report_keeps_the_explorer_state_and_its_neighbours():
    quickstart = next(p for p in NOTEBOOKS if p.stem.startswith("01"))
    executed(quickstart)
    report = OUT / "reports" / "01_quickstart.html"
    assert report.exists()
    with browser() as chromium, offline_page(chromium, str(report)) as (page, log):
        page.wait_for_selector("body[data-ek-ready='1']", timeout=60_000)
        state = page.evaluate("window.__ekReport")
        assert state["figures"] == state["rendered"] >= 1 and state["errors"] == []
        plot = page.evaluate(PLOT_STATUS, ".ek-plot")[0]["id"]
        spec = page.evaluate(
            f"JSON.parse(document.getElementById(document.getElementById('{plot}').dataset.spec).textContent).explore"
        )
        trace = next(i for i, ids in enumerate(spec["ids"]) if ids and str(ids[0]) in spec["neighbours"])
        page.locator("#" + plot).scroll_into_view_if_needed()
        x, y = page.evaluate(POINT_POSITION, ["#" + plot, trace, 0])
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        page.wait_for_selector("#ek-panel:not([hidden])", timeout=10_000)
        clicked = page.get_attribute("#ek-panel", "data-id")
        shown = page.eval_on_selector_all("#ek-panel .ek-neighbours li", "els => els.map(e => e.dataset.id)")
        if clicked in spec["neighbours"]:
            assert shown == [str(n[0]) for n in spec["neighbours"][clicked]]
        else:
            assert "not precomputed" in page.inner_text("#ek-panel")
        assert log.errors == [] and log.blocked == []
        screenshot(page, "notebook_01_report_click")
