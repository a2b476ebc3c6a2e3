"""A small, safe Markdown subset for report text (no dependency, no raw HTML).

Supported: ATX headings (``#`` .. ``######``), paragraphs, ``-``/``*``/``1.`` lists (one level),
fenced code blocks (```````), block quotes (``>``), horizontal rules (``---``), and inline
``**bold**``, ``*italic*``, ```code```, ``[text](url)`` and ``![alt](src)``. Everything else
is escaped text: a report never runs HTML that came in as Markdown.

>>> render("# Hi\\n\\nSome **bold** and `code`.")
'<h2>Hi</h2>\\n<p>Some <strong>bold</strong> and <code>code</code>.</p>'
"""

from __future__ import annotations

import html
import re

_SAFE_URL = re.compile(r"^(https?:|mailto:|#|\./|\.\./|data:image/(png|jpeg|gif|webp);|[\w\-./]+$)", re.I)
_INLINE = re.compile(
    r"(?P<code>`[^`]+`)"
    r"|(?P<img>!\[[^\]]*\]\([^)\s]+\))"
    r"|(?P<link>\[[^\]]+\]\([^)\s]+\))"
    r"|(?P<bold>\*\*[^*]+\*\*)"
    r"|(?P<em>(?<![\w*])\*[^*\s][^*]*\*(?!\w))")


def _url(raw: str) -> str:
    return html.escape(raw, quote=True) if _SAFE_URL.match(raw) else "#"


def inline(text: str) -> str:
    """Inline Markdown of one line to HTML (text is escaped)."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos:m.start()], quote=False))
        token, kind = m.group(0), m.lastgroup
        if kind == "code":
            out.append(f"<code>{html.escape(token[1:-1], quote=False)}</code>")
        elif kind == "img":
            alt, src = token[2:-1].split("](", 1)
            out.append(f'<img alt="{html.escape(alt)}" src="{_url(src)}">')
        elif kind == "link":
            label, href = token[1:-1].split("](", 1)
            out.append(f'<a href="{_url(href)}">{inline(label)}</a>')
        elif kind == "bold":
            out.append(f"<strong>{inline(token[2:-2])}</strong>")
        else:
            out.append(f"<em>{inline(token[1:-1])}</em>")
        pos = m.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def render(text: str, heading_shift: int = 1) -> str:
    """Markdown text to HTML. ``#`` becomes ``<h2>`` (the report title is the only ``<h1>``)."""
    lines = text.strip("\n").splitlines()
    blocks: list[str] = []
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            blocks.append(f"<p>{inline(' '.join(s.strip() for s in para))}</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            code = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            blocks.append(f"<pre><code>{html.escape(chr(10).join(code), quote=False)}</code></pre>")
        elif not stripped:
            flush()
        elif m := re.match(r"^(#{1,6})\s+(.*)$", stripped):
            flush()
            level = min(6, len(m.group(1)) + heading_shift)
            blocks.append(f"<h{level}>{inline(m.group(2).rstrip('#').strip())}</h{level}>")
        elif re.match(r"^(-{3,}|\*{3,})$", stripped):
            flush()
            blocks.append("<hr>")
        elif re.match(r"^([-*]|\d+[.)])\s+", stripped):
            flush()
            ordered = stripped[0].isdigit()
            items = []
            while i < len(lines) and (m := re.match(r"^\s*([-*]|\d+[.)])\s+(.*)$", lines[i])):
                item = [m.group(2)]
                while (i + 1 < len(lines) and lines[i + 1].startswith("  ") and lines[i + 1].strip()
                       and not re.match(r"^\s*([-*]|\d+[.)])\s+", lines[i + 1])):
                    i += 1
                    item.append(lines[i].strip())
                items.append(f"<li>{inline(' '.join(item))}</li>")
                i += 1
            tag = "ol" if ordered else "ul"
            blocks.append(f"<{tag}>{''.join(items)}</{tag}>")
            continue
        elif stripped.startswith(">"):
            flush()
            quote = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                quote.append(lines[i].strip()[1:].strip())
                i += 1
            blocks.append(f"<blockquote>{render(chr(10).join(quote), heading_shift)}</blockquote>")
            continue
        else:
            para.append(line)
        i += 1
    flush()
    return "\n".join(blocks)
