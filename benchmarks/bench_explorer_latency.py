"""The Explorer as a person meets it: JupyterLab, a fresh kernel, headless Chromium, the mouse.

Measured in the browser (page clock, ``performance.now()``), on a bundled set (default
``stdlib_docs``, 6,041 points, 384-d):

* ``map``: from Shift+Enter on the cell that builds and shows ``ek.Explorer(col)`` (imports,
  load, map, plotly's code sent to the page) to the map's plotly div holding every point;
* ``click``: from a mouse click on a point of the map to the new results table in the page and
  the result rings drawn (``clicks`` clicks on isolated points, each after "clear examples", so
  every click asks a new query); also the websocket frames and bytes the page received for it;
* ``explanation``: from a click on the "explanation" tab to its figure drawn for the new result.

The kernel's own share is ``explorer.timings`` (collected per click from the notebook). Not a
timed test: it prints a table and writes ``benchmarks/results/explorer_latency[_small].json``.
Goals (issue 19): map < 5 s, median click < 250 ms, explanation < 1 s.

    python benchmarks/bench_explorer_latency.py            # stdlib_docs, 15 clicks, 5 explanations
    python benchmarks/bench_explorer_latency.py --small    # 4 clicks, 1 explanation (CI)
    python benchmarks/bench_explorer_latency.py --dataset digits --label before

Needs JupyterLab, Playwright and Debian's chromium (``make test`` installs them); reuses the
JupyterLab helpers of ``tests/browser/test_explorer_lab.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))
sys.path.insert(0, str(HERE.parent / "tests"))  # the browser tests import tests/_chromium.py
from _common import RESULTS, report  # noqa: E402

SETUP = """\
import time as _time
_started = _time.perf_counter()
import explorekit as ek
col = ek.datasets.load({dataset!r}, as_collection=True)
explorer = ek.Explorer(col)
_built = _time.perf_counter() - _started
_kernel = []  # explorer.timings of every query the page asked for
_apply = explorer._apply
def _timed(change):
    ok = _apply(change)
    _kernel.append(dict(explorer.timings))
    return ok
explorer._apply = _timed
display(explorer)"""
REPORT = """\
import json
print("STATE=" + json.dumps({"built_s": _built, "kernel": _kernel, "points": len(col)}))"""

# JS: the base traces of the map (first plotly div): the traces whose meta role is "points"
BASE = "(gd) => gd._fullData.map((t, i) => i).filter(i => ((gd.data[i] || {}).meta || {}).role === 'points')"
# JS: how many points the base traces hold
MAP_POINTS = (
    "() => { const gd = document.querySelector('.js-plotly-plot');"
    " if (!gd || !gd._fullData || !gd.calcdata) return 0;"
    " return (" + BASE + ")(gd).reduce((n, i) => n + (gd._fullData[i]._length || 0), 0); }"
)
CELL_ERROR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
FAILED = f'() => Array.from(document.querySelectorAll("{CELL_ERROR}")).some(e => /Traceback|Error/.test(e.innerText))'
# JS: up to `want` well separated points of the base traces, as [trace, index], nearest-neighbour gap > 6 px
ISOLATED = """([want, seed]) => {
  const gd = document.querySelector('.js-plotly-plot');
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis;
  const pts = [];
  for (const t of (BASE_FN)(gd)) {
    const tr = gd._fullData[t];
    for (let k = 0; k < tr._length; k++) pts.push([t, k, xa.l2p(tr.x[k]), ya.l2p(tr.y[k])]);
  }
  let s = seed;
  const rand = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const out = [];
  for (let tries = 0; tries < 4000 && out.length < want; tries++) {
    const p = pts[Math.floor(rand() * pts.length)];
    if (p[2] < 20 || p[3] < 20 || p[2] > xa._length - 20 || p[3] > ya._length - 20) continue;
    let gap = Infinity;
    for (const q of pts) if (q !== p) gap = Math.min(gap, Math.hypot(q[2] - p[2], q[3] - p[3]));
    if (gap > 6 && !out.some(o => o[0] === p[0] && o[1] === p[1])) out.push([p[0], p[1]]);
  }
  return out;
}""".replace("BASE_FN", BASE)
POINT = """([t, k]) => {
  const gd = document.querySelector('.js-plotly-plot');
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis, tr = gd._fullData[t];
  const box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(tr.x[k]), box.top + ya._offset + ya.l2p(tr.y[k])];
}"""
# JS: the result rings and examples drawn (overlay traces by meta role, or layout shapes by name),
# and the results table's text
STATE = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  const table = document.querySelector('table.ek-results');
  if (!gd || !gd._fullData) return {rings: -1, examples: -1, table: table ? table.innerText : ''};
  const drawn = role => gd._fullData.filter((t, i) => ((gd.data[i] || {}).meta || {}).role === role)
      .reduce((n, t) => n + (t._length || 0), 0)
    + (gd.layout.shapes || []).filter(s => s.name === role && s.visible !== false).length;
  return {rings: drawn('results'), examples: drawn('examples'), table: table ? table.innerText : ''};
}"""
# JS (arg: [rings wanted, table text before]): performance.now() once the click's answer is on screen
ANSWERED = (
    "([rings, before]) => { const s = ("
    + STATE
    + ")(); return s.examples === 1 && s.rings === rings && s.table !== '' && s.table !== before"
    " ? performance.now() : false; }"
)
CLEARED = "() => { const s = (" + STATE + ")(); return s.examples === 0 && s.rings === 0; }"
# JS: a fingerprint of the explanation (second plotly div): its traces' first positions
EXPLANATION_PRINT = """() => { const gd = document.querySelectorAll('.js-plotly-plot')[1];
  if (!gd || !gd._fullData || gd._fullData.length < 3) return '';
  return gd._fullData.map(t => `${t._length}:${t.x && t.x.length ? t.x[0] : ''}:${t.y && t.y.length ? t.y[0] : ''}`).join('|'); }"""
# JS (arg: fingerprint before): performance.now() once the explanation shows a new figure
EXPLAINED = (
    "(before) => { const p = (" + EXPLANATION_PRINT + ")(); const gd = document.querySelectorAll('.js-plotly-plot')[1];"
    " return p !== '' && p !== before && gd.getBoundingClientRect().width > 100 ? performance.now() : false; }"
)
MAP_BOX = """() => { const gd = document.querySelector('.js-plotly-plot'); const r = gd.getBoundingClientRect();
  const out = gd.closest('.jp-OutputArea-output') || gd.parentElement; const o = out.getBoundingClientRect();
  const t = document.querySelector('table.ek-results'); const tr = t ? t.getBoundingClientRect() : null;
  return {map_w: r.width, output_w: o.width, table_top: tr ? tr.top - o.top : -1, table_w: tr ? tr.width : -1}; }"""


# JS run before the page's own code: when the kernel's answers arrive (overlay update, table)
ARRIVALS = """(() => {
  const Original = window.WebSocket, decoder = new TextDecoder();
  window.__ekArrivals = [];
  const kinds = [['overlays', '"_py2js_update": {'], ['overlays', '"_py2js_relayout": {'], ['table', '"value": "<style>.ek-results']];
  window.WebSocket = class extends Original {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        const t = performance.now();
        const text = typeof event.data === 'string' ? event.data
          : event.data instanceof ArrayBuffer ? decoder.decode(new Uint8Array(event.data, 0, Math.min(4096, event.data.byteLength))) : '';
        for (const [kind, mark] of kinds) if (text.includes(mark)) window.__ekArrivals.push([t, kind]);
      });
    }
  };
})();"""
ARRIVED = """(start) => { const out = {}; for (const [t, kind] of window.__ekArrivals)
  if (t >= start && !(kind in out)) out[kind] = t - start; return out; }"""


class Frames:
    """Websocket frames (kernel messages) the page receives, counted from a mark."""

    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0

    def attach(self, page) -> None:
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        self.count += 1
        self.bytes += len(payload)

    def mark(self) -> tuple[int, int]:
        return self.count, self.bytes


def tab(page, title: str):
    import re

    return page.locator(".widget-tab .lm-TabBar-tab").filter(has_text=re.compile(rf"^\s*{title}\s*$")).first


def measure(dataset: str, clicks: int, explanations: int, root: Path, name: str) -> tuple[list[dict], dict]:
    import nbformat
    from playwright.sync_api import sync_playwright
    from test_explorer_lab import ARGS, CHROMIUM, FRONT_ENDS, dismiss_dialogs, jupyter_server, kernel_state

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP.format(dataset=dataset)), nbformat.v4.new_code_cell(REPORT)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, root / "latency.ipynb")
    lab = next(f for f in FRONT_ENDS if f.name == "lab")
    rows: list[dict] = []
    with jupyter_server(root, lab) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.add_init_script(ARRIVALS)
        frames = Frames()
        frames.attach(page)
        try:
            page.goto(url + lab.notebook_path.format(name="latency.ipynb"), timeout=60_000)
            page.on("pageerror", lambda err: print(f"page error: {err}", flush=True))
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            dismiss_dialogs(page, url)  # the kernel has started and is idle: a fresh kernel
            cell = page.locator(".jp-Notebook .jp-Cell").nth(0)
            cell.locator(".jp-InputArea-editor").click()
            t0 = page.evaluate("() => performance.now()")
            page.keyboard.press("Shift+Enter")
            handle = page.wait_for_function(
                f"() => ({FAILED})() ? -1 : ({MAP_POINTS})() > 0 ? performance.now() : false",
                timeout=180_000,
            )
            if handle.json_value() == -1:
                raise RuntimeError("the Explorer cell failed: " + page.locator(CELL_ERROR).first.inner_text()[-2000:])
            rows.append({"step": "cell run -> map drawn", "median_ms": handle.json_value() - t0, "n": 1})
            page.wait_for_selector("text=No result yet", timeout=60_000)
            page.wait_for_timeout(1500)  # plotly's first layout settles
            targets = page.evaluate(ISOLATED, [clicks + explanations, 7])
            if len(targets) < clicks + explanations:
                raise RuntimeError(f"found only {len(targets)} isolated points to click")
            clear = page.locator("button", has_text="clear examples").first
            limit = 10

            def click(target) -> tuple[float, int, int, dict]:
                clear.click()
                page.wait_for_function(CLEARED, timeout=30_000)
                page.wait_for_selector("text=No result yet", timeout=30_000)
                page.wait_for_timeout(150)
                before = page.evaluate(STATE)["table"]
                x, y = page.evaluate(POINT, target)
                page.mouse.move(x - 3, y - 3)
                page.mouse.move(x, y)
                count, size = frames.mark()
                start = page.evaluate("() => performance.now()")
                page.mouse.click(x, y)
                done = page.wait_for_function(ANSWERED, arg=[limit, before], timeout=30_000, polling="raf")
                page.wait_for_timeout(300)  # late frames of the same click still count
                arrived = page.evaluate(ARRIVED, start)
                return done.json_value() - start, frames.count - count, frames.bytes - size, arrived

            click(targets[0])  # warm-up: first query compiles, first table renders
            box = page.evaluate(MAP_BOX)  # the first screen: map width, where the table starts
            page.screenshot(path=str(RESULTS / f"{name}.png"))
            times, counts, sizes, overlays, tables = [], [], [], [], []
            for target in targets[1:clicks]:
                ms, count, size, arrived = click(target)
                times.append(ms)
                counts.append(count)
                sizes.append(size)
                overlays.append(arrived.get("overlays", float("nan")))
                tables.append(arrived.get("table", float("nan")))
            rows.append(
                {
                    "step": "click -> table + rings",
                    "median_ms": statistics.median(times),
                    "p90_ms": sorted(times)[int(0.9 * (len(times) - 1))],
                    "n": len(times),
                    "overlays_in_ms": statistics.median(overlays),
                    "table_in_ms": statistics.median(tables),
                    "frames": statistics.median(counts),
                    "kB": statistics.median(sizes) / 1e3,
                }
            )
            explained = []
            for target in targets[clicks : clicks + explanations]:
                tab(page, "results").click()
                click(target)
                before = page.evaluate(EXPLANATION_PRINT)
                start = page.evaluate("() => performance.now()")
                tab(page, "explanation").click()
                done = page.wait_for_function(EXPLAINED, arg=before, timeout=60_000, polling="raf")
                explained.append(done.json_value() - start)
            rows.append(
                {"step": "explanation tab -> drawn", "median_ms": statistics.median(explained), "n": len(explained)}
            )
            state = kernel_state(page, 1)
        except Exception:
            page.screenshot(path=str(RESULTS / f"{name}_failed.png"), full_page=True)
            raise
        finally:
            browser.close()
    kernel = [k["total"] * 1e3 for k in state["kernel"] if "total" in k]
    meta = {
        "data": f"{dataset}, {state['points']:,} points; JupyterLab, fresh kernel, headless Chromium",
        "kernel_build_s": round(state["built_s"], 2),
        "kernel_click_ms_median": round(statistics.median(kernel), 1) if kernel else None,
        "layout": box,
        "columns": "overlays_in_ms/table_in_ms: when the kernel's overlay update and table arrived in the page",
        "goal": "map < 5 s, median click < 250 ms, explanation < 1 s",
    }
    return rows, meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="a few clicks (CI)")
    parser.add_argument("--dataset", default="stdlib_docs")
    parser.add_argument("--label", default="", help="a word for the results file (before, after)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    clicks, explanations = (4, 1) if args.small else (16, 5)
    if not Path("/usr/bin/chromium").exists():
        print("chromium is missing (`make browser` installs Debian's); benchmark not run")
        return 1
    started = time.perf_counter()
    name = "explorer_latency" + ("_small" if args.small else "") + (f"_{args.label}" if args.label else "")
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ek-latency-") as tmp:
        rows, meta = measure(args.dataset, clicks, explanations, Path(tmp), name)
    meta["wall_s"] = round(time.perf_counter() - started, 1)
    report(name, rows, meta)
    print(json.dumps({k: v for k, v in meta.items() if k != "data"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
