"""Surfaces checked against the show at start-up: an unknown canvas or a rectangle outside
its canvas is a config error naming the surface's key."""

from __future__ import annotations

import pytest

from trocadero.config import ConfigError, parse_config
from trocadero.playout.tuio import surface_maps


def test_unknown_canvas_and_rectangle_outside() -> None:
    cfg = parse_config(
        '[[touch.surfaces]]\nname = "a"\ncanvas = "stair"\n'
        '[[touch.surfaces]]\nname = "b"\ncanvas = "stairs"\nport = 3334\nx = 80\nw = 48\n'
        '[[touch.surfaces]]\nname = "c"\ncanvas = "stairs"\nport = 3335\nx = 48\n',
        source="x",
    )
    with pytest.raises(ConfigError) as info:
        surface_maps(cfg.touch, {"stairs": (96, 40), "canopy": (240, 80)})
    assert info.value.problems == [
        "touch.surfaces[0].canvas: the show has no canvas 'stair' (known: canopy, stairs)",
        "touch.surfaces[1]: the rectangle 80,0 48x40 is not inside canvas 'stairs' (96x40)",
    ]
    (c,) = surface_maps(
        parse_config(
            '[[touch.surfaces]]\nname = "c"\ncanvas = "stairs"\nx = 48\n', source="x"
        ).touch,
        {"stairs": (96, 40)},
    )
    assert (c.x, c.w, c.h) == (48, 48, 40)  # to the canvas's edges
