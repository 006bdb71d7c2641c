"""Layer sources: exact output for hand-computed cases, the render/skip contract, param errors.

Colours are 16-bit: "#ff8000" is (65535, 32896, 0) (each 8-bit value times 257).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from trocadero.playout.render import fields
from trocadero.playout.render.colour import (
    PALETTE_SIZE,
    format_colour,
    palette_lut,
    parse_colour,
)
from trocadero.playout.render.sources import (
    SOURCES,
    CanvasContext,
    LayerSource,
    ParamSpec,
    SourceError,
    TestIdentify,
    build_source,
    describe_sources,
    universe_colour,
)

FULL = 65535
SENTINEL = 12345
RED, GREEN, BLUE = (FULL, 0, 0), (0, FULL, 0), (0, 0, FULL)
WHITE, BLACK = (FULL, FULL, FULL), (0, 0, 0)


def canvas(width: int, height: int) -> CanvasContext:
    return CanvasContext.unpatched("test", width, height)


def patched() -> CanvasContext:
    """6 x 2: fixture "left" on columns 0-2 (universe 1), "right" on row 0 columns 3-5
    (universe 2, last pixel universe 3); row 1 columns 3-5 unpatched. "elsewhere" is a fixture
    of another canvas."""
    fixture = np.array([[0, 0, 0, 1, 1, 1], [0, 0, 0, -1, -1, -1]], dtype=np.int32)
    universe = np.array([[1, 1, 1, 2, 2, 3], [1, 1, 1, -1, -1, -1]], dtype=np.int32)
    return CanvasContext("front", 6, 2, fixture, universe, ("left", "right", "elsewhere"))


def draw(source: LayerSource, t: float = 0.0) -> NDArray[np.uint16]:
    out = np.full(source.shape, SENTINEL, dtype=np.uint16)
    assert source.render(t, out) is True
    return out


def make(kind: str, width: int = 8, height: int = 4, /, **params: Any) -> LayerSource:
    return build_source(kind, params, canvas(width, height))


def rgb(out: NDArray[np.uint16], y: int, x: int) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in out[y, x])
    return r, g, b


# ---------------------------------------------------------------------------------------------
# colours
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("#ff8000", (65535, 32896, 0)),
        ("#FF8000", (65535, 32896, 0)),
        ("#123456789abc", (0x1234, 0x5678, 0x9ABC)),
        ([1.0, 0.5, 0], (65535, 32768, 0)),
        ((0, 0, 1), (0, 0, 65535)),
    ],
)
def test_parse_colour(value: Any, expected: tuple[int, int, int]) -> None:
    assert parse_colour(value) == expected


@pytest.mark.parametrize(
    "value", ["red", "#12345", "#1234567", "ff8000", [1, 2, 3], [0.5, 0.5], True, 7]
)
def test_parse_colour_rejects(value: Any) -> None:
    with pytest.raises(ValueError, match=r"colour|0\.\.1"):
        parse_colour(value)


def test_format_colour_round_trips() -> None:
    assert format_colour((65535, 32896, 0)) == "#ff8000"
    assert format_colour((0x1234, 0x5678, 0x9ABC)) == "#123456789abc"


def test_palette_lut_ends_are_the_stops() -> None:
    lut = palette_lut([RED, GREEN, BLUE])
    assert lut.shape == (PALETTE_SIZE, 4)
    assert tuple(lut[0, :3]) == RED
    assert tuple(lut[-1, :3]) == BLUE
    # entry 2047 is the palette at 2047 / 4095, just before green at 0.5
    assert tuple(lut[2047, :3]) == (16, 65519, 0)
    assert not lut[:, 3].any()


# ---------------------------------------------------------------------------------------------
# solid
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("colour", "expected"),
    [
        ("#ff8000", (65535, 32896, 0)),
        ("#000100020003", (1, 2, 3)),
        ([0, 1, 0.5], (0, 65535, 32768)),
    ],
)
def test_solid(colour: Any, expected: tuple[int, int, int]) -> None:
    out = draw(make("solid", colour=colour))
    assert (out == np.array(expected, dtype=np.uint16)).all()


# ---------------------------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stops", [["#ff0000", "#0000ff"], ["#000000", "#808080", "#ffffff"]])
def test_linear_gradient_endpoints_at_angle_0(stops: list[str]) -> None:
    out = draw(make("linear-gradient", 16, 3, colours=stops, angle_deg=0.0))
    first, last = parse_colour(stops[0]), parse_colour(stops[-1])
    assert all(rgb(out, y, 0) == first for y in range(3))
    assert all(rgb(out, y, 15) == last for y in range(3))
    # every row is the same, and the ramp is monotonic between the stops
    assert (out == out[0]).all()
    if len(stops) == 2:
        red = out[0, :, 0].astype(int)
        assert (np.diff(red) < 0).all()


def test_linear_gradient_three_stops_middle() -> None:
    out = draw(make("linear-gradient", 9, 1, colours=["#ff0000", "#00ff00", "#0000ff"]))
    # column 4 of 0..8 is u = 0.5: the middle stop (entry round(0.5 * 4095) = 2048 of 4096)
    r, g, b = rgb(out, 0, 4)
    assert g > 65500
    assert max(r, b) < 40


@pytest.mark.parametrize(
    ("angle", "first", "last"),
    [
        (90.0, (3, 0), (0, 0)),  # towards the top: bottom row first
        (180.0, (0, 7), (0, 0)),  # towards the left: right column first
        (-90.0, (0, 0), (3, 0)),  # towards the bottom
    ],
)
def test_linear_gradient_angles(
    angle: float, first: tuple[int, int], last: tuple[int, int]
) -> None:
    out = draw(make("linear-gradient", 8, 4, colours=["#ff0000", "#0000ff"], angle_deg=angle))
    assert rgb(out, *first) == RED
    assert rgb(out, *last) == BLUE


def test_linear_gradient_diagonal_corners() -> None:
    out = draw(make("linear-gradient", 8, 8, colours=["#ff0000", "#0000ff"], angle_deg=45.0))
    assert rgb(out, 7, 0) == RED  # bottom left
    assert rgb(out, 0, 7) == BLUE  # top right
    assert rgb(out, 0, 0) == rgb(out, 7, 7)  # across the diagonal: the same


def test_linear_gradient_scrolls_mirrored() -> None:
    src = make("linear-gradient", 16, 1, colours=["#ff0000", "#0000ff"], speed=0.5)
    start = draw(src, 0.0)
    assert (rgb(start, 0, 0), rgb(start, 0, 15)) == (RED, BLUE)
    # after one gradient length (t = 1 / speed) the mirrored pass has scrolled in
    flipped = draw(src, 2.0)
    assert (rgb(flipped, 0, 0), rgb(flipped, 0, 15)) == (BLUE, RED)
    # after two lengths it is back where it started
    assert (draw(src, 4.0) == start).all()
    # half a length: red has moved to the middle, the ends show the same (mirrored) colour
    half = draw(src, 1.0)
    assert min(half[0, 7, 0], half[0, 8, 0]) > 60000
    assert rgb(half, 0, 0) == rgb(half, 0, 15)


def test_linear_gradient_scrolls_repeating() -> None:
    src = make("linear-gradient", 16, 1, colours=["#ff0000", "#0000ff"], speed=0.25, repeat=True)
    start = draw(src, 0.0)
    assert rgb(start, 0, 0) == RED
    assert (draw(src, 4.0) == start).all()  # one whole cycle later: the same picture
    # a quarter cycle on, the hard edge where blue restarts at red sits at u = 0.25
    quarter = draw(src, 1.0).astype(int)
    jumps = np.abs(np.diff(quarter[0, :, 0]))
    assert jumps.max() > 50000
    assert int(np.argmax(jumps)) == 3  # between columns 3 (u = 0.2) and 4 (u = 0.27)


def test_gradient_far_in_time_is_still_exact() -> None:
    # 10 days of show time: the phase is reduced in float64 before the float32 field math
    src = make("linear-gradient", 16, 1, colours=["#ff0000", "#0000ff"], speed=0.5)
    assert (draw(src, 864_000.0) == draw(src, 0.0)).all()


def test_radial_gradient_centre_and_pad() -> None:
    src = make("radial-gradient", 21, 21, colours=["#ffffff", "#000000"], radius=0.5)
    out = draw(src)
    assert rgb(out, 10, 10) == WHITE  # the centre pixel sits exactly on the centre
    for y, x in ((0, 0), (0, 20), (20, 0), (20, 20)):
        assert rgb(out, y, x) == BLACK  # beyond the radius: the last colour (pad)
    # symmetric about the centre
    assert (out == out[::-1]).all()
    assert (out == out[:, ::-1]).all()


def test_radial_gradient_off_centre() -> None:
    out = draw(make("radial-gradient", 10, 10, centre=[0.05, 0.05], radius=2.0))
    assert rgb(out, 0, 0) == WHITE
    assert out[9, 9, 0] < out[0, 9, 0] < out[0, 0, 0]


def test_radial_gradient_rings_move_outwards() -> None:
    src = make("radial-gradient", 41, 1, centre=[0.5, 0.5], radius=0.5, speed=1.0)
    a = draw(src, 0.0)[0, 20:, 0].astype(int)  # centre outwards
    b = draw(src, 0.1)[0, 20:, 0].astype(int)
    # the profile at t + dt is the profile at t shifted outwards
    peak_a = int(np.argmin(a))  # darkest ring (the last colour, black)
    peak_b = int(np.argmin(b))
    assert peak_b > peak_a


# ---------------------------------------------------------------------------------------------
# chase
# ---------------------------------------------------------------------------------------------


def lit_columns(out: NDArray[np.uint16], row: int = 0) -> list[int]:
    return [int(x) for x in np.flatnonzero(out[row, :, 0])]


@pytest.mark.parametrize(
    ("direction", "t", "expected"),
    [
        ("right", 0.0, range(10)),
        ("right", 0.25, range(25, 35)),
        ("right", 0.95, [*range(95, 100), *range(5)]),  # wraps around
        ("left", 0.0, range(90, 100)),
        ("left", 0.25, range(65, 75)),
    ],
)
def test_chase_hard_position(direction: str, t: float, expected: range | list[int]) -> None:
    src = make("chase", 100, 3, width=0.1, speed=1.0, soft=False, direction=direction)
    out = draw(src, t)
    assert lit_columns(out) == sorted(expected)
    assert (out == out[0]).all()  # a full-height bar
    assert rgb(out, 1, min(expected)) == WHITE


@pytest.mark.parametrize(("direction", "first"), [("down", 25), ("up", 65)])
def test_chase_vertical(direction: str, first: int) -> None:
    src = make("chase", 2, 100, width=0.1, speed=1.0, soft=False, direction=direction)
    out = draw(src, 0.25)
    assert [int(y) for y in np.flatnonzero(out[:, 0, 0])] == list(range(first, first + 10))
    assert (out[:, 0] == out[:, 1]).all()


def test_chase_colours_and_half_covered_pixel() -> None:
    src = make(
        "chase", 64, 1, width=0.125, speed=1.0, soft=False, colour="#ff0000", background="#000080"
    )
    out = draw(src, 0.5 + 1 / 128)  # trailing edge at 32.5: pixels 32 and 40 half covered
    assert [rgb(out, 0, x) for x in range(33, 40)] == [RED] * 7
    assert rgb(out, 0, 50) == rgb(out, 0, 31) == (0, 0, 128 * 257)
    assert rgb(out, 0, 32) == (32768, 0, 16448)  # rint(65535 * 0.5), rint(32896 * 0.5)
    assert rgb(out, 0, 40) == rgb(out, 0, 32)


def test_chase_soft_profile() -> None:
    src = make("chase", 100, 1, width=0.2, speed=1.0, soft=True)
    out = draw(src, 0.0)[0, :, 0].astype(int)
    lit = np.flatnonzero(out)
    assert list(lit) == list(range(20))
    assert abs(out[9] - out[10]) <= 1  # peak in the middle of the bar
    assert out[9] == round(65535 * (0.5 + 5 / math.pi * math.sin(0.1 * math.pi)))
    assert (np.diff(out[:10]) > 0).all()
    assert (np.diff(out[10:20]) < 0).all()
    assert max(out[0], out[19]) < 1000  # smooth fall-off to the edges
    # total light: half of a hard bar of the same width
    assert abs(out.sum() / 65535 - 10.0) < 1e-3


def test_chase_speed_zero_is_static() -> None:
    src = make("chase", speed=0.0)
    out = draw(src, 3.0)
    assert src.render(7.0, out) is False


# ---------------------------------------------------------------------------------------------
# noise and plasma
# ---------------------------------------------------------------------------------------------


def test_noise_is_deterministic_and_seeded() -> None:
    a = draw(make("noise", 32, 16, seed=7), 1.5)
    b = draw(make("noise", 32, 16, seed=7), 1.5)
    c = draw(make("noise", 32, 16, seed=8), 1.5)
    assert (a == b).all()
    assert (a != c).any()


def test_noise_tint_and_smoothness() -> None:
    out = draw(make("noise", 64, 64, colour="#ff8000", scale=0.05), 0.3).astype(int)
    # a tint: black to the colour, channels in proportion, no blue
    assert (out[..., 2] == 0).all()
    assert out[..., 0].max() - out[..., 0].min() > 10000
    assert (np.abs(out[..., 1] - out[..., 0] * 32896 / 65535) <= 2).all()
    # smooth: neighbouring pixels differ by a small fraction of the range
    assert np.abs(np.diff(out[..., 0], axis=1)).max() < 6000
    assert np.abs(np.diff(out[..., 0], axis=0)).max() < 6000


def test_noise_palette_and_time_continuity() -> None:
    src = make("noise", 32, 8, colours=["#ff0000", "#0000ff"], speed=1.0)
    a = draw(src, 2.0).astype(int)
    b = draw(src, 2.01).astype(int)
    assert (a[..., 1] == 0).all()
    assert 0 < np.abs(a - b).max() < 3000  # drifts, without jumps, across a slice boundary too
    assert np.abs(draw(src, 2.999).astype(int) - draw(src, 3.001).astype(int)).max() < 3000


def test_noise_colour_and_colours_together_is_an_error() -> None:
    with pytest.raises(SourceError, match=r'noise: param "colours": give either'):
        make("noise", colour="#ffffff", colours=["#000000", "#ffffff"])


def test_plasma_moves_and_uses_the_palette() -> None:
    src = make("plasma", 32, 16, colours=["#000000", "#ff0000"], scale=0.05)
    a, b = draw(src, 0.0), draw(src, 0.5)
    assert (a != b).any()
    assert not a[..., 1:].any()  # only red in a black-to-red palette
    assert a[..., 0].max() - a[..., 0].min() > 20000


# ---------------------------------------------------------------------------------------------
# test patterns
# ---------------------------------------------------------------------------------------------


def test_identify_lights_exactly_the_named_fixture() -> None:
    ctx = patched()
    out = draw(build_source("test-identify", {"fixture": "right", "colour": "#ff0000"}, ctx))
    lit = out.any(axis=2)
    assert (lit == (ctx.pixel_fixture == 1)).all()
    assert (out[lit] == np.array(RED, dtype=np.uint16)).all()


def test_identify_cycles_through_the_canvas_fixtures() -> None:
    ctx = patched()
    src = build_source("test-identify", {"period": 2.0}, ctx)
    assert isinstance(src, TestIdentify)
    assert src.cycle == ("left", "right")  # "elsewhere" has no pixels here
    out = draw(src, 0.0)
    assert (out.any(axis=2) == (ctx.pixel_fixture == 0)).all()
    assert src.render(1.9, out) is False  # the same fixture: nothing to redraw
    assert src.render(2.0, out) is True
    assert (out.any(axis=2) == (ctx.pixel_fixture == 1)).all()
    assert src.lit_fixture(4.5) == "left"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "rigth",
            r'no fixture "rigth" on canvas "front"; did you mean "right"\? '
            r"\(fixtures here: left, right\)",
        ),
        ("elsewhere", r'fixture "elsewhere" has no pixels on canvas "front"'),
    ],
)
def test_identify_unknown_fixture(name: str, message: str) -> None:
    with pytest.raises(SourceError, match='test-identify: param "fixture": ' + message):
        build_source("test-identify", {"fixture": name}, patched())


def test_identify_on_an_unpatched_canvas_is_black() -> None:
    out = draw(make("test-identify"), 5.0)
    assert not out.any()


def test_universe_pattern() -> None:
    ctx = patched()
    out = draw(build_source("test-universe", {}, ctx))
    assert rgb(out, 0, 0) == rgb(out, 1, 2) == universe_colour(1)
    assert rgb(out, 0, 3) == rgb(out, 0, 4) == universe_colour(2)
    assert rgb(out, 0, 5) == universe_colour(3)
    assert universe_colour(1) != universe_colour(2) != universe_colour(3)
    assert not out[1, 3:].any()  # unpatched: black


def test_universe_colours_differ_between_neighbours() -> None:
    colours = [universe_colour(u) for u in range(1, 2000)]
    for a, b in itertools.pairwise(colours):
        assert a != b
        assert max(a) != max(b)  # the level steps too
    assert all(max(c) > 0 for c in colours)


def test_colour_bars() -> None:
    out = draw(make("test-colour-bars", 16, 2))
    expected = [WHITE, (FULL, FULL, 0), (0, FULL, FULL), GREEN, (FULL, 0, FULL), RED, BLUE, BLACK]
    assert [rgb(out, 1, x) for x in range(0, 16, 2)] == expected
    assert [rgb(out, 0, x) for x in range(1, 16, 2)] == expected


def test_colour_bars_level() -> None:
    out = draw(make("test-colour-bars", 8, 1, level=0.75))
    assert rgb(out, 0, 0) == (49151, 49151, 49151)  # round(0.75 * 65535)
    assert rgb(out, 0, 7) == BLACK


# ---------------------------------------------------------------------------------------------
# the render contract
# ---------------------------------------------------------------------------------------------

STATIC: list[tuple[str, dict[str, Any]]] = [
    ("solid", {}),
    ("linear-gradient", {}),
    ("radial-gradient", {}),
    ("chase", {"speed": 0.0}),
    ("noise", {"speed": 0.0}),
    ("plasma", {"speed": 0.0}),
    ("test-identify", {"fixture": "left"}),
    ("test-universe", {}),
    ("test-colour-bars", {}),
]
ANIMATED: list[tuple[str, dict[str, Any]]] = [
    ("linear-gradient", {"speed": 0.3}),
    ("radial-gradient", {"speed": 0.3}),
    ("chase", {}),
    ("noise", {"speed": 2.0}),
    ("plasma", {}),
    ("test-identify", {"period": 0.5}),
]


@pytest.mark.parametrize(("kind", "params"), STATIC)
def test_static_sources_skip_the_second_render(kind: str, params: dict[str, Any]) -> None:
    src = build_source(kind, params, patched())
    out = draw(src, 0.0)
    before = out.copy()
    assert src.render(10.0, out) is False
    assert (out == before).all()
    other = np.zeros_like(out)
    assert src.render(10.0, other) is True  # a different buffer is drawn
    assert (other == before).all()


@pytest.mark.parametrize(("kind", "params"), ANIMATED)
def test_animated_sources_change_with_t(kind: str, params: dict[str, Any]) -> None:
    src = build_source(kind, params, patched())
    out = draw(src, 0.0)
    first = out.copy()
    assert src.render(0.0, out) is False  # the same t into the same buffer
    assert src.render(0.6, out) is True
    assert (out != first).any()


@pytest.mark.parametrize(("kind", "params"), STATIC + ANIMATED)
def test_every_pixel_is_written(kind: str, params: dict[str, Any]) -> None:
    src = build_source(kind, params, patched())
    a = np.full(src.shape, 0, dtype=np.uint16)
    b = np.full(src.shape, FULL, dtype=np.uint16)
    src.render(0.3, a)
    src.render(0.3, b)
    assert (a == b).all()


def test_render_rejects_a_wrong_buffer() -> None:
    src = make("solid", 8, 4)
    with pytest.raises(ValueError, match=r"shape \(4, 8, 3\)"):
        src.render(0.0, np.zeros((4, 8, 4), dtype=np.uint16))
    with pytest.raises(ValueError, match="uint16"):
        src.render(0.0, np.zeros((4, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="C-contiguous"):
        src.render(0.0, np.zeros((8, 4, 3), dtype=np.uint16).transpose(1, 0, 2))


# ---------------------------------------------------------------------------------------------
# params and errors
# ---------------------------------------------------------------------------------------------


def test_all_param_errors_are_reported_together() -> None:
    with pytest.raises(SourceError) as info:
        make("chase", speed="fast", direction="sideways", width=2, colr="#fff", soft="yes")
    problems = info.value.problems
    assert problems == [
        'chase: param "colr": unknown parameter; did you mean "colour"? '
        "(known: colour, background, width, speed, direction, soft)",
        'chase: param "width": must be between 0 and 1 (got 2)',
        'chase: param "speed": must be a number (got "fast")',
        'chase: param "direction": must be one of right, left, down, up (got "sideways")',
        'chase: param "soft": must be true or false (got "yes")',
    ]
    assert str(info.value) == "\n".join(problems)


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("solid", {"colour": "red"}, 'solid: param "colour": must be a colour: '),
        ("solid", {"colour": [2, 0, 0]}, 'solid: param "colour": colour components must'),
        ("linear-gradient", {"colours": ["#ff0000"]}, 'param "colours": must have 2 to 64'),
        ("linear-gradient", {"colours": "#ff0000"}, 'param "colours": must be a list of'),
        ("linear-gradient", {"colours": ["#ff0000", "nope"]}, 'param "colours": colour 2: '),
        ("linear-gradient", {"angle_deg": float("nan")}, 'param "angle_deg": must be a number'),
        ("radial-gradient", {"centre": [0.5]}, 'param "centre": must be a point'),
        ("radial-gradient", {"centre": [0.5, 1.5]}, 'param "centre": y must be between 0 and 1'),
        ("radial-gradient", {"radius": 0}, 'param "radius": must be between 0.001 and 2'),
        ("chase", {"direction": "rigth"}, 'did you mean "right"\\?'),
        ("noise", {"seed": -1}, 'param "seed": must be between 0 and 2147483647'),
        ("noise", {"seed": 1.5}, 'param "seed": must be a whole number'),
        ("plasma", {"speed": True}, 'param "speed": must be a number \\(got true\\)'),
        ("test-identify", {"period": 0}, 'param "period": must be between 0.1 and 3600'),
        ("test-universe", {"level": 1}, 'param "level": unknown parameter; \\(known: none\\)'),
        ("image", {}, 'image: param "path": required'),
    ],
)
def test_param_errors_name_the_param(kind: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        build_source(kind, params, canvas(4, 4))


def test_integer_params_accept_whole_floats() -> None:
    # JSON bodies from the UI may send 3.0 for 3
    assert build_source("noise", {"seed": 3.0}, canvas(2, 2)).values["seed"] == 3


def test_params_must_be_a_table() -> None:
    with pytest.raises(SourceError, match=r"solid: params must be a table \(got \[1, 2\]\)"):
        build_source("solid", [1, 2], canvas(2, 2))  # type: ignore[arg-type]


def test_unknown_kind_lists_the_known_kinds() -> None:
    with pytest.raises(SourceError) as info:
        build_source("chaser", {}, canvas(2, 2))
    message = str(info.value)
    assert message.startswith('unknown layer source "chaser"; did you mean "chase"?')
    for kind in SOURCES:
        assert kind in message


def test_default_show_kinds_are_registered() -> None:
    text = (Path(__file__).parents[2] / "config" / "default_show.toml").read_text("utf-8")
    used = {line.split('"')[1] for line in text.splitlines() if line.startswith("source = ")}
    assert used
    assert used <= set(SOURCES)


def test_describe_sources_is_json_and_complete() -> None:
    schema = describe_sources()
    assert set(schema) == set(SOURCES)
    json.dumps(schema)
    chase = schema["chase"]
    assert chase["animated"] is True
    assert chase["params"]["direction"] == {
        "type": "choice",
        "doc": "direction of travel",
        "default": "right",
        "choices": ["right", "left", "down", "up"],
    }
    assert chase["params"]["width"]["minimum"] == 0.0
    assert schema["image"]["params"]["path"]["required"] is True
    assert schema["plasma"]["params"]["colours"]["default"][0] == "#ff0000"
    for kind, entry in schema.items():
        assert entry["summary"], kind
        for name, spec in entry["params"].items():
            assert spec["doc"], (kind, name)


# Kinds with a required parameter (a file, a device, a text) cannot be built from defaults,
# nor can a video (a file or an approved asset: either one, so neither is required).
_NEED_A_VALUE = {k for k, s in SOURCES.items() if any(p.required for p in s.params.values())}
_NEED_A_VALUE.add("video")


@pytest.mark.parametrize("kind", sorted(set(SOURCES) - _NEED_A_VALUE))
def test_every_default_is_valid(kind: str) -> None:
    src = build_source(kind, {}, patched())
    draw(src, 1.0)
    for name, spec in src.params.items():
        if spec.default is not None:
            spec.parse(spec.default)
            assert name in src.values


def test_param_spec_describe_omits_what_does_not_apply() -> None:
    spec = ParamSpec(type="boolean", default=False, doc="x")
    assert spec.describe() == {"type": "boolean", "doc": "x", "default": False}


# ---------------------------------------------------------------------------------------------
# Cython field kernels against the numpy reference
# ---------------------------------------------------------------------------------------------

# Built by ./dev before the tests: a missing extension is a failure here, never a skip.
from trocadero.native import _sources as native  # noqa: E402


def close(a: NDArray[np.uint16], b: NDArray[np.uint16], lut: NDArray[np.uint16]) -> None:
    """Equal, but for at most a few pixels one palette entry apart (float rounding)."""
    if a.size == 0:
        assert b.size == 0
        return
    step = int(np.abs(np.diff(lut[:, :3].astype(int), axis=0)).max())
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= step
    assert (diff.reshape(-1, 3).any(axis=1)).mean() < 0.01


@given(
    n=st.integers(0, 700),
    shift=st.floats(0, 8192),
    seed=st.integers(0, 2**32 - 1),
    size=st.sampled_from([16, 4096, 8192]),
)
@settings(max_examples=60, deadline=None)
def test_shift_gather_agrees(n: int, shift: float, seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    pos = (rng.random(n) * 3 * size).astype(np.float32)
    lut = rng.integers(0, 65536, (size, 4), dtype=np.uint16)
    a = np.zeros(3 * n, np.uint16)
    b = np.ones(3 * n, np.uint16)
    native.shift_gather(a, pos, shift, lut, size - 1)
    fields.ref_shift_gather(b, pos, shift, lut, size - 1)
    close(a, b, lut)


@given(n=st.integers(0, 700), w=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_lerp_gather_agrees(n: int, w: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a_field = (rng.random(n) * 5000 - 500).astype(np.float32)  # also below 0 and past the end
    d_field = (rng.random(n) * 2000 - 1000).astype(np.float32)
    lut = rng.integers(0, 65536, (4096, 4), dtype=np.uint16)
    a = np.zeros(3 * n, np.uint16)
    b = np.ones(3 * n, np.uint16)
    native.lerp_gather(a, a_field, d_field, w, lut)
    fields.ref_lerp_gather(b, a_field, d_field, w, lut)
    close(a, b, lut)


@given(h=st.integers(1, 40), w=st.integers(1, 300), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_plasma_gather_agrees(h: int, w: int, seed: int) -> None:
    rng = np.random.default_rng(seed)

    def f(*shape: int) -> NDArray[np.float32]:
        return (rng.random(shape) * 1200 - 100).astype(np.float32)

    args = (f(w), f(h), f(w), f(w), f(h), f(h), f(h * w), f(h * w))
    lut = rng.integers(0, 65536, (4096, 4), dtype=np.uint16)
    a = np.zeros(3 * h * w, np.uint16)
    b = np.ones(3 * h * w, np.uint16)
    native.plasma_gather(a, *args, 0.7, -0.3, lut)
    fields.ref_plasma_gather(b, *args, 0.7, -0.3, lut)
    close(a, b, lut)


def test_native_rejects_bad_buffers() -> None:
    lut = np.zeros((16, 4), np.uint16)
    with pytest.raises(ValueError, match="out has length"):
        native.shift_gather(np.zeros(5, np.uint16), np.zeros(2, np.float32), 0.0, lut, 15)
    with pytest.raises(ValueError, match="mask"):
        native.shift_gather(np.zeros(6, np.uint16), np.zeros(2, np.float32), 0.0, lut, 16)
    with pytest.raises(ValueError, match=r"shape \(m, 4\)"):
        native.lerp_gather(
            np.zeros(6, np.uint16),
            np.zeros(2, np.float32),
            np.zeros(2, np.float32),
            0.0,
            np.zeros((16, 3), np.uint16),
        )


@pytest.mark.parametrize(("kind", "params"), ANIMATED[:5])
def test_sources_agree_between_implementations(
    kind: str, params: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = canvas(37, 23)
    times = (0.0, 0.37, 12.5, 86_400.3)
    monkeypatch.setattr(fields, "_native", native)
    cython = [draw(build_source(kind, params, ctx), t) for t in times]
    monkeypatch.setattr(fields, "_native", None)
    reference = [draw(build_source(kind, params, ctx), t) for t in times]
    for a, b in zip(cython, reference, strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 64


# ---------------------------------------------------------------------------------------------
# property: any canvas size, any time
# ---------------------------------------------------------------------------------------------

PROPERTY_CASES = [(kind, params) for kind, params in STATIC + ANIMATED] + [
    ("linear-gradient", {"speed": -1.7, "repeat": True, "angle_deg": 33.0}),
    ("radial-gradient", {"speed": 0.9, "repeat": True, "radius": 0.01}),
    ("chase", {"direction": "up", "width": 1.0, "soft": False}),
    ("chase", {"direction": "left", "width": 0.0}),
    ("noise", {"scale": 1.0, "speed": -3.0}),
    ("plasma", {"scale": 1.0, "speed": -5.0}),
]


def patched_like(width: int, height: int) -> CanvasContext:
    """Fixture "left" on the left half (at least column 0), "right" on the rest; universes of
    50 pixels; the bottom row unpatched when there is more than one."""
    x = np.arange(width)[None, :].repeat(height, axis=0)
    y = np.arange(height)[:, None].repeat(width, axis=1)
    fixture = np.where(x < max(1, width // 2), 0, 1).astype(np.int32)
    universe = (1 + (y * width + x) // 50).astype(np.int32)
    if height > 1:
        fixture[-1] = -1
        universe[-1] = -1
    return CanvasContext("prop", width, height, fixture, universe, ("left", "right"))


@given(
    case=st.sampled_from(PROPERTY_CASES),
    width=st.integers(1, 64),
    height=st.integers(1, 64),
    t=st.floats(-1e6, 1e8, allow_nan=False),
    implementation=st.sampled_from(["cython", "numpy"]),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_canvas_any_time(
    case: tuple[str, dict[str, Any]], width: int, height: int, t: float, implementation: str
) -> None:
    kind, params = case
    saved = fields._native
    fields._native = None if implementation == "numpy" else native
    try:
        src = build_source(kind, params, patched_like(width, height))
        a = np.zeros((height, width, 3), dtype=np.uint16)
        b = np.full((height, width, 3), FULL, dtype=np.uint16)
        assert src.render(t, a) is True
        assert src.render(t, b) is True
        assert (a == b).all()  # every value written, whatever the buffer held
        assert src.render(t, b) is False
    finally:
        fields._native = saved
