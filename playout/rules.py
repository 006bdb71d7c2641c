"""The trigger-rule task: every `sensor:data` reading (the sensor API, MQTT), every
`touch:frame` (touch surfaces and the simulator), every camera's `blob:data` frame and a
tick a few times a second (time windows, staleness, debounce and minimum times running out)
go through the rule engine; its fires are carried out by the service through the command
layer. A failing action is logged and counted by the service; a failure of the task itself
is the supervisor's (restart, alert)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import trio

from trocadero.core.blobs import Blob
from trocadero.core.events import EventBus
from trocadero.core.rule_service import RuleService
from trocadero.core.rules import Reading, TouchFrame

from .logs import get_logger

__all__ = ["TICK_S", "serve_rules"]

TICK_S: Final = 0.25
log = get_logger("rules")


def _blobs(payload: Mapping[str, Any]) -> tuple[str, tuple[Blob, ...]] | None:
    """The camera and blobs of a `blob:data` event (published by the camera's tracker
    handle from checked wire data; checked again, as for readings)."""
    camera, rows = payload.get("camera"), payload.get("blobs")
    if not isinstance(camera, str) or not isinstance(rows, list):
        return None
    blobs: list[Blob] = []
    for row in rows:
        try:
            blobs.append(
                Blob(
                    int(row["id"]),
                    float(row["x"]),
                    float(row["y"]),
                    float(row["w"]),
                    float(row["h"]),
                    float(row["area"]),
                    float(row["age_s"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            return None
    return camera, tuple(blobs)


def _reading(payload: Mapping[str, Any]) -> Reading | None:
    """The reading of a `sensor:data` event (validated by its publisher; checked again:
    a bus event from elsewhere must not stop the task)."""
    sensor, values = payload.get("sensor"), payload.get("values")
    if not isinstance(sensor, str) or not isinstance(values, Mapping):
        return None
    plain: dict[str, float | bool] = {}
    for key, value in values.items():
        if isinstance(value, bool):
            plain[str(key)] = value
        elif isinstance(value, int | float) and math.isfinite(value):
            plain[str(key)] = float(value)
    return Reading(sensor, plain)


def _touches(payload: Mapping[str, Any]) -> TouchFrame | None:
    """The touches of a `touch:frame` event (published by core/touch.py; checked again)."""
    surface, canvas, touches = payload.get("surface"), payload.get("canvas"), payload.get("touches")
    if not isinstance(surface, str) or not isinstance(canvas, str) or not isinstance(touches, list):
        return None
    points = tuple(
        (float(t["x"]), float(t["y"]))
        for t in touches
        if isinstance(t, Mapping)
        and all(isinstance(t.get(k), int | float) and not isinstance(t.get(k), bool) for k in "xy")
    )
    return TouchFrame(surface, canvas, points)


async def serve_rules(
    service: RuleService,
    events: EventBus,
    *,
    tick_s: float = TICK_S,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    await service.load()
    topics = ("sensor:data", "touch:frame", "blob:data")
    with events.subscribe(topics, capacity=4096) as readings:
        log.info("rules running", rules=len(service.engine.rules))
        task_status.started()
        next_tick = trio.current_time()
        while True:
            event = None
            if trio.current_time() < next_tick:  # a flood of readings must not starve ticks
                with trio.move_on_at(next_tick):  # only the wait is cancelled, never a fire
                    event = await readings.receive()
            if event is not None and event.topic == "blob:data":
                found = _blobs(event.payload)
                if found is not None:
                    await service.feed_blobs(*found)
                continue
            if event is not None:
                reading: Reading | TouchFrame | None
                if event.topic == "touch:frame":
                    reading = _touches(event.payload)
                else:
                    reading = _reading(event.payload)
                if reading is not None:
                    await service.feed(reading)
                continue
            await service.feed(None)
            next_tick = max(next_tick + tick_s, trio.current_time())
