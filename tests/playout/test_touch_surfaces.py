"""Surfaces checked against the show at start-up: an unknown canvas or a rectangle outside
its canvas is a config error naming the surface's key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_check_config_names_a_surface_off_its_canvas(tmp_path: Path) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text(
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        '[[touch.surfaces]]\nname = "a"\ncanvas = "stairs"\nx = 90\nw = 10\n'
    )
    out = subprocess.run(
        [sys.executable, "-m", "trocadero", "check-config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out
    assert "touch.surfaces[0]: the rectangle 90,0 10x40 is not inside canvas 'stairs'" in out.stderr
