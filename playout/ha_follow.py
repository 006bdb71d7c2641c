"""The standby follows the leader's playback (issue 19, item 2 — in part): while this node
stands by, the leader's saved playback state (cue lists with their fades, parks, masters,
the emergency latch: what survives a restart, core/playback/persist.py) is read from the
shared store every few heartbeat intervals and, when it changed, becomes this engine's own
(`follow`), placed at the leader's point in each fade. So at a takeover the standby's frames
continue the leader's show rather than its own.

A standby never writes that state itself (`may_persist`): the leader's row is the truth.
Not followed yet: scripted overrides (not in the saved state) and a comparison of both
nodes' frames (digests).
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import trio

from trocadero.core.playback.persist import follow
from trocadero.core.storage import StorageError
from trocadero.protocols.ha_heartbeat import Role

from .ha import Pair
from .logs import get_logger
from .playback import PlaybackDriver

log = get_logger("ha")

FOLLOW_INTERVAL_S = 0.1


def state_digest(doc: Mapping[str, Any]) -> int:
    """CRC-32 of the playback state as canonical JSON (never 0: 0 means none yet)."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return zlib.crc32(text.encode()) or 1


class StateFollower:
    def __init__(
        self,
        pair: Pair,
        driver: PlaybackDriver,
        load: Callable[[], Awaitable[Mapping[str, Any] | None]],
    ) -> None:
        self.pair, self.driver, self.load = pair, driver, load
        self._last: Mapping[str, Any] | None = None
        self._failing = False

    def may_persist(self) -> bool:
        """Only the leader saves the shared playback state."""
        return self.pair.role is Role.LEADER

    def apply(self, doc: Mapping[str, Any]) -> None:
        with self.driver.lock:
            notes = follow(self.driver.engine, doc, self.driver.now(), time.time())
        self.driver.changed()
        self.pair.state_digest = state_digest(doc)
        self.pair.followed_states += 1
        if notes:
            log.warning("leader's playback state followed in part", notes=notes)

    async def step(self) -> None:
        if self.pair.role is not Role.STANDBY:
            self._last = None  # read afresh when this node stands by again
            return
        try:
            doc = await self.load()
        except StorageError as exc:
            self.pair.follow_read_errors += 1
            if not self._failing:  # once per outage, not ten lines a second
                log.warning("could not read the leader's playback state", error=str(exc))
            self._failing = True
            return
        if self._failing:
            log.info("reading the leader's playback state again")
            self._failing = False
        if doc is not None and doc != self._last:
            self.apply(doc)
            self._last = doc

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await self.step()
            await trio.sleep(FOLLOW_INTERVAL_S)


class LeaderOnlyState:
    """The playback state store as a node of a pair sees it: saves only while leading (a
    standby's engine follows the leader's row, it never overwrites it)."""

    def __init__(self, inner: Any, pair: Pair) -> None:
        self.inner, self.pair = inner, pair

    async def save_state(self, key: str, doc: Mapping[str, Any]) -> None:
        if self.pair.role is Role.LEADER:
            await self.inner.save_state(key, doc)
            self.pair.state_digest = state_digest(doc)  # what the standby should match
