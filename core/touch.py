"""Touches on the building: surfaces mapped onto canvases, the touches down now, and the
simulator (docs/touch.md).

Every touch, from a TUIO tracker (`playout/tuio.py`) or the simulator (the `touch.simulate`
operation), goes through `TouchService.apply`: mapped into canvas pixels, kept on the
`TouchBoard` (what `touch_ripple` layers draw from and the UI shows) and published as one
`touch:frame` event per change (surface, canvas, every touch down on the surface now, what
changed), which the rule task feeds to the rule engine.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from trocadero.config.touch import TouchSurfaceConfig
from trocadero.protocols.tuio import TouchEvent

from .commands import audit
from .errors import InvalidArgument, NotFoundError
from .permissions import Actor, require
from .storage.audit import AuditStore
from .touch_board import MAX_SPAWNS, LiveTouch, Spawn, TouchBoard

__all__ = ["LiveTouch", "SurfaceMap", "TouchBoard", "TouchService"]

SIMULATED: Final = "simulator"  # the source of the simulator's touches
Publish = Callable[[str, Mapping[str, Any]], object]


@dataclass(frozen=True, slots=True)
class SurfaceMap:
    """Where a surface's 0..1 coordinates land on its canvas (config/touch.py's order:
    flip, then a clockwise turn, then into the rectangle)."""

    name: str
    canvas: str
    x: float
    y: float
    w: float
    h: float
    rotation: int = 0
    flip_x: bool = False
    flip_y: bool = False
    canvas_size: tuple[int, int] = (0, 0)  # for the simulator's outline

    @classmethod
    def of(cls, cfg: TouchSurfaceConfig, width: int, height: int) -> SurfaceMap:
        """The surface on its canvas (`width` x `height`); ValueError says what is off."""
        w = cfg.w or width - cfg.x
        h = cfg.h or height - cfg.y
        if w <= 0 or h <= 0 or cfg.x + w > width + 1e-9 or cfg.y + h > height + 1e-9:
            raise ValueError(
                f"the rectangle {cfg.x:g},{cfg.y:g} {w:g}x{h:g} is not inside canvas"
                f" {cfg.canvas!r} ({width}x{height})"
            )
        return cls(
            cfg.name,
            cfg.canvas,
            cfg.x,
            cfg.y,
            w,
            h,
            cfg.rotation,
            cfg.flip_x,
            cfg.flip_y,
            (width, height),
        )

    def to_canvas(self, u: float, v: float) -> tuple[float, float]:
        if self.flip_x:
            u = 1.0 - u
        if self.flip_y:
            v = 1.0 - v
        if self.rotation == 90:  # clockwise: the surface's top edge lies along the right
            u, v = 1.0 - v, u
        elif self.rotation == 180:
            u, v = 1.0 - u, 1.0 - v
        elif self.rotation == 270:
            u, v = v, 1.0 - u
        return self.x + u * self.w, self.y + v * self.h

    def json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "canvas": self.canvas,
            "rect": [self.x, self.y, self.w, self.h],
            "rotation": self.rotation,
            "flip_x": self.flip_x,
            "flip_y": self.flip_y,
            "canvas_size": list(self.canvas_size),
        }


def _key(e: TouchEvent) -> str:
    return f"{e.source}/{e.profile}/{e.session}"


class TouchService:
    def __init__(
        self,
        surfaces: Iterable[SurfaceMap],
        publish: Publish,
        audit_log: AuditStore | None = None,
        *,
        board: TouchBoard | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.surfaces = {s.name: s for s in surfaces}
        self.publish = publish
        self.audit_log = audit_log
        self.board = board or TouchBoard()
        self.timeout_s = timeout_s
        for s in self.surfaces.values():
            self.board.canvas_of[s.name] = s.canvas
            self.board.live.setdefault(s.name, {})
        self.events = 0  # touch events applied
        self.frames = 0  # touch:frame events published

    def surface(self, name: str) -> SurfaceMap:
        found = self.surfaces.get(name)
        if found is None:
            known = ", ".join(sorted(self.surfaces)) or "none configured"
            raise NotFoundError(f'no touch surface "{name}" (known: {known})')
        return found

    def apply(self, surface: str, events: Iterable[TouchEvent], *, by: str = "tuio") -> int:
        """Map and keep the events of one tracker frame; one `touch:frame` if anything
        changed. Returns how many events it applied."""
        where = self.surface(surface)
        live = self.board.live[surface]
        now = self.board.clock()
        changes: list[dict[str, Any]] = []
        for e in events:
            key = _key(e)
            x, y = where.to_canvas(e.x, e.y)
            if e.kind == "up":
                if live.pop(key, None) is None:
                    continue
            else:
                before = live.get(key)
                if e.kind == "move" and before is None:
                    continue  # a move of a touch never seen down (the simulator's late move)
                down_at = now if before is None else before.down_at
                live[key] = LiveTouch(
                    surface, key, e.session, e.x, e.y, x, y, down_at, now, e.symbol
                )
                if before is None:
                    spawns = self.board.spawns.setdefault(where.canvas, deque(maxlen=MAX_SPAWNS))
                    spawns.append(Spawn(x, y, now))
            changes.append({"kind": e.kind, "id": key, "x": round(x, 2), "y": round(y, 2)})
        if not changes:
            return 0
        self.events += len(changes)
        self._changed(where, changes, by)
        return len(changes)

    def _changed(self, where: SurfaceMap, changes: list[dict[str, Any]], by: str) -> None:
        self.board.generation += 1
        self.frames += 1
        touches = [t.json() for t in self.board.live[where.name].values()]
        self.publish(
            "touch:frame",
            {
                "surface": where.name,
                "canvas": where.canvas,
                "touches": touches,
                "changes": changes,
                "by": by,
            },
        )

    def refresh(self, surface: str) -> None:
        """A frame from the surface's tracker arrived: its touches are still there."""
        now = self.board.clock()
        live = self.board.live.get(surface, {})
        for key, t in live.items():
            if t.seen_at != now:
                live[key] = _seen(t, now)

    def expire(self) -> int:
        """Lift touches not heard of for `timeout_s` (a tracker that vanished mid-touch)."""
        now = self.board.clock()
        lifted = 0
        for name, live in self.board.live.items():
            stale = [t for t in live.values() if now - t.seen_at > self.timeout_s]
            if stale:
                events = [
                    TouchEvent("up", t.session, t.u, t.v, *_source_profile(t.key)) for t in stale
                ]
                lifted += self.apply(name, events, by="timeout")
        return lifted

    def state(self) -> dict[str, Any]:
        return {
            "surfaces": [
                s.json() | {"touches": [t.json() for t in self.board.live[s.name].values()]}
                for s in self.surfaces.values()
            ]
        }

    async def simulate(
        self,
        actor: Actor,
        surface: str,
        action: Literal["down", "move", "up"],
        touch: int,
        x: float,
        y: float,
    ) -> dict[str, Any]:
        """A touch from the UI's simulator, as if its tracker had sent it (audited on down
        and up; moves are many and say nothing new)."""
        require(actor, "touch.simulate", "simulate touches")
        where = self.surface(surface)
        for key, value in (("x", x), ("y", y)):
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InvalidArgument(f"{key}: must be between 0 and 1 (got {value!r})")
        event = TouchEvent(action, touch, x, y, "cur", SIMULATED)
        self.apply(surface, [event], by=actor.name)
        if action != "move" and self.audit_log is not None:
            await audit(self.audit_log, actor, f"simulate touch {action}", surface, x=x, y=y)
        cx, cy = where.to_canvas(x, y)
        return {
            "surface": surface,
            "canvas": where.canvas,
            "x": round(cx, 2),
            "y": round(cy, 2),
            "touches": [t.json() for t in self.board.live[surface].values()],
        }


def _seen(t: LiveTouch, now: float) -> LiveTouch:
    return LiveTouch(t.surface, t.key, t.session, t.u, t.v, t.x, t.y, t.down_at, now, t.symbol)


def _source_profile(key: str) -> tuple[Any, str]:
    source, profile, _ = key.rsplit("/", 2)
    return profile, source
