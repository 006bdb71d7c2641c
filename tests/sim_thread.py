"""A simulated MDVR device (playout/mdvr/sim.py) running in a thread of the test process, so
a synchronous test (Playwright's, httpx's) can drive a daemon and read what the device sent
(`SimDevice.sent_at`, its statistics) and what it was asked (`received`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import trio

from trocadero.playout.mdvr.sim import SimDevice


class SimThread:
    def __init__(self, device: SimDevice) -> None:
        self.device = device
        self._token: trio.lowlevel.TrioToken | None = None
        self._cancel: trio.CancelScope | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mdvr-sim", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            with trio.CancelScope() as scope:
                self._cancel = scope
                self._ready.set()
                await self.device.run(reconnect_s=0.2)

        trio.run(main)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` on the simulator's Trio thread (its scopes are not thread-safe)."""
        assert self._token is not None
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        if self._cancel is not None and self._thread.is_alive():
            try:
                self.call(self._cancel.cancel)
            except trio.RunFinishedError:
                pass  # refused: it stopped by itself
        self._thread.join(10)


@contextmanager
def sim_thread(device: SimDevice) -> Iterator[SimThread]:
    sim = SimThread(device)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
