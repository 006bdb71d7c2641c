"""`setting()`: a dataclass field with its documentation, (optional) inclusive range and
size limits.

Every text the show and the store keep is sent back to every UI that loads it, so each has a
length limit, checked by the loader (`config/loader.py`) that validates config files, show
files, REST bodies and every object the store writes alike: one place, one message.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, Final

NAME_MAX: Final = 200  # names and labels (looks, cue lists, canvases, users, assets, …)
# Paging of every list (storage and every interface over it): a 100k-row fetch holds the GIL
# for ~150 ms, so pages stay small.
PAGE_DEFAULT: Final = 100
PAGE_MAX: Final = 1000
EMAIL_MAX: Final = 254  # RFC 5321's longest address
FILENAME_MAX: Final = 255  # the longest file name Linux file systems take
TEXT_MAX: Final = 4000  # notes, descriptions: the limit of a text field that sets none
JSON_MAX_BYTES: Final = 64 << 10  # a free-form map (layer params, metadata) as JSON


def setting(
    default: Any,
    doc: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    max_length: int = TEXT_MAX,
) -> Any:
    """A dataclass field with its documentation and (optional) inclusive range. A text field
    (or each text of a tuple field) is at most `max_length` characters."""
    return field(
        default=default,
        metadata={"doc": doc, "min": minimum, "max": maximum, "max_length": max_length},
    )
