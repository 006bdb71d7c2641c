"""Generative effect templates (the seed's "templates"): parameterised sources registered
like any other, their parameter schemas served to the UI (`describe_sources`).

Each is a pure function of the frame time and its parameters (no state carried from frame to
frame), so it is exact at any frame rate and after any restart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Final

import numpy as np
from numpy.typing import NDArray

from ..outline_font import FontError, MissingGlyphs, font_bitmap
from ..pixel_font import HEIGHT as FONT_HEIGHT
from ..pixel_font import UnknownCharacter, text_bitmap
from .base import LayerSource, ParamSpec

DIRECTIONS = ("right", "left", "down", "up")


class ColourWash(LayerSource):
    kind = "colour-wash"
    summary = "The whole canvas fades through a list of colours, one after another, in a loop."
    animated = True
    params: ClassVar[Mapping[str, ParamSpec]] = MappingProxyType(
        {
            "colours": ParamSpec(
                type="palette", default=("#ff0000", "#00ff00", "#0000ff"), doc="colours in order"
            ),
            "period_s": ParamSpec(
                type="number",
                default=10.0,
                minimum=0.1,
                maximum=86400.0,
                unit="s",
                doc="time to go through every colour once",
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.colours = np.asarray(values["colours"], dtype=np.float64)
        self.period: float = values["period_s"]

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        n = len(self.colours)
        pos = (t / self.period % 1.0) * n
        i = int(pos) % n
        frac = pos - math.floor(pos)
        colour = self.colours[i] * (1 - frac) + self.colours[(i + 1) % n] * frac
        out[...] = np.rint(colour).astype(np.uint16)


class Wave(LayerSource):
    kind = "wave"
    summary = "A sine wave of a colour over a background, travelling across the canvas."
    animated = True
    params: ClassVar[Mapping[str, ParamSpec]] = MappingProxyType(
        {
            "colour": ParamSpec(type="colour", default="#ffffff", doc="colour of the crests"),
            "background": ParamSpec(type="colour", default="#000000", doc="colour of the troughs"),
            "wavelength_px": ParamSpec(
                type="number",
                default=40.0,
                minimum=1.0,
                maximum=100000.0,
                unit="px",
                doc="distance between crests",
            ),
            "speed": ParamSpec(
                type="number",
                default=20.0,
                minimum=-10000.0,
                maximum=10000.0,
                unit="px/s",
                doc="how fast the crests travel",
            ),
            "direction": ParamSpec(
                type="choice", default="right", choices=DIRECTIONS, doc="where the crests go"
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.colour = np.asarray(values["colour"], dtype=np.float32)
        self.background = np.asarray(values["background"], dtype=np.float32)
        self.k = 2 * math.pi / values["wavelength_px"]
        self.speed: float = values["speed"]
        direction: str = values["direction"]
        h, w = self.canvas.height, self.canvas.width
        along = np.arange(w if direction in ("right", "left") else h, dtype=np.float64)
        self.sign = -1.0 if direction in ("left", "up") else 1.0
        self.along = along
        self.horizontal = direction in ("right", "left")

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        phase = self.k * (self.along - self.sign * self.speed * t)
        level = (0.5 + 0.5 * np.cos(phase)).astype(np.float32)[:, None]
        line = self.background + level * (self.colour - self.background)
        line16 = np.rint(line).astype(np.uint16)
        if self.horizontal:
            out[...] = line16[None, :, :]
        else:
            out[...] = line16[:, None, :]


class Sparkle(LayerSource):
    kind = "sparkle"
    summary = "Pixels flash in a colour at random and fade out, like glitter."
    animated = True
    params: ClassVar[Mapping[str, ParamSpec]] = MappingProxyType(
        {
            "colour": ParamSpec(type="colour", default="#ffffff", doc="colour of a flash"),
            "background": ParamSpec(type="colour", default="#000000", doc="between flashes"),
            "rate": ParamSpec(
                type="number",
                default=0.5,
                minimum=0.01,
                maximum=50.0,
                unit="1/s",
                doc="flashes per second of each pixel",
            ),
            "decay_s": ParamSpec(
                type="number",
                default=0.25,
                minimum=0.01,
                maximum=60.0,
                unit="s",
                doc="how fast a flash fades",
            ),
            "seed": ParamSpec(type="integer", default=1, minimum=0, maximum=2**31, doc="pattern"),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        rng = np.random.default_rng(values["seed"])
        h, w = self.canvas.height, self.canvas.width
        # Each pixel flashes once per 1/rate seconds at its own random moment, its own rate
        # a little off the others' so the pattern never repeats visibly.
        self.offset = rng.random((h, w))
        self.rate = values["rate"] * (0.8 + 0.4 * rng.random((h, w)))
        self.decay: float = values["decay_s"]
        self.colour = np.asarray(values["colour"], dtype=np.float32)
        self.background = np.asarray(values["background"], dtype=np.float32)

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        since = np.mod(t * self.rate + self.offset, 1.0) / self.rate  # seconds since its flash
        level = np.exp(-since / self.decay).astype(np.float32)[..., None]
        out[...] = np.rint(self.background + level * (self.colour - self.background)).astype(
            np.uint16
        )


MAX_TEXT: Final = 1000
PIXEL_FONT: Final = "pixel"
ASSET_PREFIX: Final = "asset:"


class TextScroller(LayerSource):
    kind = "text-scroller"
    summary = (
        "Text in the pixel font or a real font crossing the canvas, like a ticker,"
        " or standing still (speed 0)."
    )
    animated = True
    params: ClassVar[Mapping[str, ParamSpec]] = MappingProxyType(
        {
            "text": ParamSpec(type="string", required=True, doc="the text (up to 1000 characters)"),
            "font": ParamSpec(
                type="string",
                default=PIXEL_FONT,
                doc='"pixel" (the built-in LED font), "asset:ID" (a font file in the content'
                " library) or a font file's path: TrueType, OpenType, or BDF/PCF",
            ),
            "size_px": ParamSpec(
                type="integer",
                minimum=4,
                maximum=2048,
                unit="px",
                doc="a real font's size (default: the canvas height); the pixel font uses scale",
            ),
            "colour": ParamSpec(type="colour", default="#ffffff", doc="colour of the letters"),
            "background": ParamSpec(type="colour", default="#000000", doc="behind the letters"),
            "speed": ParamSpec(
                type="number",
                default=20.0,
                minimum=0.0,
                maximum=10000.0,
                unit="px/s",
                doc="how fast the text moves (0: it stands still, centred)",
            ),
            "direction": ParamSpec(
                type="choice", default="left", choices=("left", "right"), doc="where it goes"
            ),
            "scale": ParamSpec(
                type="integer",
                minimum=1,
                maximum=64,
                doc="canvas pixels per font pixel (default: as large as the canvas height allows)",
            ),
            "y": ParamSpec(
                type="integer",
                minimum=-10000,
                maximum=10000,
                unit="px",
                doc="top row of the text (default: centred)",
            ),
            "gap_px": ParamSpec(
                type="integer",
                minimum=0,
                maximum=100000,
                unit="px",
                doc="space before the text comes round again (default: the canvas width)",
            ),
            "loop": ParamSpec(
                type="boolean", default=True, doc="come round again, or cross once and stay clear"
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        text: str | None = values["text"]
        w, h = self.canvas.width, self.canvas.height
        font: str = values["font"]
        bitmap = np.zeros((FONT_HEIGHT, 0), dtype=np.bool_)
        if text is not None and len(text) > MAX_TEXT:
            too_long = f"at most {MAX_TEXT} characters (got {len(text)})"
            problems.append(self.problem("text", too_long))
        elif font == PIXEL_FONT:
            try:
                bitmap = text_bitmap(text or "")
            except UnknownCharacter as exc:
                problems.append(self.problem("text", str(exc)))
        else:
            # Rendered once here, when the look is built (cached by text, file and size).
            try:
                bitmap = font_bitmap(text or "", str(self._font_file(font)), values["size_px"] or h)
            except MissingGlyphs as exc:
                problems.append(self.problem("text", str(exc)))
            except (FontError, ValueError) as exc:
                problems.append(self.problem("font", str(exc)))
        default_scale = max(1, h // FONT_HEIGHT) if font == PIXEL_FONT else 1
        scale: int = values["scale"] or default_scale
        glyphs = np.repeat(np.repeat(bitmap, scale, axis=0), scale, axis=1)
        self.text_width = int(glyphs.shape[1])
        y = values["y"] if values["y"] is not None else (h - glyphs.shape[0]) // 2
        # The text's rows as they fall on the canvas (rows above or below it are clipped).
        rows = np.zeros((h, self.text_width), dtype=np.bool_)
        top, bottom = max(0, y), min(h, y + glyphs.shape[0])
        if top < bottom:
            rows[top:bottom] = glyphs[top - y : bottom - y]
        gap: int = values["gap_px"] if values["gap_px"] is not None else w
        # One lap: the text then the gap; a canvas column reads the lap at its own offset.
        self.lap = np.zeros((h, max(1, self.text_width + gap)), dtype=np.bool_)
        self.lap[:, : self.text_width] = rows
        self.speed: float = values["speed"]
        self.leftward = values["direction"] == "left"
        self.loop: bool = values["loop"]
        self.columns = np.arange(w)
        self.colour = np.asarray(values["colour"], dtype=np.uint16)
        self.background = np.asarray(values["background"], dtype=np.uint16)

    def _font_file(self, font: str) -> Path:
        if font.startswith(ASSET_PREFIX):
            number = font.removeprefix(ASSET_PREFIX)
            if not number.isdigit():
                raise ValueError(f'expected "asset:ID", an asset id (got {font!r})')
            if self.context.assets is None:
                raise ValueError("no content library here to take the font from")
            return self.context.assets.resolve(int(number))
        path = Path(font)
        if not path.is_file():
            raise ValueError(f'{font!r}: no such font file (or "pixel", or "asset:ID")')
        return path

    def left_edge(self, t: float) -> int:
        """Canvas column of the text's first column at time t: it enters from one side and
        moves a whole pixel at a time (sub-pixel steps would blur the letters)."""
        w = int(self.canvas.width)
        if self.speed == 0.0:
            return (w - self.text_width) // 2
        moved = math.floor(max(0.0, t) * self.speed)
        if self.loop:
            moved %= self.lap.shape[1]
        return w - moved if self.leftward else moved - self.text_width

    def frame_key(self, t: float) -> int:
        return self.left_edge(t)

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        index = self.columns - self.left_edge(t)
        if self.loop and self.speed != 0.0:
            lit = self.lap[:, index % self.lap.shape[1]]
        else:
            inside = (index >= 0) & (index < self.text_width)
            lit = self.lap[:, np.where(inside, index, 0)] & inside[None, :]
        # In place: no frame-sized temporary on the render path.
        out[...] = self.background
        np.copyto(out, self.colour, where=lit[..., None])


TEMPLATES = (ColourWash, Wave, Sparkle, TextScroller)
