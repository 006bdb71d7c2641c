"""The gateway's statistics (its block in /healthz and its samples in /metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trocadero.core.statistics import counter, detail, section

from ..udp import UdpStats
from .context import GatewayContext, GatewayStats


@dataclass(frozen=True, slots=True)
class SignalingPorts:
    tcp_port: int = field(metadata=detail())
    udp_port: int | None = field(metadata=detail())


@dataclass(frozen=True, slots=True)
class UdpStatistics:
    datagrams: int = field(metadata=counter())
    dropped: int = field(metadata=counter())  # a peer's queue was full, or too many peers
    peers: int


@dataclass(frozen=True, slots=True)
class GatewayCounters:
    connections: int = field(metadata=counter())
    registrations: int = field(metadata=counter())
    refused: int = field(metadata=counter())
    replaced: int = field(metadata=counter())
    messages: int = field(metadata=counter())
    malformed: int = field(metadata=counter())
    closed_for_garbage: int = field(metadata=counter())
    positions_received: int = field(metadata=counter())
    positions_stored: int = field(metadata=counter())
    positions_duplicate: int = field(metadata=counter())
    positions_dropped: int = field(metadata=counter())
    alarms_new: int = field(metadata=counter())
    alarms_duplicate: int = field(metadata=counter())
    media_refused: int = field(metadata=counter())
    files_done: int = field(metadata=counter())
    files_failed: int = field(metadata=counter())
    refused_fields: int = field(metadata=counter())
    refused_limit: int = field(metadata=counter())
    register_timeouts: int = field(metadata=counter())
    replacements_refused: int = field(metadata=counter())

    @classmethod
    def of(cls, st: GatewayStats) -> GatewayCounters:
        return cls(
            connections=st.connections,
            registrations=st.registrations,
            refused=st.refused,
            replaced=st.replaced,
            messages=st.messages,
            malformed=st.malformed,
            closed_for_garbage=st.closed_for_garbage,
            positions_received=st.positions_received,
            positions_stored=st.positions_stored,
            positions_duplicate=st.positions_duplicate,
            positions_dropped=st.positions_dropped,
            alarms_new=st.alarms_new,
            alarms_duplicate=st.alarms_duplicate,
            media_refused=st.media_refused,
            files_done=st.files_done,
            files_failed=st.files_failed,
            refused_fields=st.refused_fields,
            refused_limit=st.refused_limit,
            register_timeouts=st.register_timeouts,
            replacements_refused=st.replacements_refused,
        )


@dataclass(frozen=True, slots=True)
class GatewayStatistics:
    signaling: SignalingPorts
    media_port: int = field(metadata=detail())
    devices_online: int
    live_sessions: int
    pending_sessions: int
    downloads_active: int
    positions_queued: int
    udp: UdpStatistics | None = field(metadata=section())  # None: no UDP signaling
    counters: GatewayCounters = field(metadata=section(prefix=""))
    open_connections: int


def gateway_statistics(
    ctx: GatewayContext,
    *,
    udp_port: int | None,
    udp_stats: UdpStats,
    live_sessions: int,
    downloads_active: int,
    positions_queued: int,
    open_connections: int,
) -> GatewayStatistics:
    return GatewayStatistics(
        signaling=SignalingPorts(ctx.signaling_port, udp_port),
        media_port=ctx.media_port,
        devices_online=len(ctx.links),
        live_sessions=live_sessions,
        pending_sessions=len(ctx.pending),
        downloads_active=downloads_active,
        positions_queued=positions_queued,
        udp=None
        if udp_port is None
        else UdpStatistics(udp_stats.datagrams, udp_stats.dropped, udp_stats.peers),
        counters=GatewayCounters.of(ctx.stats),
        open_connections=open_connections,
    )
