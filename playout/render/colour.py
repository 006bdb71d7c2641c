"""Colours for layer sources: parsing, 16-bit triples, palettes (gradient lookup tables), hues.

Working colours are ``Colour`` triples of ints 0..65535 (the canvas working precision). In
params a colour is written as

* ``"#rrggbb"`` (8 bits per channel, expanded exactly: v * 257, so ``#ff`` is 65535),
* ``"#rrrrggggbbbb"`` (16 bits per channel, taken as is), or
* ``[r, g, b]`` with each a number 0..1 (rounded to the nearest 16-bit level).

A palette is a list of at least two colours spread evenly over 0..1 (the first at 0, the last
at 1), linearly interpolated in 16-bit values. Sources sample it through a lookup table of
``PALETTE_SIZE`` entries built once in ``__init__``; the first and last entries are exactly the
first and last colours.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

Colour = tuple[int, int, int]
FULL: Final = 65535
PALETTE_SIZE: Final = 4096  # a power of two: cyclic lookups wrap with a bit mask

BLACK: Final[Colour] = (0, 0, 0)
WHITE: Final[Colour] = (FULL, FULL, FULL)

RAINBOW: Final[tuple[str, ...]] = (
    "#ff0000",
    "#ffff00",
    "#00ff00",
    "#00ffff",
    "#0000ff",
    "#ff00ff",
    "#ff0000",
)
"""Hue wheel, red back to red, so it is seamless when used cyclically."""

_HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{12})")

COLOUR_FORMS: Final = '"#rrggbb", "#rrrrggggbbbb" or [r, g, b] with each 0..1'


def shown(value: Any, limit: int = 60) -> str:
    """A value as it would be written in a config or JSON body, shortened for messages."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_colour(value: Any) -> Colour:
    """A param value as a 16-bit triple; ValueError says what forms are accepted."""
    if isinstance(value, str):
        if _HEX.fullmatch(value):
            digits = value[1:]
            if len(digits) == 6:
                return (
                    int(digits[0:2], 16) * 257,
                    int(digits[2:4], 16) * 257,
                    int(digits[4:6], 16) * 257,
                )
            return int(digits[0:4], 16), int(digits[4:8], 16), int(digits[8:12], 16)
    elif isinstance(value, list | tuple) and len(value) == 3 and all(map(_is_number, value)):
        if all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in value):
            r, g, b = (round(float(v) * FULL) for v in value)
            return r, g, b
        raise ValueError(f"colour components must each be 0..1 (got {shown(value)})")
    raise ValueError(f"must be a colour: {COLOUR_FORMS} (got {shown(value)})")


def format_colour(colour: Colour) -> str:
    """The shortest hex form that is exact: "#rrggbb" when possible, else "#rrrrggggbbbb"."""
    if all(c % 257 == 0 for c in colour):
        return "#" + "".join(f"{c // 257:02x}" for c in colour)
    return "#" + "".join(f"{c:04x}" for c in colour)


def mix(a: Colour, b: Colour, f: float) -> Colour:
    """a + (b - a) * f, rounded (f in 0..1)."""
    r, g, bl = (round(x + (y - x) * f) for x, y in zip(a, b, strict=True))
    return r, g, bl


def scale(colour: Colour, level: float) -> Colour:
    """The colour at `level` (0..1) of its intensity, rounded."""
    r, g, b = (round(c * level) for c in colour)
    return r, g, b


def palette_lut(colours: Sequence[Colour], size: int = PALETTE_SIZE) -> NDArray[np.uint16]:
    """Lookup table (size, 4): entry k is the palette at k / (size - 1).

    Stops are evenly spaced; entry 0 is exactly the first colour, entry size-1 the last.
    """
    return sample_palette(colours, np.linspace(0.0, 1.0, size))


def sample_palette(colours: Sequence[Colour], at: NDArray[np.float64]) -> NDArray[np.uint16]:
    """The palette sampled at positions `at` (each clipped to 0..1): a (n, 4) uint16 table of
    red, green, blue and a zero pad (so the render loops move a pixel as one 8-byte word)."""
    stops = np.asarray(colours, dtype=np.float64)  # (k, 3)
    if stops.ndim != 2 or stops.shape[0] < 2 or stops.shape[1] != 3:
        raise ValueError("a palette needs at least two colours")
    where = np.linspace(0.0, 1.0, stops.shape[0])
    pos = np.clip(at, 0.0, 1.0)
    table = np.zeros((pos.shape[0], 4), dtype=np.uint16)
    for c in range(3):
        table[:, c] = np.rint(np.interp(pos, where, stops[:, c]))
    return table


def hsv(hue: float, saturation: float, value: float) -> Colour:
    """HSV (each 0..1, hue wraps) to a 16-bit RGB triple."""
    h = (hue % 1.0) * 6.0
    i = int(h) % 6
    f = h - int(h)
    v = value
    p = v * (1.0 - saturation)
    q = v * (1.0 - saturation * f)
    t = v * (1.0 - saturation * (1.0 - f))
    rgb = ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))[i]
    r, g, b = (round(x * FULL) for x in rgb)
    return r, g, b
