"""A pseudo-terminal pair standing in for a USB-serial DMX interface (/dev/ttyUSB*)."""

from __future__ import annotations

import os
import select
import time


def read_bytes(master: int, n: int, timeout: float = 3.0) -> bytes:
    """Exactly `n` bytes from the master side, or an assertion after `timeout`."""
    out = bytearray()
    deadline = time.monotonic() + timeout
    while len(out) < n:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out after {len(out)} of {n} bytes"
        if select.select([master], [], [], left)[0]:
            try:
                out += os.read(master, n - len(out))
            except BlockingIOError:
                pass
    return bytes(out)
