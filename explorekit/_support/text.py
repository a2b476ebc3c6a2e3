"""Text shown to people, cut to fit: the one rule of every table cell, label and summary."""

from __future__ import annotations

import re


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis when it was longer.

    >>> shorten("abcdef", 4), shorten("abc", 4)
    ('abc…', 'abc')
    """
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


_ROLE = re.compile(r":[\w.+-]+(?::[\w.+-]+)*:`(?P<body>[^`]+)`")  # :func:`x`, :py:class:`~a.B`
_LITERAL = re.compile(r"``(?P<body>\S(?:[^`]*\S)?)``")  # ``x``
_LINK = re.compile(r"`(?P<body>[^`<]+?)(?:\s*<[^`>]+>)?`__?(?![\w`])")  # `text <url>`_
_INTERPRETED = re.compile(r"(?<![\w`])`(?P<body>\S(?:[^`]*\S)?)`(?![\w`])")  # `x`
_STRONG = re.compile(r"(?<![\w*\\])\*\*(?P<body>\S(?:[^*]*\S)?)\*\*(?![\w*])")  # **x**
_EMPHASIS = re.compile(r"(?<![\w*\\])\*(?P<body>[^\s*](?:[^*]*[^\s*])?)\*(?![\w*])")  # *x*
_LITERAL_BLOCK = re.compile(r"(?<=\S)::(?=\s*$)", re.MULTILINE)  # "Example::" at a line's end
_OLD_QUOTES = re.compile(r"``(?P<body>[^`']+)''")  # ``quoted'' (old docstrings' double quotes)
_UNCLOSED = re.compile(r"``(?=\S)(?!.*``)")  # a literal a cut line never closes


def _role_text(match: re.Match) -> str:
    """A role's text as Sphinx shows it: ``title <target>`` -> title, ``~a.b.C`` -> C, ``!x`` -> x."""
    body = match.group("body").strip()
    titled = re.fullmatch(r"(?P<title>.+?)\s*<[^<>]+>", body)
    if titled:
        return titled.group("title")
    body = body.lstrip("!")
    return body.rsplit(".", 1)[-1] if body.startswith("~") else body


def clean_rst(text: str) -> str:
    """``text`` with reStructuredText markup taken out, as people read it: roles
    (``:func:`json.dumps``` -> json.dumps, ``:class:`~a.B``` -> B), literals (````x````) and
    interpreted text (```x```), links, ``*emphasis*`` and ``**strong**``, and the ``::`` that opens a
    literal block; a literal a cut line never closes loses its backticks, old ````x''```` quotes
    become ``"x"``. Everything else stays, in particular stars that mark no emphasis (``*args``,
    ``**kwargs``, ``stmt* body``, ``x*y``). For display only: stored values are never changed.

    >>> clean_rst("A :class:`NodeVisitor` walks ``node._fields`` of *node*; see `open_connection`.")
    'A NodeVisitor walks node._fields of node; see open_connection.'
    >>> clean_rst("Call f(*args, **kws).  stmt* body, div*y, **F")
    'Call f(*args, **kws).  stmt* body, div*y, **F'
    >>> clean_rst(":meth:`~asyncio.Future.done` and :ref:`the guide <guide>`; Example::")
    'done and the guide; Example:'
    >>> clean_rst("``Intern'' it; a 3-tuple ``(name,")
    '"Intern" it; a 3-tuple (name,'
    """
    if "`" not in text and "*" not in text and "::" not in text:
        return text
    text = _ROLE.sub(_role_text, text)
    text = _OLD_QUOTES.sub(r'"\g<body>"', text)
    text = _LITERAL.sub(r"\g<body>", text)
    text = _UNCLOSED.sub("", text)
    text = _LINK.sub(r"\g<body>", text)
    text = _INTERPRETED.sub(r"\g<body>", text)
    text = _STRONG.sub(r"\g<body>", text)
    text = _EMPHASIS.sub(r"\g<body>", text)
    return _LITERAL_BLOCK.sub(":", text)
