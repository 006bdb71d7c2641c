"""Fixtures shared across test folders."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer, PostgresUnavailable
from tests.redis_server import RedisServer, RedisUnavailable


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster for the whole session (tests/postgres_server.py).

    Missing binaries fail the test loudly: the storage suite must run on both backends.
    """
    # Not under pytest's tmp_path: that is private to root (0700), and the server runs as
    # the postgres user.
    base = Path(tempfile.mkdtemp(prefix="trocadero-pg-"))
    try:
        server = PostgresServer.start(base)
    except PostgresUnavailable as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"PostgreSQL is required for these tests: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """A DSN to a fresh, empty database of this test's own (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    dsn = postgres_server.create_database(name)
    try:
        yield dsn
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A throwaway Redis server of this test's own (tests/redis_server.py); missing
    binaries fail the test loudly."""
    try:
        server = RedisServer.start(tmp_path / "redis")
    except RedisUnavailable as exc:
        pytest.fail(f"Redis is required for these tests: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
