"""Touch surfaces on canvases: the flip/rotation/rectangle mapping, the board's live touches
and ripple origins, `touch:frame` events, the simulator's checks and audit."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from trocadero.config.touch import TouchSurfaceConfig
from trocadero.core.errors import ForbiddenError, InvalidArgument, NotFoundError
from trocadero.core.permissions import Actor
from trocadero.core.touch import SurfaceMap, TouchBoard, TouchService
from trocadero.protocols.tuio import TouchEvent


def surface(**kw: Any) -> SurfaceMap:
    cfg = TouchSurfaceConfig(name="p", canvas="c", **kw)
    return SurfaceMap.of(cfg, 200, 100)


@pytest.mark.parametrize(
    ("kw", "corner"),
    [
        ({}, (10.0, 20.0)),  # the surface's top-left lands on the rectangle's top-left
        ({"rotation": 90}, (110.0, 20.0)),  # turned clockwise: top-left → top-right
        ({"rotation": 180}, (110.0, 70.0)),
        ({"rotation": 270}, (10.0, 70.0)),
        ({"flip_x": True}, (110.0, 20.0)),
        ({"flip_y": True}, (10.0, 70.0)),
        ({"flip_x": True, "rotation": 90}, (110.0, 70.0)),  # flip first, then turn
    ],
)
def test_mapping_of_the_top_left_corner(kw: dict[str, Any], corner: tuple[float, float]) -> None:
    m = surface(x=10, y=20, w=100, h=50, **kw)
    assert m.to_canvas(0.0, 0.0) == corner
    assert m.to_canvas(0.5, 0.5) == (60.0, 45.0)  # the centre stays


def test_a_point_off_the_diagonal_turns() -> None:
    m = surface(x=0, y=0, w=100, h=100, rotation=90)
    assert m.to_canvas(0.25, 0.0) == (100.0, 25.0)  # along the top → down the right edge


def test_the_whole_canvas_by_default_and_a_rectangle_outside_is_refused() -> None:
    m = surface()
    assert (m.w, m.h) == (200, 100)
    with pytest.raises(ValueError, match="not inside canvas 'c'"):
        surface(x=150, w=100)


def service() -> tuple[TouchService, list[tuple[str, dict[str, Any]]], list[float]]:
    now = [100.0]
    published: list[tuple[str, dict[str, Any]]] = []
    board = TouchBoard(clock=lambda: now[0])
    svc = TouchService(
        [surface(x=0, y=0, w=200, h=100)],
        lambda t, p: published.append((t, dict(p))),
        board=board,
        timeout_s=5.0,
    )
    return svc, published, now


def test_apply_keeps_touches_spawns_ripples_and_publishes() -> None:
    svc, published, now = service()
    svc.apply("p", [TouchEvent("down", 1, 0.5, 0.5, "cur")])
    ((topic, payload),) = published
    assert topic == "touch:frame"
    assert payload["touches"] == [
        {"id": "/cur/1", "session": 1, "u": 0.5, "v": 0.5, "x": 100.0, "y": 50.0}
    ]
    assert [(s.x, s.y) for s in svc.board.recent("c", 1.0)] == [(100.0, 50.0)]
    svc.apply("p", [TouchEvent("move", 1, 0.25, 0.5, "cur")])
    assert [t.x for t in svc.board.on_canvas("c")] == [50.0]
    assert len(svc.board.recent("c", 1.0)) == 1  # a move spawns no ring
    assert svc.apply("p", [TouchEvent("move", 9, 0.1, 0.1, "cur")]) == 0  # never down
    now[0] += 6.0
    assert svc.expire() == 1  # not heard of for longer than the timeout
    assert svc.board.on_canvas("c") == []
    assert published[-1][1]["changes"][0]["kind"] == "up"
    assert svc.board.recent("c", 1.0) == []


def test_simulate_checks_role_surface_and_range() -> None:
    svc, published, _ = service()
    tech = Actor("tech", "operator", "ui")

    async def main() -> None:
        out = await svc.simulate(tech, "p", "down", 1, 0.25, 0.75)
        assert (out["canvas"], out["x"], out["y"]) == ("c", 50.0, 75.0)
        with pytest.raises(ForbiddenError):
            await svc.simulate(Actor("v", "viewer", "ui"), "p", "down", 2, 0.5, 0.5)
        with pytest.raises(NotFoundError, match='no touch surface "q"'):
            await svc.simulate(tech, "q", "down", 2, 0.5, 0.5)
        with pytest.raises(InvalidArgument, match="x: must be between 0 and 1"):
            await svc.simulate(tech, "p", "down", 2, 1.5, 0.5)

    trio.run(main)
    assert published[0][1]["by"] == "tech"
