"""Generative templates: pure functions of time and parameters, with schemas for the UI."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from trocadero.config import load_default_show
from trocadero.config.loader import build_dataclass
from trocadero.config.show import LookDef
from trocadero.core.patch import compile_patch
from trocadero.playout.render.pixel_font import text_bitmap
from trocadero.playout.render.renderer import Renderer
from trocadero.playout.render.sources import (
    CanvasContext,
    SourceError,
    build_source,
    describe_sources,
)

ROOT = Path(__file__).resolve().parents[2]


def render(
    kind: str, params: Mapping[str, object], t: float, w: int = 40, h: int = 8
) -> np.ndarray:
    src = build_source(kind, params, CanvasContext.unpatched("c", w, h))
    out = np.zeros((h, w, 3), np.uint16)
    src.render(t, out)
    return out


def test_colour_wash_goes_through_the_colours() -> None:
    params = {"colours": ["#ff0000", "#00ff00", "#0000ff"], "period_s": 3.0}
    assert (render("colour-wash", params, 0.0) == [65535, 0, 0]).all()
    assert (render("colour-wash", params, 1.0) == [0, 65535, 0]).all()
    half = render("colour-wash", params, 2.5)[0, 0]  # halfway from blue back to red
    assert abs(int(half[0]) - 32768) <= 1
    assert abs(int(half[2]) - 32768) <= 1
    assert (render("colour-wash", params, 3.0 * 1000) == [65535, 0, 0]).all()  # no drift


def test_wave_travels_at_its_speed() -> None:
    params = {"wavelength_px": 20.0, "speed": 10.0, "direction": "right"}
    a = render("wave", params, 0.0)
    b = render("wave", params, 0.5)  # 5 px further right
    assert np.array_equal(a[:, :-5], b[:, 5:])
    up = render("wave", {**params, "direction": "up"}, 0.0, w=4, h=40)
    assert (up[:, 0] == up[:, 3]).all()  # the same along each row


def test_sparkle_is_a_function_of_time_and_seed() -> None:
    params = {"rate": 2.0, "decay_s": 0.1, "seed": 7}
    a, b = render("sparkle", params, 12.34), render("sparkle", params, 12.34)
    assert np.array_equal(a, b)  # the same instant, even from a new layer (a restart)
    assert not np.array_equal(a, render("sparkle", {**params, "seed": 8}, 12.34))
    lit = (a[..., 0] > 60000).mean()
    assert 0.0 < lit < 0.2  # a few pixels flashing, most dark


def test_templates_publish_their_parameter_schemas() -> None:
    schemas = describe_sources()
    for kind in ("colour-wash", "wave", "sparkle", "text-scroller", "video"):
        assert schemas[kind]["summary"]
        assert all(p["doc"] for p in schemas[kind]["params"].values())
    assert schemas["wave"]["params"]["direction"]["choices"] == ["right", "left", "down", "up"]


def lit(frame: np.ndarray) -> np.ndarray:
    return frame[..., 0] > 0


def test_text_scroller_enters_from_the_right_a_pixel_at_a_time() -> None:
    params = {"text": "HI", "speed": 10.0, "colour": "#ff0000", "scale": 1, "y": 0}
    first = render("text-scroller", params, 0.0, w=20, h=8)
    assert not lit(first).any()  # just off the right edge
    # 1.1 s at 10 px/s: 11 columns in, so "H" (5 wide) then a gap then "I" (3 wide).
    frame = render("text-scroller", params, 1.1, w=20, h=8)
    cols: np.ndarray = np.asarray(lit(frame).any(axis=0))
    assert cols[9:14].all()
    assert not cols[14]
    assert cols[15:18].all()
    assert not cols[18:].any()
    assert not cols[:9].any()
    # The H: both uprights on every cap row, the bar on row 3 only.
    h = lit(frame)[:, 9:14]
    assert h[:7, 0].all()
    assert h[:7, 4].all()
    assert h[3].all()
    assert not h[2, 1:4].any()
    assert (frame[lit(frame)] == [65535, 0, 0]).all()
    # Whole-pixel steps: 1.1 s and 1.19 s are the same picture.
    assert np.array_equal(frame, render("text-scroller", params, 1.19, w=20, h=8))


def test_text_scroller_loops_once_or_stands_still() -> None:
    base = {"text": "A", "speed": 10.0, "scale": 1, "y": 0, "gap_px": 5}
    # A lap is 5 (the A) + 5 (gap) = 10 columns: 1 s later the picture is the same.
    assert np.array_equal(
        render("text-scroller", base, 0.7, w=20), render("text-scroller", base, 1.7, w=20)
    )
    once = {**base, "loop": False}
    assert lit(render("text-scroller", once, 1.0, w=20)).any()
    assert not lit(render("text-scroller", once, 30.0, w=20)).any()  # gone, stays clear
    still = render("text-scroller", {**base, "speed": 0.0}, 99.0, w=21)
    assert np.flatnonzero(lit(still).any(axis=0)).tolist() == [8, 9, 10, 11, 12]  # centred


def test_text_scroller_scales_to_the_canvas_and_goes_right() -> None:
    big = render("text-scroller", {"text": "I", "speed": 0.0}, 0.0, w=30, h=24)
    rows = np.flatnonzero(lit(big).any(axis=1))
    assert rows.tolist() == list(range(21))  # 3x: the 7 cap rows become 21
    right = {"text": "II", "speed": 10.0, "direction": "right", "scale": 1, "y": 0}
    assert not lit(render("text-scroller", right, 0.0, w=20)).any()
    cols = np.flatnonzero(lit(render("text-scroller", right, 0.3, w=20)).any(axis=0))
    assert cols.tolist() == [0, 1, 2]  # the trailing I's last 3 columns have come in


def test_text_scroller_rejects_what_it_cannot_draw() -> None:
    with pytest.raises(SourceError) as err:
        build_source("text-scroller", {"text": "ok ☃"}, CanvasContext.unpatched("c", 10, 8))
    assert "no glyph for '☃' (U+2603 SNOWMAN)" in str(err.value)
    with pytest.raises(SourceError) as err:
        build_source("text-scroller", {}, CanvasContext.unpatched("c", 10, 8))
    assert 'param "text": required' in str(err.value)


def test_pixel_font_covers_ascii_and_french() -> None:
    for code in range(0x20, 0x7F):
        bitmap = text_bitmap(chr(code))
        assert bitmap.shape[0] == 8
        assert chr(code) == " " or bitmap.any()
    # Distinct letters look distinct.
    shapes = {
        text_bitmap(chr(c)).tobytes() + bytes(text_bitmap(chr(c)).shape) for c in range(0x21, 0x7F)
    }
    assert len(shapes) == 0x7F - 0x21
    e, e_acute = text_bitmap("e"), text_bitmap("é")
    assert np.array_equal(e[2:], e_acute[2:])
    assert e_acute[:2].any()
    assert not e[:2].any()
    assert np.array_equal(text_bitmap("É"), text_bitmap("E"))  # no room above a capital
    assert text_bitmap("Façade à l'été").shape[1] > 0
    assert text_bitmap("").shape == (8, 0)


def test_the_documented_text_look_is_valid_on_the_default_show() -> None:
    doc = (ROOT / "docs" / "content.md").read_text()
    snippet = doc.split("### Text", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    look_doc = tomllib.loads(snippet)["looks"][0]
    look, problems = build_dataclass(LookDef, look_doc)
    assert problems == []
    assert look is not None
    show = load_default_show()
    assert Renderer(show, compile_patch(show)).check_look(look) == []
