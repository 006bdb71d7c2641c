"""TUIO touch surfaces (`[[touch.surfaces]]`): one Trio UDP listener per surface, the sans-IO
decoder (`protocols/tuio.py`) per surface, every committed frame handed to the touch service
(`core/touch.py`: mapped onto the canvas, kept for ripples, published as `touch:frame` for
the rules).

A datagram from an address outside the surface's `allow` list is dropped and counted. A
malformed one (`OscError`, with its byte offset) is counted and logged at most once per
source address per `malformed_log_interval_s`; it never ends the listener. Touches whose
tracker fell silent are lifted after `touch_timeout_s`. Run under the supervisor (`touch`),
optional: the lighting never waits for a touch panel.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import trio

from trocadero.config import ConfigError
from trocadero.config.touch import TouchConfig, TouchSurfaceConfig
from trocadero.core.statistics import counter, detail, gauge
from trocadero.core.touch import SurfaceMap, TouchService
from trocadero.protocols.osc import Limits, OscError
from trocadero.protocols.tuio import TuioReceiver

from .logs import get_logger

__all__ = ["TouchListeners", "TouchStatistics", "surface_maps"]

log = get_logger("touch")
_LOGGED_SOURCES: Final = 4096  # source addresses whose last malformed-datagram log is kept
EXPIRE_EVERY_S: Final = 0.5

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class TouchStatistics:
    """Touch input, section `touch` of /healthz and `trocadero_touch_*` in /metrics."""

    surfaces: int = field(metadata=gauge())
    touches: int = field(metadata=gauge())  # down now, on every surface
    datagrams: int = field(metadata=counter())
    refused: int = field(metadata=counter())  # from an address outside `allow`
    malformed: int = field(metadata=counter())
    late_frames: int = field(metadata=counter())  # ignored as the TUIO spec says
    events: int = field(metadata=counter())  # touch downs, moves and ups applied
    frames: int = field(metadata=counter())  # touch:frame events published
    last_error: str = field(metadata=detail())


@dataclass
class _Stats:
    datagrams: int = 0
    refused: int = 0
    malformed: int = 0
    last_error: str = ""


def surface_maps(cfg: TouchConfig, canvases: dict[str, tuple[int, int]]) -> list[SurfaceMap]:
    """Each surface on its canvas (`canvases`: name → width, height); ConfigError names the
    surface's key for an unknown canvas or a rectangle outside it."""
    problems: list[str] = []
    maps: list[SurfaceMap] = []
    for n, s in enumerate(cfg.surfaces):
        size = canvases.get(s.canvas)
        if size is None:
            known = ", ".join(sorted(canvases)) or "none"
            problems.append(
                f"touch.surfaces[{n}].canvas: the show has no canvas {s.canvas!r} (known: {known})"
            )
            continue
        try:
            maps.append(SurfaceMap.of(s, *size))
        except ValueError as exc:
            problems.append(f"touch.surfaces[{n}]: {exc}")
    if problems:
        raise ConfigError(problems)
    return maps


def _networks(allow: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(a, strict=False) for a in allow)


class TouchListeners:
    def __init__(self, cfg: TouchConfig, service: TouchService) -> None:
        self.cfg = cfg
        self.service = service
        self.stats = _Stats()
        self.receivers: dict[str, TuioReceiver] = {}
        self._logged: dict[str, float] = {}

    def statistics(self) -> TouchStatistics:
        s, svc = self.stats, self.service
        return TouchStatistics(
            surfaces=len(self.cfg.surfaces),
            touches=sum(len(t) for t in svc.board.live.values()),
            datagrams=s.datagrams,
            refused=s.refused,
            malformed=s.malformed,
            late_frames=sum(r.late_frames for r in self.receivers.values()),
            events=svc.events,
            frames=svc.frames,
            last_error=s.last_error,
        )

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for surface in self.cfg.surfaces:
                await nursery.start(self._listen, surface)
            nursery.start_soon(self._expire)
            task_status.started()

    async def _expire(self) -> None:
        while True:
            await trio.sleep(EXPIRE_EVERY_S)
            self.service.expire()

    async def _listen(
        self,
        surface: TouchSurfaceConfig,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        family = socket.AF_INET6 if ":" in surface.bind else socket.AF_INET
        allow = _networks(surface.allow)
        limits = Limits(max_bytes=self.cfg.max_datagram_bytes, max_depth=self.cfg.max_bundle_depth)
        receiver = TuioReceiver(max_sessions=surface.max_sessions, limits=limits)
        self.receivers[surface.name] = receiver
        with trio.socket.socket(family, socket.SOCK_DGRAM) as sock:
            await sock.bind((surface.bind, surface.port))
            log.info(
                "touch surface listening",
                surface=surface.name,
                canvas=surface.canvas,
                bind=f"{surface.bind}:{surface.port}",
            )
            task_status.started()
            while True:
                data, peer = await sock.recvfrom(65536)
                self.stats.datagrams += 1
                host = str(peer[0])
                if allow and not any(ipaddress.ip_address(host) in net for net in allow):
                    self.stats.refused += 1
                    continue
                try:
                    events = receiver.receive(data, host)
                except OscError as exc:
                    self._malformed(surface.name, host, exc)
                    continue
                self.service.refresh(surface.name)
                if events:
                    self.service.apply(surface.name, events)

    def _malformed(self, surface: str, host: str, exc: OscError) -> None:
        self.stats.malformed += 1
        self.stats.last_error = f"{surface} from {host}: {exc}"
        now = trio.current_time()
        last = self._logged.get(host)
        if last is not None and now - last < self.cfg.malformed_log_interval_s:
            return
        if len(self._logged) >= _LOGGED_SOURCES:
            self._logged.clear()
        self._logged[host] = now
        log.warning(
            "malformed TUIO datagram ignored",
            surface=surface,
            source=host,
            error=exc.what,
            offset=exc.offset,
            malformed_total=self.stats.malformed,
            next_log_after_s=self.cfg.malformed_log_interval_s,
        )
