from __future__ import annotations

import pytest
import trio
import trio.testing

from trocadero.playout.supervisor import SupervisorStats, supervise


async def test_crash_is_restarted() -> None:
    stats = SupervisorStats("flaky")
    runs: list[int] = []

    async def flaky(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        runs.append(len(runs))
        if len(runs) < 3:
            raise RuntimeError(f"boom {len(runs)}")
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: supervise(
                "flaky", flaky, stats, restart_delay_s=0.01, task_status=task_status
            )
        )
        with trio.fail_after(5):
            while stats.starts < 3:  # noqa: ASYNC110 - polling a counter under test
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert stats.crashes == 2
    assert stats.last_error == "RuntimeError: boom 2"


async def test_crash_inside_child_nursery_is_restarted() -> None:
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
                "grouped", grouped, stats, restart_delay_s=0.0, task_status=task_status
            )
        )
        with trio.fail_after(5):
            while stats.crashes < 1 or stats.starts < 2:  # noqa: ASYNC110
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert stats.last_error is not None


async def _raise() -> None:
    raise ValueError("inner")


async def test_first_start_failure_propagates() -> None:
    async def broken(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        raise OSError("address already in use")

    # Unwrapped from the supervisor's inner nursery: start() raises the OSError itself.
    with pytest.raises(OSError, match="address already in use"):
        await supervise("broken", broken, SupervisorStats("broken"), restart_delay_s=0.0)
