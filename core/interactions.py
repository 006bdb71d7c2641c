"""Moments and sensors: the building reacting to things that happen.

- A **celebration** (a goal, a new year, a campaign launch) plays a look on some canvases for
  a while, over the cue lists, then lets go by itself: a scripted override with a TTL,
  through the command layer (role check, audit, durable state), announced on the bus as
  ``celebration:trigger`` so every UI shows it.
- **Sensor data** (presence sensors, light meters, counters on the site network) is
  validated and published as ``sensor:data`` for the UIs and for show scripts subscribed on
  the socket API, which decide what the building does with it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from .commands import Actor, Controller
from .permissions import require
from .playback.cuelist import UnknownName
from .validate import InvalidArgument as InvalidInput

__all__ = ["Interactions", "InvalidInput"]

_SENSOR_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_READINGS: Final = 64
MAX_CELEBRATION_S: Final = 3600.0

Publish = Callable[[str, Mapping[str, Any]], object]


def _seconds(value: object, field: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{field}: expected a number of seconds (got {value!r})")
    if not low <= value <= high:
        raise InvalidInput(f"{field}: must be between {low:g} and {high:g} (got {value!r})")
    return float(value)


class Interactions:
    def __init__(
        self, controller: Controller, publish: Publish, wall: Callable[[], float] = time.time
    ) -> None:
        self.controller = controller
        self.publish = publish
        self.wall = wall

    async def celebrate(
        self,
        actor: Actor,
        look: str,
        *,
        duration: float,
        canvases: Sequence[str] | None = None,
        fade_in: float = 1.0,
        fade_out: float = 2.0,
        priority: int = 100,
    ) -> dict[str, Any]:
        defn = self.controller.engine.looks.get(look)
        if defn is None:
            raise UnknownName(f'no look "{look}"')
        covered = [c.canvas for c in defn.canvases]
        chosen = list(canvases) if canvases is not None else covered
        if not chosen:
            raise InvalidInput(f'canvases: look "{look}" covers no canvas; name some')
        unknown = [c for c in chosen if c not in self.controller.engine.canvas_names]
        if unknown:
            raise InvalidInput(f"canvases: no canvas {unknown[0]!r}")
        duration = _seconds(duration, "duration_s", low=0.1, high=MAX_CELEBRATION_S)
        fade_in = _seconds(fade_in, "fade_in", low=0.0, high=60.0)
        fade_out = _seconds(fade_out, "fade_out", low=0.0, high=60.0)
        result = await self.controller.add_override(
            actor,
            dict.fromkeys(chosen, (look, None)),
            ttl=duration,
            priority=priority,
            fade_in=fade_in,
            fade_out=fade_out,
        )
        event = {
            "look": look,
            "canvases": chosen,
            "override": result.detail.get("id"),
            "duration_s": duration,
            "until": self.wall() + duration,
            "by": actor.name,
        }
        self.publish("celebration:trigger", event)
        return event

    def sensor(
        self, actor: Actor, sensor: str, values: object, at: object = None
    ) -> dict[str, Any]:
        require(actor, "sensors.write", "report sensor data")
        if not _SENSOR_NAME.match(sensor):
            raise InvalidInput(
                f"sensor: 1-64 letters, digits, '_', '.', ':' or '-' (got {sensor[:80]!r})"
            )
        if not isinstance(values, dict) or not values:
            raise InvalidInput("values: expected an object of reading name -> number")
        if len(values) > MAX_READINGS:
            raise InvalidInput(f"values: at most {MAX_READINGS} readings (got {len(values)})")
        readings: dict[str, float | bool] = {}
        for name, value in values.items():
            # msgpack maps (the socket API) may have non-string keys; JSON objects never do.
            if not isinstance(name, str) or not _SENSOR_NAME.match(name):
                raise InvalidInput(f"values.{str(name)[:80]}: not a valid reading name")
            if isinstance(value, bool):
                readings[name] = value
            elif isinstance(value, int | float) and math.isfinite(value):
                readings[name] = float(value)
            else:
                raise InvalidInput(
                    f"values.{name}: expected a number or true/false (got {value!r})"
                )
        when = self.wall() if at is None else at
        if isinstance(when, bool) or not isinstance(when, int | float) or not math.isfinite(when):
            raise InvalidInput(f"at: expected Unix seconds (got {at!r})")
        event = {"sensor": sensor, "values": readings, "at": float(when), "by": actor.name}
        self.publish("sensor:data", event)
        return event
