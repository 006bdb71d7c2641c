"""Test patterns for commissioning: identify a fixture, show the universes, colour bars."""

from __future__ import annotations

import difflib
import math
from collections.abc import Hashable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar, Final

import numpy as np
from numpy.typing import NDArray

from ..colour import FULL, Colour, hsv
from .base import LayerSource, ParamSpec


def _listing(names: Sequence[str], limit: int = 12) -> str:
    if not names:
        return "none"
    more = f", … ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


class TestIdentify(LayerSource):
    kind = "test-identify"
    summary = (
        "Identify: one fixture's pixels lit, everything else black; with no fixture named,"
        " each fixture on the canvas in turn."
    )
    animated = True
    __test__ = False  # not a pytest test class
    params = MappingProxyType(
        {
            "fixture": ParamSpec(
                type="fixture",
                default="",
                doc="fixture to light; empty = every fixture on the canvas in turn",
            ),
            "colour": ParamSpec(type="colour", default="#ffffff", doc="colour of the lit pixels"),
            "period": ParamSpec(
                type="number",
                default=2.0,
                minimum=0.1,
                maximum=3600.0,
                unit="s",
                doc="seconds per fixture when cycling",
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.colour = np.asarray(values["colour"], dtype=np.uint16)
        self.period: float = values["period"]
        names = self.canvas.fixture_names
        flat = self.canvas.pixel_fixture.reshape(-1)
        present = np.unique(flat[flat >= 0])
        here = [int(i) for i in present if i < len(names)]
        here_names = [names[i] for i in here]
        wanted: str = values["fixture"]
        cycle = here
        if wanted:
            if wanted in here_names:
                cycle = [here[here_names.index(wanted)]]
            else:
                cycle = []
                if wanted in names:
                    reason = f'fixture "{wanted}" has no pixels on canvas "{self.canvas.name}"'
                else:
                    close = difflib.get_close_matches(wanted, here_names, n=1)
                    hint = f'did you mean "{close[0]}"? ' if close else ""
                    reason = f'no fixture "{wanted}" on canvas "{self.canvas.name}"; {hint}'
                problems.append(
                    self.problem(
                        "fixture", f"{reason.rstrip('; ')} (fixtures here: {_listing(here_names)})"
                    )
                )
        self.cycle: tuple[str, ...] = tuple(names[i] for i in cycle)
        self._pixels = [np.flatnonzero(flat == i) for i in cycle]

    def lit_index(self, t: float) -> int:
        n = len(self._pixels)
        return 0 if n <= 1 else math.floor(t / self.period) % n

    def lit_fixture(self, t: float) -> str | None:
        """Name of the fixture lit at t (None when the canvas has no fixtures)."""
        return self.cycle[self.lit_index(t)] if self.cycle else None

    def frame_key(self, t: float) -> Hashable:
        return self.lit_index(t)

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        out.fill(0)
        if self._pixels:
            out.reshape(-1, 3)[self._pixels[self.lit_index(t)]] = self.colour


def universe_colour(universe: int) -> Colour:
    """The test-universe colour: a hue from the universe number (golden-ratio steps, so
    neighbours are far apart on the wheel) at a level stepping 100 / 70 / 45 %."""
    return hsv(universe * 0.6180339887498949, 1.0, (1.0, 0.7, 0.45)[universe % 3])


class TestUniverse(LayerSource):
    kind = "test-universe"
    summary = (
        "Universe pattern: each pixel in a colour that identifies the universe driving it"
        " (neighbouring universes differ in hue and level); unpatched pixels black."
    )
    animated = False
    __test__ = False
    params: ClassVar[Mapping[str, ParamSpec]] = MappingProxyType({})

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        flat = self.canvas.pixel_universe.reshape(-1)
        present = np.unique(flat[flat >= 0])
        # table[u + 1] is universe u's colour; table[0] (no universe) is black
        table = np.zeros((int(present[-1]) + 2 if present.size else 1, 3), dtype=np.uint16)
        for u in present.tolist():
            table[u + 1] = universe_colour(u)
        self.picture = table[np.maximum(flat, -1) + 1].reshape(self.shape)

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        np.copyto(out, self.picture)


_BARS: Final = (
    (1, 1, 1),  # white
    (1, 1, 0),  # yellow
    (0, 1, 1),  # cyan
    (0, 1, 0),  # green
    (1, 0, 1),  # magenta
    (1, 0, 0),  # red
    (0, 0, 1),  # blue
    (0, 0, 0),  # black
)


class TestColourBars(LayerSource):
    kind = "test-colour-bars"
    summary = (
        "Colour bars, left to right: white, yellow, cyan, green, magenta, red, blue, black"
        " (eight equal vertical bars)."
    )
    animated = False
    __test__ = False
    params = MappingProxyType(
        {
            "level": ParamSpec(
                type="number",
                default=1.0,
                minimum=0.0,
                maximum=1.0,
                doc="bar level: 1 = full, 0.75 = SMPTE-style 75 % bars",
            )
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        level = round(values["level"] * FULL)
        self.colours = np.array(_BARS, dtype=np.uint16) * np.uint16(level)

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        w = self.canvas.width
        bar = (np.arange(w) * len(_BARS)) // w
        np.copyto(out, self.colours[bar][None, :, :])
