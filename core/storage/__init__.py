"""Storage: the show model, users, content assets, schedules, audit log and runtime state.

    async with open_storage(config.storage, state_dir) as store:
        show = await store.show.get_show()

`Storage` (base.py) is the interface: one store per aggregate (`show`, `patch`, `schedules`,
`assets`, `users`, `audit`, `state`, `devices`, `tokens`), each in its own module with its
interface and its SQL. `SQLiteStorage` (default) and `PostgresStorage` compose them over their
driver with the same behaviour (sql.py). Migrations run when the store opens (schema.py). The
show file format is in showfile.py and docs/show-file.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import trio

from trocadero.config.schema import StorageConfig
from trocadero.core.containment import contain_asyncio_errors

from .base import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Conflict,
    NotFound,
    Page,
    SchemaError,
    Storage,
    StorageError,
    StoreCorrupt,
    ValidationError,
)

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_SQLITE_NAME",
    "MAX_LIMIT",
    "Conflict",
    "NotFound",
    "Page",
    "SchemaError",
    "Storage",
    "StorageError",
    "StoreCorrupt",
    "ValidationError",
    "fleet_sqlite_path",
    "open_storage",
    "sqlite_path",
]

DEFAULT_SQLITE_NAME = "trocadero.db"


def sqlite_path(config: StorageConfig, state_dir: Path) -> Path:
    """The SQLite file: `sqlite_path` (relative to the state directory), or trocadero.db."""
    return state_dir / (config.sqlite_path or DEFAULT_SQLITE_NAME)


def fleet_sqlite_path(config: StorageConfig, state_dir: Path) -> Path | None:
    """The fleet's own SQLite file, or None when it shares the main one."""
    return state_dir / config.fleet_sqlite_path if config.fleet_sqlite_path else None


@asynccontextmanager
async def open_storage(config: StorageConfig, state_dir: Path) -> AsyncIterator[Storage]:
    """Open the configured backend, apply pending migrations, close on exit.

    For PostgreSQL the store runs on the current `trio_asyncio` loop: the daemon opens one with
    `async with trio_asyncio.open_loop():` around everything that uses asyncio (storage,
    Redis). Without one, a loop is opened here for the store's lifetime.
    """
    own_loop = False
    try:
        async with AsyncExitStack() as stack:
            store: Storage
            if config.backend == "sqlite":
                from .sqlite import SQLiteStorage

                store = await SQLiteStorage.open(
                    sqlite_path(config, state_dir), fleet=fleet_sqlite_path(config, state_dir)
                )
            else:
                import trio_asyncio

                from .postgres import PostgresStorage

                loop = trio_asyncio.current_loop.get()
                if loop is None:
                    loop = await stack.enter_async_context(trio_asyncio.open_loop())
                    contain_asyncio_errors(loop)
                    own_loop = True
                store = await PostgresStorage.open(
                    config.postgres_dsn,
                    loop=loop,
                    pool_min=config.pool_min,
                    pool_max=config.pool_max,
                    command_timeout_s=config.command_timeout_s,
                )
            try:
                yield store
            finally:
                with trio.CancelScope(shield=True):  # close is bounded (PostgreSQL: 5 s at most)
                    await store.close()
    except BaseExceptionGroup as group:
        # The loop opened here is a nursery, which wraps whatever passes through it in an
        # ExceptionGroup; a single error (SchemaError, NotFound, …) comes out as itself.
        leaves = list(_leaves(group))
        if not own_loop or len(leaves) != 1:
            raise
        raise leaves[0] from None


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc
