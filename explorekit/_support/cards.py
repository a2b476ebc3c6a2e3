"""Cards: what a collection or a report shows in a notebook (``_repr_html_``) and as text.

One :class:`Card` holds a title, a few facts and tables; :meth:`Card.html` writes it as a small
HTML block (every value escaped with ``html.escape``: payload keys, names and URLs are user data)
and :meth:`Card.text` as the lines of a ``__repr__``. Long cells are cut with
:func:`~explorekit._support.text.shorten`, long tables after :data:`MAX_ROWS` rows.

Examples
--------
>>> card = Card("Collection 'pets'", [("points", "3")], [Table("payload", ["key", "type"], [["<b>", "str"]])])
>>> ">&lt;b&gt;</td>" in card.html()
True
>>> print(card.text())
<Collection 'pets': points 3
  payload: <b> (str)>
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

from explorekit._support.text import shorten

MAX_ROWS = 20  # rows of a table shown before "... and N more"
_CELL = 60  # characters of a cell
_STYLE = (
    "font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;line-height:1.4;"
    "border-left:3px solid #6c5ce7;padding:4px 10px;margin:2px 0"
)


@dataclass
class Table:
    """A titled table of text cells (``rows`` of the same length as ``columns``)."""

    title: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class Card:
    """A title, ``(label, value)`` facts and tables; shown as HTML or as text."""

    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    def html(self) -> str:
        """The card as one escaped HTML block (for ``_repr_html_``)."""
        facts = " &middot; ".join(f"{_e(label)} <b>{_e(value)}</b>" for label, value in self.facts)
        parts = [f'<div class="explorekit-card" style="{_STYLE}">', f"<div><b>{_e(self.title)}</b></div>"]
        if facts:
            parts.append(f"<div>{facts}</div>")
        parts.extend(_table_html(table) for table in self.tables if table.rows)
        parts.append("</div>")
        return "\n".join(parts)

    def text(self) -> str:
        """The card as the text of a ``__repr__``: the title and facts, then one line per table."""
        head = self.title + (": " + ", ".join(f"{label} {value}" for label, value in self.facts) if self.facts else "")
        lines = [head] + [f"  {t.title}: {_table_line(t)}" for t in self.tables if t.rows]
        return "<" + "\n".join(lines) + ">"


def size_text(nbytes: float) -> str:
    """Bytes for people: ``1.5 kB``, ``12.3 MB`` (powers of 1000, as files are shown).

    >>> size_text(0), size_text(1500), size_text(12_345_678)
    ('0 B', '1.5 kB', '12.3 MB')
    """
    value = float(nbytes)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - the loop returns at GB


def _e(value: object) -> str:
    return html.escape(shorten(str(value), _CELL), quote=True)


def _table_html(table: Table) -> str:
    head = "".join(f'<th style="text-align:left;padding:0 8px 0 0">{_e(c)}</th>' for c in table.columns)
    body = "".join(
        "<tr>" + "".join(f'<td style="text-align:left;padding:0 8px 0 0">{_e(v)}</td>' for v in row) + "</tr>"
        for row in table.rows[:MAX_ROWS]
    )
    more = _more(table.rows)
    foot = f'<tr><td colspan="{len(table.columns)}"><i>{_e(more)}</i></td></tr>' if more else ""
    return (
        f"<details open><summary>{_e(table.title)} ({len(table.rows)})</summary>"
        f'<table style="border-collapse:collapse;margin:2px 0 4px 12px"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}{foot}</tbody></table></details>"
    )


def _table_line(table: Table) -> str:
    cells = [f"{row[0]} ({', '.join(shorten(str(v), _CELL) for v in row[1:])})" for row in table.rows[:8]]
    more = f", ... and {len(table.rows) - 8} more" if len(table.rows) > 8 else ""
    return ", ".join(cells) + more


def _more(rows: Sequence[object]) -> str:
    return f"... and {len(rows) - MAX_ROWS} more" if len(rows) > MAX_ROWS else ""
