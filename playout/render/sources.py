"""Layer sources: what a layer draws into its canvas-sized buffer at each frame time.

The interface
-------------
A source is built once from its kind's parameters and the canvas it draws on
(``build_source(kind, params, canvas)``); every problem with the parameters is reported at once
as a ``SourceError`` with one line per problem, each naming the parameter::

    chase: param "speed": must be a number (got "fast")
    chase: param "direction": must be one of right, left, down, up (got "sideways")

Then, per frame, ``render(t, out)`` fills the whole of ``out`` — a C-contiguous uint16 array of
shape (height, width, 3), values 0..65535 — for frame time ``t`` (seconds). It returns False,
without touching ``out``, when ``out`` already holds exactly that output: the last call wrote
into the same array and the source's ``frame_key(t)`` has not changed. A static source (solid
colour, a still image, a gradient with speed 0…) therefore draws once per buffer; a cycling
identify pattern redraws only when the lit fixture changes. The buffer belongs to the layer
between calls (nothing else may write into it, or the skip would be wrong).

Later sources fit the same shape: a video source's ``frame_key`` is the index of the video frame
due at ``t`` (repeated frames are skipped), a camera's is the sequence number of the newest
captured frame; ``close()`` releases decoders and devices. ``ParamSpec`` types cover their
parameters (``path``, ``boolean`` loop, ``number`` speed/in/out points with a unit, ``choice``,
``string`` device names).

Parameters
----------
Each kind declares ``params``: name → ``ParamSpec`` (type, default, range, unit, doc), which
``describe_sources()`` turns into JSON for the UI to render forms from. Values are checked and
converted once in ``__init__``: colours to 16-bit triples (``colour.py``), palettes to lookup
tables, numbers to floats. Unknown parameter names are errors (with a did-you-mean).

Coordinates
-----------
Pixel (y, x) is row y from the top, column x from the left. Angles are in degrees,
counter-clockwise from "towards the right" (90 = towards the top). Speeds are in cycles per
second, where a cycle is one pass of the pattern (a gradient's length, a chase's travel, one
noise cell, one plasma phase turn).

Performance
-----------
Coordinate fields, palettes and per-fixture pixel lists are computed in ``__init__``; the
per-frame work is a few small 1-D numpy operations plus one pass over the canvas in a Cython
loop (``fields.py``, numpy reference alongside), or a broadcast copy of one row/column (chase,
colour bars). Static sources draw once per buffer.
"""

from __future__ import annotations

import difflib
import math
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal

import numpy as np
from numpy.typing import NDArray

from . import fields
from .colour import (
    BLACK,
    COLOUR_FORMS,
    FULL,
    PALETTE_SIZE,
    RAINBOW,
    Colour,
    hsv,
    palette_lut,
    parse_colour,
    sample_palette,
    shown,
)
from .image import FITS, ImageError, read_image

__all__ = [
    "SOURCES",
    "CanvasContext",
    "LayerSource",
    "ParamSpec",
    "SourceError",
    "build_source",
    "describe_sources",
]

# ---------------------------------------------------------------------------------------------
# canvas context and errors
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CanvasContext:
    """What a source may know about its canvas (built by the renderer from the patch).

    Compared and hashed by identity (it holds arrays)."""

    name: str
    width: int
    height: int
    pixel_fixture: NDArray[np.int32]  # (h, w) index into fixture_names, -1 = no fixture
    pixel_universe: NDArray[np.int32]  # (h, w) universe number driving the pixel, -1 = none
    fixture_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"canvas {self.name!r}: size must be at least 1 x 1")
        for label, arr in (
            ("pixel_fixture", self.pixel_fixture),
            ("pixel_universe", self.pixel_universe),
        ):
            if arr.shape != (self.height, self.width):
                raise ValueError(
                    f"canvas {self.name!r}: {label} has shape {arr.shape},"
                    f" expected {(self.height, self.width)}"
                )

    @classmethod
    def unpatched(cls, name: str, width: int, height: int) -> CanvasContext:
        """A canvas with no fixtures on it (tests, previews of a look before patching)."""
        none = np.full((height, width), -1, dtype=np.int32)
        return cls(name, width, height, none, none.copy(), ())


class SourceError(ValueError):
    """A source cannot be built; ``problems`` has one line per problem, each naming the param."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


# ---------------------------------------------------------------------------------------------
# parameter specs
# ---------------------------------------------------------------------------------------------

ParamType = Literal[
    "number",  # float; minimum/maximum inclusive; unit for display
    "integer",  # int; minimum/maximum inclusive
    "boolean",
    "string",
    "choice",  # one of `choices`
    "colour",  # see colour.py; parsed to a 16-bit (r, g, b) triple
    "palette",  # list of min_items..max_items colours; parsed to a tuple of triples
    "point",  # [x, y], each within minimum..maximum; parsed to a (float, float) pair
    "path",  # a non-empty file path (images; later video files)
    "fixture",  # a fixture name on this canvas, or "" (the UI offers the canvas's fixtures)
]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@dataclass(frozen=True, kw_only=True)
class ParamSpec:
    """One parameter of a source kind: how to check it, its default and how the UI shows it.

    ``default`` is written the way a show file writes it (a colour as "#rrggbb"), and is parsed
    by the same rules as a given value; ``None`` means "not set" (the source decides, e.g. the
    noise palette falls back to the tint). ``required`` parameters have no default.
    """

    type: ParamType
    doc: str
    default: Any = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    choices: tuple[str, ...] = ()
    min_items: int = 2
    max_items: int = 64

    def _range(self, v: float) -> str | None:
        lo, hi = self.minimum, self.maximum
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            if lo is not None and hi is not None:
                return f"must be between {_fmt(lo)} and {_fmt(hi)}"
            if lo is not None:
                return f"must be at least {_fmt(lo)}"
            return f"must be at most {_fmt(hi)}"  # type: ignore[arg-type]
        return None

    def parse(self, value: Any) -> Any:
        """The checked, converted value; ValueError with what is wrong and the value given."""
        got = f" (got {shown(value)})"
        t = self.type
        if t == "number":
            if not _is_number(value) or not math.isfinite(value):
                raise ValueError("must be a number" + got)
            problem = self._range(float(value))
            if problem:
                raise ValueError(problem + got)
            return float(value)
        if t == "integer":
            if _is_number(value) and isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError("must be a whole number" + got)
            problem = self._range(value)
            if problem:
                raise ValueError(problem + got)
            return value
        if t == "boolean":
            if not isinstance(value, bool):
                raise ValueError("must be true or false" + got)
            return value
        if t in ("string", "fixture"):
            if not isinstance(value, str):
                raise ValueError("must be a string" + got)
            return value
        if t == "path":
            if not isinstance(value, str) or not value.strip():
                raise ValueError("must be a file path" + got)
            return value
        if t == "choice":
            if value not in self.choices or not isinstance(value, str):
                hint = ""
                if isinstance(value, str):
                    close = difflib.get_close_matches(value, self.choices, n=1)
                    hint = f'; did you mean "{close[0]}"?' if close else ""
                raise ValueError(f"must be one of {', '.join(self.choices)}{hint}" + got)
            return value
        if t == "colour":
            return parse_colour(value)
        if t == "palette":
            if not isinstance(value, list | tuple):
                raise ValueError(
                    f"must be a list of {self.min_items} to {self.max_items} colours" + got
                )
            if not self.min_items <= len(value) <= self.max_items:
                raise ValueError(
                    f"must have {self.min_items} to {self.max_items} colours (got {len(value)})"
                )
            parsed: list[Colour] = []
            for i, item in enumerate(value):
                try:
                    parsed.append(parse_colour(item))
                except ValueError as exc:
                    raise ValueError(f"colour {i + 1}: {exc}") from None
            return tuple(parsed)
        if t == "point":
            if (
                not isinstance(value, list | tuple)
                or len(value) != 2
                or not all(_is_number(v) and math.isfinite(v) for v in value)
            ):
                raise ValueError("must be a point [x, y] of two numbers" + got)
            for axis, v in zip("xy", value, strict=True):
                problem = self._range(float(v))
                if problem:
                    raise ValueError(f"{axis} {problem}" + got)
            return float(value[0]), float(value[1])
        raise AssertionError(f"unknown param type {t}")  # pragma: no cover

    def describe(self) -> dict[str, Any]:
        """JSON-able description for the UI (only the fields that apply to the type)."""
        out: dict[str, Any] = {"type": self.type, "doc": self.doc}
        if self.required:
            out["required"] = True
        else:
            out["default"] = list(self.default) if isinstance(self.default, tuple) else self.default
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.unit:
            out["unit"] = self.unit
        if self.type == "choice":
            out["choices"] = list(self.choices)
        if self.type == "palette":
            out["min_items"], out["max_items"] = self.min_items, self.max_items
        if self.type in ("colour", "palette"):
            out["colour_forms"] = COLOUR_FORMS
        return out


def parse_params(
    kind: str, specs: Mapping[str, ParamSpec], given: Any
) -> tuple[dict[str, Any], list[str]]:
    """Every param checked: (values, problems). An invalid value is replaced by its default
    (None for a required one), so a source can finish its checks and report them all."""
    problems: list[str] = []
    if not isinstance(given, Mapping):
        return dict.fromkeys(specs), [f"{kind}: params must be a table (got {shown(given)})"]
    for name in given:
        if name not in specs:
            close = difflib.get_close_matches(str(name), list(specs), n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            known = ", ".join(specs) or "none"
            problems.append(f'{kind}: param "{name}": unknown parameter; {hint}(known: {known})')
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        raw = given.get(name)
        if raw is None:
            if spec.required:
                problems.append(f'{kind}: param "{name}": required ({spec.doc})')
                values[name] = None
            else:
                values[name] = None if spec.default is None else spec.parse(spec.default)
            continue
        try:
            values[name] = spec.parse(raw)
        except ValueError as exc:
            problems.append(f'{kind}: param "{name}": {exc}')
            values[name] = None if spec.default is None else spec.parse(spec.default)
    return values, problems


# ---------------------------------------------------------------------------------------------
# the source interface
# ---------------------------------------------------------------------------------------------

_NEVER: Final = object()


class LayerSource(ABC):
    """Base of every source kind. Subclasses set the class variables, ``setup`` and ``draw``
    (and ``frame_key`` when the output changes less often than every frame)."""

    kind: ClassVar[str]
    params: ClassVar[Mapping[str, ParamSpec]]
    animated: ClassVar[bool]  # False: output depends only on params (and the canvas)
    summary: ClassVar[str]

    def __init__(self, params: Mapping[str, Any], canvas: CanvasContext) -> None:
        self.canvas = canvas
        self.shape: tuple[int, int, int] = (canvas.height, canvas.width, 3)
        given = params if isinstance(params, Mapping) else {}
        self.given: frozenset[str] = frozenset(k for k, v in given.items() if v is not None)
        values, problems = parse_params(self.kind, self.params, params)
        self.values: Mapping[str, Any] = MappingProxyType(values)
        if isinstance(params, Mapping):
            self.setup(values, problems)
        if problems:
            raise SourceError(problems)
        self._last_out: NDArray[np.uint16] | None = None
        self._last_key: object = _NEVER

    def problem(self, name: str, message: str) -> str:
        """A problem line naming this kind and the parameter."""
        return f'{self.kind}: param "{name}": {message}'

    @abstractmethod
    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        """Precompute from the checked values; append any further problems (naming the param).

        Every value is valid here (an invalid one was replaced by its default), except a
        required one that was missing or invalid, which is None.
        """

    @abstractmethod
    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        """Write the whole of ``out`` (h, w, 3) for frame time t."""

    def frame_key(self, t: float) -> Hashable:
        """The output is a function of this key alone (static sources: a constant)."""
        return t if self.animated else None

    def render(self, t: float, out: NDArray[np.uint16]) -> bool:
        """Fill ``out`` for frame time ``t``; False if it already holds that output."""
        key = self.frame_key(t)
        if out is self._last_out and key == self._last_key:
            return False
        if out.shape != self.shape or out.dtype != np.uint16 or not out.flags.c_contiguous:
            raise ValueError(
                f"{self.kind}: out must be a C-contiguous uint16 array of shape {self.shape},"
                f" got {out.dtype} {out.shape}"
            )
        self._last_out = None  # a failed draw leaves nothing to skip
        self.draw(t, out)
        self._last_out, self._last_key = out, key
        return True

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release resources (decoding threads, live feeds) when the layer is dropped (its look
        edited or deleted). Called on the event loop: it must not wait long."""


def _fill_rows(out: NDArray[np.uint16], colours: NDArray[np.uint16]) -> None:
    """out[y, x] = colours[y] for every x. A broadcast copy would move 3 values at a time
    (~8x slower); this copies the first column, then doubles the filled width each step."""
    width = out.shape[1]
    out[:, 0, :] = colours
    done = 1
    while done < width:
        step = min(done, width - done)
        out[:, done : done + step] = out[:, :step]
        done += step


def _cycle_phase(cycles: float) -> float:
    """cycles mod 1, in 0..1, computed in float64 (t may be days of seconds)."""
    return cycles - math.floor(cycles)


# ---------------------------------------------------------------------------------------------
# solid
# ---------------------------------------------------------------------------------------------


class Solid(LayerSource):
    kind = "solid"
    summary = "One colour over the whole canvas."
    animated = False
    params = MappingProxyType(
        {"colour": ParamSpec(type="colour", default="#ffffff", doc="the colour")}
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.colour = np.asarray(values["colour"], dtype=np.uint16)
        # one row, broadcast down: numpy copies whole rows, not 3-value pieces
        self._row = np.tile(self.colour, (self.canvas.width, 1))

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        np.copyto(out, self._row[None, :, :])


# ---------------------------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------------------------

_COLOURS_DOC = "colours, evenly spaced from the first to the last stop"
_SPEED_DOC = "scroll speed in gradient lengths per second (0 = still; negative = backwards)"
_REPEAT_DOC = (
    "what follows the last stop: false = the gradient mirrored (seamless when it moves, and"
    " the last colour beyond the end when still), true = the gradient again from its first"
    " colour (a hard edge unless the first and last colours match)"
)


def _speed_spec(doc: str, limit: float = 100.0, default: float = 0.0) -> ParamSpec:
    return ParamSpec(
        type="number", default=default, minimum=-limit, maximum=limit, unit="cycles/s", doc=doc
    )


class _Gradient(LayerSource):
    """Shared by the linear and radial gradients: a position field u per pixel (0 at the first
    stop, 1 at the last), scrolled by speed * t and mapped through the palette.

    Still (speed 0): u is clamped to 0..1 (repeat=false) or wrapped (repeat=true) and the
    picture is drawn once. Moving: u - speed * t is wrapped cyclically through a table holding
    one pass (repeat=true) or a pass and its mirror image (repeat=false, seamless); positions
    are float32 in table entries, the phase speed * t is reduced in float64 first, so the
    picture is the same after days of show time.
    """

    animated = True

    @abstractmethod
    def position(self) -> NDArray[np.float64]:
        """u per pixel, (h, w)."""

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        colours: tuple[Colour, ...] = values["colours"]
        self.speed: float = values["speed"]
        self.repeat: bool = values["repeat"]
        self._scratch = fields.Scratch(self.canvas.width * self.canvas.height)
        u = self.position()
        size = PALETTE_SIZE
        if self.speed == 0.0:
            # drawn once: entry k is the palette at k / (size - 1), so u = 1 is the last stop
            self._lut = palette_lut(colours, size)
            k = np.rint(u * (size - 1))
            k = np.mod(k, size) if self.repeat else np.clip(k, 0, size - 1)
            self._index = k.astype(np.int32).reshape(-1)
            return
        # Moving: the table holds exactly one cycle of `size` entries per gradient length (so
        # the period is exact), and positions wrap with a mask.
        self._span = float(size)
        if self.repeat:
            # one pass per cycle: first stop at entry 0, the last just before the wrap (at the
            # seam, u = 1 when t = 0, the first stop starts again)
            self._lut = sample_palette(colours, np.arange(size, dtype=np.float64) / size)
        else:
            # a pass and its mirror: entries 0..size go up the palette, size..2 size back down
            k = np.arange(2 * size, dtype=np.float64)
            self._lut = sample_palette(colours, np.where(k <= size, k, 2 * size - k) / size)
        self._cycle = float(self._lut.shape[0])
        self._pos = np.ascontiguousarray(u * self._span + 0.5, dtype=np.float32)

    def frame_key(self, t: float) -> Hashable:
        return None if self.speed == 0.0 else t

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        if self.speed == 0.0:
            fields.gather(out.reshape(-1), self._index, self._lut, self._scratch.u16())
            return
        shift = (-self.speed * t * self._span) % self._cycle
        fields.shift_gather(out, self._pos, shift, self._lut, self._scratch)


class LinearGradient(_Gradient):
    kind = "linear-gradient"
    summary = (
        "Colours along a straight line across the canvas, optionally scrolling. At angle 0 the"
        " first colour is the left column and the last colour the right column."
    )
    params = MappingProxyType(
        {
            "colours": ParamSpec(type="palette", default=("#000000", "#ffffff"), doc=_COLOURS_DOC),
            "angle_deg": ParamSpec(
                type="number",
                default=0.0,
                minimum=-360.0,
                maximum=360.0,
                unit="deg",
                doc="direction from first to last colour: 0 = to the right, 90 = to the top",
            ),
            "speed": _speed_spec(_SPEED_DOC + "; positive moves towards the last colour"),
            "repeat": ParamSpec(type="boolean", default=False, doc=_REPEAT_DOC),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.angle = math.radians(values["angle_deg"])
        super().setup(values, problems)

    def position(self) -> NDArray[np.float64]:
        w, h = self.canvas.width, self.canvas.height
        dx, dy = math.cos(self.angle), math.sin(self.angle)
        dx = 0.0 if abs(dx) < 1e-12 else dx
        dy = 0.0 if abs(dy) < 1e-12 else dy
        # pixel centres 0..w-1, 0..h-1; "up" is -y
        x = np.arange(w, dtype=np.float64)[None, :]
        y = np.arange(h, dtype=np.float64)[:, None]
        proj = x * dx - y * dy
        corners = [cx * dx - cy * dy for cx in (0, w - 1) for cy in (0, h - 1)]
        lo, hi = min(corners), max(corners)
        if hi - lo < 1e-9:
            return np.zeros((h, w), dtype=np.float64)
        return np.asarray((proj - lo) / (hi - lo), dtype=np.float64)


class RadialGradient(_Gradient):
    kind = "radial-gradient"
    summary = (
        "Colours in rings around a centre: the first colour at the centre, the last at the"
        " radius; moving rings when speed is set."
    )
    params = MappingProxyType(
        {
            "colours": ParamSpec(type="palette", default=("#ffffff", "#000000"), doc=_COLOURS_DOC),
            "centre": ParamSpec(
                type="point",
                default=(0.5, 0.5),
                minimum=0.0,
                maximum=1.0,
                doc="[x, y] as fractions of the canvas width and height from the top left",
            ),
            "radius": ParamSpec(
                type="number",
                default=1.0,
                minimum=0.001,
                maximum=2.0,
                doc="distance of the last colour, as a fraction of half the canvas diagonal",
            ),
            "speed": _speed_spec(_SPEED_DOC + "; positive moves outwards"),
            "repeat": ParamSpec(type="boolean", default=False, doc=_REPEAT_DOC),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.centre: tuple[float, float] = values["centre"]
        self.radius: float = values["radius"]
        super().setup(values, problems)

    def position(self) -> NDArray[np.float64]:
        w, h = self.canvas.width, self.canvas.height
        cx, cy = self.centre[0] * w, self.centre[1] * h
        x = np.arange(w, dtype=np.float64)[None, :] + 0.5 - cx
        y = np.arange(h, dtype=np.float64)[:, None] + 0.5 - cy
        reach = self.radius * math.hypot(w, h) / 2.0
        return np.asarray(np.hypot(x, y) / reach, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# chase
# ---------------------------------------------------------------------------------------------


class Chase(LayerSource):
    kind = "chase"
    summary = (
        "A bar of colour travelling across the canvas and wrapping around. At t = 0 the bar"
        " starts at the edge it travels away from (the left edge for direction right)."
    )
    animated = True
    params = MappingProxyType(
        {
            "colour": ParamSpec(type="colour", default="#ffffff", doc="the bar's colour"),
            "background": ParamSpec(type="colour", default="#000000", doc="colour everywhere else"),
            "width": ParamSpec(
                type="number",
                default=0.1,
                minimum=0.0,
                maximum=1.0,
                doc="bar width as a fraction of the travel length",
            ),
            "speed": _speed_spec(
                "travels across the canvas per second (negative = the other way)",
                default=0.25,
            ),
            "direction": ParamSpec(
                type="choice",
                default="right",
                choices=("right", "left", "down", "up"),
                doc="direction of travel",
            ),
            "soft": ParamSpec(
                type="boolean",
                default=True,
                doc="smooth raised-cosine fall-off across the bar; false = hard edges",
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.colour = np.asarray(values["colour"], dtype=np.float64)
        self.background = np.asarray(values["background"], dtype=np.float64)
        self.speed: float = values["speed"]
        self.direction: str = values["direction"]
        self.soft: bool = values["soft"]
        self.horizontal = self.direction in ("right", "left")
        self.length = self.canvas.width if self.horizontal else self.canvas.height
        self.bar = values["width"] * self.length  # in pixels
        self._left = np.arange(self.length, dtype=np.float64)  # pixel i covers [i, i + 1)
        self._line = np.empty((self.length, 3), dtype=np.uint16)
        # The bar's light profile along the travel, integrated: F(d) = light from the bar's
        # trailing edge up to d pixels past it. Hard: 1 per pixel over the bar's width. Soft: a
        # raised cosine 0.5 - 0.5 cos(2 pi d / bar), zero at both edges, full in the middle.
        # Tabulated once, read with np.interp (which also clamps: 0 before, all after).
        bar = max(self.bar, 1e-12)
        self._grid = np.linspace(0.0, bar, 1025)
        if self.soft:
            self._table = 0.5 * self._grid - bar / (4.0 * math.pi) * np.sin(
                2.0 * math.pi * self._grid / bar
            )
        else:
            self._table = self._grid.copy()

    def frame_key(self, t: float) -> Hashable:
        return None if self.speed == 0.0 or self.bar == 0.0 else t

    def coverage(self, t: float) -> NDArray[np.float64]:
        """Light level 0..1 of each pixel along the travel: the bar's profile averaged over the
        pixel (box-filtered, so a slow bar moves smoothly instead of in whole-pixel steps)."""
        n = self.length
        if self.bar == 0.0:
            return np.zeros(n)
        start = _cycle_phase(self.speed * t) * n  # the bar's trailing edge
        d = np.mod(self._left - start, n)  # pixel's left edge, pixels past the trailing edge
        grid, table = self._grid, self._table
        # [d, d + 1) against the bar at [0, bar) and, wrapped around, at [n, n + bar)
        level = np.interp(d + 1.0, grid, table) - np.interp(d, grid, table)
        level += np.interp(d + (1.0 - n), grid, table)
        if self.direction in ("left", "up"):
            level = level[::-1]
        return np.asarray(np.clip(level, 0.0, 1.0), dtype=np.float64)

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        line = self.background + (self.colour - self.background) * self.coverage(t)[:, None]
        np.rint(line, out=line)
        self._line[...] = line
        if self.horizontal:
            np.copyto(out, self._line[None, :, :])
        else:
            _fill_rows(out, self._line)


# ---------------------------------------------------------------------------------------------
# noise
# ---------------------------------------------------------------------------------------------

_SCALE_DOC = "pattern size: cycles per pixel (0.05 = one cycle every 20 pixels)"


def _smoothstep(f: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(f * f * (3.0 - 2.0 * f))


def lattice_values(
    ix: NDArray[np.int64], iy: NDArray[np.int64], z: int, seed: int
) -> NDArray[np.float64]:
    """Pseudo-random values in [0, 1) at the lattice points (iy, ix) of time slice z, (ny, nx).

    A hash of the coordinates and the seed (multiply-xor, then the lowbias32 finaliser), so the
    same seed gives the same noise on every machine and after every restart.
    """
    zs = np.uint32((z * 0xCB1AB31F + seed * 0x165667B1 + 0x27D4EB2F) & 0xFFFFFFFF)
    hx = ix.astype(np.uint32) * np.uint32(0x8DA6B343)
    hy = iy.astype(np.uint32) * np.uint32(0xD8163841)
    h = (hy[:, None] ^ hx[None, :]) ^ zs
    h ^= h >> 16
    h *= np.uint32(0x7FEB352D)
    h ^= h >> 15
    h *= np.uint32(0x846CA68B)
    h ^= h >> 16
    return (h >> 8).astype(np.float64) * (1.0 / (1 << 24))


class Noise(LayerSource):
    kind = "noise"
    summary = (
        "Smooth value noise that drifts through time, as a tint (black to colour) or through a"
        " palette; the same seed always gives the same pattern."
    )
    animated = True
    params = MappingProxyType(
        {
            "scale": ParamSpec(
                type="number",
                default=0.05,
                minimum=0.0005,
                maximum=1.0,
                unit="cycles/px",
                doc=_SCALE_DOC,
            ),
            "speed": _speed_spec(
                "how fast the pattern changes: noise cells per second (0 = still)", default=0.2
            ),
            "colour": ParamSpec(
                type="colour", default="#ffffff", doc="tint: the noise runs from black to it"
            ),
            "colours": ParamSpec(
                type="palette", default=None, doc="a palette instead of the tint (optional)"
            ),
            "seed": ParamSpec(
                type="integer",
                default=0,
                minimum=0,
                maximum=2**31 - 1,
                doc="which pattern: the same seed always gives the same noise",
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        if "colour" in self.given and "colours" in self.given:
            problems.append(
                self.problem("colours", "give either colour (a tint) or colours, not both")
            )
        colours = values["colours"] or (BLACK, values["colour"])
        self._lut = palette_lut(colours)
        self.speed: float = values["speed"]
        self.seed: int = values["seed"]
        scale: float = values["scale"]
        w, h = self.canvas.width, self.canvas.height
        gx = np.arange(w, dtype=np.float64) * scale
        gy = np.arange(h, dtype=np.float64) * scale
        self._ix = np.floor(gx).astype(np.int64)
        self._iy = np.floor(gy).astype(np.int64)
        self._fx = _smoothstep(gx - self._ix)
        self._fy = _smoothstep(gy - self._iy)
        self._lat_x = np.arange(int(self._ix[-1]) + 2, dtype=np.int64)
        self._lat_y = np.arange(int(self._iy[-1]) + 2, dtype=np.int64)
        self._fy32 = self._fy.astype(np.float32)
        # (lattice row j, first canvas row, end row) for each run of rows sharing iy == j
        starts = np.flatnonzero(np.diff(self._iy, prepend=-1))
        ends = [*starts[1:].tolist(), h]
        self._bands = [
            (int(self._iy[y0]), int(y0), int(y1)) for y0, y1 in zip(starts, ends, strict=True)
        ]
        self._z0: int | None = None
        self._s0 = np.empty((h, w), dtype=np.float32)
        self._s1 = np.empty((h, w), dtype=np.float32)
        self._a = np.empty((h, w), dtype=np.float32)
        self._d = np.empty((h, w), dtype=np.float32)
        self._scratch = fields.Scratch(w * h)

    def slice(self, z: int, out: NDArray[np.float32]) -> None:
        """The noise at integer time z into out (h, w), 0..1: the lattice, smoothly
        interpolated (smoothstep weights) along x, then along y."""
        lat = lattice_values(self._lat_x, self._lat_y, z, self.seed)
        ix, fx = self._ix, self._fx
        rows = (lat[:, ix] * (1.0 - fx) + lat[:, ix + 1] * fx).astype(np.float32)  # (ny, w)
        steps = rows[1:] - rows[:-1]
        # canvas rows between two lattice rows j and j + 1: rows[j] + fy * steps[j]
        for j, y0, y1 in self._bands:
            band = out[y0:y1]
            np.multiply(self._fy32[y0:y1, None], steps[j], out=band)
            band += rows[j]

    def _advance(self, z0: int) -> None:
        if self._z0 is not None and z0 == self._z0 + 1:
            self._s0, self._s1 = self._s1, self._s0
            self.slice(z0 + 1, self._s1)
        elif self._z0 is not None and z0 == self._z0 - 1:
            self._s0, self._s1 = self._s1, self._s0
            self.slice(z0, self._s0)
        else:
            self.slice(z0, self._s0)
            self.slice(z0 + 1, self._s1)
        self._z0 = z0
        top = np.float32(self._lut.shape[0] - 1)
        np.multiply(self._s0, top, out=self._a)
        self._a += np.float32(0.5)
        np.subtract(self._s1, self._s0, out=self._d)
        self._d *= top

    def frame_key(self, t: float) -> Hashable:
        return None if self.speed == 0.0 else t

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        z = self.speed * t
        z0 = math.floor(z)
        if z0 != self._z0:
            self._advance(z0)
        f = z - z0
        fields.lerp_gather(out, self._a, self._d, f * f * (3.0 - 2.0 * f), self._lut, self._scratch)


# ---------------------------------------------------------------------------------------------
# plasma
# ---------------------------------------------------------------------------------------------

# Relative phase rates of the four sine terms: unequal, so the pattern morphs, not just drifts.
_PLASMA_RATES: Final = (1.0, -0.7, 1.3, -1.1)


class Plasma(LayerSource):
    kind = "plasma"
    summary = (
        "Classic plasma: four sine waves (horizontal, vertical, diagonal, rings) summed and"
        " mapped through a palette, each drifting at its own rate."
    )
    animated = True
    params = MappingProxyType(
        {
            "colours": ParamSpec(
                type="palette",
                default=RAINBOW,
                doc="palette, from the lowest to the highest value of the sum",
            ),
            "scale": ParamSpec(
                type="number",
                default=0.03,
                minimum=0.0005,
                maximum=1.0,
                unit="cycles/px",
                doc=_SCALE_DOC,
            ),
            "speed": _speed_spec("phase turns per second of the waves (0 = still)", default=0.2),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self._lut = palette_lut(values["colours"])
        self.speed: float = values["speed"]
        k = 2.0 * math.pi * values["scale"]
        w, h = self.canvas.width, self.canvas.height
        x = np.arange(w, dtype=np.float64)
        y = np.arange(h, dtype=np.float64)
        theta = math.pi / 3.0
        self._kx = k * x  # term 1: sin(k x + p1)
        self._ky = 0.8 * k * y  # term 2: sin(0.8 k y + p2)
        self._ax = 0.9 * k * math.cos(theta) * x  # term 3: sin(ax + by + p3), by = ...
        by = 0.9 * k * math.sin(theta) * y
        self._cb = np.cos(by).astype(np.float32)
        self._sb = np.sin(by).astype(np.float32)
        r = np.hypot(x[None, :] - (w - 1) / 2.0, y[:, None] - (h - 1) / 2.0)
        self._sr = np.sin(1.1 * k * r).astype(np.float32)  # term 4: sin(1.1 k r + p4)
        self._cr = np.cos(1.1 * k * r).astype(np.float32)
        # the sum (-4..4) scaled onto the palette entries 0..m-1, +0.5 to round
        self._gain = (self._lut.shape[0] - 1) / 8.0
        self._colx = np.empty(w, dtype=np.float32)
        self._rowy = np.empty(h, dtype=np.float32)
        self._sa = np.empty(w, dtype=np.float32)
        self._ca = np.empty(w, dtype=np.float32)
        self._scratch = fields.Scratch(w * h)

    def frame_key(self, t: float) -> Hashable:
        return None if self.speed == 0.0 else t

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        p1, p2, p3, p4 = (
            2.0 * math.pi * _cycle_phase(self.speed * rate * t) for rate in _PLASMA_RATES
        )
        g = self._gain
        self._colx[...] = g * np.sin(self._kx + p1) + (4.0 * g + 0.5)
        self._rowy[...] = g * np.sin(self._ky + p2)
        a = self._ax + p3
        self._sa[...] = g * np.sin(a)
        self._ca[...] = g * np.cos(a)
        fields.plasma_gather(
            out,
            self._colx,
            self._rowy,
            self._sa,
            self._ca,
            self._cb,
            self._sb,
            self._sr,
            self._cr,
            g * math.cos(p4),
            g * math.sin(p4),
            self._lut,
            self._scratch,
        )


# ---------------------------------------------------------------------------------------------
# test patterns
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# still image
# ---------------------------------------------------------------------------------------------


class Image(LayerSource):
    kind = "image"
    summary = "A still image file (PNG, JPEG, …) fitted to the canvas."
    animated = False
    params = MappingProxyType(
        {
            "path": ParamSpec(
                type="path",
                required=True,
                doc="image file (PNG, JPEG, …), absolute or relative to the working directory",
            ),
            "fit": ParamSpec(
                type="choice",
                default="contain",
                choices=FITS,
                doc="stretch = fill, ignoring the aspect ratio; contain = all of the image,"
                " bars in the background colour; cover = fill the canvas, cropping the image",
            ),
            "background": ParamSpec(
                type="colour",
                default="#000000",
                doc="colour of the bars (contain) and behind transparent pixels",
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.picture: NDArray[np.uint16] | None = None
        path: str | None = values["path"]
        if path is None:
            return
        try:
            self.picture = read_image(
                path, self.canvas.width, self.canvas.height, values["fit"], values["background"]
            )
        except ImageError as exc:
            problems.append(self.problem("path", str(exc)))

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        assert self.picture is not None  # __init__ raised otherwise
        np.copyto(out, self.picture)


# ---------------------------------------------------------------------------------------------
# the fallback of live and video sources
# ---------------------------------------------------------------------------------------------

FALLBACK_IMAGE: Final = ParamSpec(
    type="path",
    doc="a still image shown instead of the fallback colour (fitted, bars in that colour)",
)


def fallback_frame(
    source: LayerSource, values: Mapping[str, Any], problems: list[str]
) -> NDArray[np.uint16]:
    """What a video or live layer shows without a picture: ``fallback_image`` fitted to the
    canvas over the ``fallback`` colour, or just the colour. A (h, w, 3) uint16 frame."""
    c = source.canvas
    colour = values["fallback"]
    frame = np.empty((c.height, c.width, 3), dtype=np.uint16)
    frame[...] = np.asarray(colour, dtype=np.uint16)
    path = values["fallback_image"]
    if path is not None:
        try:
            frame = read_image(path, c.width, c.height, "contain", colour)
        except ImageError as exc:
            problems.append(source.problem("fallback_image", str(exc)))
    return frame


# ---------------------------------------------------------------------------------------------
# live MDVR camera
# ---------------------------------------------------------------------------------------------


class MdvrLive(LayerSource):
    kind = "mdvr-live"
    summary = (
        "Live video from an MDVR vehicle camera (start it through the gateway), scaled to the"
        " canvas; a colour while no frames arrive."
    )
    animated = True
    params = MappingProxyType(
        {
            "device": ParamSpec(type="string", required=True, doc="MDVR device id, e.g. 00967"),
            "channel": ParamSpec(
                type="integer", default=0, minimum=0, maximum=15, doc="camera channel, 0-based"
            ),
            "fallback": ParamSpec(
                type="colour", default="#000000", doc="shown when no frame has arrived lately"
            ),
            "fallback_image": FALLBACK_IMAGE,
            "fallback_after_s": ParamSpec(
                type="number",
                default=2.0,
                minimum=0.05,
                maximum=3600.0,
                unit="s",
                doc="seconds without a frame before the fallback colour is shown",
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        from ..mdvr.feeds import LIVE_FEEDS  # no Trio/PyAV: just the frames the gateway decodes

        self.fallback = fallback_frame(self, values, problems)
        self.fallback_after_s: float = values["fallback_after_s"]
        self.size = (self.canvas.width, self.canvas.height)
        self.feed = LIVE_FEEDS.feed(str(values["device"] or ""), int(values["channel"]))
        self.feed.want(self.size)  # the decoder scales to this size from the next picture
        self._closed = False

    def _live(self) -> bool:
        age = self.feed.age_s()
        return age is not None and age <= self.fallback_after_s and self.size in self.feed.frames

    def frame_key(self, t: float) -> Hashable:
        return self.feed.seq if self._live() else "fallback"

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        frame = self.feed.frames.get(self.size) if self._live() else None
        if frame is None:
            np.copyto(out, self.fallback)
        else:
            np.copyto(out, frame)

    @property
    def latency_ms(self) -> float | None:
        """Packet received → frame ready at this canvas's size (None before any frame)."""
        return self.feed.latency_ms

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.feed.unwant(self.size)


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------


def _module_sources() -> tuple[type[LayerSource], ...]:
    # video.py and templates.py build on this module's LayerSource
    from .templates import TEMPLATES
    from .video import Video

    return (Video, *TEMPLATES)


_KINDS: tuple[type[LayerSource], ...] = (
    Solid,
    LinearGradient,
    RadialGradient,
    Chase,
    Noise,
    Plasma,
    TestIdentify,
    TestUniverse,
    TestColourBars,
    Image,
    MdvrLive,
    *_module_sources(),
)
SOURCES: Mapping[str, type[LayerSource]] = MappingProxyType({cls.kind: cls for cls in _KINDS})
"""Every source kind by name (the names show files use)."""


def build_source(kind: str, params: Mapping[str, Any], canvas: CanvasContext) -> LayerSource:
    """A source of `kind` for `canvas`; SourceError lists every problem (or the known kinds)."""
    cls = SOURCES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        close = difflib.get_close_matches(str(kind), list(SOURCES), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        raise SourceError(
            f"unknown layer source {shown(kind)}{hint} (known: {', '.join(sorted(SOURCES))})"
        )
    return cls(params, canvas)


def describe_sources() -> dict[str, Any]:
    """JSON-able schema of every kind: summary, animated, params (type/default/range/doc…)."""
    return {
        kind: {
            "summary": cls.summary,
            "animated": cls.animated,
            "params": {name: spec.describe() for name, spec in cls.params.items()},
        }
        for kind, cls in SOURCES.items()
    }
