"""Wire outputs: the configured `[[outputs]]` attached to the native output thread.

The output thread sends; Python only configures it before start and then watches each
output's health, logging once per state change (an unplugged network never floods the
journal, and never stops the clock or the other outputs).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from trocadero.config import ConfigError
from trocadero.config.outputs import SERIAL_PROTOCOLS, OutputConfig
from trocadero.core.patch import CompiledPatch
from trocadero.core.statistics import counter, detail, label, to_json
from trocadero.native.clock import FrameClock
from trocadero.protocols.sacn import (
    DISCOVERY_UNIVERSE,
    SACN_PORT,
    discovery_packets,
    multicast_address,
)

from .logs import get_logger
from .opendmx import add_open_dmx_output
from .statefile import write_atomic

log = get_logger("outputs")

DDP_SLOTS = 510  # DDP carries pixel bytes back to back: whole RGB pixels per universe


@dataclass
class AttachedOutput:
    config: OutputConfig
    output_id: int
    universes: tuple[int, ...]  # show universes actually sent
    cid: bytes
    last_state_changes: int = 0


def persistent_cid(state_dir: Path, name: str) -> bytes:
    """The output's sACN CID: made once, then read back at every start (E1.31 §5.6)."""
    directory = state_dir / "cid"
    path = directory / f"{name}.uuid"
    try:
        return uuid.UUID(path.read_text("ascii").strip()).bytes
    except (FileNotFoundError, ValueError):
        pass
    directory.mkdir(parents=True, exist_ok=True)
    cid = uuid.uuid4()
    write_atomic(path, str(cid) + "\n")
    return cid.bytes


def wire_address(cfg: OutputConfig, universe: int, position: int) -> int:
    """The universe / Port-Address / DDP byte offset that show `universe` goes out as."""
    if cfg.protocol == "sacn":
        return universe + cfg.wire_offset
    if cfg.protocol == "artnet":
        return universe - 1 + cfg.wire_offset
    return cfg.wire_offset + position * DDP_SLOTS


def _check_wire(cfg: OutputConfig, wires: Sequence[int]) -> str | None:
    lo, hi = {"sacn": (1, 63999), "artnet": (0, 32767), "ddp": (0, 2**32 - 1)}[cfg.protocol]
    bad = [w for w in wires if not lo <= w <= hi]
    if bad:
        return (
            f'outputs "{cfg.name}": wire_offset {cfg.wire_offset} puts universes outside '
            f"{lo}..{hi} for {cfg.protocol} (got {bad[0]})"
        )
    return None


def attach_outputs(
    clock: FrameClock,
    outputs: Sequence[OutputConfig],
    patch: CompiledPatch,
    state_dir: Path,
    *,
    source: str = "config",
) -> list[AttachedOutput]:
    """Configure every enabled output on the (not yet started) clock."""
    attached: list[AttachedOutput] = []
    problems: list[str] = []
    names = [o.name for o in outputs]
    for cfg in outputs:
        if names.count(cfg.name) > 1:
            problems.append(f'outputs "{cfg.name}": name used twice')
            continue
        if not cfg.enabled:
            continue
        wanted = cfg.universe_list
        present = tuple(u for u in wanted if u in patch.universe_index)
        if len(present) < len(wanted):
            missing = [u for u in wanted if u not in patch.universe_index]
            log.warning(
                "universes not in the show are not sent",
                output=cfg.name,
                missing=len(missing),
                first_missing=missing[0],
            )
        if not present:
            log.warning("output has no universe of the show; not sent", output=cfg.name)
            continue
        if cfg.protocol in SERIAL_PROTOCOLS:
            index = patch.universe_index[present[0]]
            try:
                if cfg.protocol == "open-dmx":  # a native writer thread fed by the output thread
                    output_id = add_open_dmx_output(clock, cfg, index)
                else:
                    output_id = clock.add_serial_output(
                        device=cfg.device, universe_index=index, rate_hz=cfg.rate_hz or None
                    )
            except ValueError as exc:
                problems.append(f'outputs "{cfg.name}": {exc}')
                continue
            attached.append(AttachedOutput(cfg, output_id, present[:1], b""))
            log.info("output configured", output=cfg.name, protocol=cfg.protocol, device=cfg.device)
            continue
        wires = [wire_address(cfg, u, i) for i, u in enumerate(present)]
        problem = _check_wire(cfg, wires)
        if problem:
            problems.append(problem)
            continue
        cid = persistent_cid(state_dir, cfg.name)
        pairs = [(patch.universe_index[u], w) for u, w in zip(present, wires, strict=True)]
        try:
            output_id = clock.add_output(
                protocol=cfg.protocol,
                universes=pairs,
                cid=cid,
                destinations=list(cfg.destinations),
                bind_address=cfg.bind_address or None,
                interface=cfg.interface or None,
                multicast_ttl=cfg.multicast_ttl,
                broadcast=cfg.broadcast,
                priority=cfg.priority,
                source_name=cfg.source_name,
                sync_address=cfg.sync_address,
                rate_hz=cfg.rate_hz or None,
                send_on_change=cfg.send_on_change,
                keepalive_s=cfg.keepalive_s,
                pace_every=cfg.pace_every,
                pace_us=cfg.pace_us,
                slots=DDP_SLOTS if cfg.protocol == "ddp" else 512,
            )
        except (ValueError, OSError) as exc:
            problems.append(f'outputs "{cfg.name}": {exc}')
            continue
        attached.append(AttachedOutput(cfg, output_id, present, cid))
        log.info(
            "output configured",
            output=cfg.name,
            protocol=cfg.protocol,
            universes=len(present),
            destinations=list(cfg.destinations) or ["multicast"],
            cid=str(uuid.UUID(bytes=cid)),
        )
    if problems:
        raise ConfigError([f"{source}: {p}" for p in problems])
    return attached


@dataclass(frozen=True, slots=True)
class OutputStatistics:
    name: str = field(metadata=label("output"))
    protocol: str = field(metadata=detail())
    universes: int
    state: str = field(metadata=detail())
    last_error: str | None = field(metadata=detail())
    healthy: bool
    packets_sent: int = field(metadata=counter())
    bytes_sent: int = field(metadata=counter())
    frames_sent: int = field(metadata=counter())
    send_errors: int = field(metadata=counter())
    drops: int = field(metadata=counter())


def output_statistics(
    clock: FrameClock, attached: Sequence[AttachedOutput]
) -> tuple[OutputStatistics, ...]:
    """Each output's counters, from the output thread."""
    out: list[OutputStatistics] = []
    for a in attached:
        s = clock.output_stats(a.output_id)
        out.append(
            OutputStatistics(
                name=a.config.name,
                protocol=a.config.protocol,
                universes=len(a.universes),
                state=s.state,
                last_error=s.last_error,
                healthy=s.healthy,
                packets_sent=s.packets_sent,
                bytes_sent=s.bytes_sent,
                frames_sent=s.frames_sent,
                send_errors=s.send_errors,
                drops=s.drops,
            )
        )
    return tuple(out)


def output_health(clock: FrameClock, attached: Sequence[AttachedOutput]) -> list[Mapping[str, Any]]:
    return [to_json(s) for s in output_statistics(clock, attached)]


async def serve_output_monitor(
    clock: FrameClock,
    attached: Sequence[AttachedOutput],
    *,
    interval_s: float = 0.5,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Log each output's state changes once (failing with the error, then recovered)."""
    task_status.started()
    while True:
        for a in attached:
            s = clock.output_stats(a.output_id)
            if s.state_changes != a.last_state_changes:
                a.last_state_changes = s.state_changes
                if s.healthy:
                    log.info("output healthy", output=a.config.name, packets_sent=s.packets_sent)
                else:
                    log.error(
                        "output failing; retrying",
                        output=a.config.name,
                        error=s.last_error,
                        send_errors=s.send_errors,
                    )
        await trio.sleep(interval_s)


DISCOVERY_INTERVAL_S = 10.0  # E1.31 §4.3: E131_UNIVERSE_DISCOVERY_INTERVAL


async def serve_sacn_discovery(
    attached: Sequence[AttachedOutput],
    *,
    interval_s: float = DISCOVERY_INTERVAL_S,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Announce each sACN output's universes (paged discovery packets) every 10 s.

    Not time-critical, so it runs here rather than on the output thread: multicast to
    239.255.250.214, or to the output's unicast destinations.
    """
    sacn = [a for a in attached if a.config.protocol == "sacn"]
    sockets: list[tuple[AttachedOutput, trio.socket.SocketType, list[tuple[str, int]]]] = []
    try:
        for a in sacn:
            sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
            sock.setsockopt(
                trio.socket.IPPROTO_IP, trio.socket.IP_MULTICAST_TTL, a.config.multicast_ttl
            )
            if a.config.bind_address:
                addr = socket.inet_aton(a.config.bind_address)
                sock.setsockopt(trio.socket.IPPROTO_IP, trio.socket.IP_MULTICAST_IF, addr)
            targets = [_host_port(d, SACN_PORT) for d in a.config.destinations] or [
                (multicast_address(DISCOVERY_UNIVERSE), SACN_PORT)
            ]
            sockets.append((a, sock, targets))
        task_status.started()
        failing: set[str] = set()
        while True:
            for a, sock, targets in sockets:
                wire = [wire_address(a.config, u, i) for i, u in enumerate(a.universes)]
                pages = discovery_packets(a.cid, a.config.source_name, wire)
                try:
                    for page in pages:
                        data = page.to_bytes()
                        for target in targets:
                            await sock.sendto(data, target)
                except OSError as exc:
                    if a.config.name not in failing:  # once per state change
                        failing.add(a.config.name)
                        log.warning("sACN discovery not sent", output=a.config.name, error=str(exc))
                else:
                    failing.discard(a.config.name)
            await trio.sleep(interval_s)
    finally:
        for _, sock, _ in sockets:
            sock.close()


def _host_port(destination: str, default_port: int) -> tuple[str, int]:
    host, _, port = destination.partition(":")
    return host, int(port) if port else default_port
