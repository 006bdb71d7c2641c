"""How a supervised child process (the MDVR gateway, a camera's blob tracker) ended, and
stopping one: shared by their parents so both say and do the same."""

from __future__ import annotations

import signal

import trio

__all__ = ["exit_status", "stop_child"]


async def exit_status(process: trio.Process, grace_s: float, unfinished: str) -> str:
    """Its exit in words, waiting up to `grace_s` for it; `unfinished` if it has not exited."""
    with trio.move_on_after(grace_s):
        await process.wait()
    code = process.returncode
    if code is None:
        return unfinished
    if code < 0:
        return f"killed by signal {-code}"
    return f"exit status {code}"


async def stop_child(process: trio.Process, grace_s: float, *, wait_first: bool) -> None:
    """SIGTERM (after waiting `grace_s` for it to stop by itself when `wait_first`), then
    SIGKILL if it is still there `grace_s` later."""
    if wait_first:
        with trio.move_on_after(grace_s):
            await process.wait()
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(grace_s):
            await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()
