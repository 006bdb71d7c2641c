"""Playback state on the event bus: ``canvas:update`` whenever the playback state changes
(any interface, auto-follows, the schedule, TTL expiries), and ``cue:progress`` for running
fades, at a bounded rate. The UIs and show scripts draw from these instead of polling."""

from __future__ import annotations

from typing import Any, Final

import trio

from trocadero.core.commands import SYSTEM, Controller
from trocadero.core.events import EventBus

RATE_HZ: Final = 10.0  # cue:progress updates per second at most, per list


async def serve_playback_events(
    controller: Controller,
    bus: EventBus,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    last_revision = -1
    fading: dict[str, bool] = {}
    task_status.started()
    while True:
        state = controller.state(SYSTEM)
        if state["revision"] != last_revision:
            last_revision = state["revision"]
            bus.publish("canvas:update", state)
        for lst in state["lists"]:
            name, now_fading = lst["name"], bool(lst["fading"])
            # Every tick while a fade runs, and once more when it ends (progress 1).
            if now_fading or fading.get(name, False):
                bus.publish("cue:progress", _progress(lst))
            fading[name] = now_fading
        await trio.sleep(1.0 / RATE_HZ)


def _progress(lst: dict[str, Any]) -> dict[str, Any]:
    return {
        "list": lst["name"],
        "cue": lst["current"],
        "progress": lst["progress"],
        "elapsed_s": lst["elapsed_s"],
        "remaining_s": lst["remaining_s"],
        "fading": lst["fading"],
        "paused": lst["paused"],
    }
