"""Receiver-side merge of sACN (E1.31) and Art-Net sources into one 512-slot universe.

Sans-IO: packets (already decoded by `sacn.decode_sacn` / `artnet.decode_artnet`) and the
current time (float seconds, any monotonic clock) go in; the merged universe comes out. No
sockets, no clock reads.

One `UniverseMerger` per input universe. Rules, in the order a packet meets them:

1. **Wrong universe** (a packet routed here by mistake): dropped, counted.
2. **Preview** (sACN option bit 0x80, E1.31 §6.2.6): "shall not be used to generate live
   output" — dropped without touching any state, counted.
3. **Sequence** (E1.31 §6.7.2), per source (it is already per universe: one merger per
   universe): with d = new - last as a signed 8-bit difference, a packet with -20 < d <= 0 is
   out of order and dropped (counted); any other d is accepted, so a source that restarts
   (d <= -20) is followed at once. Art-Net sequence 0 means "not used": a packet with 0, or
   after a packet with 0, is never rejected; otherwise the same window applies (Art-Net wraps
   255 → 1, a step of +2 in that arithmetic).
4. **Stream terminated** (sACN option bit 0x40): the source is removed at once, whatever its
   START code (its slot data is ignored, §6.2.6). From an unknown source it is ignored.
5. **START code ≠ 0** (e.g. 0xDD per-address priority, 0x17 text): kept out of the merge and
   counted; the source's state is not touched (so it neither creates a source nor keeps one
   alive — only level data does). Per-address priority is not implemented.
6. **Accepted**: the source's level data, priority and name are replaced by the packet's. A
   new source is admitted only while fewer than `max_sources` are live (after expiring the
   stale ones); otherwise the packet is dropped and counted.

Merging (`merged(now)`): sources whose last accepted packet is more than `source_timeout_s`
old (E131_NETWORK_DATA_LOSS_TIMEOUT, 2.5 s; a source exactly 2.5 s old is still live) are
removed first (a timed-out source that sends again before anyone called `merged` is treated
as new too: the result never depends on how often it is polled). Then the highest priority
among the live sources wins outright, and the sources at that priority are merged HTP: each
slot is the maximum over them. A source that sent fewer
than 512 slots (olad sends short universes unpadded) contributes zeros beyond its last slot.
With no live source the result is inactive and all zeros; whoever consumes it decides whether
to release or hold the last look.

**Art-Net** has no priority field. Its sources (keyed by source IP address) join the merge at
a configured priority (default 100, sACN's default), so at equal priority an Art-Net console and
an sACN console merge HTP, and an sACN source at a higher priority overrides Art-Net outright.

Cost: per packet a dict lookup and a few attribute writes (the slot data `bytes` is kept by
reference, never copied); per `merged()` call O(sources) when nothing changed (cached), else
O(sources x 512) with numpy.

Not implemented (documented non-goals): universe synchronization (sync addresses and
Force_Synchronization are ignored: data is applied as it arrives, as a receiver without sync
support does), the E1.31 sampling period at start-up, per-address priority (0xDD).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np

from .artnet import ArtDmx
from .sacn import DataPacket, sequence_out_of_order

__all__ = [
    "DEFAULT_ARTNET_PRIORITY",
    "DEFAULT_MAX_SOURCES",
    "SLOTS",
    "SOURCE_TIMEOUT_S",
    "MergeCounters",
    "MergeResult",
    "SourceInfo",
    "SourceProtocol",
    "UniverseMerger",
    "Verdict",
]

SLOTS = 512
SOURCE_TIMEOUT_S = 2.5  # E131_NETWORK_DATA_LOSS_TIMEOUT
DEFAULT_ARTNET_PRIORITY = 100
DEFAULT_MAX_SOURCES = 16
MAX_PRIORITY = 200

SourceProtocol = Literal["sacn", "artnet"]

_ZEROS = bytes(SLOTS)


class Verdict(enum.Enum):
    """What the merger did with one packet."""

    ACCEPTED = "accepted"
    TERMINATED = "terminated"  # a known source sent Stream_Terminated and was removed
    IGNORED = "ignored"  # Stream_Terminated from a source that is not live
    OUT_OF_ORDER = "out_of_order"
    PREVIEW = "preview"
    START_CODE = "start_code"  # non-zero START code
    SOURCES_FULL = "sources_full"  # a new source while max_sources are live
    WRONG_UNIVERSE = "wrong_universe"


@dataclass(slots=True)
class MergeCounters:
    """Running totals for one universe (monotonic; read them, do not write them)."""

    packets_accepted: int = 0
    dropped_out_of_order: int = 0
    dropped_preview: int = 0
    dropped_start_code: int = 0
    dropped_sources_full: int = 0
    dropped_wrong_universe: int = 0
    sources_added: int = 0
    sources_terminated: int = 0
    sources_timed_out: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """One live source as the merge saw it."""

    protocol: SourceProtocol
    source_id: str  # sACN: the CID as a UUID string; Art-Net: the source IP address
    name: str  # sACN: the source name; Art-Net: the source IP address
    address: str  # IP address the last accepted packet came from ("" if not given)
    priority: int
    slot_count: int  # slots in its last packet (0..512)
    sequence: int
    last_seen: float
    packets: int  # accepted packets since the source appeared
    contributing: bool  # at the winning priority, so part of the HTP merge


@dataclass(frozen=True, slots=True)
class MergeResult:
    """The merged universe at one instant."""

    universe: int
    slots: bytes  # always 512 bytes
    sources: tuple[SourceInfo, ...]  # live sources, highest priority first
    winning_priority: int | None  # None when no source is live
    active: bool  # at least one live source


@dataclass(slots=True)
class _Source:
    protocol: SourceProtocol
    source_id: str
    name: str
    address: str
    priority: int
    sequence: int
    data: bytes
    last_seen: float
    packets: int = 1


class UniverseMerger:
    """Priority + HTP merge of the sACN and Art-Net sources of one universe (see module doc)."""

    __slots__ = (
        "_cache",
        "_dirty",
        "_sources",
        "artnet_priority",
        "counters",
        "max_sources",
        "source_timeout_s",
        "universe",
    )

    def __init__(
        self,
        universe: int,
        *,
        source_timeout_s: float = SOURCE_TIMEOUT_S,
        max_sources: int = DEFAULT_MAX_SOURCES,
        artnet_priority: int = DEFAULT_ARTNET_PRIORITY,
    ) -> None:
        if not source_timeout_s > 0:
            raise ValueError(f"source_timeout_s must be > 0, got {source_timeout_s}")
        if max_sources < 1:
            raise ValueError(f"max_sources must be >= 1, got {max_sources}")
        if not 0 <= artnet_priority <= MAX_PRIORITY:
            raise ValueError(f"artnet_priority must be in 0..{MAX_PRIORITY}, got {artnet_priority}")
        self.universe = universe
        self.source_timeout_s = float(source_timeout_s)
        self.max_sources = max_sources
        self.artnet_priority = artnet_priority
        self.counters = MergeCounters()
        # sACN sources are keyed by their 16-byte CID, Art-Net sources by their IP (a str):
        # the two key types can never collide.
        self._sources: dict[bytes | str, _Source] = {}
        self._dirty = True
        self._cache: MergeResult | None = None

    # ---------------------------------------------------------------------------------------
    # Packets in

    def feed_sacn(self, packet: DataPacket, now: float, address: str = "") -> Verdict:
        """Apply one decoded sACN data packet received at `now` (from IP `address`)."""
        counters = self.counters
        if packet.universe != self.universe:
            counters.dropped_wrong_universe += 1
            return Verdict.WRONG_UNIVERSE
        if packet.preview:
            counters.dropped_preview += 1
            return Verdict.PREVIEW
        key = packet.cid
        source = self._live_source(key, now)
        if source is not None and sequence_out_of_order(source.sequence, packet.sequence):
            counters.dropped_out_of_order += 1
            return Verdict.OUT_OF_ORDER
        if packet.stream_terminated:
            if source is None:
                return Verdict.IGNORED
            del self._sources[key]
            counters.sources_terminated += 1
            self._dirty = True
            return Verdict.TERMINATED
        if packet.start_code != 0:
            counters.dropped_start_code += 1
            return Verdict.START_CODE
        if source is None:
            if not self._admit(now):
                return Verdict.SOURCES_FULL
            self._sources[key] = _Source(
                protocol="sacn",
                source_id=str(uuid.UUID(bytes=key)),
                name=packet.source_name,
                address=address,
                priority=packet.priority,
                sequence=packet.sequence,
                data=packet.data,
                last_seen=now,
            )
        else:
            source.name = packet.source_name
            source.address = address
            source.priority = packet.priority
            source.sequence = packet.sequence
            source.data = packet.data
            source.last_seen = now
            source.packets += 1
        counters.packets_accepted += 1
        self._dirty = True
        return Verdict.ACCEPTED

    def feed_artnet(
        self,
        packet: ArtDmx,
        source_ip: str,
        now: float,
        *,
        priority: int | None = None,
    ) -> Verdict:
        """Apply one ArtDmx from `source_ip` received at `now`.

        The caller routes by Port-Address (this merger does not know the Art-Net numbering);
        `priority` overrides the merger's `artnet_priority` for this packet.
        """
        counters = self.counters
        source = self._live_source(source_ip, now)
        sequence = packet.sequence
        if (
            source is not None
            and sequence != 0
            and source.sequence != 0
            and sequence_out_of_order(source.sequence, sequence)
        ):
            counters.dropped_out_of_order += 1
            return Verdict.OUT_OF_ORDER
        level = self.artnet_priority if priority is None else priority
        if source is None:
            if not self._admit(now):
                return Verdict.SOURCES_FULL
            self._sources[source_ip] = _Source(
                protocol="artnet",
                source_id=source_ip,
                name=source_ip,
                address=source_ip,
                priority=level,
                sequence=sequence,
                data=packet.data,
                last_seen=now,
            )
        else:
            source.priority = level
            source.sequence = sequence
            source.data = packet.data
            source.last_seen = now
            source.packets += 1
        counters.packets_accepted += 1
        self._dirty = True
        return Verdict.ACCEPTED

    def _live_source(self, key: bytes | str, now: float) -> _Source | None:
        """The source under `key`, unless it has timed out (then it is removed: a source
        that comes back after the timeout starts afresh, sequence included)."""
        source = self._sources.get(key)
        if source is not None and now - source.last_seen > self.source_timeout_s:
            del self._sources[key]
            self.counters.sources_timed_out += 1
            self._dirty = True
            return None
        return source

    def _admit(self, now: float) -> bool:
        """Room for one more source? Stale sources are expired first."""
        if len(self._sources) >= self.max_sources:
            self.expire(now)
            if len(self._sources) >= self.max_sources:
                self.counters.dropped_sources_full += 1
                return False
        self.counters.sources_added += 1
        return True

    # ---------------------------------------------------------------------------------------
    # Time

    def expire(self, now: float) -> int:
        """Remove the sources silent for more than `source_timeout_s`; return how many."""
        timeout = self.source_timeout_s
        stale = [key for key, s in self._sources.items() if now - s.last_seen > timeout]
        for key in stale:
            del self._sources[key]
        if stale:
            self.counters.sources_timed_out += len(stale)
            self._dirty = True
        return len(stale)

    @property
    def source_count(self) -> int:
        """Sources currently held (including any that `merged(now)` would expire)."""
        return len(self._sources)

    # ---------------------------------------------------------------------------------------
    # Result out

    def merged(self, now: float) -> MergeResult:
        """The merged universe at `now` (expires stale sources first)."""
        self.expire(now)
        if not self._dirty and self._cache is not None:
            return self._cache
        result = self._merge()
        self._cache = result
        self._dirty = False
        return result

    def _merge(self) -> MergeResult:
        sources = self._sources
        if not sources:
            return MergeResult(self.universe, _ZEROS, (), None, False)
        top = max(s.priority for s in sources.values())
        winners = [s for s in sources.values() if s.priority == top]
        if len(winners) == 1:
            data = winners[0].data
            slots = data if len(data) == SLOTS else data.ljust(SLOTS, b"\0")
        else:
            acc = np.zeros(SLOTS, dtype=np.uint8)
            for s in winners:
                n = len(s.data)
                if n:
                    view = acc[:n]
                    np.maximum(view, np.frombuffer(s.data, dtype=np.uint8), out=view)
            slots = acc.tobytes()
        ordered = sorted(sources.values(), key=lambda s: (-s.priority, s.protocol, s.source_id))
        infos = tuple(
            SourceInfo(
                protocol=s.protocol,
                source_id=s.source_id,
                name=s.name,
                address=s.address,
                priority=s.priority,
                slot_count=len(s.data),
                sequence=s.sequence,
                last_seen=s.last_seen,
                packets=s.packets,
                contributing=s.priority == top,
            )
            for s in ordered
        )
        return MergeResult(self.universe, slots, infos, top, True)
