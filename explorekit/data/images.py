"""Thumbnails in payloads: which values are images, and whether a column holds them.

An image is a string holding a ``data:image/...`` URI, which a page shows without the
network (a report stays offline). A column holds thumbnails when, among the values sampled
(the first few points), the present ones are all images and there is at least one.

>>> is_image("data:image/png;base64,AAAA"), is_image("https://example.org/a.png"), is_image(None)
(True, False, False)
>>> is_image_column(["data:image/png;base64,AAAA", None]), is_image_column([None, None])
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from explorekit.data.jsonvalues import is_top_missing

#: values a column is judged on (the first points)
SAMPLE = 3


def is_image(value: Any) -> bool:
    """True for an image data URI (``data:image/...``)."""
    return isinstance(value, str) and value.startswith("data:image/")


def is_image_column(values: Iterable[Any]) -> bool:
    """True when the present values of this sample are all images, and there is one."""
    present = [v for v in values if not is_top_missing(v)]
    return bool(present) and all(is_image(v) for v in present)
