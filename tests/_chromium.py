"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright, offline.

Never downloads a browser (no ``playwright install``). Every request that is not ``file://`` is
aborted and recorded, which proves a page works offline. Console errors, page errors and dialogs
(an ``alert`` that injected text managed to run) are collected for the test to assert on. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("EXPLOREKIT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DOCS_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


def chromium_path() -> str:
    """The system chromium, or a test failure that says how to get it."""
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. `make test` installs it (the Makefile target "
            "`browser` runs apt-get install chromium); or run: apt-get update && apt-get install -y "
            "chromium. Never `playwright install`.",
            pytrace=False,
        )
    return path


@dataclass
class PageLog:
    """What happened while a page was open."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)  # alert/confirm/prompt messages, each dismissed

    @property
    def errors(self) -> list[str]:
        return self.console_errors + self.page_errors


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield instance
        finally:
            instance.close()


@contextmanager
def offline_page(instance: Any, url: str, *, width: int = 1400, height: int = 900) -> Iterator[tuple[Any, PageLog]]:
    """Open ``url`` (a file:// URL) with every other request aborted; yields (page, log)."""
    log = PageLog()
    page = instance.new_page(viewport={"width": width, "height": height})

    def route(request_route: Any) -> None:
        if request_route.request.url.startswith("file://"):
            request_route.continue_()
        else:
            log.blocked.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda msg: log.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: log.page_errors.append(str(err)))

    def dialog(shown: Any) -> None:
        log.dialogs.append(shown.message)
        shown.dismiss()

    page.on("dialog", dialog)
    try:
        page.goto(Path(url).resolve().as_uri() if not url.startswith("file://") else url)
        yield page, log
    finally:
        page.close()


def screenshot(page: Any, name: str, *, docs: bool = False, full_page: bool = False) -> Path:
    """Save a PNG under tests/artifacts/ (and docs/images/ when ``docs`` and EXPLOREKIT_DOCS_IMAGES=1)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if docs and os.environ.get("EXPLOREKIT_DOCS_IMAGES") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMAGES / f"{name}.png")
    return path


#: JS: the page position of point ``index`` of trace ``trace`` in the plot ``selector``.
POINT_POSITION = """([selector, trace, index]) => {
  const gd = document.querySelector(selector);
  const fl = gd._fullLayout, tr = gd._fullData[trace];
  const xa = fl[(tr.xaxis || 'x').replace('x', 'xaxis')], ya = fl[(tr.yaxis || 'y').replace('y', 'yaxis')];
  const r = gd.getBoundingClientRect();
  return [r.left + xa._offset + xa.l2p(tr.x[index]), r.top + ya._offset + ya.l2p(tr.y[index])];
}"""


def click_point(page: Any, plot_id: str, trace: int, index: int, *, expect: str, tries: int = 3) -> None:
    """Click point ``index`` of ``trace`` in plot ``#plot_id`` until ``expect`` (a selector) shows.

    A plot that is still settling (the page making room for the panel, a resize on a loaded machine)
    moves its points between reading a position and clicking it; so wait until the point has stayed
    put for a few animation frames, click, and if ``expect`` does not show, read the position again.
    A page that never answers a click still fails after ``tries`` clicks.
    """
    from playwright.sync_api import TimeoutError as PageTimeout

    for attempt in range(tries):
        page.locator("#" + plot_id).scroll_into_view_if_needed()
        page.wait_for_function(STABLE_POSITION, arg=["#" + plot_id, trace, index], timeout=10_000, polling=50)
        x, y = page.evaluate(POINT_POSITION, ["#" + plot_id, trace, index])
        page.mouse.move(x - 2, y - 2)
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        try:
            page.wait_for_selector(expect, timeout=5_000 if attempt < tries - 1 else 10_000)
            return
        except PageTimeout:
            if attempt == tries - 1:
                raise


#: JS: true once point ``index`` has been at the same page position for 4 checks in a row.
STABLE_POSITION = (
    "([selector, trace, index]) => {\n  const where = ("
    + POINT_POSITION
    + """)([selector, trace, index]).join(',');
  const gd = document.querySelector(selector);
  if (gd.__ekLast === where) { gd.__ekSame = (gd.__ekSame || 0) + 1; } else { gd.__ekLast = where; gd.__ekSame = 0; }
  return gd.__ekSame >= 4;
}"""
)

#: JS (argument: a CSS selector): for every plot div, whether it drew (its SVG and its traces).
PLOT_STATUS = """(selector) => Array.from(document.querySelectorAll(selector)).map(
  d => ({id: d.id, svg: d.querySelectorAll('svg.main-svg').length,
         traces: d._fullData ? d._fullData.length : -1}))"""


def type_into(page: Any, selector: str, text: str) -> None:
    """Focus ``selector`` (an input), clear it and type ``text`` key by key, as a person would."""
    box = page.locator(selector)
    box.scroll_into_view_if_needed()
    box.click()
    box.fill("")
    page.keyboard.type(text)


#: JS (argument: a CSS selector of a search box's input): its hits as [{label, id, category, selected}].
SEARCH_HITS = """(selector) => {
  const input = document.querySelector(selector);
  const list = document.getElementById(input.getAttribute('aria-controls'));
  if (list.hidden) return [];
  return Array.from(list.querySelectorAll('[role=option]')).map(li => ({
    label: li.querySelector('.ek-hit-label').textContent, id: li.dataset.id,
    category: (li.querySelector('.ek-cat') || {}).textContent || null,
    selected: li.getAttribute('aria-selected') === 'true'}));
}"""
