"""What the gateway's parts share: config, adapters, clock, counters, links and sessions."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import trio

from trocadero.config.schema import MdvrConfig
from trocadero.core.containment import Containment
from trocadero.core.events import EventBus
from trocadero.core.storage import Storage
from trocadero.core.storage.devices import DeviceStore
from trocadero.core.video_hub import VideoSink

from ...logs import get_logger
from ..feeds import LiveFeeds
from .clock import Clock
from .limits import EDGE_LOG_KEYS
from .link import DeviceLink

log = get_logger("mdvr")


@dataclass
class GatewayStats:
    connections: int = 0
    registrations: int = 0
    refused: int = 0
    replaced: int = 0
    messages: int = 0
    malformed: int = 0
    closed_for_garbage: int = 0
    positions_received: int = 0
    positions_stored: int = 0
    positions_duplicate: int = 0
    positions_dropped: int = 0  # queue full, outside retention, implausible time, store failed
    alarms_new: int = 0
    alarms_duplicate: int = 0
    media_refused: int = 0
    files_done: int = 0
    files_failed: int = 0
    refused_fields: int = 0  # parsed, but a field cannot be echoed or stored (refused at the edge)
    refused_limit: int = 0  # closed at once: too many connections (per address or in all)
    register_timeouts: int = 0  # connected but never registered in time
    replacements_refused: int = 0  # a second V101 for a connected id past the rate limit


@dataclass(eq=False)
class PendingSession:
    """A media session we asked a device for (C508 live, C702 file), until it connects."""

    session_id: str
    device_id: str
    kind: Literal["live", "file"]
    channel: int = 0
    stream_type: int = 0
    file_id: int = 0
    start_offset: int = 0
    claimed: trio.Event = field(default_factory=trio.Event)  # its media connection arrived
    done: trio.Event = field(default_factory=trio.Event)
    outcome: str = ""  # "done", or why the attempt ended


def _session_ids() -> Iterator[int]:
    return itertools.count(random.randrange(10_000_000, 90_000_000))


@dataclass(eq=False)
class GatewayContext:
    config: MdvrConfig
    store: Storage
    bus: EventBus
    file_dir: Path
    feeds: LiveFeeds
    clock: Clock
    containment: Containment
    audit: bool
    stats: GatewayStats = field(default_factory=GatewayStats)
    links: dict[str, DeviceLink] = field(default_factory=dict)
    pending: dict[str, PendingSession] = field(default_factory=dict)
    signaling_port: int = 0
    media_port: int = 0
    nursery: trio.Nursery | None = None  # the gateway's own, while it serves
    session_ids: Iterator[int] = field(default_factory=_session_ids)
    edge_logged: dict[str, float] = field(default_factory=dict)  # key → last logged (monotonic)
    # Where live sessions' fMP4 remux goes (the daemon's video hub, or the gateway process's
    # link to it); None: no browser viewers, no remux.
    video: VideoSink | None = None
    # Registered ids → their tenant (the registry's answer), for work done outside the
    # device's own tasks: the position writer batches several devices' rows.
    device_tenants: dict[str, int] = field(default_factory=dict)
    device_retention: dict[str, int] = field(default_factory=dict)  # its tenant's, in days

    @property
    def devices(self) -> DeviceStore:
        return self.store.devices

    def new_session_id(self) -> str:
        return str(next(self.session_ids))

    def media_address(self, link: DeviceLink) -> tuple[str, int]:
        return link.local_ip, self.media_port

    def due(self, key: str) -> bool:
        """Whether `key` (a refusal of a peer or an id) may be reported again: at most once
        per `unknown_log_interval_s`, so a peer repeating itself cannot flood the journal."""
        mono = self.clock.monotonic()
        last = self.edge_logged.get(key)
        if last is not None and mono - last < self.config.unknown_log_interval_s:
            return False
        if len(self.edge_logged) > EDGE_LOG_KEYS:  # bounded under an address- or id-spraying peer
            self.edge_logged.clear()
        self.edge_logged[key] = mono
        return True

    def edge_log(self, key: str, text: str, **fields: Any) -> None:
        if self.due(key):
            log.warning(text, **fields)

    def refuse_fields(self, what: str, address: str, device_id: str, problem: str) -> None:
        self.stats.refused_fields += 1
        self.edge_log(
            f"fields {address}",
            "MDVR message refused: a field cannot be echoed or stored",
            message=what,
            device=device_id[:40],
            address=address,
            problem=problem,
        )
