"""The show as configured: canvases, fixture types, fixtures (the patch) and layer stacks.

Validated by the same loader as the daemon config, so a bad show file gets the same
`FILE: key.path: what is wrong (got X)` errors. Cross-references (a fixture's canvas, its
type, overlapping channels) are checked when the patch is compiled (`core/patch.py`), which
names the fixture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal

from .fields import JSON_MAX_BYTES, NAME_MAX, setting

ColourOrder = Literal["RGB", "GRB", "BGR", "RGBW", "RGBA", "DIMMER"]
Shape = Literal["strip", "matrix"]
Direction = Literal["right", "left", "down", "up"]
Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
BlendName = Literal["normal", "add", "multiply", "screen", "max"]
DimmerCurve = Literal["linear", "square", "s-curve"]
FadeCurve = Literal["linear", "s-curve", "ease-in", "ease-out", "snap"]
ListMode = Literal["ltp", "htp"]
SafeState = Literal["black", "hold"]

MAX_UNIVERSE = 63999  # E1.31 universe range (Art-Net maps onto the same numbers)


# The elevation drawing the building view lays canvases on: building units (metres on the
# default show), x to the right and y down from its top-left corner.
PLACEMENT_MAX = 10_000.0


@dataclass(frozen=True, slots=True)
class CanvasPlacement:
    """Where a canvas sits on the building's elevation drawing (the UI's building view)."""

    x: float = setting(
        0.0, "left edge, building units from the left", minimum=0.0, maximum=PLACEMENT_MAX
    )
    y: float = setting(
        0.0, "top edge, building units down from the top", minimum=0.0, maximum=PLACEMENT_MAX
    )
    width: float = setting(0.0, "width in building units (> 0)", minimum=0.0, maximum=PLACEMENT_MAX)
    height: float = setting(
        0.0, "height in building units (> 0)", minimum=0.0, maximum=PLACEMENT_MAX
    )

    def validate(self) -> list[str]:
        # Checked here rather than by a minimum: 0 is a number a drawing could hold, but a
        # canvas with no area cannot be drawn or clicked.
        return [
            f"{key}: must be greater than 0 (got {value!r})"
            for key, value in (("width", self.width), ("height", self.height))
            if value <= 0
        ]


@dataclass(frozen=True, slots=True)
class CanvasDef:
    """An RGB pixel surface that layers render into."""

    name: str = setting("", "unique canvas name", max_length=NAME_MAX)
    width: int = setting(1, "pixels across", minimum=1, maximum=8192)
    height: int = setting(1, "pixels down", minimum=1, maximum=8192)
    master: float = setting(1.0, "canvas master level, 0..1", minimum=0.0, maximum=1.0)
    description: str = setting("", "what this canvas is in the building")
    placement: CanvasPlacement | None = setting(
        None, "where it sits on the building's elevation drawing (absent: not drawn there)"
    )


@dataclass(frozen=True, slots=True)
class FixtureTypeDef:
    """Output correction shared by fixtures of one make: gamma, curve, white balance."""

    name: str = setting("", "unique fixture type name", max_length=NAME_MAX)
    gamma: float = setting(2.2, "gamma exponent applied to 16-bit levels", minimum=0.1, maximum=5.0)
    curve: DimmerCurve = setting("linear", "dimmer curve applied before gamma")
    white_balance: tuple[float, ...] = setting(
        (1.0, 1.0, 1.0),
        "per-channel gain, each 0..1: one for all channels, or R, G, B[, W] (W also applies to"
        " an RGBA fixture's amber and a DIMMER fixture's single slot; 1.0 when omitted)",
    )


@dataclass(frozen=True, slots=True)
class FixtureDef:
    """A pixel run on a canvas: a strip or a (serpentine) matrix, patched from a start slot.

    Channels run on from `universe`/`channel` into the following universes; a pixel never
    straddles two universes (it moves to the next one).
    """

    name: str = setting("", "unique fixture name", max_length=NAME_MAX)
    canvas: str = setting("", "canvas the pixels are sampled from", max_length=NAME_MAX)
    type: str = setting(
        "", "fixture type name (gamma/white balance); empty = the default", max_length=NAME_MAX
    )
    shape: Shape = setting("strip", "strip (a line of pixels) or matrix")
    x: int = setting(0, "canvas column of the first pixel", minimum=0, maximum=8191)
    y: int = setting(0, "canvas row of the first pixel", minimum=0, maximum=8191)
    pixels: int = setting(0, "strip: pixel count", minimum=0, maximum=1_000_000)
    direction: Direction = setting("right", "strip: direction of travel on the canvas")
    width: int = setting(0, "matrix: pixels across", minimum=0, maximum=8192)
    height: int = setting(0, "matrix: pixels down", minimum=0, maximum=8192)
    start_corner: Corner = setting("top-left", "matrix: corner of the first pixel")
    order: Literal["rows", "columns"] = setting("rows", "matrix: wired along rows or columns")
    serpentine: bool = setting(False, "matrix: alternate lines run back (zig-zag)")
    colour_order: ColourOrder = setting("RGB", "slot order per pixel")
    universe: int = setting(1, "first universe", minimum=1, maximum=MAX_UNIVERSE)
    channel: int = setting(
        1, "first channel (slot) in that universe, 1-based", minimum=1, maximum=512
    )
    universe_size: Literal[510, 512] = setting(
        510, "usable channels per universe (510 = whole RGB pixels, 512 = every slot)"
    )


@dataclass(frozen=True, slots=True)
class LayerDef:
    """One layer of a canvas's stack: a source, how it blends, and its parameters."""

    source: str = setting(
        "solid", "source kind (solid, linear-gradient, chase, …)", max_length=NAME_MAX
    )
    blend: BlendName = setting("normal", "blend mode onto the layers below")
    opacity: float = setting(1.0, "0..1", minimum=0.0, maximum=1.0)
    params: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}),
        metadata={"doc": "source parameters (checked by the source)", "max_bytes": JSON_MAX_BYTES},
    )


@dataclass(frozen=True, slots=True)
class CanvasLayersDef:
    canvas: str = setting("", "canvas these layers render", max_length=NAME_MAX)
    layers: tuple[LayerDef, ...] = setting((), "bottom to top")


@dataclass(frozen=True, slots=True)
class LookDef:
    """A named look: a layer stack for each canvas it covers (canvases it omits are untouched
    by whatever plays it)."""

    name: str = setting("", "unique look name", max_length=NAME_MAX)
    label: str = setting("", "what technicians call it", max_length=NAME_MAX)
    canvases: tuple[CanvasLayersDef, ...] = setting((), "one layer stack per canvas")

    def validate(self) -> list[str]:
        problems = [] if self.name else ["name: must not be empty (got '')"]
        seen: set[str] = set()
        for c in self.canvases:
            if c.canvas in seen:
                problems.append(f'canvases: canvas "{c.canvas}" is listed twice')
            seen.add(c.canvas)
        return problems


@dataclass(frozen=True, slots=True)
class CuePartDef:
    """Part of a cue (Eos part cues): some canvases fade with their own times."""

    canvases: tuple[str, ...] = setting((), "canvases this part times", max_length=NAME_MAX)
    up_fade: float = setting(3.0, "seconds for rising levels", minimum=0.0, maximum=3600.0)
    down_fade: float = setting(3.0, "seconds for falling levels", minimum=0.0, maximum=3600.0)
    delay: float = setting(
        0.0, "seconds from GO before the part starts", minimum=0.0, maximum=3600.0
    )
    curve: FadeCurve = setting("linear", "fade curve")

    def validate(self) -> list[str]:
        return [] if self.canvases else ["canvases: a part needs at least one canvas (got [])"]


CUE_NUMBER_MIN = Decimal("0.001")
CUE_NUMBER_MAX = Decimal("9999.999")


@dataclass(frozen=True, slots=True)
class CueDef:
    """A cue (cue-only state): its look, its times, and what happens after it.

    `follow` auto-GOes the next cue N s after this cue's GO; `hang` N s after this cue's fade
    ends (Eos semantics; one or the other). `link` names the cue that comes next instead of
    the following number; `loop` is how many times the link is taken (0 = every time).
    """

    number: Decimal = setting(Decimal(1), 'cue number, 0.001..9999.999 (e.g. "12.5")')
    look: str = setting(
        "", "look played; empty = the list releases its canvases", max_length=NAME_MAX
    )
    label: str = setting("", "short label", max_length=NAME_MAX)
    notes: str = setting("", "notes for the operator")
    up_fade: float = setting(3.0, "seconds for rising levels", minimum=0.0, maximum=3600.0)
    down_fade: float = setting(3.0, "seconds for falling levels", minimum=0.0, maximum=3600.0)
    delay: float = setting(
        0.0, "seconds from GO before the fade starts", minimum=0.0, maximum=3600.0
    )
    curve: FadeCurve = setting("linear", "fade curve")
    follow: float | None = setting(None, "auto-GO N s after GO", minimum=0.0, maximum=86400.0)
    hang: float | None = setting(
        None, "auto-GO N s after the fade ends", minimum=0.0, maximum=86400.0
    )
    link: Decimal | None = setting(None, "cue number that comes next instead of the following one")
    loop: int = setting(0, "times the link is taken; 0 = every time", minimum=0, maximum=100000)
    parts: tuple[CuePartDef, ...] = setting((), "canvases with their own times")

    def validate(self) -> list[str]:
        problems: list[str] = []
        if not CUE_NUMBER_MIN <= self.number <= CUE_NUMBER_MAX:
            problems.append(f"number: must be between 0.001 and 9999.999 (got {self.number})")
        if self.follow is not None and self.hang is not None:
            problems.append(
                f"follow: a cue has follow or hang, not both (got follow {self.follow:g}, "
                f"hang {self.hang:g})"
            )
        seen: set[str] = set()
        for i, part in enumerate(self.parts):
            for canvas in part.canvases:
                if canvas in seen:
                    problems.append(f'parts[{i}].canvases: canvas "{canvas}" is in two parts')
                seen.add(canvas)
        return problems

    @property
    def fade_end(self) -> float:
        """Seconds from GO until every part has finished fading."""
        ends = [self.delay + max(self.up_fade, self.down_fade)]
        ends += [p.delay + max(p.up_fade, p.down_fade) for p in self.parts]
        return max(ends)


@dataclass(frozen=True, slots=True)
class CueListDef:
    """A cue list: cues in number order, played at its priority on the ladder."""

    name: str = setting("", "unique cue list name", max_length=NAME_MAX)
    label: str = setting("", "what technicians call it", max_length=NAME_MAX)
    priority: int = setting(100, "higher wins among cue lists", minimum=0, maximum=1000)
    mode: ListMode = setting(
        "ltp", "with other lists at the same priority: ltp (latest wins) or htp (highest wins)"
    )
    back_fade: float = setting(1.0, "seconds for BACK", minimum=0.0, maximum=3600.0)
    cues: tuple[CueDef, ...] = setting((), "the cues (kept in number order)")

    def validate(self) -> list[str]:
        problems = [] if self.name else ["name: must not be empty (got '')"]
        numbers = [c.number for c in self.cues]
        dupes = sorted({n for n in numbers if numbers.count(n) > 1})
        for n in dupes:
            problems.append(f"cues: cue {n} is defined twice")
        known = set(numbers)
        for c in self.cues:
            if c.link is not None and c.link not in known:
                problems.append(f"cues[{c.number}].link: no cue {c.link} in this list")
        return problems


@dataclass(frozen=True, slots=True)
class ShowDef:
    name: str = setting("Untitled show", "show name", max_length=NAME_MAX)
    grand_master: float = setting(1.0, "grand master level, 0..1", minimum=0.0, maximum=1.0)
    canvases: tuple[CanvasDef, ...] = field(default=())
    fixture_types: tuple[FixtureTypeDef, ...] = field(default=())
    fixtures: tuple[FixtureDef, ...] = field(default=())
    fixtures_csv: str = setting(
        "", "CSV patch file (docs/patch-csv.md) added to `fixtures`; relative to the show file"
    )
    idle: tuple[CanvasLayersDef, ...] = setting(
        (), "idle look: what each canvas shows when nothing above it on the ladder plays"
    )
    looks: tuple[LookDef, ...] = setting((), "named looks that cues play")
    cue_lists: tuple[CueListDef, ...] = setting((), "cue lists")
    emergency: tuple[CanvasLayersDef, ...] = setting(
        (),
        "emergency look per canvas (static: rendered once, sent by the output thread itself);"
        " canvases without one keep playing",
    )
    safe_state: SafeState = setting(
        "black", "a canvas with nothing to show (no idle look): black, or hold its last frame"
    )
