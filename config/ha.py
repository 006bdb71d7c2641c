"""`[ha]`: the hot-standby pair (issue 19). Absent (no `node_name`), nothing changes.

Both nodes name each other: heartbeats go from `bind` to `peer` over UDP; leadership is a
lease in the shared PostgreSQL store, so `[ha]` requires `[storage] backend = "postgres"`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from .fields import setting

NODE_NAME_MAX = 64  # it travels in every heartbeat (protocols/ha_heartbeat.py)


def split_host_port(text: str) -> tuple[str, int]:
    """`host:port` (IPv4 host) → (host, port); ValueError saying what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected IPv4 host:port (got {text!r})")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        raise ValueError(f"host must be an IPv4 address (got {text!r})") from None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"port must be 1..65535 (got {text!r})")
    return host, int(port)


@dataclass(frozen=True, slots=True)
class HaConfig:
    """The hot-standby pair: this node, its peer, and how fast a dead peer is noticed."""

    node_name: str = setting(
        "", "this node's name in the pair; empty = no pair (single node)", max_length=64
    )
    peer: str = setting("", "the peer's heartbeat address, IPv4 host:port")
    bind: str = setting("", "where this node sends and receives heartbeats, IPv4 host:port")
    role_preference: Literal["primary", "standby"] = setting(
        "standby",
        "primary takes the lease at start; standby waits a dead interval first, so when both"
        " start together the primary leads",
    )
    heartbeat_interval_s: float = setting(
        0.05, "seconds between heartbeats to the peer", minimum=0.005, maximum=5.0
    )
    heartbeat_misses: int = setting(
        4,
        "heartbeats missed in a row before the peer counts as dead (and the lease is tried)",
        minimum=2,
        maximum=100,
    )
    sacn_standby_offset: int = setting(
        1,
        "the standby sends sACN at each output's priority minus this (receivers prefer the leader)",
        minimum=1,
        maximum=200,
    )

    @property
    def enabled(self) -> bool:
        return bool(self.node_name)

    @property
    def dead_after_s(self) -> float:
        """A peer silent this long is dead; a leader's lease lasts this long unrenewed."""
        return self.heartbeat_interval_s * self.heartbeat_misses

    def validate(self) -> list[str]:
        if not self.enabled:
            stray = [n for n in ("peer", "bind") if getattr(self, n)]
            return [f"node_name: required when {n} is set (got '')" for n in stray]
        problems: list[str] = []
        if not self.node_name.isprintable() or len(self.node_name.encode()) > NODE_NAME_MAX:
            problems.append(
                f"node_name: printable, at most {NODE_NAME_MAX} UTF-8 bytes"
                f" (got {self.node_name!r})"
            )
        for name in ("peer", "bind"):
            value = getattr(self, name)
            if not value:
                problems.append(f"{name}: required when node_name is set (got '')")
                continue
            try:
                split_host_port(value)
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
        if self.peer and self.peer == self.bind:
            problems.append(f"peer: must differ from bind (both {self.peer!r})")
        return problems
