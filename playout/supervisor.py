"""Supervise every subsystem but the frame clock: a crash never takes the lighting down.

A subsystem (web, socket API, MDVR gateway, schedule, inputs, Redis bridge, …) runs under
`supervise`: a crash is logged, counted, alerted (`system:alert`) and followed by a restart
after a backoff that doubles with each crash in the window; a subsystem that crashes
`crash_limit` times within `window_s` is disabled with an alert, and the lighting carries on.

First start: a *required* subsystem (web, socket API) that cannot start ends the daemon with
a one-line error naming the config key (`web.port: 127.0.0.1:8440 is in use`) — the operator
must see it at once. An *optional* one (MDVR gateway, inputs, discovery, Redis) that cannot
start does not keep the building dark: the daemon reports ready, alerts, and retries it.
Hypercorn #225 was the first reason for all this: one malformed WebSocket upgrade could
raise out of `serve()`.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import trio

from trocadero.config import ConfigError
from trocadero.core.containment import describe, leaf
from trocadero.core.statistics import counter, detail, gauge, label

from .logs import get_logger

ServeFn = Callable[..., Awaitable[object]]
State = Literal["starting", "running", "restarting", "retrying", "disabled"]


class InjectedFault(RuntimeError):
    """Raised on purpose (fault injection, `/debug/fault/crash/{subsystem}`)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """How a subsystem is restarted. Frozen: one per subsystem, chosen at start-up."""

    restart_delay_s: float = 0.5  # after the first crash; doubles with each crash in the window
    max_delay_s: float = 30.0
    crash_limit: int = 5  # crashes within `window_s` that disable the subsystem
    window_s: float = 300.0
    required: bool = False  # a first-start failure ends the daemon (config error)
    config_key: str = ""  # named in a start-up error, e.g. "web.port"
    bind: str = ""  # the address, for "… is in use"


@dataclass
class SupervisorStats:
    name: str
    starts: int = 0
    crashes: int = 0
    last_error: str | None = None
    state: State = "starting"
    restart_at: float | None = None  # trio.current_time(), while restarting or retrying
    recent: deque[float] = field(default_factory=deque)  # crash times within the window
    crash_requested: trio.Event = field(default_factory=trio.Event)

    def request_crash(self) -> None:
        self.crash_requested.set()

    def statistics(self) -> SupervisorStatistics:
        wait = None if self.restart_at is None else max(0.0, self.restart_at - trio.current_time())
        return SupervisorStatistics(
            name=self.name,
            state=self.state,
            up=self.state == "running",
            starts=self.starts,
            crashes=self.crashes,
            last_error=self.last_error,
            restart_in_s=None if wait is None else round(wait, 3),
        )


@dataclass(frozen=True, slots=True)
class SupervisorStatistics:
    """One supervised subsystem, labelled `subsystem` in /metrics."""

    name: str = field(metadata=label("subsystem"))
    state: State = field(metadata=detail())
    up: bool  # running (not starting, restarting, retrying or disabled)
    starts: int = field(metadata=counter())
    crashes: int = field(metadata=counter())
    last_error: str | None = field(metadata=detail())
    restart_in_s: float | None = field(metadata=gauge())


Alert = Callable[[str, str], object]  # (subsystem, text)


def start_error(policy: Policy, exc: BaseException) -> str:
    """One line naming the config key: what the operator must change."""
    error = leaf(exc)
    key = policy.config_key or "start-up"
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        return f"{key}: {policy.bind} is in use"
    if isinstance(error, OSError) and error.errno == errno.EADDRNOTAVAIL:
        return f"{key}: {policy.bind} is not an address of this machine"
    if isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EPERM):
        return f"{key}: {policy.bind}: permission denied"
    if isinstance(error, ConfigError):
        return "; ".join(error.problems)
    return f"{key}: {describe(error)}"


async def _crash_on_request(stats: SupervisorStats) -> None:
    await stats.crash_requested.wait()
    stats.crash_requested = trio.Event()
    raise InjectedFault(f"{stats.name} crash requested through /debug/fault/crash")


async def supervise(
    name: str,
    serve: ServeFn,
    stats: SupervisorStats,
    *,
    policy: Policy,
    alert: Alert | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run `serve` (a `nursery.start`-able task) for ever under `policy`."""
    log = get_logger(name)
    reported = False

    def notify(text: str) -> None:
        if alert is not None:
            alert(name, text)

    start_failures = 0  # in a row, before a successful start
    while True:
        stats.restart_at = None
        started = False
        try:
            async with trio.open_nursery() as inner:
                await inner.start(serve)
                started = True
                start_failures = 0
                stats.starts += 1
                stats.state = "running"
                if stats.starts > 1:
                    log.info("subsystem restarted", starts=stats.starts)
                if not reported:
                    reported = True
                    task_status.started()
                inner.start_soon(_crash_on_request, stats)
            log.warning("subsystem returned; restarting")
        except Exception as group:
            if not started:
                if not reported and policy.required:
                    # The first start failed: a configuration problem, not a crash.
                    raise ConfigError([start_error(policy, group)]) from group
                start_failures += 1
                stats.last_error = start_error(policy, group)
                if not reported:  # optional: the lighting starts without it
                    reported = True
                    task_status.started()
                if start_failures == 1:
                    log.error(
                        "subsystem could not start; lighting runs without it",
                        error=stats.last_error,
                    )
                    notify(f"{name} could not start ({stats.last_error}); retrying")
            else:
                stats.crashes += 1
                stats.last_error = describe(group)
                log.error("subsystem crashed", crashes=stats.crashes, exc_info=group)
        now = trio.current_time()  # the run's clock: tests can drive it
        if started:
            stats.recent.append(now)
        while stats.recent and now - stats.recent[0] > policy.window_s:
            stats.recent.popleft()
        if started and len(stats.recent) >= policy.crash_limit:
            stats.state = "disabled"
            log.error(
                "subsystem disabled: it keeps crashing",
                crashes=len(stats.recent),
                window_s=policy.window_s,
            )
            notify(
                f"{name} disabled after {len(stats.recent)} crashes in {policy.window_s:g} s"
                f" (last: {stats.last_error}); the lighting carries on. Restart the daemon"
                " once the cause is fixed."
            )
            await trio.sleep_forever()
        failures = len(stats.recent) if started else start_failures
        delay = min(policy.max_delay_s, policy.restart_delay_s * 2 ** min(20, failures - 1))
        if started:
            notify(f"{name} crashed ({stats.last_error}); restarting in {delay:g} s")
        stats.state = "restarting" if stats.starts > 0 else "retrying"
        stats.restart_at = now + delay
        await trio.sleep(delay)
