"""Lighting inputs: Trio UDP receivers for sACN and Art-Net feeding the per-universe merges.

`InputUniverses` holds one `UniverseMerger` per configured input universe (numbering: see
`config/inputs.py` — input universe U is sACN universe U and Art-Net Port-Address U - 1, so
both protocols can feed one merge). The receivers (`serve_sacn_input`, `serve_artnet_input`,
one per `[[inputs]]` entry) decode every datagram and feed the merger of its universe; the
render loop polls `snapshot(now)` / `get(universe, now)` at frame rate. There are no events
or wake-ups between the two: the merge is cheap to read and cached while nothing changed.

Robustness (issue 4, item 5): a malformed or oversized datagram is counted and logged at most
once per `LOG_INTERVAL_S` (with how many were suppressed), never raised; a bind that fails
(address not up yet) or a multicast join that fails (interface missing) is logged once per
state change and retried every `RETRY_S`; nothing here ends the daemon.

Bounds: at most `max_sources` sources per universe (extra ones rejected and counted), at most
`MAX_DATAGRAM` bytes read per datagram (longer ones counted as oversized), at most 1024
universes per input (config validation).

Sockets: SO_REUSEADDR and SO_REUSEPORT so other receivers on the host (olad, sACNView) can
listen too. Beware: the kernel hands each *unicast* datagram to only one socket of a
SO_REUSEPORT group, so the daemon itself must not open two sockets on one port (Art-Net
discovery must share this receiver's socket: pass `on_other`). IP_MULTICAST_ALL is turned off
so the sACN socket only gets the groups it joined itself — unless it needs more groups than
one socket may hold (`_Memberships`).
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import trio

from trocadero.config.inputs import InputConfig, InputProtocol, validate_inputs
from trocadero.core.containment import CONTAINMENT, SESSION_FAILURES
from trocadero.core.statistics import counter, detail, gauge, label, section, to_json, to_samples
from trocadero.protocols.artnet import (
    ARTNET_PORT,
    ArtDmx,
    ArtNetUnsupported,
    ArtPoll,
    ArtPollReply,
    ArtSync,
    decode_artnet,
)
from trocadero.protocols.merge import DEFAULT_MAX_SOURCES, MergeResult, UniverseMerger
from trocadero.protocols.sacn import (
    SACN_PORT,
    DataPacket,
    SacnData,
    SacnDiscovery,
    SacnSync,
    decode_sacn,
    multicast_address,
)

from .logs import get_logger

log = get_logger("inputs")

MAX_DATAGRAM = 1472  # UDP payload of a 1500-byte MTU; the largest E1.31 packet is 1144
RECEIVE_BUFFER = 1 << 20  # SO_RCVBUF asked for (the kernel caps it at net.core.rmem_max)
LOG_INTERVAL_S = 10.0
RETRY_S = 5.0
_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)  # Linux; not exported by Python

_P = TypeVar("_P")

ArtNetOther = ArtPoll | ArtPollReply | ArtSync
OnArtNetOther = Callable[[ArtNetOther, tuple[str, int]], None]


@dataclass
class ReceiverStatus:
    """Health and counters of one receiver (one socket)."""

    protocol: InputProtocol
    bind_address: str
    port: int
    state: str = "starting"  # starting → listening, or failing (bind retried)
    last_error: str = ""
    bound: tuple[str, int] | None = None
    datagrams: int = 0
    malformed: int = 0  # did not decode
    oversized: int = 0  # longer than MAX_DATAGRAM
    ignored_universe: int = 0  # data for a universe this input does not receive
    ignored_own: int = 0  # sACN from one of our own CIDs (our outputs looped back)
    ignored_other: int = 0  # valid packets that carry no levels (sync, discovery, ArtPoll…)
    internal_errors: int = 0  # a bug: logged with the traceback, the receiver carries on
    groups_joined: int = 0
    groups_failed: int = 0
    join_sockets: int = 0  # sockets holding the memberships (> 1 past igmp_max_memberships)
    state_changes: int = 0

    def set_state(self, state: str, error: str = "") -> bool:
        """Record a state; True when it changed (so the caller logs once per change)."""
        changed = state != self.state or (state == "failing" and error != self.last_error)
        if changed:
            self.state = state
            self.state_changes += 1
        self.last_error = error
        return changed

    @property
    def healthy(self) -> bool:
        return self.state == "listening" and self.groups_failed == 0


class _Throttled:
    """One warning per `interval_s` for a recurring event, with the count suppressed since."""

    def __init__(self, event: str, interval_s: float = LOG_INTERVAL_S) -> None:
        self.event = event
        self.interval_s = interval_s
        self._last = -float("inf")
        self._suppressed = 0

    def warning(self, now: float, **fields: Any) -> None:
        if now - self._last < self.interval_s:
            self._suppressed += 1
            return
        log.warning(self.event, suppressed=self._suppressed, **fields)
        self._last = now
        self._suppressed = 0


class InputUniverses:
    """The merged input universes, shared by the receivers (writers) and the render loop.

    Everything runs on the Trio thread: receivers feed mergers between checkpoints, the
    render loop reads them; no locks needed. `clock` is the time base of every merge
    (monotonic seconds); `ignore_cids` are our own outputs' CIDs, so sACN that we send and
    that loops back to us (multicast loopback) never merges into our own input.
    """

    def __init__(
        self,
        configs: Sequence[InputConfig],
        *,
        max_sources: int = DEFAULT_MAX_SOURCES,
        clock: Callable[[], float] = time.monotonic,
        ignore_cids: Iterable[bytes] = (),
    ) -> None:
        problems = [p for i, c in enumerate(configs) for p in _prefixed(i, c.validate())]
        problems += validate_inputs(configs)
        if problems:
            raise ValueError("; ".join(problems))
        self.configs = tuple(configs)
        self.clock = clock
        self.ignore_cids = frozenset(ignore_cids)
        self.receivers: list[ReceiverStatus] = []
        self._mergers: dict[int, UniverseMerger] = {}
        for cfg in configs:
            for universe in cfg.universes:
                if universe not in self._mergers:
                    self._mergers[universe] = UniverseMerger(
                        universe,
                        source_timeout_s=cfg.source_timeout_s,
                        max_sources=max_sources,
                    )

    @property
    def universes(self) -> tuple[int, ...]:
        """The input universes, ascending."""
        return tuple(sorted(self._mergers))

    def merger(self, universe: int) -> UniverseMerger:
        """The merger of one input universe (KeyError if not configured)."""
        return self._mergers[universe]

    def now(self) -> float:
        return self.clock()

    def register(self, status: ReceiverStatus) -> None:
        """Track a receiver's status (a restarted receiver replaces its predecessor's)."""
        key = (status.protocol, status.bind_address, status.port)
        self.receivers[:] = [
            r for r in self.receivers if (r.protocol, r.bind_address, r.port) != key
        ]
        self.receivers.append(status)

    def get(self, universe: int, now: float | None = None) -> MergeResult:
        """One input universe's merged state at `now` (default: the clock)."""
        return self._mergers[universe].merged(self.clock() if now is None else now)

    def snapshot(self, now: float | None = None) -> dict[int, MergeResult]:
        """Every input universe's merged state at `now` (default: the clock)."""
        t = self.clock() if now is None else now
        return {u: m.merged(t) for u, m in self._mergers.items()}


def _prefixed(index: int, problems: list[str]) -> list[str]:
    return [f"inputs[{index}].{p}" for p in problems]


# -------------------------------------------------------------------------------------------
# Sockets


def _open_socket(reuse_port: bool) -> trio.socket.SocketType:
    """A non-blocking UDP socket with the receive options set, not yet bound."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port and hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        except OSError:
            pass  # best effort
        try:
            sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)
        except OSError:
            pass  # not Linux: the universe filter below still drops foreign groups
    except BaseException:
        sock.close()
        raise
    return sock


class _Memberships:
    """The multicast group memberships of one sACN receiver.

    Linux allows a socket `net.ipv4.igmp_max_memberships` groups (default 20). Groups beyond
    what the receiving socket holds are joined on extra join-only sockets (never bound to the
    sACN port, never read); the receiving socket then needs IP_MULTICAST_ALL back on (the
    Linux default) to get the traffic of groups joined by those, and the universe filter drops
    whatever other programs' groups on the same port bring in.
    """

    def __init__(self, sock: trio.socket.SocketType, interface_address: str) -> None:
        self.sock = sock
        self.interface_address = interface_address
        self.helpers: list[socket.socket] = []
        self._target: trio.socket.SocketType | socket.socket = sock

    def join(self, universe: int) -> None:
        """Join `universe`'s group (OSError if the kernel refuses)."""
        mreq = _membership(universe, self.interface_address)
        try:
            self._target.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            return
        except OSError as exc:
            if exc.errno != errno.ENOBUFS:
                raise
        helper = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            helper.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        except OSError:
            helper.close()
            raise
        if not self.helpers:
            self.sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 1)
        self.helpers.append(helper)
        self._target = helper

    def close(self) -> None:
        for helper in self.helpers:
            helper.close()
        self.helpers.clear()


def _membership(universe: int, interface_address: str) -> bytes:
    """struct ip_mreq: the group, then the interface's IPv4 address (0.0.0.0 = any)."""
    return socket.inet_aton(multicast_address(universe)) + socket.inet_aton(
        interface_address or "0.0.0.0"
    )


def _join_groups(
    members: _Memberships,
    config: InputConfig,
    pending: list[int],
    status: ReceiverStatus,
) -> list[int]:
    """Join the groups of `pending` universes; return those that still failed."""
    failed: list[int] = []
    errors: dict[str, int] = {}
    for universe in pending:
        try:
            members.join(universe)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:  # already a member (e.g. joined twice)
                continue
            failed.append(universe)
            reason = exc.strerror or str(exc)
            errors[reason] = errors.get(reason, 0) + 1
    status.groups_joined = len(config.universes) - len(failed)
    status.join_sockets = 1 + len(members.helpers)
    before = status.groups_failed
    status.groups_failed = len(failed)
    if failed and (before == 0 or failed != pending):
        log.error(
            "sACN input could not join multicast groups; retrying",
            interface_address=config.interface_address or "any",
            failed=len(failed),
            first_universe=failed[0],
            errors=errors,
            retry_s=RETRY_S,
        )
    elif not failed and before:
        log.info("sACN input joined all multicast groups", groups=status.groups_joined)
    return failed


async def _keep_joined(
    sock: trio.socket.SocketType, config: InputConfig, status: ReceiverStatus
) -> None:
    members = _Memberships(sock, config.interface_address)
    try:
        pending = _join_groups(members, config, list(config.universes), status)
        while pending:
            await trio.sleep(RETRY_S)
            pending = _join_groups(members, config, pending, status)
        await trio.sleep_forever()  # the helper sockets hold memberships until cancelled
    finally:
        members.close()


async def _bind_with_retry(
    config: InputConfig,
    port: int,
    reuse_port: bool,
    status: ReceiverStatus,
    task_status: trio.TaskStatus[ReceiverStatus],
) -> trio.socket.SocketType:
    """Bind, retrying every RETRY_S; `task_status.started` after the first attempt."""
    started = False
    while True:
        sock = _open_socket(reuse_port)
        try:
            await sock.bind((config.bind_address, port))
        except OSError as exc:
            sock.close()
            error = f"bind {config.bind_address}:{port}: {exc.strerror or exc}"
            if status.set_state("failing", error):
                log.error(
                    "input cannot listen; retrying",
                    protocol=config.protocol,
                    error=error,
                    retry_s=RETRY_S,
                )
            if not started:
                task_status.started(status)
                started = True
            await trio.sleep(RETRY_S)
            continue
        host, bound_port = sock.getsockname()[:2]
        status.bound = (str(host), int(bound_port))
        recovered = status.state == "failing"
        status.set_state("listening")
        log.info(
            "input recovered, listening" if recovered else "input listening",
            protocol=config.protocol,
            address=f"{host}:{bound_port}",
            universes=len(config.universes),
        )
        if not started:
            task_status.started(status)
        return sock


async def _receive_loop(
    sock: trio.socket.SocketType,
    status: ReceiverStatus,
    clock: Callable[[], float],
    decode: Callable[[bytes], _P],
    dispatch: Callable[[_P, tuple[str, int], float], None],
) -> None:
    """Read datagrams forever: decode (ValueError = malformed), then dispatch."""
    malformed_log = _Throttled("malformed input datagrams dropped")
    oversize_log = _Throttled("oversized input datagrams dropped")
    error_log = _Throttled("input receive failed")
    while True:
        try:
            data, address = await sock.recvfrom(MAX_DATAGRAM + 1)
        except OSError as exc:
            # Unconnected UDP sockets rarely fail here; never spin if one does.
            error_log.warning(clock(), protocol=status.protocol, error=str(exc))
            await trio.sleep(0.1)
            continue
        status.datagrams += 1
        now = clock()
        if len(data) > MAX_DATAGRAM:
            status.oversized += 1
            oversize_log.warning(
                now, protocol=status.protocol, source=address[0], limit=MAX_DATAGRAM
            )
            continue
        try:
            packet = decode(data)
        except ValueError as exc:  # SacnError / ArtNetError
            status.malformed += 1
            malformed_log.warning(
                now,
                protocol=status.protocol,
                source=f"{address[0]}:{address[1]}",
                size=len(data),
                error=str(exc),
                malformed_total=status.malformed,
            )
            continue
        except SESSION_FAILURES as exc:  # a decoder bug: this datagram is dropped, nothing else
            status.internal_errors += 1
            CONTAINMENT.record(f"inputs.{status.protocol}", f"{address[0]}:{address[1]}", exc)
            continue
        try:
            dispatch(packet, address, now)
        except SESSION_FAILURES as exc:
            status.internal_errors += 1
            CONTAINMENT.record(f"inputs.{status.protocol}", f"{address[0]}:{address[1]}", exc)


# -------------------------------------------------------------------------------------------
# Receivers


def _decode_artnet(data: bytes) -> ArtDmx | ArtNetOther | None:
    """decode_artnet, with OpCodes it does not decode as None (valid, just not ours)."""
    try:
        return decode_artnet(data)
    except ArtNetUnsupported:
        return None


async def serve_sacn_input(
    config: InputConfig,
    inputs: InputUniverses,
    *,
    port: int = SACN_PORT,
    reuse_port: bool = True,
    task_status: trio.TaskStatus[ReceiverStatus] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Receive E1.31 on `config.bind_address:port` and join the universes' multicast groups.

    Starts (`nursery.start` returns the `ReceiverStatus`) after the first bind attempt, even a
    failed one (it is retried). Data packets feed the merger of their universe; sync and
    discovery packets are counted as ignored.
    """
    if config.protocol != "sacn":
        raise ValueError(f"serve_sacn_input needs an sacn input, got {config.protocol!r}")
    routes: Mapping[int, UniverseMerger] = {u: inputs.merger(u) for u in config.universes}
    ignore_cids = inputs.ignore_cids
    status = ReceiverStatus("sacn", config.bind_address, port)
    inputs.register(status)

    def dispatch(
        packet: SacnData | SacnSync | SacnDiscovery, address: tuple[str, int], now: float
    ) -> None:
        if not isinstance(packet, DataPacket):
            status.ignored_other += 1
            return
        merger = routes.get(packet.universe)
        if merger is None:
            status.ignored_universe += 1
        elif packet.cid in ignore_cids:
            status.ignored_own += 1
        else:
            merger.feed_sacn(packet, now, address[0])

    sock = await _bind_with_retry(config, port, reuse_port, status, task_status)
    with sock:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_keep_joined, sock, config, status)
            await _receive_loop(sock, status, inputs.clock, decode_sacn, dispatch)


async def serve_artnet_input(
    config: InputConfig,
    inputs: InputUniverses,
    *,
    port: int = ARTNET_PORT,
    reuse_port: bool = True,
    on_other: OnArtNetOther | None = None,
    task_status: trio.TaskStatus[ReceiverStatus] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Receive Art-Net on `config.bind_address:port`; ArtDmx feeds the merges.

    Port-Address P feeds input universe P + 1, with source priority `config.artnet_priority`.
    ArtPoll, ArtPollReply and ArtSync go to `on_other(packet, (ip, port))` when given (so
    node discovery can share this socket: two sockets on 6454 would each get only some of the
    unicast datagrams), else they are counted as ignored; so are OpCodes not decoded here.
    """
    if config.protocol != "artnet":
        raise ValueError(f"serve_artnet_input needs an artnet input, got {config.protocol!r}")
    routes: Mapping[int, UniverseMerger] = {u - 1: inputs.merger(u) for u in config.universes}
    priority = config.artnet_priority
    status = ReceiverStatus("artnet", config.bind_address, port)
    inputs.register(status)

    def dispatch(packet: ArtDmx | ArtNetOther | None, address: tuple[str, int], now: float) -> None:
        if packet is None:
            status.ignored_other += 1  # a valid packet of another kind (ArtTimeCode, ArtRdm…)
        elif not isinstance(packet, ArtDmx):
            if on_other is None:
                status.ignored_other += 1
            else:
                on_other(packet, address)
        elif (merger := routes.get(packet.port_address)) is None:
            status.ignored_universe += 1
        else:
            merger.feed_artnet(packet, address[0], now, priority=priority)

    sock = await _bind_with_retry(config, port, reuse_port, status, task_status)
    with sock:
        await _receive_loop(sock, status, inputs.clock, _decode_artnet, dispatch)


async def serve_inputs(
    inputs: InputUniverses,
    *,
    ports: Mapping[InputProtocol, int] | None = None,
    on_artnet_other: OnArtNetOther | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a receiver for every configured input; started once each has made its first
    bind attempt. `ports` overrides the protocols' standard ports (tests)."""
    ports = ports or {}
    async with trio.open_nursery() as nursery:
        for cfg in inputs.configs:
            if cfg.protocol == "sacn":
                port = cfg.port or ports.get("sacn", SACN_PORT)
                serve_sacn = partial(serve_sacn_input, port=port)
                await nursery.start(serve_sacn, cfg, inputs)
            else:
                serve_artnet = partial(
                    serve_artnet_input,
                    port=cfg.port or ports.get("artnet", ARTNET_PORT),
                    on_other=on_artnet_other,
                )
                await nursery.start(serve_artnet, cfg, inputs)
        task_status.started()


# -------------------------------------------------------------------------------------------
# Health and metrics


@dataclass(frozen=True, slots=True)
class ReceiverStatistics:
    protocol: str = field(metadata=label())
    bind: str = field(metadata=label())
    state: str = field(metadata=detail())
    healthy: bool
    last_error: str = field(metadata=detail())
    datagrams: int = field(metadata=counter())
    # Malformed and oversized add up to one metric, as do the three kinds of ignored.
    malformed: int = field(metadata=counter(metric="trocadero_input_malformed_total"))
    oversized: int = field(metadata=counter(metric="trocadero_input_malformed_total"))
    ignored_universe: int = field(metadata=counter(metric="trocadero_input_ignored_total"))
    ignored_own: int = field(metadata=counter(metric="trocadero_input_ignored_total"))
    ignored_other: int = field(metadata=counter(metric="trocadero_input_ignored_total"))
    internal_errors: int = field(metadata=counter())
    groups_joined: int
    groups_failed: int = field(metadata=counter())
    join_sockets: int


@dataclass(frozen=True, slots=True)
class SourceStatistics:
    protocol: str
    id: str
    name: str
    address: str
    priority: int = field(metadata=detail())
    contributing: bool = field(metadata=detail())
    age_s: float = field(metadata=detail())


@dataclass(frozen=True, slots=True)
class UniverseStatistics:
    """One input universe; in /metrics summed over all of them (there may be hundreds)."""

    universe: int = field(metadata=detail())
    active: bool = field(metadata=gauge(metric="trocadero_input_universes_active"))
    winning_priority: int | None = field(metadata=detail())
    sources: tuple[SourceStatistics, ...] = field(metadata=detail())
    packets_accepted: int = field(metadata=counter())
    dropped_out_of_order: int = field(metadata=counter())
    dropped_preview: int = field(metadata=counter())
    dropped_start_code: int = field(metadata=counter())
    dropped_sources_full: int = field(metadata=counter())
    dropped_wrong_universe: int = field(metadata=counter())
    sources_added: int = field(metadata=counter())
    sources_terminated: int = field(metadata=counter())
    sources_timed_out: int = field(metadata=counter())


@dataclass(frozen=True, slots=True)
class InputStatistics:
    receivers: tuple[ReceiverStatistics, ...] = field(metadata=section(prefix=""))
    universes: tuple[UniverseStatistics, ...] = field(metadata=section(prefix="", aggregate=True))
    sources: int  # held now, over all universes


def input_statistics(inputs: InputUniverses) -> InputStatistics:
    """Each receiver's state and counters, each universe's live sources and merge counters."""
    now = inputs.now()
    universes = []
    live = 0
    for universe, result in inputs.snapshot(now).items():
        merger = inputs.merger(universe)
        live += merger.source_count
        universes.append(
            UniverseStatistics(
                universe=universe,
                active=result.active,
                winning_priority=result.winning_priority,
                sources=tuple(
                    SourceStatistics(
                        s.protocol,
                        s.source_id,
                        s.name,
                        s.address,
                        s.priority,
                        s.contributing,
                        round(now - s.last_seen, 3),
                    )
                    for s in result.sources
                ),
                **merger.counters.as_dict(),
            )
        )
    receivers = tuple(
        ReceiverStatistics(
            protocol=r.protocol,
            bind=f"{r.bind_address}:{r.port}",
            state=r.state,
            healthy=r.healthy,
            last_error=r.last_error,
            datagrams=r.datagrams,
            malformed=r.malformed,
            oversized=r.oversized,
            ignored_universe=r.ignored_universe,
            ignored_own=r.ignored_own,
            ignored_other=r.ignored_other,
            internal_errors=r.internal_errors,
            groups_joined=r.groups_joined,
            groups_failed=r.groups_failed,
            join_sockets=r.join_sockets,
        )
        for r in inputs.receivers
    )
    return InputStatistics(receivers, tuple(universes), live)


def input_health(inputs: InputUniverses) -> dict[str, Any]:
    """For /healthz: each receiver's state and counters, each universe's live sources."""
    return to_json(input_statistics(inputs))


def input_metrics(inputs: InputUniverses) -> dict[str, float]:
    """Prometheus samples: per receiver (labelled), plus the merge counters and the number of
    sources held, summed over all input universes (no per-universe series: there may be
    hundreds)."""
    return to_samples(input_statistics(inputs), "trocadero_input")
