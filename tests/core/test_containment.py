"""Containment counters, and trio_asyncio's exception handler made to count instead of
raising into the loop's nursery (which holds the whole daemon)."""

from __future__ import annotations

import trio
import trio_asyncio

from trocadero.core.containment import Containment, contain_asyncio_errors


def test_counts_per_edge_and_logs_once_per_peer_per_interval() -> None:
    now = [0.0]
    c = Containment(log_interval_s=60.0, clock=lambda: now[0])
    for _ in range(3):
        c.record("mdvr.signaling", "10.0.0.1:5000", ValueError("bad time"))
    now[0] = 61.0
    c.record("mdvr.signaling", "10.0.0.1:5000", ValueError("bad time"))
    c.record("rest", "127.0.0.1 /api/x", RuntimeError("bug"))
    edge = c.edges["mdvr.signaling"]
    assert (edge.contained, edge.logged) == (4, 2)
    assert c.total == 5
    assert c.health()["edges"]["rest"]["last_error"] == "RuntimeError: bug"
    assert c.metrics() == {
        'trocadero_contained_failures_total{edge="mdvr.signaling"}': 4.0,
        'trocadero_contained_failures_total{edge="rest"}': 1.0,
    }


async def test_a_stray_asyncio_error_is_counted_not_raised() -> None:
    c = Containment()
    async with trio_asyncio.open_loop() as loop:
        contain_asyncio_errors(loop, c)
        loop.call_exception_handler(
            {
                "message": "Future exception was never retrieved",
                "exception": ConnectionError("unexpected connection_lost() call"),
            }
        )
        await trio.sleep(0.05)  # the default handler would have raised into the nursery here
    assert c.edges["asyncio"].contained == 1
    assert c.edges["asyncio"].last_error == "ConnectionError: unexpected connection_lost() call"
