"""The standby follows the leader (issue 19, item 2 — in part). While this node stands by:

- the leader's saved playback state (cue lists with their fades, parks, masters, the
  emergency latch: what survives a restart, core/playback/persist.py) is read from the
  shared store when the leader's NOTIFY arrives (and every 100 ms in case one is lost) and,
  when it changed, becomes this engine's own (`follow`), placed at the leader's point in
  each fade;
- the show's newest snapshot is looked at every 0.5 s and, when it changed (a look, cue
  list, schedule entry or rule edited on the leader), taken on by the engine, the schedule
  and the rules (`ShowSnapshots.take_on`).

So at a takeover the standby's frames continue the leader's show rather than its own. A
standby never writes the playback state itself (`LeaderOnlyState`): the leader's row is the
truth. Both nodes put a digest of the state they play in their heartbeats (ha.py compares
them). Not followed: scripted overrides (not in the saved state).
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import trio

from trocadero.core.permissions import Actor
from trocadero.core.playback.persist import follow
from trocadero.core.storage import StorageError
from trocadero.protocols.ha_heartbeat import Role

from .ha import Pair
from .ha_lease import LeaseLost
from .logs import get_logger
from .playback import PlaybackDriver

if TYPE_CHECKING:
    from trocadero.core.snapshot_service import ShowSnapshots

log = get_logger("ha")

FOLLOW_INTERVAL_S = 0.1


def state_digest(doc: Mapping[str, Any]) -> int:
    """CRC-32 of the playback state as canonical JSON (never 0: 0 means none yet)."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return zlib.crc32(text.encode()) or 1


SHOW_EVERY: Final = 5  # the show's newest snapshot is looked at every 5th round (0.5 s)


class StateFollower:
    def __init__(
        self,
        pair: Pair,
        driver: PlaybackDriver,
        load: Callable[[], Awaitable[Mapping[str, Any] | None]],
        snapshots: ShowSnapshots | None = None,
    ) -> None:
        self.pair, self.driver, self.load = pair, driver, load
        self.snapshots = snapshots
        self._show: str | None = None  # the snapshot this engine has (None: not read yet)
        self._rounds = 0
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

    async def follow_show(self) -> None:
        """Look and cue-list edits the leader stored: the newest show snapshot, taken on
        when it changes (the first one read is what this node started with)."""
        assert self.snapshots is not None
        latest = await self.snapshots.store.snapshots.latest()
        if latest is None or latest.hash == self._show:
            return
        if self._show is not None:
            actor = Actor(f"ha:{self.pair.config.node_name}", "admin", "system")
            await self.snapshots.take_on(actor, latest.hash)
            self._last = None  # the state again: it may name a list this show just brought
            self.pair.followed_shows += 1
            log.info("followed the leader's show", snapshot=latest.hash[:12])
        self._show = latest.hash

    async def step(self) -> None:
        if self.pair.role is not Role.STANDBY:
            self._last = None  # read afresh when this node stands by again
            self._show = None
            return
        self._rounds += 1
        if self.snapshots is not None and (self._show is None or self._rounds % SHOW_EVERY == 0):
            try:
                await self.follow_show()
            except (StorageError, ValueError) as exc:  # ValueError: a document it cannot parse
                self.pair.follow_read_errors += 1
                log.warning("could not follow the leader's show", error=str(exc))
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
        # A NOTIFY from the leader (LISTENed on the lease connection) wakes the loop early.
        wake = trio.Event()

        def notice(_payload: str) -> None:
            wake.set()

        self.pair.lease.on_notice = notice
        task_status.started()
        try:
            while True:
                await self.step()
                with trio.move_on_after(FOLLOW_INTERVAL_S):
                    await wake.wait()
                wake = trio.Event()
        finally:
            self.pair.lease.on_notice = None


class LeaderOnlyState:
    """The playback state store as a node of a pair sees it: saves only while leading (a
    standby's engine follows the leader's row, it never overwrites it)."""

    def __init__(self, inner: Any, pair: Pair) -> None:
        self.inner, self.pair = inner, pair

    async def save_state(self, key: str, doc: Mapping[str, Any]) -> None:
        if self.pair.role is Role.LEADER:
            await self.inner.save_state(key, doc)
            self.pair.state_digest = state_digest(doc)  # what the standby should match
            try:  # the standby reads it at once (it polls as well: a lost notice costs 0.1 s)
                await self.pair.lease.notify(f"{self.pair.state_digest:08x}")
            except LeaseLost:
                pass  # the pair's task sees the lost connection and fences
