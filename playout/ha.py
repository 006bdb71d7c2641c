"""The hot-standby pair (issue 19, docs/ha.md): who leads, and what the wire may carry.

Leadership is the PostgreSQL lease (`ha_lease.py`); heartbeats (`ha_link.py`) only make a
standby try it sooner. The output thread is told through its wire gate (native
`wire_gate.rs`): `set_lease_until(now + dead interval)` after each confirmed renewal, so
whatever stops the renewals — a lost connection, a newer epoch, a hung or stopped process —
fences this node at the first deadline after the lease runs out, with no Python needed.

Per tick (one heartbeat interval):
- leader: renew (epoch must match) → extend the native lease; failure → fence at once;
- standby: the peer dead (missed heartbeats), not leading, or handing over → try the lease
  (the lock decides: with the link cut but both reaching PostgreSQL, exactly one leads); a
  free lock is asked for half-way to dead already. After taking it from a leader that may
  be alive, the output leads only once that leader's lease has surely run out;
- compare the playback state the peer plays (its heartbeat's digest) with ours;
- then send a heartbeat (role, epoch, sequence, frame time, state digest).

A planned handover: this leader says "handing over" and releases the lock while its output
goes on; the peer takes the lock (new epoch) and raises its sACN priority; seeing that, this
node sends Stream_Terminated (three per universe) and drops to standby.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import trio

from trocadero.config.ha import HaConfig
from trocadero.core.commands import AuditSink, audit
from trocadero.core.errors import ConflictError, RefusedError
from trocadero.core.permissions import Actor
from trocadero.core.statistics import counter, detail, gauge, to_json
from trocadero.core.storage import StorageError
from trocadero.native.clock import FrameClock
from trocadero.protocols.ha_heartbeat import Heartbeat, Role

from .ha_lease import Lease, LeaseLost
from .ha_link import HeartbeatLink
from .logs import get_logger

log = get_logger("ha")

HANDOVER_TIMEOUT_S: Final = 2.0  # the standby must take the lease within this
DIVERGED_AFTER_NS: Final = 2_000_000_000  # states that differ this long: diverged (alert)


@dataclass(frozen=True, slots=True)
class HaStatistics:
    node: str = field(metadata=detail())
    role: str = field(metadata=detail())
    leading: bool  # this node may transmit on every protocol (per the output thread)
    epoch: int
    lease_remaining_ms: float  # of the output thread's lease; 0 when standing by
    peer: str = field(metadata=detail())
    peer_node: str | None = field(metadata=detail())
    peer_role: str | None = field(metadata=detail())
    peer_epoch: int | None = field(metadata=detail())
    peer_heartbeat_age_ms: float | None = field(metadata=gauge())  # None: never heard
    peer_heartbeats_missed: int
    heartbeats_sent: int = field(metadata=counter())
    heartbeats_received: int = field(metadata=counter())
    heartbeats_junk: int = field(metadata=counter())
    takeovers: int = field(metadata=counter())  # times this node took the lease
    fences: int = field(metadata=counter())  # times it stopped leading
    withheld_frames: int = field(metadata=counter())  # deadlines without leader-only outputs
    stream_terminated_rounds: int = field(metadata=counter())
    followed_states: int = field(metadata=counter())  # the leader's playback state taken on
    follow_read_errors: int = field(metadata=counter())
    followed_shows: int = field(metadata=counter())  # the leader's show edits taken on
    state_digest: str = field(metadata=detail())  # CRC-32 of the playback state this node plays
    peer_state_digest: str | None = field(metadata=detail())
    diverged: bool  # the two nodes play different states for longer than 2 s
    divergences: int = field(metadata=counter())
    # The last change, heard of → taken on (0: before heard; ±1 beat); None: none yet.
    follow_lag_ms: float | None = field(metadata=gauge())
    follow_lag_max_ms: float | None = field(metadata=gauge())
    lease_error: str | None = field(metadata=detail())
    last_transition: str | None = field(metadata=detail())
    last_transition_reason: str | None = field(metadata=detail())
    last_transition_at: str | None = field(metadata=detail())


class Pair:
    def __init__(
        self,
        config: HaConfig,
        clock: FrameClock,
        lease: Lease,
        link: HeartbeatLink,
        audit_sink: AuditSink | None = None,
    ) -> None:
        self.config, self.clock, self.lease, self.link = config, clock, lease, link
        self.audit_sink = audit_sink
        self.role = Role.STANDBY
        self.epoch = 0
        self.sequence = 0
        self.interval_ns = round(config.heartbeat_interval_s * 1e9)
        self.dead_ns = round(config.dead_after_s * 1e9)
        self.started_ns = time.monotonic_ns()
        self.takeovers = self.fences = 0
        self.followed_states = self.follow_read_errors = 0  # counted by ha_follow.py
        self.followed_shows = 0
        self.state_digest = 0  # set by ha_follow.py: saved (leader) or followed (standby)
        self.differs_since_ns = 0
        self.peer_digest_seen = 0
        self.diverged = False
        self.divergences = 0
        self.follow_lag_ns: int | None = None
        self.follow_lag_max_ns: int | None = None
        self.alert: Callable[[str], object] | None = None
        self.lease_error: str | None = None
        self.last_transition: tuple[str, str, str] | None = None
        self.handover_started_ns = self.handover_seen_ns = 0
        self.lead_from_ns = 0  # the output starts leading at this monotonic time
        self._handed_over = trio.Event()
        self._nursery: trio.Nursery | None = None

    # -- state machine -----------------------------------------------------------------

    def peer_dead(self, now_ns: int) -> bool:
        age = self.link.view.age_ns(now_ns)
        if age is None:
            return now_ns - self.started_ns > self.dead_ns
        return age > self.dead_ns

    def _peer_quiet(self, now_ns: int) -> bool:
        age = self.link.view.age_ns(now_ns)
        half = self.interval_ns * max(2, (self.config.heartbeat_misses + 1) // 2)
        return age is not None and age > half

    def _peer_leads(self, now_ns: int) -> bool:
        last = self.link.view.last
        return (
            not self.peer_dead(now_ns)
            and last is not None
            and last.role in (Role.LEADER, Role.HANDING_OVER)
        )

    def compare_states(self, now: int) -> None:
        """Both nodes should play the same playback state: how long they differ after a
        change (the standby's lag), and an alert when they differ for too long."""
        last = self.link.view.last
        if last is None or self.peer_dead(now) or not last.state_digest:
            self.differs_since_ns = 0
            return
        changed = last.state_digest != self.peer_digest_seen
        self.peer_digest_seen = last.state_digest
        if last.state_digest != self.state_digest:
            if not self.differs_since_ns:
                self.differs_since_ns = now
            elif not self.diverged and now - self.differs_since_ns > DIVERGED_AFTER_NS:
                self.diverged = True
                self.divergences += 1
                text = (
                    f"ha: {self.config.node_name} and {last.node} play different states"
                    f" for {(now - self.differs_since_ns) / 1e9:.1f} s"
                )
                log.error("ha divergence", peer=last.node, mine=self.state_digest)
                if self.alert is not None:
                    self.alert(text)
        elif self.differs_since_ns or changed:
            # (A change this node had taken on before the peer's heartbeat told of it: 0.)
            lag = now - self.differs_since_ns if self.differs_since_ns else 0
            self.follow_lag_ns = lag
            self.follow_lag_max_ns = max(lag, self.follow_lag_max_ns or 0)
            self.differs_since_ns, self.diverged = 0, False

    async def tick(self) -> None:
        now = time.monotonic_ns()
        self.compare_states(now)
        if self.role is Role.LEADER:
            await self._renew(now)
        elif self.role is Role.HANDING_OVER:
            await self._follow_handover(now)
        elif self.peer_dead(now):
            await self._try_lead("the peer missed its heartbeats")
        elif self._peer_quiet(now):
            # Half-way to dead: a leader killed outright has lost its session and the lock
            # already, so asking costs one query and can shorten the gap by a few ticks. A
            # live leader's lock is never taken from it before it is dead (see try_acquire).
            await self._try_lead("the peer missed its heartbeats", probe=True)
        elif not self._peer_leads(now) and (
            # Both standing by (both just started, or the leader stepped down): the primary
            # tries at once, the standby after a dead interval, so the primary usually wins.
            self.config.role_preference == "primary" or now - self.started_ns > self.dead_ns
        ):
            await self._try_lead("nobody leads")
        elif not self.lease.connected:  # a standby keeps its session: it LISTENs on it
            try:
                with trio.fail_after(max(1.0, 2 * self.config.dead_after_s)):
                    await self.lease.connect()
            except (LeaseLost, trio.TooSlowError) as exc:
                self._lease_failed(str(exc) or "the database did not answer in time")
        await self.send_heartbeat()

    async def on_heartbeat(self, hb: Heartbeat) -> None:
        """Heartbeats are not authenticated: they only make this node ask PostgreSQL sooner
        (a forged one can make a standby try the lock, never make a leader step down)."""
        if self.role is Role.STANDBY and hb.role is Role.HANDING_OVER:
            await self._try_lead(f"planned handover from {hb.node}", planned=True)
        elif self.role is not Role.STANDBY and hb.role is Role.LEADER and hb.epoch > self.epoch:
            try:
                row = await self.lease.read()
            except LeaseLost as exc:
                self.lease_error = str(exc)
                await self._fence(f"lost the lease: {exc}")
                return
            if row is not None and row.epoch > self.epoch:
                await self._fence(f"{row.leader} leads with epoch {row.epoch}")

    def _lease_failed(self, why: str) -> None:
        if self.lease_error is None:  # logged once per outage; /healthz has the latest
            log.warning("ha lease unavailable", error=why)
        self.lease_error = why

    async def _renew(self, now: int) -> None:
        try:
            with trio.fail_after(self.config.dead_after_s):
                ok = await self.lease.renew(self.epoch)
        except (LeaseLost, trio.TooSlowError) as exc:
            self.lease.drop()
            why = str(exc) or "the renewal took longer than the dead interval"
            self.lease_error = why
            await self._fence(f"lost the lease: {why}")
            return
        if not ok:
            self.lease.drop()
            await self._fence("a newer epoch holds the lease")
            return
        self.lease_error = None
        if now >= self.lead_from_ns:  # not during the fencing wait after a takeover
            self.clock.set_lease_until(now + self.dead_ns)

    async def _follow_handover(self, now: int) -> None:
        try:
            row = await self.lease.read()
        except LeaseLost as exc:
            self.lease_error = str(exc)
            await self._fence(f"lost the database during a handover: {exc}")
            return
        if row is not None and row.epoch > self.epoch:
            # The new leader holds the lease; terminate once it says its output thread sends
            # at full priority (its heartbeat), or after two dead intervals if that is lost
            # (a busy new leader may take a while: until then both send, the same look).
            last = self.link.view.last
            announced = last is not None and last.role is Role.LEADER and last.epoch >= row.epoch
            if not self.handover_seen_ns:
                self.handover_seen_ns = now
            if announced or now - self.handover_seen_ns > 2 * self.dead_ns:
                await self._fence(f"handed over to {row.leader} (epoch {row.epoch})")
            else:
                self.clock.set_lease_until(now + self.dead_ns)
        elif now - self.handover_started_ns > HANDOVER_TIMEOUT_S * 1e9:
            self.role = Role.STANDBY
            await self._try_lead("the peer did not take the handover in time")
            if self.role is not Role.LEADER:
                await self._fence("the handover failed and the lease could not be taken back")
            self._handed_over.set()
        else:  # still ours on the wire until the peer leads
            self.clock.set_lease_until(now + self.dead_ns)

    async def _try_lead(self, reason: str, *, probe: bool = False, planned: bool = False) -> None:
        """Take the lease if free; unless `probe`, also from a holder that stopped renewing."""
        try:
            with trio.fail_after(max(1.0, 2 * self.config.dead_after_s)):
                taken = await self.lease.try_acquire(
                    reason, stale_after_ms=None if probe else round(self.dead_ns / 1e6)
                )
        except (LeaseLost, trio.TooSlowError) as exc:
            self.lease.drop()
            self._lease_failed(str(exc) or "the database did not answer in time")
            return
        if self.lease_error is not None:
            log.info("ha lease reachable again")
        self.lease_error = None
        if taken is None:
            return
        self.epoch, self.role = taken.epoch, Role.LEADER
        self.takeovers += 1
        # Fencing wait: the previous leader may be alive and cut off from the database; its
        # output thread stops by itself at most a dead interval after its last renewal, so
        # ours starts no sooner. (A planned handover overlaps on purpose: see handover().)
        before = taken.before
        hold_ns = 0
        if not planned and before is not None and before.leader != self.config.node_name:
            hold_ns = max(0, self.dead_ns - before.age_ms * 1_000_000)
        self.lead_from_ns = time.monotonic_ns() + hold_ns
        self._transition(
            "lead", taken.reason + (f"; output after {hold_ns / 1e6:.0f} ms" if hold_ns else "")
        )
        if hold_ns and self._nursery is not None:
            self._nursery.start_soon(self._start_output, taken.epoch, hold_ns)
        else:
            await self._start_output(taken.epoch, 0)

    async def _start_output(self, epoch: int, after_ns: int) -> None:
        await trio.sleep(after_ns / 1e9)
        if self.role is not Role.LEADER or self.epoch != epoch:
            return
        self.clock.set_lease_until(time.monotonic_ns() + self.dead_ns)
        # Tell the old leader only once our output thread has served a deadline as leader
        # (sACN at full priority on the wire): in a handover it terminates on hearing this.
        with trio.move_on_after(3 * self.clock.period_ns / 1e9):
            while not self.clock.wire_gate()[1]:  # noqa: ASYNC110 (a native flag: polled)
                await trio.sleep(0.001)
        await self.send_heartbeat()

    async def _fence(self, reason: str) -> None:
        was = self.role
        self.role = Role.STANDBY
        self.clock.set_lease_until(0)
        if was is Role.HANDING_OVER:
            self.clock.request_stream_terminated()  # the new leader is at full priority now
            self._handed_over.set()
        self.fences += 1
        self.started_ns = time.monotonic_ns()  # a stepped-down node waits before retrying
        self._transition("handover" if was is Role.HANDING_OVER else "fence", reason)

    async def handover(self, actor: Actor) -> dict[str, Any]:
        now = time.monotonic_ns()
        if self.role is not Role.LEADER:
            raise ConflictError(
                f"ha: {self.config.node_name} does not lead (it is {self.role.label})"
            )
        last = self.link.view.last
        if self.peer_dead(now) or last is None or last.role is not Role.STANDBY:
            raise ConflictError("ha: no live standby to hand over to (no recent heartbeat)")
        self._handed_over = trio.Event()
        self.role = Role.HANDING_OVER
        self.handover_started_ns, self.handover_seen_ns = now, 0
        self._transition("handing-over", f"asked by {actor.name}", actor)
        try:
            await self.lease.release()
        except LeaseLost as exc:
            await self._fence(f"lost the database during a handover: {exc}")
        await self.send_heartbeat()
        with trio.move_on_after(HANDOVER_TIMEOUT_S + 1.0):
            await self._handed_over.wait()
        if self.role is not Role.STANDBY:
            raise RefusedError("ha: the standby did not take the lease; this node leads on")
        return self.status()

    # -- wire and records ------------------------------------------------------------

    async def send_heartbeat(self) -> None:
        epoch_ns = self.clock.epoch_ns
        frame_time = max(0, time.monotonic_ns() - epoch_ns) if epoch_ns else 0
        self.sequence = (self.sequence + 1) % 2**32
        hb = Heartbeat(
            self.config.node_name,
            self.epoch,
            self.role,
            self.sequence,
            frame_time,
            self.state_digest,
        )
        await self.link.send(hb)

    def _transition(self, what: str, reason: str, actor: Actor | None = None) -> None:
        at = datetime.now(UTC).isoformat()
        self.last_transition = (what, reason, at)
        log.warning("ha transition", transition=what, reason=reason, epoch=self.epoch)
        if self.audit_sink is not None and self._nursery is not None:
            who = actor or Actor(f"ha:{self.config.node_name}", "admin", "system")
            self._nursery.start_soon(self._audit, who, what, reason, self.epoch)

    async def _audit(self, actor: Actor, what: str, reason: str, epoch: int) -> None:
        assert self.audit_sink is not None
        try:
            await audit(
                self.audit_sink,
                actor,
                f"ha.{what}",
                self.config.node_name,
                reason=reason,
                epoch=epoch,
            )
        except StorageError as exc:  # the database may be why we fenced: logged, not lost
            log.error("ha transition not audited", transition=what, error=str(exc))

    # -- visibility ------------------------------------------------------------------

    def statistics(self) -> HaStatistics:
        now = time.monotonic_ns()
        enabled, leading, until, withheld, terminated = self.clock.wire_gate()
        view = self.link.view
        age = view.age_ns(now)
        last = view.last
        interval = self.interval_ns
        missed = int((now - self.started_ns) // interval) if age is None else int(age // interval)
        return HaStatistics(
            node=self.config.node_name,
            role=self.role.label,
            leading=leading and enabled,
            epoch=self.epoch,
            lease_remaining_ms=round(max(0, until - now) / 1e6, 3),
            peer=self.config.peer,
            peer_node=None if last is None else last.node,
            peer_role=None if last is None else last.role.label,
            peer_epoch=None if last is None else last.epoch,
            peer_heartbeat_age_ms=None if age is None else round(age / 1e6, 3),
            peer_heartbeats_missed=missed,
            heartbeats_sent=view.sent,
            heartbeats_received=view.received,
            heartbeats_junk=view.junk,
            takeovers=self.takeovers,
            fences=self.fences,
            withheld_frames=withheld,
            stream_terminated_rounds=terminated,
            followed_states=self.followed_states,
            follow_read_errors=self.follow_read_errors,
            followed_shows=self.followed_shows,
            state_digest=f"{self.state_digest:08x}",
            peer_state_digest=None if last is None else f"{last.state_digest:08x}",
            diverged=self.diverged,
            divergences=self.divergences,
            follow_lag_ms=None
            if self.follow_lag_ns is None
            else round(self.follow_lag_ns / 1e6, 3),
            follow_lag_max_ms=(
                None if self.follow_lag_max_ns is None else round(self.follow_lag_max_ns / 1e6, 3)
            ),
            lease_error=self.lease_error,
            last_transition=None if self.last_transition is None else self.last_transition[0],
            last_transition_reason=(
                None if self.last_transition is None else self.last_transition[1]
            ),
            last_transition_at=None if self.last_transition is None else self.last_transition[2],
        )

    def refusal(self) -> str | None:
        if self.role is Role.LEADER:
            return None
        last = self.link.view.last
        leader = (
            f"{last.node} leads"
            if last is not None
            and last.role is Role.LEADER
            and not self.peer_dead(time.monotonic_ns())
            else "no node leads right now"
        )
        return f"ha: {self.config.node_name} stands by ({leader}): send commands to the leader"

    def status(self) -> dict[str, Any]:
        return dict(to_json(self.statistics()))

    # -- task ------------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.role, self.started_ns = Role.STANDBY, time.monotonic_ns()  # also after a crash
        self.clock.set_lease_until(0)
        await self.link.open()
        send, receive = trio.open_memory_channel[Heartbeat](64)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self.link.receive, send)
                log.info(
                    "ha pair started",
                    node=self.config.node_name,
                    peer=self.config.peer,
                    preference=self.config.role_preference,
                )
                task_status.started()
                interval = self.config.heartbeat_interval_s
                next_tick = trio.current_time()
                while True:
                    with trio.move_on_at(next_tick):
                        async for hb in receive:
                            await self.on_heartbeat(hb)
                    await self.tick()
                    next_tick = max(next_tick + interval, trio.current_time())
        finally:
            self._nursery = None
            self.clock.set_lease_until(0)
            if self.role is not Role.STANDBY:
                self.role = Role.STANDBY
                self.fences += 1
                self._transition("fence", "the pair's task stopped")
            self.link.close()
            with trio.CancelScope(shield=True):
                await self.lease.close()
