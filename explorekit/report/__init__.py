"""Self-contained HTML reports that keep exploration alive without a kernel.

``ek.Report(title)`` collects Markdown text, plotly figures and result DataFrames;
``.save(path)`` writes one HTML file that works offline: plotly.js is inlined once per report
(not once per figure), every figure is drawn by ``Plotly.newPlot`` from its JSON, and a small
script (``_assets/report.js``) keeps two things working with no Python behind the page:

* clicking a point of a map shows its nearest neighbours with their scores in a side panel and
  rings them on the map; a search box above the map finds a point by its label (prefix matches
  first, then any part of the label; arrow keys, Enter, Escape) and opens it the same way.
  Points are named by their label field with the id beside it, neighbours with their category
  too (:func:`explorekit.query.display.label_field` and ``category_field``, as in the Explorer). They are exact top-k answers of ``col.search(id)`` computed when the
  figure was added with ``collection=`` (at most ``max_points`` points, default 5,000; a
  seeded sample beyond that, as the caption says);
* a neighbour graph (:func:`explorekit.plots.graph`) added with ``collection=`` works the same
  way: a click on a node lists its ``limit`` nearest (the nodes its edges lead to) and rings
  those in the graph;
* result tables stay browsable: sortable, filterable (the row count follows the filter), each
  with the request that made it (``attrs["query"]``, its examples named by label), ties said out
  loud (``attrs["ties"]``: how many points share the last score and in which order they were
  cut), and a row whose point is on a map shows it and its neighbours.

Text is data, never code: Markdown has no raw HTML and only ``http(s):``, ``mailto:`` and
relative links (:mod:`._markdown`); every other string is escaped, and JSON in the page is
strict (a point whose coordinates are not finite is left out of its figure, and the caption
says how many). ``save`` writes a temporary file of its own (``tempfile.mkstemp``) beside the
target and renames it over the target, so a reader sees the old page or the new one, and a
link planted under any name is never written through.

Widgets are never serialised: a ``FigureWidget`` is added as the plain figure it shows, and the
Explorer hands over its current state (its map, examples and result) through
``_report_items_()``.

Examples
--------
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
>>> report = ek.Report("Three points").add("Hello **world**.").add(col.search([1.0, 0.0], limit=2))
>>> len(report), report.items
(2, ['markdown', 'table'])
>>> html = report.to_html()            # or report.save("report.html")
>>> html.count("<table"), len(html) < 100_000      # no figure, so no plotly.js
(1, True)
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import html
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

import pandas as pd

from explorekit import __version__
from explorekit._support.cards import Card, Table, size_text
from explorekit._support.errors import ExploreError, PersistenceError, short_repr
from explorekit.query.display import name_with_id
from explorekit.query.results import results_text
from explorekit.report import _figures, _markdown, _neighbours, _tables, tables
from explorekit.report._notebook import setup_notebook

__all__ = ["Report", "setup_notebook"]

_ASSETS = Path(__file__).resolve().parent / "_assets"


@dataclass
class _Block:
    kind: Literal["markdown", "figure", "table"]
    title: str | None
    html: str = ""
    figure_json: str | None = None
    explore: dict[str, Any] | None = None
    caption: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Report:
    """An HTML report built by chaining ``add`` calls; ``save`` writes one offline file.

    Parameters
    ----------
    title : str
        The page title and heading.
    description : str, optional
        Markdown shown under the title.

    Examples
    --------
    >>> import explorekit as ek
    >>> r = ek.Report("Empty").add("# Notes\\nNothing yet.")
    >>> "<h2>Notes</h2>" in r.to_html()
    True
    """

    def __init__(self, title: str = "explorekit report", *, description: str | None = None) -> None:
        if not isinstance(title, str) or not title.strip():
            raise ExploreError(f"Report(title={short_repr(title)}): the title must be a non-empty string.")
        if description is not None and not isinstance(description, str):
            raise ExploreError(f"Report(description={short_repr(description)}): pass Markdown text or None.")
        self.title = title
        self.description = description
        self._blocks: list[_Block] = []
        self._saved: tuple[Path, int] | None = None  # the last file written and its size in bytes

    def __len__(self) -> int:
        return len(self._blocks)

    def __repr__(self) -> str:
        return self._card().text()

    def _repr_html_(self) -> str:
        """The notebook's view: the items in order and, once saved, the file and its size."""
        return self._card().html()

    def _card(self) -> Card:
        saved = self._saved
        facts = [("contents", f"{len(self)} item(s)"), ("saved", str(saved[0]) if saved else "not yet")]
        if saved:
            facts.append(("file size", size_text(saved[1])))
        rows = [[f"{i + 1}", b.kind, b.title or ""] for i, b in enumerate(self._blocks)]
        return Card(f"explorekit.Report {self.title!r}", facts, [Table("item(s)", ["#", "kind", "title"], rows)])

    @property
    def items(self) -> list[str]:
        """The kind of each item, in order (``"markdown"``, ``"figure"`` or ``"table"``)."""
        return [b.kind for b in self._blocks]

    # ------------------------------------------------------------------ adding
    def add(
        self,
        item: Any,
        *,
        title: str | None = None,
        caption: str | None = None,
        collection: Any = None,
        using: str | None = None,
        k: int | None = None,
        max_points: int = 5000,
        label: str | None = None,
        request: dict[str, Any] | None = None,
        max_rows: int = 200,
    ) -> "Report":
        """Add Markdown text, a plotly figure or a result DataFrame; returns the report.

        Parameters
        ----------
        item : str, plotly Figure / FigureWidget, DataFrame, or an object with ``_report_items_()``
            Text is Markdown. A figure is drawn as is. A DataFrame is shown as a table with the
            request from ``attrs["query"]`` (or ``request=``).
        title : str, optional
            A heading above the item.
        caption : str, optional
            Markdown under a figure or table.
        collection : Collection or QdrantCollection, optional
            For a map (a figure whose traces carry point ids in ``customdata``): precompute each
            shown point's exact top-``k`` neighbours in this collection so that a click shows
            them in the saved page. Takes about 1-2 ms per point. For a result table: name the
            request's examples by their label (a map added with ``collection=`` anywhere in the
            report names them too).
        using : str, optional
            The vector name the neighbours are computed with (for a graph of
            :func:`explorekit.plots.graph`: the graph's own, unless given).
        k : int, optional
            Neighbours per point: 5, or a graph's ``limit`` (so a click on a node lists the
            neighbours its edges lead to).
        max_points : int, default 5000
            At most this many points get neighbours (a seeded random sample beyond that).
        label : str, optional
            The payload field that names each point (on the map's search box, in its panel and
            in request summaries); default :func:`explorekit.query.display.label_field`'s choice
            (the first short, mostly distinct text field), as in the Explorer.
        request : dict, optional
            The request of a DataFrame that has lost its ``attrs`` (e.g. after ``concat``).
        max_rows : int, default 200
            Rows of a table written to the page.

        Raises
        ------
        ExploreError
            An item of another type, a bad argument, or a figure without ids for ``collection``.
        """
        if hasattr(item, "_report_items_") and not isinstance(item, (str, pd.DataFrame)):
            for sub, options in item._report_items_():
                self.add(sub, **options)
            return self
        if _is_explorer(item):
            return self._add_explorer(item, title=title, k=5 if k is None else k, max_points=max_points, label=label)
        if isinstance(item, str):
            self._blocks.append(_Block("markdown", title, html=_markdown.render(item)))
            return self
        if isinstance(item, pd.DataFrame):
            return self._add_table(item, title, caption, request, max_rows, collection, label)
        if _is_figure(item):
            return self._add_figure(item, title, caption, collection, using, k, max_points, label)
        raise ExploreError(
            f"Report.add: cannot add {type(item).__name__} ({short_repr(item, 60)}). Pass Markdown text "
            "(str), a plotly figure (go.Figure, or a FigureWidget, added as its plain figure), a result "
            "DataFrame, or an ek.Explorer."
        )

    def _add_explorer(
        self, explorer: Any, *, title: str | None, k: int, max_points: int, label: str | None
    ) -> "Report":
        """The Explorer's current state: its map (clickable), examples, result and explanation.
        Points are named by the Explorer's own label field unless ``label`` says otherwise."""
        snap = explorer.snapshot()
        col, using = explorer.state.col, explorer.state.using
        if label is None:
            label = getattr(getattr(explorer, "labels", None), "name", None)
        blocks_before = len(self._blocks)
        try:
            self._add_figure(snap["map"], None, None, col, using, k, max_points, label)
            named = self._blocks[-1].explore or {}
            examples = {role: ids for role, ids in (snap.get("examples") or {}).items() if ids}
            lines = [
                f"<li><b>{html.escape(role)}</b>: {html.escape(_example_names(ids, named.get('labels', {})))}</li>"
                for role, ids in examples.items()
            ]
            text = "<p>Explorer state when the report was made." + (
                "</p><ul>" + "".join(lines) + "</ul>" if lines else " No examples were chosen.</p>"
            )
            self._blocks.insert(-1, _Block("markdown", title or "Explorer", html=text))
            if snap.get("result") is not None:
                self._add_table(snap["result"], "Result", None, snap.get("query"), 200, None, label)
            if snap.get("explanation") is not None and len(snap["explanation"].data):
                self._add_figure(snap["explanation"], "Why these results", None, None, None, k, max_points, label)
            if snap.get("path") is not None:
                self._add_figure(snap["path"], "Score along the path", None, None, None, k, max_points, label)
        except Exception:
            del self._blocks[blocks_before:]  # nothing half-added
            raise
        return self

    def _add_table(
        self,
        frame: pd.DataFrame,
        title: str | None,
        caption: str | None,
        request: dict[str, Any] | None,
        max_rows: int,
        collection: Any = None,
        label: str | None = None,
    ) -> "Report":
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise ExploreError(f"max_rows: {short_repr(max_rows)} is not a positive integer.")
        if request is not None and not isinstance(request, dict):
            raise ExploreError(f"request: {short_repr(request)} is not a dict (a Qdrant /points/query body).")
        body = request if request is not None else frame.attrs.get("query")
        json.dumps(body, default=str)  # fails early on something that cannot be shown
        examples = _tables.example_ids(body)
        names = _neighbours.point_names(collection, examples, label)["labels"] if collection is not None else {}
        rest = len(frame) - max_rows
        note = f'<p class="ek-note">{rest:,} more row(s) not written (max_rows={max_rows}).</p>' if rest > 0 else ""
        ties = ""
        if frame.attrs.get("ties"):  # ties said out loud, as in the Explorer's status line
            ties = f'<p class="ek-ties" role="note">{html.escape(results_text(frame))}</p>'
        written = min(len(frame), max_rows)
        tools = (
            f'<div class="ek-tools"><input class="ek-filter" type="search" placeholder="Filter rows" '
            f'aria-label="Filter rows"><span class="ek-count" data-rows="{written}" aria-live="polite">'
            f"{len(frame):,} row(s)</span><span>click a header to sort</span></div>"
        )
        markup = (
            ties
            + tools
            + '<div class="ek-scroll">'
            + tables.result_table(frame, max_rows=max_rows)
            + "</div>"
            + note
            + (f'<p class="ek-note">{_markdown.inline(caption)}</p>' if caption else "")
        )
        self._blocks.append(_Block("table", title, html=markup, extra={"request": body, "names": names}))
        return self

    def _add_figure(
        self,
        fig: Any,
        title: str | None,
        caption: str | None,
        collection: Any,
        using: str | None,
        k: int | None,
        max_points: int,
        label: str | None,
    ) -> "Report":
        import plotly.graph_objects as go

        # go.Figure(fig) copies and keeps numpy arrays (fig.to_dict() would turn them into binary specs)
        plain = fig if type(fig) is go.Figure else go.Figure(fig)
        if plain is fig and _figures.has_non_finite(fig.data):
            plain = go.Figure(fig)  # never change the caller's figure
        left_out = _figures.drop_non_finite(plain.data)
        explore = None
        if collection is not None:
            graph = _figures.graph_settings(plain)
            k = k if k is not None else graph.get("limit") or 5
            using = using if using is not None else graph.get("using")
            explore = _neighbours.precompute(
                list(plain.data), collection, using=using, k=k, max_points=max_points, label=label
            )
        name = title or re.sub(r"<[^>]+>", " ", plain.layout.title.text or "").strip() or None
        self._blocks.append(
            _Block(
                "figure",
                title,
                figure_json=plain.to_json(),
                explore=explore,
                caption=caption,
                extra={"name": name, "left_out": left_out},
            )
        )
        return self

    # ------------------------------------------------------------------ writing
    @overload
    def to_html(self, path: None = None) -> str: ...
    @overload
    def to_html(self, path: str | Path) -> Path: ...

    def to_html(self, path: str | Path | None = None) -> str | Path:
        """The report as one HTML document (a ``str``), or written to ``path`` as ``save`` does."""
        if path is None:
            return self._page()
        return self._written(_write(_html_path(path, "to_html"), self._page()))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the report to ``path`` (one offline HTML file) and return its absolute Path.

        The page goes to a new temporary file beside ``path`` (``tempfile.mkstemp``), is flushed
        to disk and renamed over ``path`` in one step: a reader sees the old page or the new
        one, a failed write leaves no temporary file behind, and a symbolic link at ``path`` or
        anywhere near it is replaced, never written through.

        Raises
        ------
        ExploreError
            ``path`` is not a path (``None``, ``""``), is a folder, or does not end in ``.html``.
        PersistenceError
            The file could not be written (no such folder, no permission, disk full); the
            message names the path.
        """
        return self._written(_write(_html_path(path, "save"), self._page()))

    def _written(self, path: Path) -> Path:
        self._saved = (path, path.stat().st_size)
        return path

    def _page(self) -> str:
        sections, specs = [], []
        n_fig = 0
        known_names = {key: text for b in self._blocks if b.explore for key, text in b.explore["labels"].items()}
        for i, block in enumerate(self._blocks):
            head = f"<h2>{html.escape(block.title)}</h2>" if block.title else ""
            if block.kind == "figure":
                n_fig += 1
                spec = (
                    '{"figure":'
                    + (block.figure_json or "{}")
                    + ',"explore":'
                    + json.dumps(block.explore, allow_nan=False)
                    + "}"
                )
                specs.append(f'<script type="application/json" id="ek-spec-{i}">{_safe(spec)}</script>')
                notes = [_figures.left_out_note(block.extra["left_out"])] if block.extra.get("left_out") else []
                notes += [block.explore["note"]] if block.explore else []
                caption = " ".join(
                    filter(None, [_markdown.inline(block.caption) if block.caption else "", *map(html.escape, notes)])
                )
                body = (
                    f'<figure class="ek-figure"><div class="ek-plot" id="ek-plot-{i}" data-spec="ek-spec-{i}" '
                    f'data-title="{html.escape(block.extra.get("name") or f"figure {n_fig}")}"></div>'
                    + (f"<figcaption>{caption}</figcaption>" if caption else "")
                    + "</figure>"
                )
            elif block.kind == "table":
                names = {**known_names, **block.extra["names"]}
                body = f'<div class="ek-result">{_tables.request_html(block.extra["request"], names)}{block.html}</div>'
            else:
                body = block.html
            sections.append(f'<section class="ek-{block.kind}" id="item-{i}">{head}{body}</section>')
        plotly_js = ""
        if n_fig:
            from plotly.offline import get_plotlyjs

            plotly_js = f'<script type="text/javascript">{get_plotlyjs()}</script>'
        stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        description = _markdown.render(self.description) if self.description else ""
        css = (_ASSETS / "report.css").read_text()
        js = (_ASSETS / "report.js").read_text()
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="explorekit {__version__}">'
            f"<title>{html.escape(self.title)}</title><style>{css}</style>{plotly_js}</head>\n<body>"
            f'<header class="ek-head"><h1>{html.escape(self.title)}</h1>{description}'
            f'<p class="ek-meta">explorekit {__version__} \u00b7 {stamp} \u00b7 {len(self._blocks)} item(s) \u00b7 '
            "works offline; find a point by name or click it on a map to see its nearest neighbours</p></header>\n"
            f'<main>{"".join(sections)}</main>\n<aside id="ek-panel" hidden aria-live="polite"></aside>\n'
            f"<footer class=\"ek-foot\">Made with explorekit. Scores are the collection's own (Qdrant's "
            "semantics); neighbours were computed exactly when the report was saved.</footer>\n"
            + "\n".join(specs)
            + f"\n<script>{js}</script>\n</body></html>\n"
        )


def _example_names(ids: list[Any], labels: dict[str, str]) -> str:
    """Example ids (or context pairs) as people read them, each named by its label (``labels``:
    point key -> text).

    >>> _example_names([2778, 3950], {"2778": "dumps"}), _example_names([(1, 2)], {"2": "loads"})
    ('dumps (2778), 3950', '+1 / −loads (2)')
    """

    def named(pid: Any) -> str:
        return name_with_id(labels.get(_neighbours.point_key(pid)), pid)

    return ", ".join(
        f"+{named(i[0])} / \u2212{named(i[1])}" if isinstance(i, (tuple, list)) and len(i) == 2 else named(i)
        for i in ids
    )


def _is_explorer(item: Any) -> bool:
    """An ``ek.Explorer`` (duck-typed, so the report never imports the widgets)."""
    return callable(getattr(item, "snapshot", None)) and hasattr(getattr(item, "state", None), "col")


def _is_figure(item: Any) -> bool:
    try:
        from plotly.basedatatypes import BaseFigure
    except ImportError:  # pragma: no cover - plotly is a dependency
        return False
    return isinstance(item, BaseFigure)


def _safe(text: str) -> str:
    """JSON that can sit inside a <script> element (no ``</script>`` or ``<!--`` can appear)."""
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _html_path(path: object, what: str) -> Path:
    """``path`` as a Path to an ``.html`` file, or an ExploreError saying what to pass."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path.strip():
        raise ExploreError(f"{what}: {short_repr(path)} is not a file path. Pass e.g. 'report.html'.")
    target = Path(path).expanduser()
    if target.is_dir():
        raise ExploreError(
            f"{what}: {str(target)!r} is a folder. Pass a file path, e.g. {str(target / 'report.html')!r}."
        )
    if target.suffix.lower() not in (".html", ".htm"):
        raise ExploreError(f"{what}: {str(target)!r} does not end in .html. Pass a path like 'report.html'.")
    return target


def _write(path: Path, page: str) -> Path:
    """Write ``page`` to ``path`` through a temporary file of its own, renamed over ``path``."""
    try:
        data = page.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ExploreError(
            f"save: the report holds text that is not valid Unicode ({err.reason} at "
            f"{short_repr(page[max(0, err.start - 20) : err.end + 20])}). Clean that text "
            "(e.g. decode bytes with errors='replace') before adding it."
        ) from None
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, _new_file_mode())
        os.replace(tmp, path)
    except BaseException as err:  # also an interrupt: never leave the temporary file
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(err, OSError):
            raise PersistenceError(
                f"save: could not write {str(path)!r}: {err.strerror or err}. Check that "
                "the folder is writable and has space, or pass another path."
            ) from err
        raise
    return path.resolve()


def _new_file_mode() -> int:
    """The permissions ``open`` gives a new file (0o666 less the umask); mkstemp's are 0o600.

    Reading the umask means setting it and setting it back at once (Python has no getter); a
    file another thread creates in that instant gets mode 0o644 at most.
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask
