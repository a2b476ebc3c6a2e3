"""The Explorer in a real JupyterLab and a real Jupyter Notebook 7, driven by headless Chromium.

For each front end (``jupyter lab``, ``jupyter notebook``), starts the server on a free port with a
fresh notebook that shows an ``ek.Explorer`` and, in the same cell, chooses a negative example from
Python (sent before the page has plotly's code: the map must still show it), runs the cell with
Shift+Enter, clicks two points of the map with the mouse, and checks that the results table in the
page changes after each click and that the kernel's ``explorer.examples`` and ``explorer.result``
are what the clicks asked for (equal to the direct API call); opens the explanation tab and
checks that it draws, and that the kernel sent plotly's widget code once for the page's two figures. Screenshots go to ``tests/artifacts/explorer_<front end>.png`` (and
``explorer_<front end>_explanation.png``).

The two front ends share JupyterLab's components; the differences handled here are the URL of a
notebook (``/lab/tree/NAME`` or ``/notebooks/NAME``) and the kernel status (JupyterLab's status
bar; Notebook 7 has none, so both read the kernel's state from the server's ``/api/kernels``).

Needs Debian's chromium at /usr/bin/chromium: ``make test`` installs it (the Makefile's
``browser`` target runs ``apt-get install chromium``). Playwright's own browser download is
never used.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from _chromium import publish

import explorekit as ek

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NEGATIVE = 120  # chosen from Python right after display, before the page has plotly's code
SETUP = f"""\
import explorekit as ek
col = ek.datasets.load("clusters2d", as_collection=True)
explorer = ek.Explorer(col, projection="auto", height=460, color=False)  # one base trace: marker k is row k
display(explorer)
explorer.examples = {{"negative": [{NEGATIVE}]}}"""
REPORT = """\
import json
print("STATE=" + json.dumps({"examples": explorer.examples,
                             "ids": None if explorer.result is None else explorer.result["id"].tolist(),
                             "bundles": explorer.figure.bundles_sent + explorer.explanation.bundles_sent}))"""
# page position of marker k of trace 0 in the first plot; candidates far from their neighbours
POINT = """([k]) => {
  const gd = document.querySelector('.js-plotly-plot');
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis, tr = gd._fullData[0];
  const box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(tr.x[k]), box.top + ya._offset + ya.l2p(tr.y[k])];
}"""
ISOLATED = """([candidates]) => {
  const gd = document.querySelector('.js-plotly-plot');
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis, tr = gd._fullData[0];
  const px = Array.from(tr.x, v => xa.l2p(v)), py = Array.from(tr.y, v => ya.l2p(v));
  let best = -1, bestGap = -1;
  for (const k of candidates) {
    let gap = Infinity;
    for (let j = 0; j < px.length; j++) if (j !== k) gap = Math.min(gap, Math.hypot(px[j] - px[k], py[j] - py[k]));
    if (gap > bestGap) { best = k; bestGap = gap; }
  }
  return [best, bestGap];
}"""
TABLE = "() => { const t = document.querySelector('table.ek-results'); return t ? t.innerText : ''; }"
# page position of the k-th result ring (a layout shape named "results")
RING = """([k]) => {
  const gd = document.querySelector('.js-plotly-plot');
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis;
  const s = gd.layout.shapes.filter(d => d.name === 'results')[k];
  const box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(s.xanchor), box.top + ya._offset + ya.l2p(s.yanchor)];
}"""


# how many example marks the map draws (layout shapes named "examples", drawn above the points)
EXAMPLES_DRAWN = (
    "() => { const gd = document.querySelector('.js-plotly-plot');"
    " if (!gd || !gd._fullLayout) return -1;"
    " return (gd.layout.shapes || []).filter(s => s.name === 'examples').length; }"
)


@dataclass(frozen=True)
class FrontEnd:
    """How to start one Jupyter front end and where it shows a notebook."""

    name: str
    command: str  # the ``jupyter`` subcommand
    notebook_path: str  # URL path of a notebook, ``{name}`` is the file name
    known_errors: tuple[str, ...] = ()  # page errors of the front end itself, with no explorekit in the page

    def own_errors(self, errors: list[str]) -> list[str]:
        """The page errors that are not the front end's own known ones."""
        return [e for e in errors if not any(known in e for known in self.known_errors)]


FRONT_ENDS = [
    FrontEnd("lab", "lab", "/lab/tree/{name}"),
    # notebook 7.6.5 with jupyterlab 4.6.6: its shortcuts plugin reads the settings schema of a
    # plugin it does not have while loading, in an empty notebook too (TypeError in notebook_core)
    FrontEnd("notebook7", "notebook", "/notebooks/{name}", known_errors=("(reading 'schema')",)),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyter_server(root: Path, front_end: FrontEnd):
    """A Jupyter server of ``front_end`` on a free port, serving ``root``; stopped (kernels too) at the end."""
    port = free_port()
    jupyter = Path(sys.executable).with_name("jupyter")
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
        "IPYTHONDIR": str(root / ".ipython"),
        "EXPLOREKIT_PROGRESS": "0",
        "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces"),
    }
    settings = root / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    if front_end.command == "lab":  # Notebook 7 has no news plugin: a setting for it is a page error there
        (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    log = open(root / "jupyter.log", "wb")
    proc = subprocess.Popen(
        [
            str(jupyter),
            front_end.command,
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.token=",
            "--ServerApp.password=",
            "--allow-root",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.disable_check_xsrf=True",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"jupyter {front_end.command} exited with {proc.returncode}:\n{(root / 'jupyter.log').read_text()[-3000:]}"
                )
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"jupyter {front_end.command} did not answer within 60 s:\n{(root / 'jupyter.log').read_text()[-3000:]}"
                    )
                time.sleep(0.5)
        yield url
    finally:
        try:  # a clean stop shuts the kernels down too
            urllib.request.urlopen(urllib.request.Request(f"{url}/api/shutdown", method="POST", data=b""), timeout=5)
            proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def run_cell(page, index: int) -> None:
    """Select cell ``index`` and run it with Shift+Enter, as a user would."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


def kernel_state(page, index: int) -> dict:
    """Run the reporting cell and read the JSON it prints."""
    run_cell(page, index)
    output = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea-output", has_text="STATE=")
    output.first.wait_for(timeout=30_000)
    text = output.first.inner_text()
    return json.loads(text.split("STATE=", 1)[1].strip().splitlines()[0])


def kernel_idle(url: str, timeout: float = 60) -> None:
    """Wait until the server has a kernel and it is idle (read from ``/api/kernels``: both front ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kernels = json.loads(urllib.request.urlopen(f"{url}/api/kernels", timeout=5).read())
        if kernels and all(k.get("execution_state") == "idle" for k in kernels):
            return
        time.sleep(0.5)
    pytest.fail(f"no idle kernel within {timeout:.0f} s: {kernels}")


def dismiss_dialogs(page, url: str) -> None:
    """Accept a kernel choice dialog and decline the news prompt, if the page shows them."""
    page.wait_for_timeout(1000)
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():
        dialog.first.click()
    news = page.locator(".jp-Notification-Toast button", has_text="No")
    if news.count():
        news.first.click()
    kernel_idle(url)


def click_point(page, k: int) -> None:
    x, y = page.evaluate(POINT, [k])
    page.mouse.move(x - 3, y - 3)
    page.mouse.move(x, y)
    page.mouse.click(x, y)


@pytest.mark.parametrize("front_end", FRONT_ENDS, ids=[f.name for f in FRONT_ENDS])
def test_clicks_on_the_map_change_the_results_table(tmp_path, front_end):
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium. `make test` installs it "
            "(the Makefile's `browser` target runs `apt-get install -y chromium`); or run that as root."
        )
    from playwright.sync_api import sync_playwright

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(REPORT)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, tmp_path / "explorer.ipynb")
    ARTIFACTS.mkdir(exist_ok=True)
    col = ek.datasets.load("clusters2d", as_collection=True)

    name = f"explorer_{front_end.name}"
    with jupyter_server(tmp_path, front_end) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(f"{err}\n{(err.stack or '')[:600]}"))
        try:
            page.goto(url + front_end.notebook_path.format(name="explorer.ipynb"), timeout=60_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            dismiss_dialogs(page, url)
            run_cell(page, 0)
            try:
                page.wait_for_function(
                    "() => { const gd = document.querySelector('.js-plotly-plot');"
                    " return gd && gd._fullData && gd._fullData.length > 0; }",
                    timeout=120_000,
                )
                page.wait_for_selector("text=No result yet", timeout=30_000)
            except Exception:
                page.screenshot(path=str(ARTIFACTS / f"{name}_failed.png"), full_page=True)
                raise AssertionError(
                    f"The Explorer did not render in {front_end.name} within 150 s (see "
                    f"tests/artifacts/{name}_failed.png); page errors: {errors[:5]}"
                ) from None
            # chosen from Python before the page had plotly's code: re-sent once the map is ready
            page.wait_for_function(f"() => ({EXAMPLES_DRAWN})() === 1", timeout=30_000)
            page.wait_for_timeout(1500)  # let plotly finish its first layout
            apple, _ = page.evaluate(ISOLATED, [list(range(0, 50))])
            citrus, gap = page.evaluate(ISOLATED, [list(range(200, 300))])
            assert gap > 4, f"no isolated point to click (nearest neighbour {gap:.1f} px away)"

            click_point(page, apple)
            page.wait_for_function(f"() => ({TABLE})().length > 0", timeout=30_000)
            first = page.evaluate(TABLE)
            click_point(page, citrus)
            page.wait_for_function(
                f"() => {{ const t = ({TABLE})(); return t.length > 0 && t !== {json.dumps(first)}; }}", timeout=30_000
            )
            second = page.evaluate(TABLE)
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            if front_end.name == "lab":
                publish(ARTIFACTS / f"{name}.png")  # docs/images/explorer_lab.png (README)

            page.locator(".lm-TabBar-tab", has_text="explanation").first.click()  # built when shown
            page.wait_for_function(
                "() => document.querySelectorAll('.js-plotly-plot').length >= 2 && "
                "document.querySelectorAll('.js-plotly-plot')[1]._fullData.length > 3",
                timeout=30_000,
            )
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / f"{name}_explanation.png"), full_page=True)
            state = kernel_state(page, 1)
            ids = col.ids.tolist()
            assert state["examples"]["positive"] == [ids[apple], ids[citrus]], state
            assert state["examples"]["negative"] == [NEGATIVE], state
            expected = col.recommend(positive=[ids[apple], ids[citrus]], negative=[NEGATIVE])
            assert state["ids"] == expected["id"].tolist()
            for point_id in expected["id"].head(3):
                assert str(point_id) in second
            assert first != second
            # two figures (map, explanation), one copy of plotly's code for the page
            assert state["bundles"] == 1, state

            # a click on a result ring (a layout shape above the points) reaches the points underneath
            page.locator(".lm-TabBar-tab", has_text="results").first.click()
            page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()  # not under the lab's toolbar
            page.wait_for_timeout(300)
            x, y = page.evaluate(RING, [1])
            page.mouse.move(x - 3, y - 3)
            page.mouse.move(x, y)
            page.mouse.click(x, y)
            page.wait_for_function(
                f"() => {{ const t = ({TABLE})(); return t.length > 0 && t !== {json.dumps(second)}; }}", timeout=30_000
            )
            # the status line says a point was added (cell 1 still shows the state printed above):
            # the ringed one or, among the dense results, plotly's nearest point to the cursor
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('.widget-html-content'))"
                f".some(e => e.innerText.includes(') added') && !e.innerText.includes('({ids[citrus]}) added'))",
                timeout=30_000,
            )

            assert not front_end.own_errors(errors), errors
        finally:
            browser.close()
