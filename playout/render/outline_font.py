"""Text in a real font (TrueType, OpenType, and the bitmap formats FreeType reads such as BDF
and PCF) through Pillow's ImageFont, as lit pixels for the text layer.

The built-in pixel font (`pixel_font`) stays the default: it is drawn for a few dozen LED rows.
A brand's typeface is rendered here once, when the look is built, without anti-aliasing
(an LED is on or off in a text layer, as with the pixel font), and the mask is cached by
(text, font file, size): the same text in several looks or a rebuilt look costs nothing.

Missing glyphs: FreeType draws a font's ``.notdef`` shape (often an empty box) for a
character the font has no glyph for; Pillow does not expose the font's character map, so a
character whose drawing is exactly the ``.notdef`` drawing counts as missing (a noncharacter,
U+10FFFF, is never in a font's map, so its drawing is ``.notdef``).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

__all__ = ["FontError", "MissingGlyphs", "font_bitmap"]

_NOT_A_CHARACTER = "\U0010ffff"


class FontError(ValueError):
    """The font file cannot be read as a font at that size."""


class MissingGlyphs(ValueError):
    """The text has characters the font does not draw; the message names every one."""


@lru_cache(maxsize=16)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(path, size)
    except OSError as exc:  # unreadable, not a font, or no strike of that size (bitmap fonts)
        raise FontError(f"cannot use {Path(path).name!r} as a font at {size} px: {exc}") from None


def _drawing(font: ImageFont.FreeTypeFont, char: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(char, mode="1")
    return mask.size, bytes(mask)


def _missing(font: ImageFont.FreeTypeFont, text: str) -> list[str]:
    notdef = _drawing(font, _NOT_A_CHARACTER)
    missing: list[str] = []
    for char in dict.fromkeys(text):  # each once, in order
        if not char.isspace() and _drawing(font, char) == notdef:
            missing.append(char)
    return missing


def _describe(chars: list[str]) -> str:
    return ", ".join(f"{c!r} (U+{ord(c):04X} {unicodedata.name(c, 'unnamed')})" for c in chars)


@lru_cache(maxsize=64)
def font_bitmap(text: str, path: str, size: int) -> NDArray[np.bool_]:
    """The text as lit pixels: the font's line height (ascent + descent) rows, as many
    columns as it advances; read-only (it is shared through the cache).
    FontError or MissingGlyphs say why not."""
    font = _font(path, size)
    text = unicodedata.normalize("NFC", text)
    missing = _missing(font, text)
    if missing:
        raise MissingGlyphs(f"the font {Path(path).name!r} has no glyph for {_describe(missing)}")
    ascent, descent = font.getmetrics()
    left, _, right, _ = font.getbbox(text) if text else (0, 0, 0, 0)
    shift = max(0, -int(left))  # a first letter reaching left of the origin stays whole
    width = max(int(np.ceil(font.getlength(text))), int(right)) + shift
    image = Image.new("L", (max(1, width), ascent + descent), 0)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"  # whole pixels, no anti-aliasing
    draw.text((shift, 0), text, font=font, fill=255)
    bitmap = np.asarray(image)[:, :width] > 127
    bitmap.flags.writeable = False
    return bitmap
