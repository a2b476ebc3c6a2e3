"""Ties said out loud in a real JupyterLab: a context search on the bundled text set, driven by
headless Chromium.

Context search scores many points 0 (every pair satisfied): far more points tie at the last
score than the limit shows. The Explorer's status line in the page must say how many tie, how
many are shown and in which order (explorekit's order; Qdrant leaves it unspecified), exactly as
``results_text`` says it for the same public call. The context pair is chosen from Python, in
the cell after the one that shows the Explorer. Screenshot: ``tests/artifacts/explorer_lab_ties.png``.
"""

from __future__ import annotations

import re

import pytest
from test_explorer_lab import ARGS, ARTIFACTS, CHROMIUM, FRONT_ENDS, dismiss_dialogs, jupyter_server, run_cell

import explorekit as ek
from explorekit.query.results import results_text

pytestmark = pytest.mark.browser
PAIR = (0, 5)  # abc.ABC and an unrelated docstring: thousands of points satisfy the pair
SETUP = """\
import explorekit as ek
col = ek.datasets.load("stdlib_docs", as_collection=True)
explorer = ek.Explorer(col)
display(explorer)"""
CHOOSE = f"explorer.examples = {{'context': [{PAIR}]}}"
STATUS = """() => Array.from(document.querySelectorAll('.widget-html-content'))
  .map(e => e.innerText).find(t => t.includes('context:')) || ''"""


def test_a_context_search_says_how_many_points_tie(tmp_path):
    import nbformat
    from playwright.sync_api import sync_playwright

    col = ek.datasets.load("stdlib_docs", as_collection=True)
    expected = col.discover(context=[PAIR], limit=10)
    ties = expected.attrs["ties"]
    assert ties["tied"] > ties["shown"] == 10  # the case under test: more ties than the limit shows
    said = results_text(expected)

    lab = next(f for f in FRONT_ENDS if f.name == "lab")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(CHOOSE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, tmp_path / "ties.ipynb")
    ARTIFACTS.mkdir(exist_ok=True)
    with jupyter_server(tmp_path, lab) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        try:
            page.goto(url + lab.notebook_path.format(name="ties.ipynb"), timeout=60_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            dismiss_dialogs(page, url)
            run_cell(page, 0)
            page.wait_for_selector("text=No result yet", timeout=150_000)
            run_cell(page, 1)
            try:
                page.wait_for_function(f"() => ({STATUS})().includes('tied')", timeout=60_000)
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "explorer_lab_ties_failed.png"), full_page=True)
                raise AssertionError(
                    f"no tie disclosure in the status line: {page.evaluate(STATUS)!r}; page errors {errors[:5]}"
                ) from None
            status = page.evaluate(STATUS)
            page.screenshot(path=str(ARTIFACTS / "explorer_lab_ties.png"), full_page=True)
        finally:
            browser.close()
    assert said in status, (said, status)
    assert re.search(rf"10 shown of {ties['tied']:,} tied at score 0 \(insertion order", status), status
    assert errors == [], errors
