"""The supervisor: restarts with backoff, disables a subsystem that keeps crashing, alerts,
and tells a required subsystem's start-up failure from an optional one's. Driven by Trio's
autojump clock, so backoffs of seconds take no wall time."""

from __future__ import annotations

import errno
import itertools

import pytest
import trio
import trio.testing

from trocadero.config import ConfigError
from trocadero.playout.supervisor import Policy, SupervisorStats, supervise


def flaky_serve(fail_first: int, runs: list[float]):  # type: ignore[no-untyped-def]
    async def serve(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        runs.append(trio.current_time())
        if len(runs) <= fail_first:
            raise RuntimeError(f"boom {len(runs)}")
        await trio.sleep_forever()

    return serve


async def test_crash_is_restarted_with_doubling_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    stats = SupervisorStats("flaky")
    runs: list[float] = []
    alerts: list[tuple[str, str]] = []
    policy = Policy(restart_delay_s=1.0, crash_limit=10)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: supervise(
                "flaky",
                flaky_serve(3, runs),
                stats,
                policy=policy,
                alert=lambda s, t: alerts.append((s, t)),
                task_status=task_status,
            )
        )
        await trio.sleep(60)
        nursery.cancel_scope.cancel()
    assert stats.starts == 4
    assert stats.crashes == 3
    assert stats.state == "running"
    assert stats.last_error == "RuntimeError: boom 3"
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(runs)]
    assert gaps == [1.0, 2.0, 4.0]
    assert [s for s, _ in alerts] == ["flaky"] * 3
    assert "restarting in 4 s" in alerts[-1][1]


async def test_keeps_crashing_is_disabled_with_an_alert(
    autojump_clock: trio.testing.MockClock,
) -> None:
    stats = SupervisorStats("doomed")
    runs: list[float] = []
    alerts: list[str] = []
    policy = Policy(restart_delay_s=0.5, crash_limit=4, window_s=300.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: supervise(
                "doomed",
                flaky_serve(1000, runs),
                stats,
                policy=policy,
                alert=lambda _s, t: alerts.append(t),
                task_status=task_status,
            )
        )
        await trio.sleep(3600)
        nursery.cancel_scope.cancel()
    assert len(runs) == 4
    assert stats.state == "disabled"
    assert "disabled after 4 crashes" in alerts[-1]


async def test_crash_inside_child_nursery_is_restarted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Hypercorn raises out of its own nursery: an ExceptionGroup, still an Exception.
    stats = SupervisorStats("grouped")

    async def grouped(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as n:
            task_status.started()
            if stats.starts < 2:
                n.start_soon(_raise)
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: supervise(
                "grouped", grouped, stats, policy=Policy(), task_status=task_status
            )
        )
        await trio.sleep(10)
        nursery.cancel_scope.cancel()
    # Runs 1 and 2 see starts 0 and 1 (counted once started): two crashes, then steady.
    assert stats.crashes == 2
    assert stats.starts == 3
    assert stats.last_error == "ValueError: inner"


async def _raise() -> None:
    raise ValueError("inner")


async def test_requested_crash_restarts(autojump_clock: trio.testing.MockClock) -> None:
    stats = SupervisorStats("steady")
    runs: list[float] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: supervise(
                "steady", flaky_serve(0, runs), stats, policy=Policy(), task_status=task_status
            )
        )
        stats.request_crash()
        await trio.sleep(5)
        nursery.cancel_scope.cancel()
    assert stats.crashes == 1
    assert stats.starts == 2
    assert stats.last_error is not None
    assert "InjectedFault" in stats.last_error


async def in_use(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    raise OSError(errno.EADDRINUSE, "Address already in use")


async def test_required_first_start_failure_names_the_key() -> None:
    policy = Policy(required=True, config_key="web.port", bind="127.0.0.1:8440")
    with pytest.raises(ConfigError) as caught:
        await supervise("web", in_use, SupervisorStats("web"), policy=policy)
    assert caught.value.problems == ["web.port: 127.0.0.1:8440 is in use"]


async def test_optional_start_failure_reports_ready_and_retries(
    autojump_clock: trio.testing.MockClock,
) -> None:
    attempts: list[float] = []
    alerts: list[str] = []

    async def busy_then_free(
        *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        attempts.append(trio.current_time())
        if len(attempts) < 4:
            raise OSError(errno.EADDRINUSE, "Address already in use")
        task_status.started()
        await trio.sleep_forever()

    stats = SupervisorStats("mdvr")
    policy = Policy(restart_delay_s=1.0, config_key="mdvr.signaling_port", bind="0.0.0.0:6608")
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: supervise(
                "mdvr",
                busy_then_free,
                stats,
                policy=policy,
                alert=lambda _s, t: alerts.append(t),
                task_status=task_status,
            )
        )
        assert (stats.state, stats.starts) == ("retrying", 0)  # ready without it
        await trio.sleep(60)
        nursery.cancel_scope.cancel()
    assert (stats.state, stats.starts, stats.crashes) == ("running", 1, 0)
    assert alerts == [
        "mdvr could not start (mdvr.signaling_port: 0.0.0.0:6608 is in use); retrying"
    ]
