"""Qdrant's JSON key paths and datetime strings, parsed.

``parse_key`` reads a key path (``a.b``, ``arr[]``, ``arr[0]``, ``"quoted key".sub``) into a
tuple of parts; ``parse_datetime`` reads the datetime formats Qdrant accepts in ``range``
conditions into microseconds since 1970 (UTC).

Examples
--------
>>> parse_key("country.cities[].name")
('country', 'cities', None, 'name')
>>> parse_datetime("2024-01-31")
1706659200000000
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from explorekit._support.errors import FilterError, short_repr

__all__ = ["parse_key", "parse_datetime"]


def parse_key(key: Any, where: str = "key") -> tuple:
    """A JSON path (``a.b``, ``arr[]``, ``arr[0]``, ``"quoted.key"``) as a tuple of parts.

    Parts: str = object key, int = array index, None = every element (``[]``).

    >>> parse_key('a.b[].c[2]'), parse_key('"x.y".z')
    (('a', 'b', None, 'c', 2), ('x.y', 'z'))
    """
    if not isinstance(key, str):
        raise FilterError(
            f"{where}: {short_repr(key)} is not a string. A key is a payload field name "
            'or path, e.g. "colour", "address.city", "tags[]".'
        )
    parts: list = []
    i, n = 0, len(key)
    expect_key = True
    while i < n:
        if expect_key:
            if key[i] == '"':
                end = key.find('"', i + 1)
                if end < 0:
                    break
                parts.append(key[i + 1 : end])
                i = end + 1
            else:
                j = i
                while j < n and (key[j].isalnum() or key[j] in "_-"):
                    j += 1
                if j == i:
                    break
                parts.append(key[i:j])
                i = j
            expect_key = False
        elif key[i] == "[":
            end = key.find("]", i)
            inner = key[i + 1 : end] if end > 0 else "x"
            if end < 0 or (inner and not (inner.isascii() and inner.isdigit())):
                break
            parts.append(int(inner) if inner else None)
            i = end + 1
        elif key[i] == "." and i + 1 < n:
            i += 1
            expect_key = True
        else:
            break
    else:
        if parts and not expect_key:
            return tuple(parts)
    raise FilterError(
        f"{where}: {key!r} is not a valid key path. Use names joined by dots with [] or [index] "
        'for arrays, e.g. "country.cities[].name"; quote names with other characters: '
        "'\"my key\".sub'."
    )


_DT_RE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?)?"
    r"(?: ?([Zz]|[+-]\d{2}(?::?\d{2})?))?"
)


def parse_datetime(text: str) -> int | None:
    """Microseconds since 1970 (UTC) of a datetime string in one of Qdrant's formats, else None.

    RFC 3339 and the variants Qdrant reads: ``T`` or space, optional seconds/fraction,
    ``Z`` (or ``z``)/``+HH:MM``/``+HHMM``/``+HH``/`` UTC`` offsets (which need seconds), no offset = UTC,
    or a date alone.

    >>> parse_datetime("1970-01-01T00:00:01Z"), parse_datetime("1970-01-01 01:00:00+01:00")
    (1000000, 0)
    """
    s = text.lstrip()
    if s.endswith(" UTC"):
        s = s[:-4] + "Z"
    m = _DT_RE.fullmatch(s)
    if m is None:
        return None
    y, mo, d, hh, mm, ss, frac, tz = m.groups()
    if tz is not None and ss is None:
        return None
    try:
        offset = _dt.timedelta(0)
        if tz not in (None, "Z", "z"):
            digits = tz[1:].replace(":", "")
            offset = _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
            offset = -offset if tz[0] == "-" else offset
        value = _dt.datetime(
            int(y),
            int(mo),
            int(d),
            int(hh or 0),
            int(mm or 0),
            int(ss or 0),
            int((frac or "0")[:6].ljust(6, "0")),
            tzinfo=_dt.timezone(offset),
        )
    except ValueError:
        return None
    return (value - _EPOCH) // _dt.timedelta(microseconds=1)


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
