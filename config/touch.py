"""Touch surfaces (`[touch]`, `[[touch.surfaces]]`): TUIO trackers over OSC/UDP, each mapped
onto a rectangle of a canvas (docs/touch.md).

A surface's own coordinates are 0..1 (x right, y down, as TUIO sends them). They are flipped
first (`flip_x`, `flip_y`), then turned clockwise by `rotation`, then scaled into the
rectangle `x, y, w, h` of the canvas (canvas pixels): a panel mounted upside down is
`rotation = 180`, one mounted on its side `90` or `270`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Final

from .fields import setting

_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_SURFACES: Final = 32
ROTATIONS: Final = (0, 90, 180, 270)


@dataclass(frozen=True, slots=True)
class TouchSurfaceConfig:
    """One TUIO tracker (or several, told apart by their source) on one UDP port."""

    name: str = field(
        metadata={"doc": "the surface's name (rules, the simulator)", "max_length": 64}
    )
    canvas: str = field(metadata={"doc": "the canvas its touches land on", "max_length": 200})
    port: int = setting(3333, "UDP port the tracker sends to", minimum=1, maximum=65535)
    bind: str = setting("127.0.0.1", "address to listen on (0.0.0.0: every interface)")
    allow: tuple[str, ...] = setting(
        (), "source addresses or networks accepted (e.g. 10.0.4.0/24); empty: any"
    )
    x: float = setting(0.0, "left edge of the rectangle on the canvas (pixels)", minimum=0.0)
    y: float = setting(0.0, "top edge of the rectangle (pixels)", minimum=0.0)
    w: float = setting(0.0, "width of the rectangle (pixels); 0 = the canvas's", minimum=0.0)
    h: float = setting(0.0, "height of the rectangle (pixels); 0 = the canvas's", minimum=0.0)
    rotation: int = setting(0, "clockwise turn of the surface on the canvas: 0, 90, 180, 270")
    flip_x: bool = setting(False, "mirror left-right (before the rotation)")
    flip_y: bool = setting(False, "mirror top-bottom (before the rotation)")
    max_sessions: int = setting(
        32, "touches at once; a frame with more is refused as malformed", minimum=1, maximum=256
    )

    def validate(self) -> list[str]:
        problems: list[str] = []
        if not _NAME.match(self.name):
            problems.append(f"name: 1-64 letters, digits, '_', '.' or '-' (got {self.name!r})")
        if not self.canvas:
            problems.append("canvas: required (the canvas the surface maps to)")
        if self.rotation not in ROTATIONS:
            problems.append(f"rotation: one of 0, 90, 180, 270 (got {self.rotation})")
        try:
            ipaddress.ip_address(self.bind)
        except ValueError:
            problems.append(f"bind: an IP address (got {self.bind!r})")
        for n, net in enumerate(self.allow):
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                problems.append(f"allow[{n}]: an address or network (got {net!r})")
        return problems


@dataclass(frozen=True, slots=True)
class TouchConfig:
    """Touch input: off until a surface is configured."""

    max_datagram_bytes: int = setting(
        65507, "larger datagrams are refused unread", minimum=64, maximum=65507
    )
    max_bundle_depth: int = setting(4, "bundles within bundles", minimum=1, maximum=16)
    malformed_log_interval_s: float = setting(
        60.0,
        "a source's malformed datagrams are logged at most once per this",
        minimum=0.0,
        maximum=86400.0,
    )
    touch_timeout_s: float = setting(
        10.0,
        "a touch not heard of (no frame from its tracker) for this long is lifted",
        minimum=0.1,
        maximum=3600.0,
    )
    surfaces: tuple[TouchSurfaceConfig, ...] = field(default=())

    def validate(self) -> list[str]:
        problems: list[str] = []
        if len(self.surfaces) > MAX_SURFACES:
            problems.append(f"surfaces: at most {MAX_SURFACES} (got {len(self.surfaces)})")
        names: set[str] = set()
        ports: dict[tuple[str, int], str] = {}
        for n, s in enumerate(self.surfaces):
            if s.name in names:
                problems.append(f"surfaces[{n}].name: {s.name!r} is configured twice")
            names.add(s.name)
            other = ports.get((s.bind, s.port))
            if other is not None:
                problems.append(
                    f"surfaces[{n}].port: {s.bind}:{s.port} is already surface {other!r}'s"
                )
            ports[(s.bind, s.port)] = s.name
        return problems
