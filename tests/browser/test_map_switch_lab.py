"""The Explorer's map switch in a real JupyterLab, driven by headless Chromium.

A new collection (no UMAP map yet) shows PCA; a click on "UMAP" must show the fit's progress
bars under the switch while it runs (the bars of ``explorekit._support.progress`` and UMAP's
epochs, captured in the switch: the fit runs in the button's callback, see
``widgets/_layout_switch.py``), then move the same map's points to the UMAP map (axis titles,
the projection note). The bars are shown at once (``EXPLOREKIT_PROGRESS=1``, set in the cell:
the test server silences them). Screenshots: ``tests/artifacts/explorer_lab_umap_progress.png``
and ``explorer_lab_umap.png``.
"""

from __future__ import annotations

import pytest
from _chromium import publish
from test_explorer_lab import ARGS, ARTIFACTS, CHROMIUM, FRONT_ENDS, dismiss_dialogs, jupyter_server, run_cell

pytestmark = pytest.mark.browser
SETUP = """\
import os
os.environ["EXPLOREKIT_PROGRESS"] = "1"  # every bar at once (the test server sets 0)
import numpy as np
import explorekit as ek
col = ek.Collection.from_arrays(np.random.default_rng(0).normal(size=(2000, 16)).astype("float32"))
explorer = ek.Explorer(col)
display(explorer)"""
PROGRESS = """() => Array.from(document.querySelectorAll('.widget-output'))
  .map(e => e.innerText).join(' ')"""
TITLE = """() => { const gd = document.querySelector('.js-plotly-plot');
  return gd && gd._fullLayout ? gd._fullLayout.xaxis.title.text + ' | ' + gd.layout.title.subtitle.text : ''; }"""


def test_the_umap_button_shows_progress_then_swaps_the_map(tmp_path):
    import nbformat
    from playwright.sync_api import sync_playwright

    lab = next(f for f in FRONT_ENDS if f.name == "lab")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, tmp_path / "switch.ipynb")
    ARTIFACTS.mkdir(exist_ok=True)
    with jupyter_server(tmp_path, lab) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        try:
            page.goto(url + lab.notebook_path.format(name="switch.ipynb"), timeout=60_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            dismiss_dialogs(page, url)
            run_cell(page, 0)
            page.wait_for_selector("text=No result yet", timeout=150_000)
            page.wait_for_function(f"() => ({TITLE})().startsWith('PC1')", timeout=60_000)
            page.locator(".widget-toggle-button", has_text="UMAP").first.click()
            page.wait_for_function(f"() => ({PROGRESS})().includes('UMAP:')", timeout=120_000)
            progress = page.evaluate(PROGRESS).replace("\u2007", " ")  # tqdm pads with figure spaces
            page.screenshot(path=str(ARTIFACTS / "explorer_lab_umap_progress.png"), full_page=True)
            page.wait_for_function(f"() => ({TITLE})().startsWith('UMAP 1')", timeout=300_000)
            title = page.evaluate(TITLE)
            page.wait_for_function(f"() => ({PROGRESS})().trim() === ''", timeout=30_000)  # bars cleared
            page.screenshot(path=str(ARTIFACTS / "explorer_lab_umap.png"), full_page=True)
            publish(ARTIFACTS / "explorer_lab_umap.png")
        finally:
            browser.close()
    assert "UMAP: " in progress, progress
    assert "Map: UMAP of 2,000 points." in title, title
    assert errors == [], errors
