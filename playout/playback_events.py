"""Playback state on the event bus: ``canvas:update`` whenever the playback state changes
(at once after a command; auto-follows, the schedule and TTL expiries within a tick), and
``cue:progress`` for running fades, at a bounded rate. The UIs and show scripts draw from
these instead of polling."""

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
        change = controller.next_change()  # taken before the state: no change is missed
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
        # A command's change goes out at once; what time changes (fades, follows, TTLs) at
        # the tick.
        with trio.move_on_after(1.0 / RATE_HZ):
            await change.wait()


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
