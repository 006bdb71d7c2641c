"""One storage suite, two backends: every test taking `store` (or `new_store`) runs on SQLite
(a file in tmp_path) and on a real PostgreSQL (a fresh database on the session's cluster)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer
from trocadero.config.loader import load_default_show
from trocadero.config.schema import StorageConfig
from trocadero.config.show import ShowDef
from trocadero.core.storage import Storage, open_storage

StoreFactory = Callable[[], AbstractAsyncContextManager[Storage]]
"""Opens the test's store (the same database each call: for reopen tests)."""


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def config_factory(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], StorageConfig]]:
    """Each call: the config of another new, empty database on the test's backend."""
    counter = itertools.count()
    made: list[str] = []
    server: PostgresServer | None = (
        request.getfixturevalue("postgres_server") if backend == "postgres" else None
    )

    def make() -> StorageConfig:
        n = next(counter)
        if server is None:
            return StorageConfig(backend="sqlite", sqlite_path=f"store-{n}.db")
        name = f"t_{uuid.uuid4().hex[:16]}"
        made.append(name)
        dsn = server.create_database(name)
        return StorageConfig(backend="postgres", postgres_dsn=dsn, pool_min=1, pool_max=4)

    yield make
    if server is not None:
        for name in made:
            server.drop_database(name)


@pytest.fixture
def store_config(config_factory: Callable[[], StorageConfig]) -> StorageConfig:
    return config_factory()


@pytest.fixture
def open_store(store_config: StorageConfig, tmp_path: Path) -> StoreFactory:
    return lambda: open_storage(store_config, tmp_path)


@pytest.fixture
def new_store(config_factory: Callable[[], StorageConfig], tmp_path: Path) -> StoreFactory:
    """Each call opens another new, empty store on the same backend."""
    return lambda: open_storage(config_factory(), tmp_path)


@pytest.fixture
async def store(open_store: StoreFactory) -> AsyncIterator[Storage]:
    async with open_store() as s:
        yield s


@pytest.fixture(scope="session")
def default_show() -> ShowDef:
    return replace(load_default_show(), fixtures_csv="")
