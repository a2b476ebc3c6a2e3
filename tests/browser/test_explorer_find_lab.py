"""The Explorer's search box in a real JupyterLab, driven by headless Chromium (issue 19).

On the bundled ``stdlib_docs`` set: types "dumps" in the search box, walks the hits with the
keyboard (Down, then Up back to ``json.dumps``), presses Enter; checks that the map rings the
point (the page's ``found`` ring, a layout shape, sits on json.dumps), that the kernel added it as positive and
that the examples list in the page names it ("dumps (2778)"). Then clicks the map on a point
with close neighbours and checks that the search box lists them and that Enter on another one
takes its place. Screenshots: ``tests/artifacts/explorer_lab_find.png`` (after the choice) and
``explorer_lab_find_hits.png`` (the open list of hits).
"""

from __future__ import annotations

import json

import pytest
from _chromium import publish
from test_explorer_lab import (
    ARGS,
    ARTIFACTS,
    CHROMIUM,
    FRONT_ENDS,
    dismiss_dialogs,
    jupyter_server,
    kernel_state,
    run_cell,
)

import explorekit as ek

pytestmark = pytest.mark.browser
JSON_DUMPS = 2778
SEARCH_AREA = {"x": 300, "y": 150, "width": 980, "height": 600}  # the controls and the map's top
SETUP = """\
import explorekit as ek
col = ek.datasets.load("stdlib_docs", as_collection=True)
explorer = ek.Explorer(col, projection="pca", height=460)
display(explorer)"""
REPORT = """\
import json
print("STATE=" + json.dumps({"examples": explorer.examples,
                             "shown": explorer.finder.shown,
                             "listed": explorer.finder.ids,
                             "ring": [s.xanchor for s in explorer.figure.layout.shapes if s.name == "found"],
                             "xy": [float(v) for v in explorer.index.xy([2778])[0]]}))"""
# the map's layout shapes named `name` in the page (overlays): their anchors and label texts
TRACE = """([name]) => {
  const gd = document.querySelector('.js-plotly-plot');
  const s = gd && gd.layout ? (gd.layout.shapes || []).filter(d => d.name === name) : [];
  return s.length ? {x: s.map(d => d.xanchor), text: s.map(d => (d.label || {}).text)} : null;
}"""
HITS = "() => Array.from(document.querySelectorAll('.ek-find-hit')).map(h => h.innerText)"
ACTIVE = "() => { const a = document.querySelector('.ek-find-hit.ek-active'); return a ? a.innerText : ''; }"
EXAMPLES = "() => Array.from(document.querySelectorAll('.widget-html-content')).map(e => e.innerText)"
# page position of the map point with id `id` (customdata[:, 0] of the base trace that holds it:
# the map has one trace per category)
POINT_OF = """([id]) => {
  const gd = document.querySelector('.js-plotly-plot');
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis;
  const ids = t => Array.from(t.customdata || [], c => Array.isArray(c) ? c[0] : c);
  const tr = gd._fullData.find(t => ids(t).includes(id));
  const k = ids(tr).indexOf(id);
  const box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(tr.x[k]), box.top + ya._offset + ya.l2p(tr.y[k])];
}"""


def test_type_a_name_choose_it_with_the_keyboard_and_it_is_ringed_and_added(tmp_path):
    import nbformat
    from playwright.sync_api import sync_playwright

    front_end = next(f for f in FRONT_ENDS if f.name == "lab")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(REPORT)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, tmp_path / "find.ipynb")
    ARTIFACTS.mkdir(exist_ok=True)
    col = ek.datasets.load("stdlib_docs", as_collection=True)

    with jupyter_server(tmp_path, front_end) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        try:
            page.goto(url + front_end.notebook_path.format(name="find.ipynb"), timeout=60_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            dismiss_dialogs(page, url)
            run_cell(page, 0)
            box = page.locator("input.ek-find-input")
            try:
                box.wait_for(timeout=150_000)
                page.wait_for_function(
                    "() => { const gd = document.querySelector('.js-plotly-plot');"
                    " return gd && gd._fullData && gd._fullData.length > 0; }",
                    timeout=60_000,
                )
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "explorer_lab_find_failed.png"), full_page=True)
                raise AssertionError(f"the Explorer did not render; page errors: {errors[:5]}") from None
            page.wait_for_timeout(1000)

            box.click()
            page.keyboard.type("dumps", delay=40)
            # the hits of the whole word (the hits of "dump" come first: each keystroke is a round trip)
            page.wait_for_function(
                f"() => {{ const h = ({HITS})(); return h.length >= 5 && h.every(t => t.startsWith('dumps')); }}",
                timeout=30_000,
            )
            hits = page.evaluate(HITS)
            assert hits[0].startswith("dumps (2778)"), hits
            page.screenshot(path=str(ARTIFACTS / "explorer_lab_find_hits.png"), clip=SEARCH_AREA)
            publish(ARTIFACTS / "explorer_lab_find_hits.png")
            assert page.evaluate(ACTIVE).startswith("dumps (2778)")
            page.keyboard.press("ArrowDown")
            assert not page.evaluate(ACTIVE).startswith("dumps (2778)")
            page.keyboard.press("ArrowUp")
            assert page.evaluate(ACTIVE).startswith("dumps (2778)")
            page.keyboard.press("Enter")

            page.wait_for_function(
                f"() => {{ const t = ({TRACE})(['found']); return t && t.x.length === 1 && "
                "t.text[0] === 'dumps (2778)'; }",
                timeout=30_000,
            )
            page.wait_for_function(
                f"() => ({EXAMPLES})().some(t => t.includes('positive dumps (2778)'))", timeout=30_000
            )
            page.wait_for_function(
                "() => { const t = document.querySelector('table.ek-results'); return t && t.innerText.length > 0; }",
                timeout=30_000,
            )
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "explorer_lab_find.png"), full_page=True)
            publish(ARTIFACTS / "explorer_lab_find.png")
            ring = page.evaluate(TRACE, ["found"])
            state = kernel_state(page, 1)
            assert state["examples"]["positive"] == [JSON_DUMPS], state
            assert state["shown"] == JSON_DUMPS
            assert ring["x"] == pytest.approx(state["xy"], rel=1e-6), (ring, state)
            assert state["ring"] == pytest.approx(state["xy"], rel=1e-6)

            # a click among close points: the box lists them; Down and Enter take another instead
            page.locator(".lm-TabBar-tab", has_text="results").first.click()
            x, y = page.evaluate(POINT_OF, [JSON_DUMPS])
            page.mouse.move(x - 3, y - 3)
            page.mouse.move(x, y)
            page.mouse.click(x, y)  # json.dumps again (a second click removes it) or a point under it
            page.wait_for_function("() => document.querySelector('.ek-find-note') !== null", timeout=30_000)
            page.wait_for_function(
                "() => { const n = document.querySelector('.ek-find-note'); return n && n.innerText.includes('px of'); }",
                timeout=30_000,
            )
            listed = page.evaluate(HITS)
            assert len(listed) >= 2, listed
            page.keyboard.press("ArrowDown")  # ...the list has the focus: keys walk it
            page.keyboard.press("Enter")
            after = kernel_state(page, 1)
            clicked, taken = after["listed"][0], after["listed"][1]  # plotly's nearest point, then the next
            assert len(after["listed"]) == len(listed), (after, listed)
            assert after["examples"]["positive"][-1] == taken and clicked not in after["examples"]["positive"], after
            expected = col.recommend(positive=after["examples"]["positive"], limit=10)
            table = page.evaluate("() => document.querySelector('table.ek-results').innerText")
            assert str(expected["id"].iloc[0]) in table
            assert errors == [], json.dumps(errors[:5])
        finally:
            browser.close()
