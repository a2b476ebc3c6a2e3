"""Markdown for report text: CommonMark plus tables (markdown-it-py), no raw HTML, safe links.

Raw HTML is off, so ``<script>`` or ``<b onclick=...>`` in the text shows as text. A link or
image keeps its target only when :func:`safe_url` allows it (``http:``, ``https:``,
``mailto:`` or a relative link on the same host); a link or image with any other target is
not made, and its Markdown shows as text. ``#`` headings start at ``<h2>`` (the report title
is the only ``<h1>``).

>>> render("# Hi\\n\\nSome **bold** and `code`.")
'<h2>Hi</h2>\\n<p>Some <strong>bold</strong> and <code>code</code>.</p>\\n'
>>> inline("[docs](https://qdrant.tech) [x](//evil.example/x)")
'<a href="https://qdrant.tech">docs</a> [x](//evil.example/x)'
"""

from __future__ import annotations

import re

import mdurl
from markdown_it import MarkdownIt
from markdown_it.token import Token

#: URL schemes a link or image may have; anything else (javascript:, data:, vbscript:, file:, ...) is refused
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
#: what a browser strips from both ends of a URL (C0 controls and space) and removes inside it (tab, newline)
_ENDS = "".join(map(chr, range(0x21)))
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
#: a URL that starts like this names another host ("//host", and "/\\host" which browsers read as "//host")
_OTHER_HOST = re.compile(r"[/\\]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: a colon before the first "/", "?" or "#" of a URL without a valid scheme: not a relative link (RFC 3986
#: writes those "./a:b"), so a browser might read a scheme into it
_COLON_FIRST = re.compile(r"[^/?#]*:")


def safe_url(url: str) -> bool:
    """True for an ``http(s):`` or ``mailto:`` URL or a link on the same host; False otherwise.

    The URL is read the way a browser reads it (control characters and spaces at the ends
    stripped, tabs and newlines inside removed, backslashes as slashes), both as written and
    percent-decoded, and refused if either reading has another scheme or starts with ``//``.

    >>> [safe_url(u) for u in ["https://a.org/x", "notes.html#top", "mailto:me@a.org"]]
    [True, True, True]
    >>> [safe_url(u) for u in ["//evil.org/x", "/\\\\evil.org", "JaVa%0AScRiPt:alert(1)", "data:image/png;base64,AA"]]
    [False, False, False, False]
    """
    if not url.strip(_ENDS):
        return False
    for reading in {url, mdurl.decode(url, "")}:
        text = _TAB_NEWLINE.sub("", reading.strip(_ENDS))
        scheme = _SCHEME.match(text)
        if scheme is not None and scheme.group(1).lower() not in ALLOWED_SCHEMES:
            return False
        if scheme is None and (_OTHER_HOST.match(text) or _CONTROL.search(text) or _COLON_FIRST.match(text)):
            return False
    return True


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    md.validateLink = safe_url  # links, images, autolinks and reference definitions
    return md


_MD = _parser()


def _shift_headings(tokens: list[Token], shift: int) -> list[Token]:
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1:]) + shift)}"
    return tokens


def render(text: str, heading_shift: int = 1) -> str:
    """Markdown text to HTML. ``#`` becomes ``<h2>`` (pass ``heading_shift=0`` to keep ``<h1>``).

    >>> render("| a | b |\\n|---|---|\\n| 1 | 2 |").count("<td>")
    2
    """
    tokens = _shift_headings(_MD.parse(text), heading_shift)
    return _MD.renderer.render(tokens, _MD.options, {})


def inline(text: str) -> str:
    """Markdown of one line (a caption) to HTML without a paragraph around it.

    >>> inline("*seed* 0 <b>")
    '<em>seed</em> 0 &lt;b&gt;'
    """
    return _MD.renderInline(text)
