"""The patch: pixel positions, slot layout, colour orders, universe wrapping, and rejection.

Slot values are checked end to end through `CompiledPatch.gather` with a gamma-1.0 fixture
type: canvas values are 8-bit levels times 257, which that LUT maps back to the same 8-bit
level exactly (floor(255 * 257k / 65535 + 0.5) = k), so every expected slot is written out
by hand.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from trocadero.config import load_default_show
from trocadero.config.show import CanvasDef, FixtureDef, FixtureTypeDef, ShowDef
from trocadero.core.patch import (
    SLOTS_PER_PIXEL,
    CompiledPatch,
    LutParams,
    PatchError,
    SlotInfo,
    compile_patch,
    fixture_pixels,
)
from trocadero.native import kernels

LINEAR = FixtureTypeDef(name="linear", gamma=1.0)


def make_show(
    canvases: tuple[tuple[str, int, int], ...],
    *fixtures: FixtureDef,
    types: tuple[FixtureTypeDef, ...] = (LINEAR,),
) -> ShowDef:
    return ShowDef(
        name="test",
        canvases=tuple(CanvasDef(name=n, width=w, height=h) for n, w, h in canvases),
        fixture_types=types,
        fixtures=fixtures,
    )


def fx(name: str, **kw: Any) -> FixtureDef:
    kw.setdefault("canvas", "c")
    kw.setdefault("type", "linear")
    return FixtureDef(name=name, **kw)


def render(
    patch: CompiledPatch, images: dict[str, NDArray[np.integer[Any]]]
) -> dict[int, list[int]]:
    """Fill the source vector from 8-bit (h, w, 3) images (x 257), derive the RGBW and
    intensity planes as the renderer does, gather, and return each universe's 512 slots."""
    source = np.zeros(patch.source_length, dtype=np.uint16)
    for name, cm in patch.canvases.items():
        n = cm.width * cm.height
        rgb = source[cm.rgb_offset : cm.rgb_offset + 3 * n]
        rgb[:] = np.asarray(images[name], dtype=np.uint16).reshape(-1) * 257
        if cm.rgbw_offset is not None:
            kernels.rgb_to_rgbw(source[cm.rgbw_offset : cm.rgbw_offset + 4 * n], rgb)
        if cm.intensity_offset is not None:
            source[cm.intensity_offset : cm.intensity_offset + n] = rgb.reshape(n, 3).max(axis=1)
    out = np.zeros(patch.frame_bytes, dtype=np.uint8)
    patch.gather(source, out)
    return {u: out[i * 512 : (i + 1) * 512].tolist() for u, i in patch.universe_index.items()}


def problems_of(show: ShowDef) -> list[str]:
    with pytest.raises(PatchError) as info:
        compile_patch(show)
    return info.value.problems


# --- the case: a 3 x 2 serpentine RGBW matrix from channel 509 ---------------------

# Canvas 3 x 2; RGB levels and, beside them, the RGBW slots (W = min, taken out of R, G, B).
MATRIX_IMAGE = np.array(
    [
        [[10, 20, 30], [50, 40, 60], [90, 80, 70]],  # (0,0) (1,0) (2,0)
        [[100, 110, 105], [200, 150, 250], [5, 6, 7]],  # (0,1) (1,1) (2,1)
    ]
)
# Wiring from the top-left corner along rows, serpentine: (0,0) (1,0) (2,0) (2,1) (1,1) (0,1).
P0 = [0, 10, 20, 10]  # (0,0): 10,20,30 → W 10
P1 = [10, 0, 20, 40]  # (1,0): 50,40,60 → W 40
P2 = [20, 10, 0, 70]  # (2,0): 90,80,70 → W 70
P3 = [0, 1, 2, 5]  # (2,1): 5,6,7 → W 5
P4 = [50, 0, 100, 150]  # (1,1): 200,150,250 → W 150
P5 = [0, 10, 5, 100]  # (0,1): 100,110,105 → W 100


def rgbw_matrix(universe_size: int) -> FixtureDef:
    return fx(
        "m",
        shape="matrix",
        width=3,
        height=2,
        start_corner="top-left",
        order="rows",
        serpentine=True,
        colour_order="RGBW",
        universe=1,
        channel=509,
        universe_size=universe_size,
    )


def test_rgbw_matrix_from_509_with_512_slots() -> None:
    patch = compile_patch(make_show((("c", 3, 2),), rgbw_matrix(512)))
    u = render(patch, {"c": MATRIX_IMAGE})
    assert patch.universes == (1, 2)
    # The first pixel fits exactly in 509..512; the second starts universe 2 at channel 1.
    assert u[1][:508] == [0] * 508
    assert u[1][508:512] == P0
    assert u[2][:20] == P1 + P2 + P3 + P4 + P5
    assert u[2][20:] == [0] * 492
    assert patch.fixture_ranges["m"] == ((1, 509, 512), (2, 1, 20))


def test_rgbw_matrix_from_509_with_510_slots_moves_the_straddling_pixel() -> None:
    patch = compile_patch(make_show((("c", 3, 2),), rgbw_matrix(510)))
    u = render(patch, {"c": MATRIX_IMAGE})
    # 509..512 would pass slot 510: the first pixel moves to universe 2, channel 1, and
    # universe 1 drives nothing, so it is not in the frame at all.
    assert patch.universes == (2,)
    assert u[2][:24] == P0 + P1 + P2 + P3 + P4 + P5
    assert u[2][24:] == [0] * 488
    assert patch.fixture_ranges["m"] == ((2, 1, 24),)
    assert patch.locate(2, 1) == SlotInfo("m", 0, 0, 0, "R")
    assert patch.locate(2, 16) == SlotInfo("m", 3, 2, 1, "W")
    assert patch.locate(2, 25) is None
    assert patch.locate(1, 509) is None


# --- colour orders ----------------------------------------------------------------------------

STRIP_IMAGE = np.array([[[10, 20, 30], [200, 150, 250]]])


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("RGB", [10, 20, 30, 200, 150, 250]),
        ("GRB", [20, 10, 30, 150, 200, 250]),
        ("BGR", [30, 20, 10, 250, 150, 200]),
        ("RGBW", [0, 10, 20, 10, 50, 0, 100, 150]),
        ("RGBA", [0, 10, 20, 10, 50, 0, 100, 150]),  # the common part on the amber slot
        ("DIMMER", [30, 250]),  # max(R, G, B)
    ],
)
def test_colour_orders(order: str, expected: list[int]) -> None:
    strip = fx("s", pixels=2, colour_order=order, universe=7, channel=100)
    patch = compile_patch(make_show((("c", 2, 1),), strip))
    u = render(patch, {"c": STRIP_IMAGE})
    assert patch.universes == (7,)
    assert u[7][99 : 99 + len(expected)] == expected
    assert u[7][:99] == [0] * 99
    assert not any(u[7][99 + len(expected) :])
    assert patch.fixture_ranges["s"] == ((7, 100, 99 + len(expected)),)


def test_planes_exist_only_where_needed() -> None:
    show = make_show(
        (("a", 2, 1), ("b", 2, 1), ("d", 2, 1)),
        fx("rgb", canvas="a", pixels=2, universe=1),
        fx("rgba", canvas="b", pixels=2, colour_order="RGBA", universe=2),
        fx("dim", canvas="d", pixels=2, colour_order="DIMMER", universe=3),
        fx("grb", canvas="d", pixels=2, colour_order="GRB", universe=4),
    )
    patch = compile_patch(show)
    a, b, d = (patch.canvases[n] for n in "abd")
    assert (a.rgb_offset, a.rgbw_offset, a.intensity_offset) == (0, None, None)
    assert (b.rgb_offset, b.rgbw_offset, b.intensity_offset) == (6, 12, None)
    assert (d.rgb_offset, d.rgbw_offset, d.intensity_offset) == (20, None, 26)
    assert patch.source_length == 28


# --- geometry: pixel (x, y) has level 10*y + x + 1, read back through a DIMMER fixture ------

GRID = np.array([[[10 * y + x + 1] * 3 for x in range(4)] for y in range(3)])
# row 0:  1  2  3  4
# row 1: 11 12 13 14
# row 2: 21 22 23 24


def dimmer_levels(fixture: FixtureDef, width: int = 4, height: int = 3) -> list[int]:
    fixture = replace(fixture, colour_order="DIMMER", universe=1, channel=1)
    patch = compile_patch(make_show((("c", width, height),), fixture))
    n = patch.fixtures[fixture.name].pixel_count
    return render(patch, {"c": GRID})[1][:n]


@pytest.mark.parametrize(
    ("x", "y", "direction", "pixels", "expected"),
    [
        (1, 1, "right", 3, [12, 13, 14]),
        (3, 2, "left", 4, [24, 23, 22, 21]),
        (2, 0, "down", 3, [3, 13, 23]),
        (0, 2, "up", 3, [21, 11, 1]),
    ],
)
def test_strip_directions(x: int, y: int, direction: str, pixels: int, expected: list[int]) -> None:
    assert dimmer_levels(fx("s", x=x, y=y, direction=direction, pixels=pixels)) == expected


@pytest.mark.parametrize(
    ("corner", "order", "serpentine", "expected"),
    [
        ("top-left", "rows", False, [1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24]),
        ("top-right", "rows", False, [4, 3, 2, 1, 14, 13, 12, 11, 24, 23, 22, 21]),
        ("bottom-left", "rows", False, [21, 22, 23, 24, 11, 12, 13, 14, 1, 2, 3, 4]),
        ("bottom-right", "rows", False, [24, 23, 22, 21, 14, 13, 12, 11, 4, 3, 2, 1]),
        ("top-left", "rows", True, [1, 2, 3, 4, 14, 13, 12, 11, 21, 22, 23, 24]),
        ("top-right", "rows", True, [4, 3, 2, 1, 11, 12, 13, 14, 24, 23, 22, 21]),
        ("bottom-left", "rows", True, [21, 22, 23, 24, 14, 13, 12, 11, 1, 2, 3, 4]),
        ("bottom-right", "rows", True, [24, 23, 22, 21, 11, 12, 13, 14, 4, 3, 2, 1]),
        ("top-left", "columns", False, [1, 11, 21, 2, 12, 22, 3, 13, 23, 4, 14, 24]),
        ("top-right", "columns", False, [4, 14, 24, 3, 13, 23, 2, 12, 22, 1, 11, 21]),
        ("bottom-left", "columns", False, [21, 11, 1, 22, 12, 2, 23, 13, 3, 24, 14, 4]),
        ("bottom-right", "columns", False, [24, 14, 4, 23, 13, 3, 22, 12, 2, 21, 11, 1]),
        ("top-left", "columns", True, [1, 11, 21, 22, 12, 2, 3, 13, 23, 24, 14, 4]),
        ("top-right", "columns", True, [4, 14, 24, 23, 13, 3, 2, 12, 22, 21, 11, 1]),
        ("bottom-left", "columns", True, [21, 11, 1, 2, 12, 22, 23, 13, 3, 4, 14, 24]),
        ("bottom-right", "columns", True, [24, 14, 4, 3, 13, 23, 22, 12, 2, 1, 11, 21]),
    ],
)
def test_matrix_wiring(corner: str, order: str, serpentine: bool, expected: list[int]) -> None:
    m = fx(
        "m",
        shape="matrix",
        width=4,
        height=3,
        start_corner=corner,
        order=order,
        serpentine=serpentine,
    )
    assert dimmer_levels(m) == expected


def test_matrix_offset_on_the_canvas() -> None:
    # (x, y) is the matrix's top-left pixel whatever the start corner.
    m = fx("m", shape="matrix", x=1, y=1, width=2, height=2, start_corner="top-right",
           serpentine=True)  # fmt: skip
    assert dimmer_levels(m) == [13, 12, 22, 23]


# --- 510 vs 512 -----------------------------------------------------------------------------

# 171 pixels across: pixel k is (R, G, B) = (k, 255 - k, 7).
WIDE = np.array([[[k, 255 - k, 7] for k in range(171)]])


@pytest.mark.parametrize("size", [510, 512])
def test_171_rgb_pixels_from_channel_1(size: int) -> None:
    strip = fx("s", pixels=171, universe=1, channel=1, universe_size=size)
    patch = compile_patch(make_show((("c", 171, 1),), strip))
    u = render(patch, {"c": WIDE})
    # 170 pixels fill 1..510 either way; the 171st needs 511..513, which passes 512 too,
    # so with 512 as with 510 it starts universe 2 and slots 511-512 stay 0.
    assert u[1][:6] == [0, 255, 7, 1, 254, 7]
    assert u[1][507:512] == [169, 86, 7, 0, 0]
    assert u[2][:4] == [170, 85, 7, 0]
    assert patch.fixture_ranges["s"] == ((1, 1, 510), (2, 1, 3))
    assert patch.src_index[510:512].tolist() == [-1, -1]


def test_171_rgb_pixels_from_channel_3() -> None:
    def ranges(size: int) -> tuple[tuple[int, int, int], ...]:
        strip = fx("s", pixels=171, universe=1, channel=3, universe_size=size)
        return compile_patch(make_show((("c", 171, 1),), strip)).fixture_ranges["s"]

    # 512: 170 pixels fit in 3..512; 510: only 169 (3..509), so two pixels spill over.
    assert ranges(512) == ((1, 3, 512), (2, 1, 3))
    assert ranges(510) == ((1, 3, 509), (2, 1, 6))
    strip = fx("s", pixels=171, universe=1, channel=3, universe_size=510)
    u = render(compile_patch(make_show((("c", 171, 1),), strip)), {"c": WIDE})
    assert u[1][:2] == [0, 0]
    assert u[1][506:512] == [168, 87, 7, 0, 0, 0]
    assert u[2][:7] == [169, 86, 7, 170, 85, 7, 0]


def test_start_channel_at_the_last_usable_slot() -> None:
    # channel 510 of a 510 universe: a DIMMER pixel fits there, an RGB one moves on.
    dim = fx("d", pixels=2, colour_order="DIMMER", channel=510, universe_size=510)
    assert compile_patch(make_show((("c", 2, 1),), dim)).fixture_ranges["d"] == (
        (1, 510, 510),
        (2, 1, 1),
    )
    rgb = fx("r", pixels=2, channel=510, universe_size=510)
    assert compile_patch(make_show((("c", 2, 1),), rgb)).fixture_ranges["r"] == ((2, 1, 6),)


def test_skipped_slots_are_free_for_another_fixture() -> None:
    # An RGBW pixel cannot start at 509 of a 510 universe; an RGB fixture can take 509..510.
    rgbw = fx("w", pixels=1, colour_order="RGBW", channel=509, universe_size=510)
    rgb = fx("r", pixels=1, x=1, channel=508, universe_size=510)
    patch = compile_patch(make_show((("c", 2, 1),), rgbw, rgb))
    assert patch.fixture_ranges == {"w": ((2, 1, 4),), "r": ((1, 508, 510),)}


# --- lookup tables ----------------------------------------------------------------------------

WHITE = np.full((1, 1, 3), 255)


@pytest.mark.parametrize(
    ("order", "white_balance", "expected"),
    [
        ("RGB", (1.0, 0.5, 0.0), [255, 128, 0]),
        ("GRB", (1.0, 0.5, 0.0), [128, 255, 0]),  # the gain follows the colour, not the slot
        ("BGR", (1.0, 0.5, 0.0), [0, 128, 255]),
        ("RGBW", (1.0, 1.0, 1.0, 0.5), [0, 0, 0, 128]),
        ("RGBW", (1.0, 0.5, 0.0), [0, 0, 0, 255]),  # three gains: W at 1.0
        ("RGBA", (1.0, 1.0, 1.0, 0.2), [0, 0, 0, 51]),
        ("DIMMER", (0.5, 0.5, 0.5, 0.2), [51]),  # a dimmer takes the fourth gain
        ("DIMMER", (0.5,), [128]),  # one gain for every channel
        ("RGB", (0.2,), [51, 51, 51]),
    ],
)
def test_white_balance_per_channel(
    order: str, white_balance: tuple[float, ...], expected: list[int]
) -> None:
    wb = FixtureTypeDef(name="wb", gamma=1.0, white_balance=white_balance)
    strip = fx("s", type="wb", pixels=1, colour_order=order)
    patch = compile_patch(make_show((("c", 1, 1),), strip, types=(wb,)))
    assert render(patch, {"c": WHITE})[1][: len(expected)] == expected


def test_lut_tables() -> None:
    facade = FixtureTypeDef(name="facade", gamma=2.4, white_balance=(1.0, 0.92, 0.85))
    sq = FixtureTypeDef(name="sq", gamma=1.0, curve="square")
    show = make_show(
        (("c", 4, 1),),
        fx("default", type="", pixels=1, x=0, universe=1),
        fx("facade", type="facade", pixels=1, x=1, universe=2),
        fx("grb", type="facade", pixels=1, x=2, colour_order="GRB", universe=3),
        fx("sq", type="sq", pixels=1, x=3, colour_order="DIMMER", universe=4),
        types=(facade, sq),
    )
    patch = compile_patch(show)
    # Identical tables are stored once; table 0 is the default type's.
    assert patch.lut_params == (
        LutParams(2.2, 1.0, "linear"),
        LutParams(2.4, 1.0, "linear"),
        LutParams(2.4, 0.92, "linear"),
        LutParams(2.4, 0.85, "linear"),
        LutParams(1.0, 1.0, "square"),
    )
    assert patch.luts.shape == (5, 65536)
    for i, p in enumerate(patch.lut_params):
        assert np.array_equal(patch.luts[i], kernels.build_lut(p.gamma, p.gain, p.curve))
    ids = {u: patch.lut_id[i * 512 : i * 512 + 3].tolist() for u, i in patch.universe_index.items()}
    assert ids == {1: [0, 0, 0], 2: [1, 2, 3], 3: [2, 1, 3], 4: [4, 0, 0]}
    # Gamma end points: 0 → 0 and full → round(255 * gain).
    assert patch.luts[:, 0].tolist() == [0] * 5
    assert patch.luts[:, 65535].tolist() == [255, 255, 235, 217, 255]


# --- the compiled arrays ----------------------------------------------------------------------


def test_compiled_patch_is_read_only() -> None:
    patch = compile_patch(make_show((("c", 2, 1),), fx("s", pixels=2)))
    for arr in (patch.src_index, patch.lut_id, patch.luts, patch.slot_fixture,
                patch.canvases["c"].pixel_fixture, patch.fixtures["s"].pixels):  # fmt: skip
        assert not arr.flags.writeable
    with pytest.raises(AttributeError):
        patch.universes = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        patch.universe_index[5] = 0  # type: ignore[index]


def test_pixel_maps() -> None:
    show = make_show(
        (("c", 4, 2), ("empty", 2, 2)),
        fx("a", pixels=3, universe=10),
        fx("b", pixels=2, x=1, y=1, direction="right", universe=20, channel=508),
        fx("mirror", pixels=2, universe=30),  # samples pixels "a" already drives
    )
    patch = compile_patch(show)
    assert patch.fixture_names == ("a", "b", "mirror")
    c = patch.canvases["c"]
    assert c.pixel_fixture.tolist() == [[0, 0, 0, -1], [-1, 1, 1, -1]]
    # "b" starts at 508..510 of universe 20; its second pixel moves to universe 21.
    assert c.pixel_universe.tolist() == [[10, 10, 10, -1], [-1, 20, 21, -1]]
    assert patch.canvases["empty"].pixel_fixture.tolist() == [[-1, -1], [-1, -1]]
    assert patch.universes == (10, 20, 21, 30)
    assert patch.frame_bytes == 4 * 512


def test_gather_checks_the_source_length() -> None:
    patch = compile_patch(make_show((("c", 2, 1),), fx("s", pixels=2)))
    out = np.zeros(patch.frame_bytes, dtype=np.uint8)
    with pytest.raises(ValueError, match="source has 5 values, expected source_length 6"):
        patch.gather(np.zeros(5, dtype=np.uint16), out)


def test_empty_show() -> None:
    patch = compile_patch(make_show((("c", 2, 2),)))
    assert patch.universes == ()
    assert patch.frame_bytes == 0
    assert patch.source_length == 12
    out = np.zeros(0, dtype=np.uint8)
    patch.gather(np.zeros(12, dtype=np.uint16), out)


# --- rejected patches -------------------------------------------------------------------------


def test_pixel_outside_the_canvas() -> None:
    m = fx("facade-03", shape="matrix", x=2, width=3, height=2)
    assert problems_of(make_show((("c", 4, 2),), m)) == [
        'fixture "facade-03": pixel (4, 0) is outside canvas "c" (4 x 2); 2 of its 6 pixels'
        " are outside"
    ]
    up = fx("s", pixels=3, y=1, direction="up")
    assert problems_of(make_show((("c", 4, 2),), up)) == [
        'fixture "s": pixel (0, -1) is outside canvas "c" (4 x 2)'
    ]


def test_overlapping_channels() -> None:
    a = fx("canopy-1", pixels=2, universe=512, channel=1)  # 1..6
    b = fx("canopy-2", pixels=1, universe=512, channel=7)  # 7..9
    c = fx("canopy-3", pixels=3, universe=512, channel=1)  # 1..9: both
    assert problems_of(make_show((("c", 3, 1),), a, b, c)) == [
        'fixture "canopy-3": universe 512 channel 1 is already used by fixture "canopy-1"'
        " (and 5 more channels)",
        'fixture "canopy-3": universe 512 channel 7 is already used by fixture "canopy-2"'
        " (and 2 more channels)",
    ]
    # Exactly one shared slot.
    d = fx("d", pixels=1, universe=512, channel=6)
    assert problems_of(make_show((("c", 3, 1),), a, d)) == [
        'fixture "d": universe 512 channel 6 is already used by fixture "canopy-1"'
    ]


def test_overlap_across_a_universe_boundary() -> None:
    long = fx("long", pixels=171, universe=1)  # ends on universe 2 channels 1..3
    next_ = fx("next", pixels=1, universe=2, channel=3)
    assert problems_of(make_show((("c", 171, 1),), long, next_)) == [
        'fixture "next": universe 2 channel 3 is already used by fixture "long"'
    ]


X = 'fixture "x": '
COLOUR_ORDERS = "'RGB', 'GRB', 'BGR', 'RGBW', 'RGBA', 'DIMMER'"


@pytest.mark.parametrize(
    ("fixture", "problem"),
    [
        (fx("x", canvas="facde", pixels=1), X + 'unknown canvas "facde"; did you mean "facade"?'),
        (fx("x", canvas="", pixels=1), X + "canvas is empty (name the canvas it samples)"),
        (fx("x", type="ws2812", pixels=1), X + 'unknown fixture type "ws2812"'),
        (fx("x", pixels=0), X + "strip has no pixels (pixels = 0)"),
        (
            fx("x", pixels=0, width=3, height=2),
            X + "strip has no pixels (pixels = 0);"
            ' for a width x height matrix set shape = "matrix"',
        ),
        (
            fx("x", shape="matrix", width=3, height=0),
            X + "matrix is 3 x 0 pixels (width and height must be at least 1)",
        ),
        (
            fx("x", pixels=1, channel=511, universe_size=510),
            X + "channel 511 is beyond universe_size 510",
        ),
        (
            fx("x", pixels=171, universe=63999),
            X + "runs past universe 63999 (its 171 pixels need universes 63999..64000)",
        ),
        (fx("x", pixels=1, universe=0), X + "universe must be between 1 and 63999 (got 0)"),
        (fx("x", pixels=1, channel=0), X + "channel must be at least 1 (got 0)"),
        (
            fx("x", pixels=1, colour_order="RGBWW"),
            X + f"colour_order must be one of {COLOUR_ORDERS} (got 'RGBWW')",
        ),
        (
            fx("x", pixels=1, universe_size=511),
            X + "universe_size must be one of 510, 512 (got 511)",
        ),
        (fx("", pixels=1), 'fixtures[0] (no name): unknown fixture type "nope"'),
    ],
)
def test_each_problem_names_the_fixture(fixture: FixtureDef, problem: str) -> None:
    if not fixture.name:
        fixture = replace(fixture, type="nope")
    show = make_show((("facade", 171, 1), ("c", 171, 1)), fixture)
    assert problems_of(show) == [problem]


def test_fixture_type_problems() -> None:
    bad = (
        FixtureTypeDef(name="two", white_balance=(1.0, 1.0)),
        FixtureTypeDef(name="hot", white_balance=(1.0, 1.5, 1.0)),
        FixtureTypeDef(name="flat", gamma=0.0),
        FixtureTypeDef(name="", gamma=1.0),
        FixtureTypeDef(name="hot"),
    )
    show = make_show((("c", 1, 1),), types=bad)
    assert problems_of(show) == [
        'fixture type "hot": the name is used by 2 fixture types',
        'fixture type "two": white_balance must hold 1, 3 (R, G, B) or 4 (R, G, B, W) gains'
        " (got 2)",
        'fixture type "hot": white_balance gains must be between 0 and 1 (got 1.5)',
        'fixture type "flat": gamma must be a finite number > 0 (got 0.0)',
        'fixture_types[3]: name is empty (type "" is the built-in default)',
    ]


def test_all_problems_are_reported_together() -> None:
    show = make_show(
        (("c", 4, 2), ("c", 8, 8)),
        fx("a", pixels=5, universe=3),  # runs off the 4-wide canvas
        fx("b", pixels=2, canvas="nowhere", universe=3, channel=4),  # overlaps "a" as well
        fx("a", pixels=1, y=1, universe=9),  # duplicate name
        fx("d", shape="matrix", width=0, height=2),
        fx("e", pixels=1, y=1, x=1, type="mystery", universe=63999, channel=600),
    )
    assert problems_of(show) == [
        'canvas "c": the name is used by 2 canvases',
        'fixture "a": the name is used by 2 fixtures (fixtures[0], fixtures[2])',
        'fixture "a": pixel (4, 0) is outside canvas "c" (4 x 2)',
        'fixture "b": unknown canvas "nowhere"',
        'fixture "d": matrix is 0 x 2 pixels (width and height must be at least 1)',
        'fixture "e": channel 600 is beyond universe_size 510',
        'fixture "e": unknown fixture type "mystery"',
        'fixture "b": universe 3 channel 4 is already used by fixture "a" (and 5 more channels)',
    ]


def test_patch_error_is_a_value_error_with_all_lines() -> None:
    show = make_show((("c", 1, 1),), fx("a", pixels=2), fx("b", pixels=0))
    with pytest.raises(ValueError, match=r'(?s)fixture "a": pixel .*\nfixture "b": strip'):
        compile_patch(show)


# --- the default show -------------------------------------------------------------------------


def test_default_show() -> None:
    show = load_default_show()
    patch = compile_patch(show)
    assert len(patch.universes) == 860
    assert patch.frame_bytes == 860 * 512
    # Every canvas pixel is sampled by exactly one fixture.
    for name, cmap in patch.canvases.items():
        count = np.zeros((cmap.height, cmap.width), dtype=np.int64)
        for f in patch.fixtures.values():
            if f.canvas == name:
                np.add.at(count, (f.pixels[:, 1], f.pixels[:, 0]), 1)
        assert (count == 1).all(), name
        assert (cmap.pixel_fixture >= 0).all()
        assert (cmap.pixel_universe >= 1).all()
    # No slot is driven twice (compile would have refused) and every fixture slot is patched.
    total_slots = sum(f.pixel_count * f.slots_per_pixel for f in patch.fixtures.values())
    assert int((patch.src_index >= 0).sum()) == total_slots
    assert int((patch.slot_fixture >= 0).sum()) == total_slots
    assert np.unique(patch.src_index[patch.src_index >= 0]).size == total_slots
    # Every universe in the frame carries at least one pixel.
    assert ((patch.src_index.reshape(-1, 512) >= 0).any(axis=1)).all()
    stairs = patch.canvases["stairs"]
    assert stairs.rgbw_offset is not None
    assert stairs.intensity_offset is None
    assert patch.fixture_ranges["facade-01"][0] == (1, 1, 510)
    assert patch.fixture_ranges["facade-01"][-1] == (29, 1, 120)  # 4800 px = 28 x 170 + 40
    assert patch.fixture_ranges["stairs-flight-1"][-1] == (1108, 1, 256)  # 960 RGBW px


# --- properties -------------------------------------------------------------------------------


@st.composite
def single_fixtures(draw: st.DrawFn) -> tuple[FixtureDef, int, int]:
    """A random strip or matrix, and a canvas size that holds it with some margin."""
    order = draw(st.sampled_from(sorted(SLOTS_PER_PIXEL)))
    size = draw(st.sampled_from([510, 512]))
    common: dict[str, Any] = {
        "colour_order": order,
        "universe_size": size,
        "universe": draw(st.integers(1, 20)),
        "channel": draw(st.integers(1, size)),
    }
    mx, my = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    if draw(st.booleans()):
        n = draw(st.integers(1, 700))
        direction = draw(st.sampled_from(["right", "left", "down", "up"]))
        x = mx + (n - 1 if direction == "left" else 0)
        y = my + (n - 1 if direction == "up" else 0)
        f = fx("f", pixels=n, direction=direction, x=x, y=y, **common)
        w = x + 1 + (n - 1 if direction == "right" else 0)
        h = y + 1 + (n - 1 if direction == "down" else 0)
    else:
        mw, mh = draw(st.integers(1, 40)), draw(st.integers(1, 40))
        f = fx(
            "f",
            shape="matrix",
            x=mx,
            y=my,
            width=mw,
            height=mh,
            start_corner=draw(
                st.sampled_from(["top-left", "top-right", "bottom-left", "bottom-right"])
            ),
            order=draw(st.sampled_from(["rows", "columns"])),
            serpentine=draw(st.booleans()),
            **common,
        )
        w, h = mx + mw, my + mh
    return f, w + draw(st.integers(0, 2)), h + draw(st.integers(0, 2))


PLANE = {"RGB": 3, "GRB": 3, "BGR": 3, "RGBW": 4, "RGBA": 4, "DIMMER": 1}
COMPONENT_ORDER = {
    "RGB": [0, 1, 2],
    "GRB": [1, 0, 2],
    "BGR": [2, 1, 0],
    "RGBW": [0, 1, 2, 3],
    "RGBA": [0, 1, 2, 3],
    "DIMMER": [0],
}


@settings(max_examples=150, deadline=None)
@given(single_fixtures())
def test_every_pixel_slot_once_and_no_pixel_straddles(case: tuple[FixtureDef, int, int]) -> None:
    f, w, h = case
    patch = compile_patch(make_show((("c", w, h),), f))
    cmap = patch.canvases["c"]
    s = SLOTS_PER_PIXEL[f.colour_order]
    pixels = fixture_pixels(f)
    n = len(pixels)
    # In a one-fixture patch the patched bytes, in frame order, are the pixels in wiring order.
    patched = np.flatnonzero(patch.src_index >= 0)
    assert patched.size == n * s
    groups = patched.reshape(n, s)
    assert (groups[:, -1] - groups[:, 0] == s - 1).all()  # a pixel's slots are adjacent...
    assert (groups[:, 0] // 512 == groups[:, -1] // 512).all()  # ...and in one universe
    universe = np.array(patch.universes)[groups[:, 0] // 512]
    channel = groups[:, 0] % 512 + 1
    assert (channel + s - 1 <= f.universe_size).all()
    # Packing: the first pixel starts at the given channel unless it does not fit there; each
    # next pixel follows directly, or starts the next universe at channel 1 when it must.
    if f.channel + s - 1 <= f.universe_size:
        assert (universe[0], channel[0]) == (f.universe, f.channel)
    else:
        assert (universe[0], channel[0]) == (f.universe + 1, 1)
    same = universe[1:] == universe[:-1]
    assert (channel[1:][same] == channel[:-1][same] + s).all()
    moved = ~same
    assert (universe[1:][moved] == universe[:-1][moved] + 1).all()
    assert (channel[1:][moved] == 1).all()
    assert (channel[:-1][moved] + 2 * s - 1 > f.universe_size).all()
    # Each pixel's source values: its own index in the right plane, every component once.
    plane_offset = {3: cmap.rgb_offset, 4: cmap.rgbw_offset, 1: cmap.intensity_offset}
    offset = plane_offset[PLANE[f.colour_order]]
    assert offset is not None
    index = pixels[:, 1].astype(np.int64) * w + pixels[:, 0]
    expected = offset + index[:, None] * PLANE[f.colour_order] + COMPONENT_ORDER[f.colour_order]
    assert np.array_equal(patch.src_index[groups], expected)
    assert np.unique(expected).size == n * s


@settings(max_examples=40, deadline=None)
@given(single_fixtures(), st.randoms(use_true_random=False))
def test_gather_matches_a_slot_by_slot_oracle(case: tuple[FixtureDef, int, int], rnd: Any) -> None:
    f, w, h = case
    patch = compile_patch(make_show((("c", w, h),), f))
    image = np.array([rnd.randrange(256) for _ in range(w * h * 3)]).reshape(h, w, 3)
    frame = render(patch, {"c": image})
    for u in patch.universes:
        for ch in range(1, 513):
            info = patch.locate(u, ch)
            got = frame[u][ch - 1]
            if info is None:
                assert got == 0
                continue
            r, g, b = (int(v) for v in image[info.y, info.x])
            white = min(r, g, b)
            want = {
                "R": r - white if f.colour_order in ("RGBW", "RGBA") else r,
                "G": g - white if f.colour_order in ("RGBW", "RGBA") else g,
                "B": b - white if f.colour_order in ("RGBW", "RGBA") else b,
                "W": white,
                "A": white,
                "I": max(r, g, b),
            }[info.component]
            assert got == want, (u, ch, info)
