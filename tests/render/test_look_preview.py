"""The blind previewer on its own: fresh stacks per call, a video layer's frame waited for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.render.test_video_source import make_clip
from trocadero.config.show import CanvasDef, CanvasLayersDef, LayerDef, LookDef, ShowDef
from trocadero.core.errors import InvalidDocument
from trocadero.core.patch import compile_patch
from trocadero.playout.render.look_preview import MAX_LAYERS, LookPreviews
from trocadero.playout.render.renderer import Renderer

SHOW = ShowDef(name="p", canvases=(CanvasDef(name="v", width=32, height=16),))


def look(*layers: LayerDef) -> LookDef:
    return LookDef(name="draft", canvases=(CanvasLayersDef(canvas="v", layers=layers),))


def test_a_video_layer_shows_its_frame_at_t_not_the_fallback(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", 30)
    previews = LookPreviews(Renderer(SHOW, compile_patch(SHOW)), max_size=64)
    params = {"path": str(clip), "fallback": "#0000ff"}
    for t, red in ((0.0, 0), (0.4, 50), (0.8, 100)):  # frame 25 t: red = 5 x frame
        (canvas,) = previews.render(look(LayerDef(source="video", params=params)), t)
        assert (canvas.width, canvas.height) == (32, 16)
        px = np.frombuffer(canvas.rgb, dtype=np.uint8).reshape(16, 32, 3)
        assert abs(int(px[..., 0].mean()) - red) <= 3, (t, px[0, 0])
        assert px[..., 2].max() <= 4  # never the fallback


def test_each_preview_is_built_afresh_and_leaves_the_renderer_alone() -> None:
    renderer = Renderer(SHOW, compile_patch(SHOW))
    previews = LookPreviews(renderer, max_size=16)
    red = LayerDef(source="solid", params={"colour": "#ff0000"})
    green = LayerDef(source="solid", params={"colour": "#00ff00"}, blend="add", opacity=0.5)
    (first,) = previews.render(look(red), 0.0)
    (second,) = previews.render(look(red, green), 0.0)
    assert (first.width, first.height) == (16, 8)
    assert first.rgb == bytes([255, 0, 0]) * 128
    assert second.rgb == bytes([255, 128, 0]) * 128
    assert renderer.canvases["v"].stacks == {}
    assert "draft" not in renderer.looks


def test_a_stack_of_too_many_layers_is_refused_before_any_buffer() -> None:
    previews = LookPreviews(Renderer(SHOW, compile_patch(SHOW)), max_size=16)
    many = look(*[LayerDef(source="solid")] * (MAX_LAYERS + 1))
    with pytest.raises(InvalidDocument) as refused:
        previews.render(many, 0.0)
    assert refused.value.problems == [
        f'canvases["v"].layers: at most {MAX_LAYERS} layers in a blind preview'
        f" (got {MAX_LAYERS + 1})"
    ]
    (canvas,) = previews.render(look(*[LayerDef(source="solid")] * MAX_LAYERS), 0.0)
    assert canvas.rgb == bytes([255, 255, 255]) * 128
