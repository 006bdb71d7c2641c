"""Restart a crashed subsystem; never let it take the nursery (and the frame clock) down.

Hypercorn #225 is the reason: one malformed WebSocket upgrade can raise out of `serve()`.
A subsystem's first start must succeed (a bad bind is a configuration error the operator
must see at once); after that every crash is logged, counted and followed by a restart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from .logs import get_logger

ServeFn = Callable[..., Awaitable[object]]


@dataclass
class SupervisorStats:
    name: str
    starts: int = 0
    crashes: int = 0
    last_error: str | None = None


async def supervise(
    name: str,
    serve: ServeFn,
    stats: SupervisorStats,
    *,
    restart_delay_s: float,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run `serve` (a `nursery.start`-able task) for ever, restarting it after a crash."""
    log = get_logger(name)
    reported = False
    while True:
        try:
            async with trio.open_nursery() as inner:
                await inner.start(serve)
                stats.starts += 1
                if stats.starts > 1:
                    log.info("subsystem restarted", starts=stats.starts)
                if not reported:
                    reported = True
                    task_status.started()
            log.warning("subsystem returned; restarting")
        except Exception as group:
            exc = _unwrap(group)
            if not reported:
                # The first start failed: a configuration problem, not a crash.
                raise exc from None
            stats.crashes += 1
            stats.last_error = f"{type(exc).__name__}: {exc}"
            log.error("subsystem crashed; restarting", crashes=stats.crashes, exc_info=exc)
        await trio.sleep(restart_delay_s)


def _unwrap(exc: Exception) -> Exception:
    """The one real error inside nested single-member exception groups (nursery wrapping)."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
