"""The render path end to end: layers → composite → masters → LUT gather → universe slots."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from trocadero.config import ConfigError, load_default_config, load_default_show
from trocadero.config.show import (
    BlendName,
    CanvasDef,
    CanvasLayersDef,
    ColourOrder,
    FixtureDef,
    FixtureTypeDef,
    LayerDef,
    ShowDef,
)
from trocadero.core.patch import compile_patch
from trocadero.playout.render.preview import Previews, preview_size
from trocadero.playout.render.renderer import Renderer, ShowError
from trocadero.playout.showload import load_configured_show

# gamma 1.0, linear: the LUT maps v16 → round(v16 * 255 / 65535), so slots are checkable.
LINEAR = FixtureTypeDef(name="linear", gamma=1.0)


def tiny_show(
    layers: tuple[LayerDef, ...],
    *,
    master: float = 1.0,
    grand: float = 1.0,
    colour_order: ColourOrder = "RGB",
) -> ShowDef:
    return ShowDef(
        name="tiny",
        grand_master=grand,
        canvases=(CanvasDef(name="c", width=2, height=1, master=master),),
        fixture_types=(LINEAR,),
        fixtures=(
            FixtureDef(
                name="strip",
                canvas="c",
                type="linear",
                shape="strip",
                pixels=2,
                universe=1,
                channel=1,
                colour_order=colour_order,
            ),
        ),
        idle=(CanvasLayersDef(canvas="c", layers=layers),),
    )


def slots(show: ShowDef, t: float = 0.0, count: int = 6) -> list[int]:
    renderer = Renderer(show, compile_patch(show))
    renderer.render(t)
    return [int(v) for v in renderer.universes[:count]]


def solid(colour: str, blend: BlendName = "normal", opacity: float = 1.0) -> LayerDef:
    return LayerDef(
        source="solid",
        blend=blend,
        opacity=opacity,
        params={"colour": colour},
    )


def test_single_solid_layer() -> None:
    assert slots(tiny_show((solid("#ff8000"),))) == [255, 128, 0, 255, 128, 0]


def test_grb_order() -> None:
    assert slots(tiny_show((solid("#ff8000"),), colour_order="GRB")) == [128, 255, 0] * 2


@pytest.mark.parametrize(
    ("blend", "opacity", "expected"),
    [
        ("normal", 0.0, [255, 0, 0]),
        ("normal", 0.5, [127, 0, 128]),  # opacity 32768/65535: R 32767, B 32768 (of 65535)
        ("normal", 1.0, [0, 0, 255]),
        ("add", 1.0, [255, 0, 255]),
        ("max", 1.0, [255, 0, 255]),
        ("multiply", 1.0, [0, 0, 0]),
        ("screen", 1.0, [255, 0, 255]),
    ],
)
def test_two_layer_blends(blend: BlendName, opacity: float, expected: list[int]) -> None:
    show = tiny_show((solid("#ff0000"), solid("#0000ff", blend, opacity)))
    assert slots(show, count=3) == expected


def test_masters() -> None:
    white = (solid("#ffffff"),)
    assert slots(tiny_show(white, grand=0.0)) == [0] * 6
    assert slots(tiny_show(white, master=0.0)) == [0] * 6
    assert slots(tiny_show(white, grand=1.0, master=1.0)) == [255] * 6
    # grand x canvas master: 0.5 x 0.5 = 0.25 → 64 of 255
    assert slots(tiny_show(white, grand=0.5, master=0.5), count=3) == [64, 64, 64]


def test_no_layers_renders_black() -> None:
    assert slots(tiny_show(())) == [0] * 6


def test_unused_slots_stay_zero() -> None:
    show = tiny_show((solid("#ffffff"),))
    renderer = Renderer(show, compile_patch(show))
    renderer.render(0.0)
    assert renderer.universes.shape == (512,)
    assert not renderer.universes[6:].any()


def test_bad_layer_parameters_name_canvas_and_layer() -> None:
    show = tiny_show((solid("#ffffff"), LayerDef(source="chase", params={"speed": "fast"})))
    with pytest.raises(ShowError) as info:
        Renderer(show, compile_patch(show))
    assert any(
        p.startswith('idle["c"].layers[1] (chase): ') and "speed" in p for p in info.value.problems
    ), info.value.problems


def test_unknown_source_kind() -> None:
    show = tiny_show((LayerDef(source="fireworks"),))
    with pytest.raises(ShowError, match=r'idle\["c"\]\.layers\[0\] \(fireworks\)'):
        Renderer(show, compile_patch(show))


def test_look_for_undefined_canvas() -> None:
    show = replace(tiny_show(()), idle=(CanvasLayersDef(canvas="nowhere"),))
    with pytest.raises(ShowError, match='canvas "nowhere" is not defined'):
        Renderer(show, compile_patch(show))


def test_default_show_renders_every_universe() -> None:
    show = load_default_show()
    patch = compile_patch(show)
    renderer = Renderer(show, patch)
    times = renderer.render(12.5)
    assert len(patch.universes) == 860
    frame = renderer.universes.reshape(-1, 512)
    # Every universe carries light in the default idle looks (none of them is all black).
    assert (frame.max(axis=1) > 0).all()
    assert times.total > 0
    first = renderer.universes.copy()
    renderer.render(13.0)
    assert not np.array_equal(first, renderer.universes), "animated looks must change"


def test_previews_are_downscaled_and_rate_limited() -> None:
    show = load_default_show()
    renderer = Renderer(show, compile_patch(show))
    previews = Previews(renderer, max_size=160, rate_hz=10)
    renderer.render(1.0)
    assert previews.maybe_update(100.0, 1.0) is True
    assert previews.maybe_update(100.05, 1.0) is False  # within 1/10 s
    assert previews.maybe_update(100.11, 1.0) is True
    facade = previews.latest("facade")
    assert facade is not None
    assert (facade.width, facade.height) == (160, 53)
    assert len(facade.rgb) == 160 * 53 * 3
    assert previews.latest("nowhere") is None


def test_preview_size() -> None:
    assert preview_size(480, 160, 160) == (160, 53)
    assert preview_size(96, 40, 160) == (96, 40)  # never upscaled
    assert preview_size(1, 5000, 100) == (1, 100)


def test_configured_show_errors_are_config_errors(tmp_path: object) -> None:
    config = load_default_config()
    bad = replace(config, show=replace(config.show, path="/nonexistent/show.toml"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_configured_show(bad)


ORACLE = r"""
import hashlib, sys
from trocadero.config import load_default_show
from trocadero.core.patch import compile_patch
from trocadero.native import kernels
from trocadero.playout.render.renderer import Renderer
show = load_default_show()
r = Renderer(show, compile_patch(show))
for t in (0.0, 1.25, 37.5):
    r.render(t)
print(kernels.IMPLEMENTATION, hashlib.sha256(r.universes.tobytes()).hexdigest())
"""


def test_cython_and_numpy_render_the_default_show_identically() -> None:
    results = {}
    for pure in ("0", "1"):
        env = {**os.environ, "TROCADERO_PURE_KERNELS": pure}
        out = subprocess.run(
            [sys.executable, "-c", ORACLE],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.split()
        results[out[0]] = out[1]
    assert set(results) == {"cython", "numpy"}
    assert results["cython"] == results["numpy"]
    assert hashlib.sha256(b"").hexdigest() not in results.values()
