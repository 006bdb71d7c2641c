"""The text layer in a real font through Pillow's ImageFont (Debian's DejaVu Sans, installed
by ./dev), checked against Pillow's own drawing; missing glyphs refused naming them; the
built-in pixel font unchanged as the default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from trocadero.config import load_default_show
from trocadero.config.loader import build_dataclass
from trocadero.config.show import LookDef
from trocadero.core.patch import compile_patch
from trocadero.playout.render.outline_font import font_bitmap
from trocadero.playout.render.pixel_font import text_bitmap
from trocadero.playout.render.renderer import Renderer
from trocadero.playout.render.sources import CanvasContext, SourceError, build_source
from trocadero.playout.render.sources.base import SourceContext

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def frame(
    params: dict[str, object], w: int, h: int, context: SourceContext | None = None
) -> np.ndarray:
    src = build_source("text-scroller", params, CanvasContext.unpatched("c", w, h), context)
    out = np.zeros((h, w, 3), np.uint16)
    src.render(0.0, out)
    return out


def lit(out: np.ndarray) -> np.ndarray:
    return np.asarray(out.any(axis=2))


def crop(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def pillow_oracle(text: str, size: int) -> np.ndarray:
    """What Pillow draws for the text, without anti-aliasing, on a roomy image."""
    font = ImageFont.truetype(DEJAVU, size)
    image = Image.new("1", (size * (len(text) + 2), size * 3), 0)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"
    draw.text((size, size), text, font=font, fill=1)
    return np.asarray(image).astype(bool)


@pytest.mark.parametrize(("text", "size"), [("Trocadéro", 20), ("Hé 42!", 11), ("Wg", 32)])
def test_a_truetype_text_lights_the_pixels_pillow_draws(text: str, size: int) -> None:
    w, h = size * len(text) + 10, size * 2
    out = frame({"text": text, "font": DEJAVU, "size_px": size, "speed": 0.0}, w, h)
    shown = lit(out)
    want = pillow_oracle(text, size)
    assert shown.sum() == want.sum() > 0
    assert np.array_equal(crop(shown), crop(want))
    assert (out[shown] == 65535).all()  # white
    assert not out[~shown].any()  # on black


def test_the_text_is_centred_and_sized_to_the_canvas_by_default() -> None:
    w, h = 80, 24
    shown = lit(frame({"text": "HI", "font": DEJAVU, "speed": 0.0}, w, h))
    rows, cols = np.flatnonzero(shown.any(axis=1)), np.flatnonzero(shown.any(axis=0))
    # The font at the canvas height: capitals as tall as Pillow draws them at 24 px.
    assert rows[-1] - rows[0] + 1 == crop(pillow_oracle("HI", 24)).shape[0] > 12
    assert abs(int(cols[0]) - (w - 1 - int(cols[-1]))) <= 3


def test_missing_glyphs_are_refused_naming_every_character() -> None:
    with pytest.raises(SourceError) as err:
        build_source(
            "text-scroller",
            {"text": "Paris 中文 ok 中", "font": DEJAVU},
            CanvasContext.unpatched("c", 40, 16),
        )
    message = str(err.value)
    assert 'param "text"' in message
    assert "has no glyph for '中' (U+4E2D CJK UNIFIED IDEOGRAPH-4E2D)" in message
    assert "'文' (U+6587 CJK UNIFIED IDEOGRAPH-6587)" in message
    assert message.count("中") == 1  # each character named once


def test_a_font_from_the_content_library(tmp_path: Path) -> None:
    copy = tmp_path / "v1-brand.ttf"
    copy.write_bytes(Path(DEJAVU).read_bytes())

    class Assets:
        def resolve(self, asset_id: int) -> Path:
            if asset_id != 7:
                raise ValueError(f"no content asset {asset_id}")
            return copy

    context = SourceContext(assets=Assets())
    params = {"text": "OK", "font": "asset:7", "size_px": 16, "speed": 0.0}
    shown = lit(frame(params, 40, 20, context))
    assert np.array_equal(crop(shown), crop(pillow_oracle("OK", 16)))
    canvas = CanvasContext.unpatched("c", 9, 9)
    with pytest.raises(SourceError, match="no content asset 8"):
        build_source("text-scroller", {**params, "font": "asset:8"}, canvas, context)


def test_bad_fonts_are_refused_on_the_font_param(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font at all")
    canvas = CanvasContext.unpatched("c", 20, 10)
    for font, expected in [
        (str(junk), "cannot use 'junk.ttf' as a font"),
        (str(tmp_path / "absent.ttf"), "no such font file"),
        ("asset:x", 'expected "asset:ID"'),
        ("asset:3", "no content library here"),
    ]:
        with pytest.raises(SourceError) as err:
            build_source("text-scroller", {"text": "A", "font": font}, canvas)
        assert 'param "font"' in str(err.value), err.value
        assert expected in str(err.value), err.value


def test_the_mask_is_rendered_once_per_text_font_and_size() -> None:
    font_bitmap.cache_clear()
    canvas = CanvasContext.unpatched("c", 60, 20)
    for _ in range(3):
        build_source("text-scroller", {"text": "Once", "font": DEJAVU, "speed": 5.0}, canvas)
    info = font_bitmap.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    # Frames only read the mask: many frames, still one rendering.
    src = build_source("text-scroller", {"text": "Once", "font": DEJAVU, "speed": 5.0}, canvas)
    out = np.zeros((20, 60, 3), np.uint16)
    for i in range(50):
        src.render(i / 44, out)
    assert font_bitmap.cache_info().misses == 1


def test_the_pixel_font_stays_the_default_and_unchanged() -> None:
    default = lit(frame({"text": "Tour", "speed": 0.0}, 40, 8))
    explicit = lit(frame({"text": "Tour", "font": "pixel", "speed": 0.0}, 40, 8))
    assert np.array_equal(default, explicit)
    assert np.array_equal(crop(default), crop(text_bitmap("Tour")))


def test_the_glyph_check_runs_when_a_look_is_saved() -> None:
    # Renderer.check_look is what the command layer calls before storing a look.
    show = load_default_show()
    renderer = Renderer(show, compile_patch(show))
    canvas = show.canvases[0].name
    layer = {"source": "text-scroller", "params": {"text": "Noël ★ 中", "font": DEJAVU}}
    look, problems = build_dataclass(
        LookDef, {"name": "brand", "canvases": [{"canvas": canvas, "layers": [layer]}]}
    )
    assert look is not None, problems
    (problem,) = renderer.check_look(look)
    assert problem == (
        f'canvases["{canvas}"].layers[0] (text-scroller): text-scroller: param "text":'
        " the font 'DejaVuSans.ttf' has no glyph for '中' (U+4E2D CJK UNIFIED IDEOGRAPH-4E2D)"
    )
    fine = build_dataclass(
        LookDef,
        {
            "name": "ok",
            "canvases": [
                {
                    "canvas": canvas,
                    "layers": [
                        {"source": "text-scroller", "params": {"text": "Noël ★", "font": DEJAVU}}
                    ],
                }
            ],
        },
    )[0]
    assert fine is not None
    assert renderer.check_look(fine) == []
