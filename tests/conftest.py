"""Fixtures shared across test folders."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    """(master fd, slave path); the output under test opens the slave by its path."""
    # The test keeps the slave open too: with no slave fd open, reading the master fails
    # with EIO (e.g. before the output has opened the device).
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.set_blocking(master, False)
    try:
        yield master, path
    finally:
        for fd in (master, slave):
            try:
                os.close(fd)
            except OSError:
                pass
