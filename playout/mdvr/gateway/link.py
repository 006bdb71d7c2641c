"""One registered signaling connection, its paced commands and its C501 heartbeats."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import trio

from trocadero.protocols.mdvr import DeviceAck, build_heartbeat

from .clock import SYSTEM_CLOCK, Clock
from .limits import COMMAND_SPACING_S, SEND_TIMEOUT_S


class DeviceOffline(LookupError):
    """The device has no registered signaling link."""


@dataclass(eq=False)
class DeviceLink:
    """One registered signaling connection."""

    device_id: str
    address: str
    local_ip: str
    stream: trio.abc.Stream
    scope: trio.CancelScope
    connected_at: datetime
    plate: str = ""
    clock: Clock = SYSTEM_CLOCK
    send_lock: trio.Lock = field(default_factory=trio.Lock)
    serials: Any = field(default_factory=lambda: itertools.count(1))
    last_command: float = 0.0
    last_received: float = field(init=False)
    messages: int = 0
    refused: int = 0  # messages refused at the edge; the link is closed past MAX_REJECTED
    acks: dict[str, DeviceAck] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.last_received = self.clock.monotonic()

    async def send(self, data: bytes) -> None:
        async with self.send_lock:
            with trio.move_on_after(SEND_TIMEOUT_S) as cs:
                await self.stream.send_all(data)
            if cs.cancelled_caught:
                self.scope.cancel()
                raise trio.BrokenResourceError("send timed out")

    async def command(self, build: Callable[..., bytes]) -> str:
        """Send a C-command built for the next server serial, paced; returns the serial."""
        async with self.send_lock:
            wait = self.last_command + COMMAND_SPACING_S - self.clock.monotonic()
            if wait > 0:
                await trio.sleep(wait)
            serial = str(next(self.serials))
            with trio.move_on_after(SEND_TIMEOUT_S) as cs:
                await self.stream.send_all(build(serial=serial))
            self.last_command = self.clock.monotonic()
            if cs.cancelled_caught:
                self.scope.cancel()
                raise trio.BrokenResourceError("send timed out")
            return serial


async def send_heartbeats(link: DeviceLink, interval_s: float) -> None:
    """C501 every `interval_s`: devices drop a link 90 s after our last byte."""
    while True:
        await trio.sleep(interval_s)
        await link.command(
            lambda serial: build_heartbeat(
                serial=serial, device_id=link.device_id, time=link.clock.now()
            )
        )
