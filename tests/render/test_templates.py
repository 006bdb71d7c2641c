"""Generative templates: pure functions of time and parameters, with schemas for the UI."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from trocadero.playout.render.sources import CanvasContext, build_source, describe_sources


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
    for kind in ("colour-wash", "wave", "sparkle", "video"):
        assert schemas[kind]["summary"]
        assert all(p["doc"] for p in schemas[kind]["params"].values())
    assert schemas["wave"]["params"]["direction"]["choices"] == ["right", "left", "down", "up"]
