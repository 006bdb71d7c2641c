"""The patch: which canvas pixel drives which DMX slot, compiled into arrays for the gather kernel.

`compile_patch(show)` checks every fixture of a `ShowDef` and builds a `CompiledPatch`, or raises
`PatchError` listing every problem at once, each naming the fixture (or canvas / fixture type).

Mapping rules
-------------
Pixel positions (canvas column x, row y; (0, 0) is the top-left of the canvas):

* **Strip** (``shape = "strip"``): ``pixels`` pixels; pixel k sits at (x, y) + k steps in
  ``direction`` (right = +x, left = -x, down = +y, up = -y).
* **Matrix** (``shape = "matrix"``): ``width`` x ``height`` pixels occupying the canvas rectangle
  whose top-left pixel is (x, y), whatever the start corner. The first pixel is at
  ``start_corner``; the wiring runs along ``order`` ("rows": across the first row, then the next
  row towards the opposite corner; "columns": down/up the first column, then the next column).
  Lines all run the same way unless ``serpentine`` is set, in which case every other line runs
  back (zig-zag: line 0 leaves the start corner, line 1 comes back, ...).
* Every pixel must lie inside its canvas. Two fixtures may sample the same canvas pixel (a
  mirrored run is legitimate); they may not share a DMX slot.

Slots per pixel and what they carry (canvas values are 16-bit R, G, B):

=========  =====  ==========================================================================
order      slots  slot values
=========  =====  ==========================================================================
RGB        3      R, G, B
GRB        3      G, R, B
BGR        3      B, G, R
RGBW       4      R-W, G-W, B-W, W with W = min(R, G, B) (the ``rgb_to_rgbw`` kernel)
RGBA       4      the same four values, the common part going to the amber slot (a documented
                  simplification: amber is treated as the fixture's "white")
DIMMER     1      max(R, G, B) (the pixel's intensity)
=========  =====  ==========================================================================

Channels: a fixture's slots run on from (``universe``, ``channel``), pixel after pixel, into the
following universes. A pixel NEVER straddles two universes: when a pixel's slots would pass
``universe_size`` (510 or 512), that pixel starts at channel 1 of the next universe, and the
slots it skipped stay free (another fixture may use them; undriven slots are sent as 0).
With 510, slots 511-512 of every universe are never driven by that fixture. Universes run up to
63999 (E1.31); a fixture whose pixels would need a later universe is rejected, as is a start
channel beyond ``universe_size`` and any slot claimed by two fixtures.

Correction: every slot goes through one 65536-entry lookup table (16-bit canvas value -> 8-bit
DMX value) built with ``native.kernels.build_lut`` from its fixture type's gamma and dimmer curve
and the white-balance gain of the colour channel the slot carries. ``white_balance`` holds 1
gain (all channels), 3 (R, G, B; W/amber 1.0) or 4 (R, G, B, W-or-amber); a DIMMER slot takes
the fourth gain (1.0 when there is none). Fixtures with ``type = ""`` use the built-in default
type: gamma 2.2, linear curve, unity gains. Identical tables (same gamma, curve and gain) are
stored once; table 0 is always the default (gamma 2.2, gain 1, linear).

Compiled layout
---------------
One flat uint16 **source vector** holds every canvas, in show order, each as::

    [ RGB plane h*w*3 | RGBW plane h*w*4 (only if an RGBW/RGBA fixture samples the canvas)
                      | intensity plane h*w (only if a DIMMER fixture samples the canvas) ]

The renderer composes each canvas straight into its RGB plane, derives the optional planes
(``rgb_to_rgbw``, max over R, G, B; RGBA fixtures read the RGBW plane) and then fills every
universe with one ``lut_gather_u8`` call over ``src_index`` / ``lut_id`` / ``luts``. The output
frame is ``len(universes) * 512`` bytes: universe ``universes[i]`` occupies bytes
``[i*512, (i+1)*512)`` (channel c at byte ``i*512 + c - 1``); only universes with at least one
patched slot are listed.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, TypeVar

import numpy as np
from numpy.typing import NDArray

from trocadero.config.show import MAX_UNIVERSE, FixtureDef, FixtureTypeDef, ShowDef
from trocadero.native import kernels

__all__ = [
    "COMPONENTS",
    "DEFAULT_TYPE",
    "SLOTS_PER_PIXEL",
    "UNIVERSE_BYTES",
    "CanvasMap",
    "CompiledPatch",
    "FixtureMap",
    "LutParams",
    "PatchError",
    "SlotInfo",
    "compile_patch",
    "fixture_pixels",
]

UNIVERSE_BYTES: Final = 512
"""Bytes per universe in the compiled frame (DMX512 slots 1..512)."""

MAX_LUTS: Final = 256  # lut_id is uint8

SLOTS_PER_PIXEL: Final[Mapping[str, int]] = MappingProxyType(
    {"RGB": 3, "GRB": 3, "BGR": 3, "RGBW": 4, "RGBA": 4, "DIMMER": 1}
)

COMPONENTS: Final[Mapping[str, str]] = MappingProxyType(
    {"RGB": "RGB", "GRB": "GRB", "BGR": "BGR", "RGBW": "RGBW", "RGBA": "RGBA", "DIMMER": "I"}
)
"""Per colour order, the letter each slot carries (I = intensity), for display."""

# Per colour order: (plane, component index within the plane's pixel, gain index R/G/B/W=0..3).
_RGB, _RGBW, _INTENSITY = "rgb", "rgbw", "intensity"
_SLOT_SOURCES: Final[Mapping[str, tuple[str, tuple[int, ...], tuple[int, ...]]]] = {
    "RGB": (_RGB, (0, 1, 2), (0, 1, 2)),
    "GRB": (_RGB, (1, 0, 2), (1, 0, 2)),
    "BGR": (_RGB, (2, 1, 0), (2, 1, 0)),
    "RGBW": (_RGBW, (0, 1, 2, 3), (0, 1, 2, 3)),
    "RGBA": (_RGBW, (0, 1, 2, 3), (0, 1, 2, 3)),
    "DIMMER": (_INTENSITY, (0,), (3,)),
}
_PLANE_WIDTH: Final[Mapping[str, int]] = {_RGB: 3, _RGBW: 4, _INTENSITY: 1}

_STEPS: Final[Mapping[str, tuple[int, int]]] = {
    "right": (1, 0),
    "left": (-1, 0),
    "down": (0, 1),
    "up": (0, -1),
}
_CORNERS: Final = ("top-left", "top-right", "bottom-left", "bottom-right")
_ORDERS: Final = ("rows", "columns")
_SHAPES: Final = ("strip", "matrix")
_UNIVERSE_SIZES: Final = (510, 512)
_CURVES: Final = ("linear", "square", "s-curve")

DEFAULT_TYPE: Final = FixtureTypeDef(name="", gamma=2.2, curve="linear", white_balance=(1.0,))
"""What ``type = ""`` means: gamma 2.2, linear curve, unity white balance."""


class PatchError(ValueError):
    """The patch cannot be compiled; ``problems`` has one line per problem, naming the fixture."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class LutParams:
    """What one lookup table was built from (``native.kernels.build_lut`` arguments)."""

    gamma: float
    gain: float
    curve: str


@dataclass(frozen=True, slots=True, eq=False)  # holds arrays: compare by identity
class CanvasMap:
    """Where a canvas lives in the source vector, and which fixture samples each pixel.

    ``pixel_fixture[y, x]`` is an index into ``CompiledPatch.fixture_names`` (-1: no fixture);
    ``pixel_universe[y, x]`` the universe carrying that pixel (-1: none). When several fixtures
    sample a pixel, both name the one listed first in the show.
    """

    name: str
    width: int
    height: int
    rgb_offset: int
    rgbw_offset: int | None
    intensity_offset: int | None
    pixel_fixture: NDArray[np.int32]
    pixel_universe: NDArray[np.int32]

    @property
    def end(self) -> int:
        """One past this canvas's last value in the source vector."""
        n = self.width * self.height
        if self.intensity_offset is not None:
            return self.intensity_offset + n
        if self.rgbw_offset is not None:
            return self.rgbw_offset + 4 * n
        return self.rgb_offset + 3 * n


@dataclass(frozen=True, slots=True, eq=False)  # holds arrays: compare by identity
class FixtureMap:
    """One compiled fixture, for introspection (web patch view, identify, tests).

    ``pixels`` is (pixel_count, 2) int32: the canvas (x, y) of each pixel in wiring order.
    ``ranges`` is ((universe, first_channel, last_channel), ...), channels 1-based, inclusive.
    """

    index: int
    name: str
    canvas: str
    type: str
    colour_order: str
    slots_per_pixel: int
    pixel_count: int
    pixels: NDArray[np.int32]
    ranges: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True, slots=True)
class SlotInfo:
    """What drives one DMX slot: fixture, its pixel (index in wiring order and canvas x, y)
    and the component the slot carries (R, G, B, W, A or I for intensity)."""

    fixture: str
    pixel: int
    x: int
    y: int
    component: str


@dataclass(frozen=True, slots=True, eq=False)  # holds arrays: compare by identity
class CompiledPatch:
    """The patch as arrays for ``lut_gather_u8``; immutable (arrays are read-only)."""

    universes: tuple[int, ...]
    universe_index: Mapping[int, int]
    src_index: NDArray[np.int32]
    lut_id: NDArray[np.uint8]
    luts: NDArray[np.uint8]
    lut_params: tuple[LutParams, ...]
    source_length: int
    canvases: Mapping[str, CanvasMap]
    fixture_names: tuple[str, ...]
    fixtures: Mapping[str, FixtureMap]
    fixture_ranges: Mapping[str, tuple[tuple[int, int, int], ...]]
    slot_fixture: NDArray[np.int32] = field(repr=False)
    """Per frame byte: index into ``fixture_names`` of the fixture driving it, or -1."""

    @property
    def frame_bytes(self) -> int:
        """Length of the universe buffer: 512 bytes per patched universe."""
        return len(self.universes) * UNIVERSE_BYTES

    def gather(self, source: NDArray[np.uint16], out: NDArray[np.uint8]) -> None:
        """Fill the universe buffer ``out`` (``frame_bytes`` uint8) from the source vector.

        ``source`` must hold ``source_length`` values with every plane derived (RGBW and
        intensity planes included). Unpatched slots are written as 0.
        """
        if source.size != self.source_length:
            raise ValueError(
                f"source has {source.size} values, expected source_length {self.source_length}"
            )
        kernels.lut_gather_u8(out, source, self.src_index, self.lut_id, self.luts)

    def locate(self, universe: int, channel: int) -> SlotInfo | None:
        """What drives ``channel`` (1-based) of ``universe``, or None if nothing does."""
        row = self.universe_index.get(universe)
        if row is None or not 1 <= channel <= UNIVERSE_BYTES:
            return None
        pos = row * UNIVERSE_BYTES + channel - 1
        owner = int(self.slot_fixture[pos])
        if owner < 0:
            return None
        fx = self.fixtures[self.fixture_names[owner]]
        # Slot number within the fixture: walk its ranges (a handful of universes at most).
        slots_before = 0
        for u, first, last in fx.ranges:
            if u == universe and first <= channel <= last:
                slot = slots_before + channel - first
                break
            slots_before += last - first + 1
        else:  # pragma: no cover - slot_fixture and ranges are built together
            return None
        pixel, component = divmod(slot, fx.slots_per_pixel)
        x, y = (int(v) for v in fx.pixels[pixel])
        return SlotInfo(fx.name, pixel, x, y, COMPONENTS[fx.colour_order][component])


# ---------------------------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------------------------


def fixture_pixels(fx: FixtureDef) -> NDArray[np.int32]:
    """The canvas (x, y) of each of the fixture's pixels in wiring order, shape (n, 2).

    Unchecked: positions may fall outside the canvas (``compile_patch`` reports those).
    """
    if fx.shape == "strip":
        k = np.arange(fx.pixels, dtype=np.int64)
        dx, dy = _STEPS[fx.direction]
        xs, ys = fx.x + dx * k, fx.y + dy * k
    else:
        w, h = fx.width, fx.height
        k = np.arange(w * h, dtype=np.int64)
        line_len = w if fx.order == "rows" else h
        line, along = np.divmod(k, line_len)
        if fx.serpentine:
            along = np.where(line % 2 == 1, line_len - 1 - along, along)
        top = fx.start_corner.startswith("top")
        left = fx.start_corner.endswith("left")
        if fx.order == "rows":
            rows, cols = line, along
        else:
            cols, rows = line, along
        ys = fx.y + (rows if top else h - 1 - rows)
        xs = fx.x + (cols if left else w - 1 - cols)
    return np.stack([xs, ys], axis=1).astype(np.int32)


def _slot_starts(
    n: int, slots: int, universe: int, channel: int, size: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per pixel: its universe number and the 0-based channel of its first slot."""
    k = np.arange(n, dtype=np.int64)
    offset = channel - 1
    in_first = max(0, (size - offset) // slots)  # whole pixels that fit in the first universe
    per_universe = size // slots
    later = k - in_first
    rel_universe = np.where(k < in_first, 0, 1 + later // per_universe)
    first_slot = np.where(k < in_first, offset + k * slots, (later % per_universe) * slots)
    return universe + rel_universe, first_slot


# ---------------------------------------------------------------------------------------------
# compile
# ---------------------------------------------------------------------------------------------


@dataclass
class _Placed:
    """A fixture that passed its own checks, before overlaps are known."""

    index: int
    fx: FixtureDef
    canvas: int
    type_gains: tuple[float, float, float, float]
    type_def: FixtureTypeDef
    pixels: NDArray[np.int32]
    universe: NDArray[np.int64]
    first_slot: NDArray[np.int64]
    slots: int


def _label(fx: FixtureDef, index: int) -> str:
    return f'fixture "{fx.name}"' if fx.name else f"fixtures[{index}] (no name)"


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f'; did you mean "{close[0]}"?' if close else ""


def _duplicates(names: Sequence[str]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        seen.setdefault(name, []).append(i)
    return {n: idx for n, idx in seen.items() if len(idx) > 1 and n}


def _type_gains(t: FixtureTypeDef, problems: list[str]) -> tuple[float, float, float, float] | None:
    where = f'fixture type "{t.name}"'
    ok = True
    if not (isinstance(t.gamma, int | float) and math.isfinite(t.gamma) and t.gamma > 0):
        problems.append(f"{where}: gamma must be a finite number > 0 (got {t.gamma!r})")
        ok = False
    if t.curve not in _CURVES:
        problems.append(f"{where}: curve must be one of {', '.join(_CURVES)} (got {t.curve!r})")
        ok = False
    wb = tuple(t.white_balance)
    if len(wb) not in (1, 3, 4):
        problems.append(
            f"{where}: white_balance must hold 1, 3 (R, G, B) or 4 (R, G, B, W) gains"
            f" (got {len(wb)})"
        )
        return None
    bad = [g for g in wb if not (isinstance(g, int | float) and math.isfinite(g) and 0 <= g <= 1)]
    if bad:
        problems.append(f"{where}: white_balance gains must be between 0 and 1 (got {bad[0]!r})")
        return None
    if not ok:
        return None
    if len(wb) == 1:
        return (wb[0], wb[0], wb[0], wb[0])
    if len(wb) == 3:
        return (wb[0], wb[1], wb[2], 1.0)
    return (wb[0], wb[1], wb[2], wb[3])


def _check_fields(fx: FixtureDef, where: str, problems: list[str]) -> bool:
    """Checks the loader already does for TOML, repeated for shows built in Python."""
    before = len(problems)

    def choice(key: str, value: object, allowed: Sequence[object]) -> None:
        if value not in allowed:
            listed = ", ".join(repr(a) for a in allowed)
            problems.append(f"{where}: {key} must be one of {listed} (got {value!r})")

    choice("shape", fx.shape, _SHAPES)
    choice("colour_order", fx.colour_order, tuple(SLOTS_PER_PIXEL))
    choice("universe_size", fx.universe_size, _UNIVERSE_SIZES)
    if fx.shape == "strip":
        choice("direction", fx.direction, tuple(_STEPS))
        if fx.pixels < 1:
            hint = '; for a width x height matrix set shape = "matrix"' if fx.width else ""
            problems.append(f"{where}: strip has no pixels (pixels = {fx.pixels}){hint}")
    elif fx.shape == "matrix":
        choice("start_corner", fx.start_corner, _CORNERS)
        choice("order", fx.order, _ORDERS)
        if fx.width < 1 or fx.height < 1:
            problems.append(
                f"{where}: matrix is {fx.width} x {fx.height} pixels"
                " (width and height must be at least 1)"
            )
    if not 1 <= fx.universe <= MAX_UNIVERSE:
        problems.append(
            f"{where}: universe must be between 1 and {MAX_UNIVERSE} (got {fx.universe})"
        )
    if fx.channel < 1:
        problems.append(f"{where}: channel must be at least 1 (got {fx.channel})")
    elif fx.universe_size in _UNIVERSE_SIZES and fx.channel > fx.universe_size:
        problems.append(f"{where}: channel {fx.channel} is beyond universe_size {fx.universe_size}")
    return len(problems) == before


def compile_patch(show: ShowDef) -> CompiledPatch:
    """Check the show's canvases, fixture types and fixtures; build the gather arrays.

    Raises ``PatchError`` with every problem found (not just the first).
    """
    problems: list[str] = []

    # canvases
    canvas_names = [c.name for c in show.canvases]
    for name, idx in _duplicates(canvas_names).items():
        problems.append(f'canvas "{name}": the name is used by {len(idx)} canvases')
    canvas_index: dict[str, int] = {}
    for i, c in enumerate(show.canvases):
        if not c.name:
            problems.append(f"canvases[{i}]: name is empty")
        if c.width < 1 or c.height < 1:
            problems.append(f'canvas "{c.name}": size {c.width} x {c.height} (must be at least 1)')
        canvas_index.setdefault(c.name, i)

    # fixture types
    type_names = [t.name for t in show.fixture_types]
    for name, idx in _duplicates(type_names).items():
        problems.append(f'fixture type "{name}": the name is used by {len(idx)} fixture types')
    types: dict[str, tuple[FixtureTypeDef, tuple[float, float, float, float] | None]] = {
        "": (DEFAULT_TYPE, (1.0, 1.0, 1.0, 1.0))
    }
    for i, t in enumerate(show.fixture_types):
        if not t.name:
            problems.append(f'fixture_types[{i}]: name is empty (type "" is the built-in default)')
            continue
        if t.name not in types:  # a duplicate is reported above; the first one counts
            types[t.name] = (t, _type_gains(t, problems))

    # fixtures, each on its own
    fixture_names = tuple(f.name for f in show.fixtures)
    for name, idx in _duplicates(fixture_names).items():
        listed = ", ".join(f"fixtures[{i}]" for i in idx)
        problems.append(f'fixture "{name}": the name is used by {len(idx)} fixtures ({listed})')
    placed: list[_Placed] = []
    for i, fx in enumerate(show.fixtures):
        p = _place(i, fx, show, canvas_index, types, problems)
        if p is not None:
            placed.append(p)

    # universes and overlaps
    if placed:
        universe_arr = np.unique(np.concatenate([np.unique(p.universe) for p in placed]))
    else:
        universe_arr = np.zeros(0, dtype=np.int64)
    frame_bytes = universe_arr.size * UNIVERSE_BYTES
    slot_fixture = np.full(frame_bytes, -1, dtype=np.int32)
    positions: dict[int, NDArray[np.int64]] = {}
    for p in placed:
        row = np.searchsorted(universe_arr, p.universe)
        pos = (row * UNIVERSE_BYTES + p.first_slot)[:, None] + np.arange(p.slots)
        positions[p.index] = pos
        flat = pos.reshape(-1)
        owners = slot_fixture[flat]
        taken = owners >= 0
        if taken.any():
            _report_overlaps(p, flat, owners, taken, universe_arr, show.fixtures, problems)
            flat = flat[~taken]
        slot_fixture[flat] = p.index

    if problems:
        raise PatchError(problems)
    return _build(show, placed, positions, universe_arr, slot_fixture, fixture_names)


def _place(
    i: int,
    fx: FixtureDef,
    show: ShowDef,
    canvas_index: Mapping[str, int],
    types: Mapping[str, tuple[FixtureTypeDef, tuple[float, float, float, float] | None]],
    problems: list[str],
) -> _Placed | None:
    """Check one fixture and work out its pixels and slots.

    Returns None only when its slots cannot be worked out; a fixture with other problems
    (unknown canvas or type, pixels outside) is still returned so that its channel overlaps
    are reported too (``compile_patch`` raises before building anything).
    """
    where = _label(fx, i)
    fields_ok = _check_fields(fx, where, problems)
    canvas = canvas_index.get(fx.canvas, -1)
    if canvas < 0:
        if fx.canvas:
            problems.append(
                f'{where}: unknown canvas "{fx.canvas}"{_suggest(fx.canvas, canvas_index)}'
            )
        else:
            problems.append(f"{where}: canvas is empty (name the canvas it samples)")
    type_def, gains = types.get(fx.type, (DEFAULT_TYPE, None))
    if fx.type not in types:
        known = [t for t in types if t]
        problems.append(f'{where}: unknown fixture type "{fx.type}"{_suggest(fx.type, known)}')
    if not fields_ok:
        return None
    pixels = fixture_pixels(fx)
    if canvas >= 0:
        cdef = show.canvases[canvas]
        xs, ys = pixels[:, 0], pixels[:, 1]
        outside = (xs < 0) | (xs >= cdef.width) | (ys < 0) | (ys >= cdef.height)
        n_out = int(np.count_nonzero(outside))
        if n_out:
            first = int(np.argmax(outside))
            more = f"; {n_out} of its {len(pixels)} pixels are outside" if n_out > 1 else ""
            problems.append(
                f"{where}: pixel ({xs[first]}, {ys[first]}) is outside canvas"
                f' "{cdef.name}" ({cdef.width} x {cdef.height}){more}'
            )
    slots = SLOTS_PER_PIXEL[fx.colour_order]
    universe, first_slot = _slot_starts(
        len(pixels), slots, fx.universe, fx.channel, fx.universe_size
    )
    last = int(universe[-1])
    if last > MAX_UNIVERSE:
        problems.append(
            f"{where}: runs past universe {MAX_UNIVERSE}"
            f" (its {len(pixels)} pixels need universes {int(universe[0])}..{last})"
        )
        return None
    return _Placed(
        i, fx, canvas, gains or (1.0, 1.0, 1.0, 1.0), type_def, pixels, universe, first_slot, slots
    )


def _report_overlaps(
    p: _Placed,
    flat: NDArray[np.int64],
    owners: NDArray[np.int32],
    taken: NDArray[np.bool_],
    universe_arr: NDArray[np.int64],
    fixtures: Sequence[FixtureDef],
    problems: list[str],
) -> None:
    where = _label(p.fx, p.index)
    for other in np.unique(owners[taken]):
        mine = np.flatnonzero(owners == other)
        row, ch = divmod(int(flat[mine[0]]), UNIVERSE_BYTES)
        more = f" (and {len(mine) - 1} more channels)" if len(mine) > 1 else ""
        problems.append(
            f"{where}: universe {int(universe_arr[row])} channel {ch + 1} is already used by"
            f" {_label(fixtures[int(other)], int(other))}{more}"
        )


def _build(
    show: ShowDef,
    placed: list[_Placed],
    positions: Mapping[int, NDArray[np.int64]],
    universe_arr: NDArray[np.int64],
    slot_fixture: NDArray[np.int32],
    fixture_names: tuple[str, ...],
) -> CompiledPatch:
    frame_bytes = universe_arr.size * UNIVERSE_BYTES

    # source vector layout
    planes_needed: dict[int, set[str]] = {}
    for p in placed:
        planes_needed.setdefault(p.canvas, set()).add(_SLOT_SOURCES[p.fx.colour_order][0])
    offsets: list[dict[str, int]] = []
    cursor = 0
    for ci, c in enumerate(show.canvases):
        n = c.width * c.height
        off = {_RGB: cursor}
        cursor += 3 * n
        needed = planes_needed.get(ci, set())
        for plane in (_RGBW, _INTENSITY):
            if plane in needed:
                off[plane] = cursor
                cursor += _PLANE_WIDTH[plane] * n
        offsets.append(off)
    source_length = cursor
    if source_length > np.iinfo(np.int32).max:
        raise PatchError([f"the canvases need {source_length} source values (at most 2**31 - 1)"])

    # lookup tables: one per distinct (gamma, gain, curve), the default first
    lut_keys: dict[LutParams, int] = {LutParams(2.2, 1.0, "linear"): 0}
    src_index = np.full(frame_bytes, -1, dtype=np.int32)
    lut_id = np.zeros(frame_bytes, dtype=np.uint8)
    problems: list[str] = []
    for p in placed:
        plane, comps, gain_idx = _SLOT_SOURCES[p.fx.colour_order]
        width = show.canvases[p.canvas].width
        pix = p.pixels[:, 1].astype(np.int64) * width + p.pixels[:, 0]
        src = offsets[p.canvas][plane] + pix[:, None] * _PLANE_WIDTH[plane] + np.array(comps)
        ids = []
        for g in gain_idx:
            key = LutParams(float(p.type_def.gamma), float(p.type_gains[g]), p.type_def.curve)
            ids.append(lut_keys.setdefault(key, len(lut_keys)))
        if len(lut_keys) > MAX_LUTS:
            problems.append(
                f"{_label(p.fx, p.index)}: the show needs more than {MAX_LUTS} distinct"
                " lookup tables (gamma, curve and white-balance combinations)"
            )
            break
        pos = positions[p.index]
        src_index[pos] = src
        lut_id[pos] = np.array(ids, dtype=np.uint8)
    if problems:
        raise PatchError(problems)
    lut_params = tuple(lut_keys)
    luts = np.stack([kernels.build_lut(k.gamma, k.gain, k.curve) for k in lut_params])

    # per canvas maps
    canvases: dict[str, CanvasMap] = {}
    pixel_maps = []
    for c in show.canvases:
        pf = np.full((c.height, c.width), -1, dtype=np.int32)
        pu = np.full((c.height, c.width), -1, dtype=np.int32)
        pixel_maps.append((pf, pu))
    for p in placed:
        pf, pu = pixel_maps[p.canvas]
        xs, ys = p.pixels[:, 0], p.pixels[:, 1]
        free = pf[ys, xs] < 0
        pf[ys[free], xs[free]] = p.index
        pu[ys[free], xs[free]] = p.universe[free]
    for ci, c in enumerate(show.canvases):
        if c.name in canvases:
            continue
        pf, pu = pixel_maps[ci]
        off = offsets[ci]
        canvases[c.name] = CanvasMap(
            name=c.name,
            width=c.width,
            height=c.height,
            rgb_offset=off[_RGB],
            rgbw_offset=off.get(_RGBW),
            intensity_offset=off.get(_INTENSITY),
            pixel_fixture=_frozen(pf),
            pixel_universe=_frozen(pu),
        )

    # per fixture introspection
    fixtures: dict[str, FixtureMap] = {}
    for p in placed:
        fixtures[p.fx.name] = FixtureMap(
            index=p.index,
            name=p.fx.name,
            canvas=p.fx.canvas,
            type=p.fx.type,
            colour_order=p.fx.colour_order,
            slots_per_pixel=p.slots,
            pixel_count=len(p.pixels),
            pixels=_frozen(p.pixels),
            ranges=_ranges(p),
        )

    universes = tuple(int(u) for u in universe_arr)
    return CompiledPatch(
        universes=universes,
        universe_index=MappingProxyType({u: i for i, u in enumerate(universes)}),
        src_index=_frozen(src_index),
        lut_id=_frozen(lut_id),
        luts=_frozen(luts),
        lut_params=lut_params,
        source_length=source_length,
        canvases=MappingProxyType(canvases),
        fixture_names=fixture_names,
        fixtures=MappingProxyType(fixtures),
        fixture_ranges=MappingProxyType({n: f.ranges for n, f in fixtures.items()}),
        slot_fixture=_frozen(slot_fixture),
    )


def _ranges(p: _Placed) -> tuple[tuple[int, int, int], ...]:
    """(universe, first channel, last channel) per universe the fixture drives."""
    u = p.universe
    starts = np.concatenate([[0], np.flatnonzero(np.diff(u)) + 1])
    ends = np.concatenate([starts[1:] - 1, [len(u) - 1]])
    return tuple(
        (int(u[s]), int(p.first_slot[s]) + 1, int(p.first_slot[e]) + p.slots)
        for s, e in zip(starts, ends, strict=True)
    )


_A = TypeVar("_A", bound=np.generic)


def _frozen(arr: NDArray[_A]) -> NDArray[_A]:
    arr.setflags(write=False)
    return arr
