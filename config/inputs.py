"""Lighting inputs as configured: sACN / Art-Net universes received and merged (`[[inputs]]`).

Universe numbering is the same for both protocols and the same as for outputs: *input
universe* U is sACN universe U and Art-Net Port-Address U - 1 (Net:Sub-Net:Universe 0:0:0 is
input universe 1). So an sACN console on universe 1 and an Art-Net console on 0:0:0 feed the
same merge (HTP at equal priority; Art-Net sources count as priority `artnet_priority`).

Site-specific, so they live in the daemon config, not in the show; where an input universe
lands in the show is mapped elsewhere.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from .fields import setting

InputProtocol = Literal["sacn", "artnet"]

MAX_SACN_UNIVERSE = 63999
MAX_ARTNET_UNIVERSE = 32768  # Port-Address 32767 + 1
MAX_INPUT_UNIVERSES = 1024  # per input; bounds sockets' group memberships and memory


@dataclass(frozen=True, slots=True)
class InputConfig:
    """One receiver: a protocol listening for a set of input universes."""

    protocol: InputProtocol = field(
        metadata={"doc": "sacn (E1.31, UDP 5568) or artnet (Art-Net 4 ArtDmx, UDP 6454)"}
    )
    universes: tuple[int, ...] = field(
        metadata={
            "doc": "input universes received: sACN universe numbers, or Art-Net "
            "Port-Address + 1 (so 1 = Art-Net 0:0:0)"
        }
    )
    bind_address: str = setting(
        "0.0.0.0",
        "local IPv4 address to listen on; keep 0.0.0.0 to receive sACN multicast and Art-Net "
        "broadcast (a socket bound to a unicast address only sees unicast)",
    )
    interface_address: str = setting(
        "",
        "sACN only: IPv4 address of the interface that joins the universes' multicast groups; "
        "empty = the kernel's choice (the default route's interface)",
    )
    artnet_priority: int = setting(
        100,
        "Art-Net only: sACN priority Art-Net sources merge at (equal priority merges HTP)",
        minimum=0,
        maximum=200,
    )
    mode: Literal["htp", "takeover"] = setting(
        "htp",
        "how a live input universe meets the rendered universe of the same number: htp "
        "(highest slot wins) or takeover (the console replaces the show while it sends)",
    )
    port: int = setting(
        0, "UDP port; 0 = the protocol's (5568 sACN, 6454 Art-Net)", minimum=0, maximum=65535
    )
    source_timeout_s: float = setting(
        2.5,
        "a source silent this long is dropped from the merge (E1.31 network data loss: 2.5 s)",
        minimum=0.1,
        maximum=60.0,
    )

    def validate(self) -> list[str]:
        """Cross-field checks; each problem as 'key: what is wrong (got X)'."""
        problems: list[str] = []
        top = MAX_SACN_UNIVERSE if self.protocol == "sacn" else MAX_ARTNET_UNIVERSE
        if not self.universes:
            problems.append("universes: at least one universe is required (got none)")
        elif len(self.universes) > MAX_INPUT_UNIVERSES:
            problems.append(
                f"universes: at most {MAX_INPUT_UNIVERSES} per input (got {len(self.universes)})"
            )
        bad = [u for u in self.universes if not 1 <= u <= top]
        if bad:
            problems.append(
                f"universes: {self.protocol} input universes must be within 1..{top} (got {bad[0]})"
            )
        if len(set(self.universes)) != len(self.universes):
            dup = next(u for u in self.universes if self.universes.count(u) > 1)
            problems.append(f"universes: universe {dup} is listed twice")
        for key in ("bind_address", "interface_address"):
            value = getattr(self, key)
            if key == "interface_address" and not value:
                continue
            try:
                ipaddress.IPv4Address(value)
            except ValueError:
                problems.append(f"{key}: not an IPv4 address (got {value!r})")
        if self.interface_address and self.protocol != "sacn":
            problems.append(
                f"interface_address: only sACN joins multicast groups "
                f"(got {self.interface_address!r} for protocol {self.protocol!r})"
            )
        return problems

    @property
    def wire_universes(self) -> tuple[int, ...]:
        """The numbers on the wire: sACN universes, or Art-Net Port-Addresses."""
        if self.protocol == "artnet":
            return tuple(u - 1 for u in self.universes)
        return self.universes


def validate_inputs(inputs: Sequence[InputConfig]) -> list[str]:
    """Checks across all `[[inputs]]`; each problem as 'inputs[i].key: what is wrong'.

    - two inputs of one protocol on one bind address would be two sockets on one port, and
      the kernel hands each unicast datagram to only one of them;
    - a universe fed by two inputs (e.g. sACN and Art-Net) has one merge, so one source
      timeout.
    """
    problems: list[str] = []
    seen_bind: dict[tuple[str, str], int] = {}
    timeout_of: dict[int, tuple[int, float]] = {}
    for i, cfg in enumerate(inputs):
        bind = (cfg.protocol, cfg.bind_address)
        if bind in seen_bind:
            problems.append(
                f"inputs[{i}].bind_address: {cfg.protocol} already listens on "
                f"{cfg.bind_address} in inputs[{seen_bind[bind]}] (got {cfg.bind_address!r})"
            )
        else:
            seen_bind[bind] = i
        for universe in cfg.universes:
            first = timeout_of.setdefault(universe, (i, cfg.source_timeout_s))
            if first[1] != cfg.source_timeout_s:
                problems.append(
                    f"inputs[{i}].source_timeout_s: universe {universe} is also in "
                    f"inputs[{first[0]}] with source_timeout_s {first[1]:g}; one universe "
                    f"has one merge (got {cfg.source_timeout_s:g})"
                )
                break
    return problems
