"""The runtime-state store: JSON documents by key (the playback state a restart resumes from).

Writes are durable when they return (SQLite FULL sync; PostgreSQL synchronous commit). The
audit store writes a command's state in the command's own commit (`state_write`, audit.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .base import StorageError, ValidationError
from .driver import Dialect
from .sqlkit import SqlPart

__all__ = ["SqlStateStore", "StateStore", "state_write"]


class StateStore(ABC):
    @abstractmethod
    async def save_state(self, key: str, doc: Mapping[str, Any]) -> None:
        """Store a JSON document under `key`; durable (on disk) when this returns."""

    @abstractmethod
    async def load_state(self, key: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def delete_state(self, key: str) -> None: ...


def state_write(d: Dialect, key: str, doc: Mapping[str, Any]) -> tuple[str, Sequence[Any]]:
    """The statement that stores `doc` under `key`, for a batch of writes."""
    try:
        text = d.enc_json(dict(doc))
    except (TypeError, ValueError) as exc:
        raise ValidationError([f"doc: not storable as JSON: {exc}"]) from exc
    return (
        "INSERT INTO runtime_state (key, doc, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET doc = excluded.doc,"
        " updated_at = excluded.updated_at",
        (key, text, d.enc_ts(datetime.now(UTC))),
    )


class SqlStateStore(SqlPart, StateStore):
    async def save_state(self, key: str, doc: Mapping[str, Any]) -> None:
        await self._db.write_batch([state_write(self._d, key, doc)], durable=True)

    async def load_state(self, key: str) -> dict[str, Any] | None:
        async with self._read() as tx:
            value = await tx.fetchval("SELECT doc FROM runtime_state WHERE key = ?", key)
        if value is None:
            return None
        doc = self._d.dec_json(value)
        if not isinstance(doc, dict):
            raise StorageError(f'runtime state "{key}" is not a JSON object')
        return doc

    async def delete_state(self, key: str) -> None:
        async with self._db.transaction(write=True, durable=True) as tx:
            await tx.execute("DELETE FROM runtime_state WHERE key = ?", key)
