"""The show as configured: canvases, fixture types, fixtures (the patch) and layer stacks.

Validated by the same loader as the daemon config, so a bad show file gets the same
`FILE: key.path: what is wrong (got X)` errors. Cross-references (a fixture's canvas, its
type, overlapping channels) are checked when the patch is compiled (`core/patch.py`), which
names the fixture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from .fields import setting

ColourOrder = Literal["RGB", "GRB", "BGR", "RGBW", "RGBA", "DIMMER"]
Shape = Literal["strip", "matrix"]
Direction = Literal["right", "left", "down", "up"]
Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
BlendName = Literal["normal", "add", "multiply", "screen", "max"]
DimmerCurve = Literal["linear", "square", "s-curve"]

MAX_UNIVERSE = 63999  # E1.31 universe range (Art-Net maps onto the same numbers)


@dataclass(frozen=True, slots=True)
class CanvasDef:
    """An RGB pixel surface that layers render into."""

    name: str = setting("", "unique canvas name")
    width: int = setting(1, "pixels across", minimum=1, maximum=8192)
    height: int = setting(1, "pixels down", minimum=1, maximum=8192)
    master: float = setting(1.0, "canvas master level, 0..1", minimum=0.0, maximum=1.0)
    description: str = setting("", "what this canvas is in the building")


@dataclass(frozen=True, slots=True)
class FixtureTypeDef:
    """Output correction shared by fixtures of one make: gamma, curve, white balance."""

    name: str = setting("", "unique fixture type name")
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

    name: str = setting("", "unique fixture name")
    canvas: str = setting("", "canvas the pixels are sampled from")
    type: str = setting("", "fixture type name (gamma/white balance); empty = the default")
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

    source: str = setting("solid", "source kind (solid, linear-gradient, chase, …)")
    blend: BlendName = setting("normal", "blend mode onto the layers below")
    opacity: float = setting(1.0, "0..1", minimum=0.0, maximum=1.0)
    params: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}),
        metadata={"doc": "source parameters (checked by the source)"},
    )


@dataclass(frozen=True, slots=True)
class CanvasLayersDef:
    canvas: str = setting("", "canvas these layers render")
    layers: tuple[LayerDef, ...] = setting((), "bottom to top")


@dataclass(frozen=True, slots=True)
class ShowDef:
    name: str = setting("Untitled show", "show name")
    grand_master: float = setting(1.0, "grand master level, 0..1", minimum=0.0, maximum=1.0)
    canvases: tuple[CanvasDef, ...] = field(default=())
    fixture_types: tuple[FixtureTypeDef, ...] = field(default=())
    fixtures: tuple[FixtureDef, ...] = field(default=())
    fixtures_csv: str = setting(
        "", "CSV patch file (docs/patch-csv.md) added to `fixtures`; relative to the show file"
    )
    looks: tuple[CanvasLayersDef, ...] = field(default=())
