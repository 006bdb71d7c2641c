"""The gateway's block in /healthz."""

from __future__ import annotations

from typing import Any

from ..udp import UdpStats
from .context import GatewayContext


def health_block(
    ctx: GatewayContext,
    *,
    udp_port: int | None,
    udp_stats: UdpStats,
    live_sessions: int,
    downloads_active: int,
    positions_queued: int,
    open_connections: int,
) -> dict[str, Any]:
    st = ctx.stats
    return {
        "signaling": {"tcp_port": ctx.signaling_port, "udp_port": udp_port},
        "media_port": ctx.media_port,
        "devices_online": len(ctx.links),
        "live_sessions": live_sessions,
        "pending_sessions": len(ctx.pending),
        "downloads_active": downloads_active,
        "positions_queued": positions_queued,
        "udp": None
        if udp_port is None
        else {
            "datagrams": udp_stats.datagrams,
            "dropped": udp_stats.dropped,
            "peers": udp_stats.peers,
        },
        "counters": {
            "connections": st.connections,
            "registrations": st.registrations,
            "refused": st.refused,
            "replaced": st.replaced,
            "messages": st.messages,
            "malformed": st.malformed,
            "closed_for_garbage": st.closed_for_garbage,
            "positions_stored": st.positions_stored,
            "positions_duplicate": st.positions_duplicate,
            "positions_dropped": st.positions_dropped,
            "alarms_new": st.alarms_new,
            "media_refused": st.media_refused,
            "files_done": st.files_done,
            "files_failed": st.files_failed,
            "refused_fields": st.refused_fields,
            "refused_limit": st.refused_limit,
            "register_timeouts": st.register_timeouts,
            "replacements_refused": st.replacements_refused,
        },
        "open_connections": open_connections,
    }
