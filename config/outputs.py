"""Wire outputs as configured: protocol, which show universes, where they go, how fast.

Site-specific, so they live in the daemon config (`[[outputs]]`), not in the show.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from .fields import setting
from .show import MAX_UNIVERSE

Protocol = Literal["sacn", "artnet", "ddp", "enttec-pro", "open-dmx"]
SERIAL_PROTOCOLS = ("enttec-pro", "open-dmx")
OPEN_DMX_MAX_RATE_HZ = 44.0

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_universe_ranges(text: str) -> tuple[int, ...]:
    """ "1-464, 1001" → (1, 2, …, 464, 1001); ValueError says which part is wrong."""
    universes: list[int] = []
    for part in text.split(","):
        if not part.strip():
            continue
        m = _RANGE.match(part)
        if m is None:
            raise ValueError(f"{part.strip()!r} is not a universe or a range like 1-16")
        first = int(m.group(1))
        last = int(m.group(2) or first)
        if not 1 <= first <= last <= MAX_UNIVERSE:
            raise ValueError(f"range {part.strip()!r} must be within 1..{MAX_UNIVERSE}, low-high")
        universes.extend(range(first, last + 1))
    if not universes:
        raise ValueError("no universes given")
    if len(set(universes)) != len(universes):
        raise ValueError("a universe is listed twice")
    return tuple(universes)


@dataclass(frozen=True, slots=True)
class OutputConfig:
    """One output: a protocol sending a set of show universes to destinations."""

    name: str = setting("", "unique output name (also keys its persisted sACN CID)")
    enabled: bool = setting(True, "false keeps the output configured but silent")
    protocol: Protocol = setting(
        "sacn",
        "sacn (E1.31), artnet (Art-Net 4), ddp, enttec-pro (DMX USB Pro) or open-dmx (FTDI)",
    )
    universes: str = setting("", 'show universes sent, e.g. "1-464, 1001"')
    wire_offset: int = setting(
        0,
        "added to the show universe on the wire (Art-Net: Port-Address = universe - 1 + offset)",
        minimum=-MAX_UNIVERSE,
        maximum=MAX_UNIVERSE,
    )
    destinations: tuple[str, ...] = setting(
        (), 'unicast "ip" or "ip:port"; empty = multicast (sACN) or broadcast (Art-Net, if asked)'
    )
    device: str = setting(
        "", "enttec-pro / open-dmx only: serial device path, e.g. /dev/serial/by-id/usb-ENTTEC…"
    )
    broadcast: bool = setting(False, "Art-Net only: send to the broadcast address")
    bind_address: str = setting("", "local IPv4 address to send from (and IP_MULTICAST_IF)")
    interface: str = setting("", "network interface to send on (SO_BINDTODEVICE)")
    multicast_ttl: int = setting(1, "TTL of multicast packets", minimum=1, maximum=255)
    priority: int = setting(100, "sACN priority", minimum=0, maximum=200)
    source_name: str = setting("Trocadero", "sACN source name (≤ 63 bytes)")
    sync_address: int = setting(
        0,
        "sACN sync universe / Art-Net ArtSync after each frame; 0 = none",
        minimum=0,
        maximum=MAX_UNIVERSE,
    )
    rate_hz: float = setting(
        0.0,
        "maximum frames per second for this output; 0 = the clock rate",
        minimum=0.0,
        maximum=120.0,
    )
    send_on_change: bool = setting(False, "send a universe only when it changed (keep-alive)")
    keepalive_s: float = setting(
        1.0, "resend unchanged universes this often", minimum=0.1, maximum=10.0
    )
    pace_every: int = setting(
        0, "pause after this many packets; 0 = no pacing", minimum=0, maximum=100_000
    )
    pace_us: int = setting(0, "length of that pause, µs", minimum=0, maximum=10_000)

    def validate(self) -> list[str]:
        """Cross-field checks; each problem as 'key: what is wrong (got X)'."""
        problems: list[str] = []
        if not self.name:
            problems.append("name: required")
        try:
            parse_universe_ranges(self.universes)
        except ValueError as exc:
            problems.append(f"universes: {exc} (got {self.universes!r})")
        for i, dest in enumerate(self.destinations):
            host, _, port = dest.partition(":")
            try:
                ipaddress.IPv4Address(host)
                if port and not 1 <= int(port) <= 65535:
                    raise ValueError
            except ValueError:
                problems.append(f"destinations[{i}]: not an IPv4 address[:port] (got {dest!r})")
        if self.broadcast and self.protocol != "artnet":
            problems.append(f"broadcast: only for Art-Net (got protocol {self.protocol!r})")
        if self.bind_address:
            try:
                ipaddress.IPv4Address(self.bind_address)
            except ValueError:
                problems.append(f"bind_address: not an IPv4 address (got {self.bind_address!r})")
        if len(self.source_name.encode()) > 63:
            problems.append(f"source_name: longer than 63 bytes (got {self.source_name!r})")
        if self.protocol in SERIAL_PROTOCOLS:
            problems.extend(self._validate_serial())
        elif self.device:
            problems.append(
                f"device: only for enttec-pro / open-dmx (got protocol {self.protocol!r})"
            )
        elif self.protocol != "sacn" and not self.destinations and not self.broadcast:
            problems.append(
                f"destinations: {self.protocol} needs unicast destinations or broadcast (got none)"
            )
        return problems

    def _validate_serial(self) -> list[str]:
        problems: list[str] = []
        if not self.device:
            problems.append(f"device: {self.protocol} needs a serial device path (got none)")
        try:
            count = len(parse_universe_ranges(self.universes))
        except ValueError:
            count = 1  # reported above
        if count != 1:
            problems.append(
                f"universes: {self.protocol} sends exactly one universe (got {self.universes!r})"
            )
        if self.destinations:
            problems.append(
                f"destinations: not used by serial {self.protocol} (got {list(self.destinations)})"
            )
        if self.protocol == "open-dmx" and self.rate_hz > OPEN_DMX_MAX_RATE_HZ:
            problems.append(
                f"rate_hz: open-dmx runs at most {OPEN_DMX_MAX_RATE_HZ:g} Hz (got {self.rate_hz:g})"
            )
        return problems

    @property
    def universe_list(self) -> tuple[int, ...]:
        return parse_universe_ranges(self.universes)
