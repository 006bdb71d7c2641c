"""The touch_ripple source: still (drawn once, then skipped) while nothing is touched; a ring
from each touch-down that grows at `speed` and fades over `lifetime_s`; a glow under a held
touch; only its own canvas's touches; the native render draws it through a slot."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from trocadero.core.touch import SurfaceMap, TouchService
from trocadero.core.touch_board import TouchBoard
from trocadero.playout.render.native import native_kind
from trocadero.playout.render.sources import (
    CanvasContext,
    LayerSource,
    SourceContext,
    build_source,
)
from trocadero.protocols.tuio import TouchEvent

W, H = 41, 21


def setup() -> tuple[TouchService, list[float], NDArray[np.uint16], LayerSource]:
    now = [10.0]
    board = TouchBoard(clock=lambda: now[0])
    svc = TouchService(
        [SurfaceMap("p", "c", 0, 0, W, H), SurfaceMap("q", "other", 0, 0, W, H)],
        lambda topic, payload: None,
        board=board,
    )
    params = {"colour": "#ff0000", "speed": 10.0, "lifetime_s": 1.0, "width": 1.0}
    source = build_source(
        "touch_ripple", params, CanvasContext.unpatched("c", W, H), SourceContext(touches=board)
    )
    return svc, now, np.zeros((H, W, 3), np.uint16), source


def lit(out: NDArray[np.uint16]) -> set[tuple[int, int]]:
    return {(int(x), int(y)) for y, x in zip(*np.nonzero(out[:, :, 0]), strict=True)}


def test_still_until_touched_then_rings_grow_fade_and_go() -> None:
    svc, now, out, source = setup()
    assert native_kind(source) == "slot"  # fed by Python each frame, like live video
    assert source.render(0.0, out) is True
    assert lit(out) == set()
    assert source.render(0.1, out) is False  # nothing touched: not drawn again

    svc.apply("q", [TouchEvent("down", 1, 0.5, 0.5, "cur")])  # another canvas
    assert source.render(0.2, out) is True  # (the board changed: drawn once more)
    assert lit(out) == set()

    svc.apply("p", [TouchEvent("down", 1, 0.5, 0.5, "cur")])  # (20.5, 10.5)
    source.render(0.3, out)
    assert (20, 10) in lit(out)  # the glow under the finger
    assert out[10, 20].tolist() == [65535, 0, 0]
    svc.apply("p", [TouchEvent("up", 1, 0.5, 0.5, "cur")])

    now[0] += 0.5  # the ring is 5 px out, at half strength
    assert source.render(0.8, out) is True
    ring = lit(out)
    assert (25, 10) in ring
    assert (15, 10) in ring
    assert (20, 15) in ring
    assert (20, 10) not in ring  # the middle is dark again: a ring, not a disc
    assert 30000 < int(out[10, 25, 0]) < 35000  # faded to about half
    assert source.render(0.85, out) is True  # live: drawn every frame

    now[0] += 0.6  # past its lifetime
    source.render(1.5, out)
    assert lit(out) == set()
    assert source.render(1.6, out) is False
