"""The snapshot store: show documents kept once per distinct content (`show_documents`, by
SHA-256, compressed) and the history of snapshots naming them (`show_snapshots`: who, when,
why, the snapshot before). Rows are never updated or deleted: a snapshot is immutable."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import trio

from ..snapshots import SnapshotInfo, compress, decompress, digest
from .base import DEFAULT_LIMIT, NotFound, Page, ValidationError
from .driver import Row, Tx
from .sqlkit import SqlPart, keyset_page

__all__ = ["SnapshotStore", "SqlSnapshotStore"]

_COLUMNS = "id, hash, created_at, actor, message, parent"


def _cursor_id(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError([f"cursor: not a cursor of this listing (got {value!r})"])
    return value


class SnapshotStore(ABC):
    @abstractmethod
    async def record(
        self, doc: Mapping[str, Any], *, actor: str, message: str
    ) -> SnapshotInfo | None:
        """Add a snapshot of `doc` (the show file document); None when the newest snapshot
        already has this content (nothing changed, nothing added)."""

    @abstractmethod
    async def latest(self) -> SnapshotInfo | None: ...

    @abstractmethod
    async def list_snapshots(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[SnapshotInfo]:
        """Newest first."""

    @abstractmethod
    async def get_document(self, hash_: str) -> dict[str, Any]:
        """The show document with this hash (NotFound when no snapshot has it)."""

    @abstractmethod
    async def get_snapshot(self, hash_: str) -> SnapshotInfo:
        """The newest snapshot of this content (NotFound when none)."""


class SqlSnapshotStore(SqlPart, SnapshotStore):
    def _info(self, row: Row) -> SnapshotInfo:
        return SnapshotInfo(
            hash=row["hash"],
            created_at=self._d.dec_ts(row["created_at"]),
            actor=row["actor"],
            message=row["message"],
            parent=row["parent"],
        )

    async def _newest(self, tx: Tx) -> Row | None:
        return await tx.fetchrow(f"SELECT {_COLUMNS} FROM show_snapshots ORDER BY id DESC LIMIT 1")

    async def record(
        self, doc: Mapping[str, Any], *, actor: str, message: str
    ) -> SnapshotInfo | None:
        # Hashing and compressing a whole show is CPU work: off the Trio thread.
        hash_ = await trio.to_thread.run_sync(digest, doc)
        d = self._d
        async with self._db.transaction(write=True) as tx:
            newest = await self._newest(tx)
            if newest is not None and newest["hash"] == hash_:
                return None
            known = await tx.fetchrow("SELECT hash FROM show_documents WHERE hash = ?", hash_)
            if known is None:
                blob = await trio.to_thread.run_sync(compress, doc)
                await tx.execute(
                    "INSERT INTO show_documents (hash, document) VALUES (?, ?)", hash_, blob
                )
            at = datetime.now(UTC)
            parent = None if newest is None else newest["hash"]
            await tx.execute(
                "INSERT INTO show_snapshots (hash, created_at, actor, message, parent)"
                " VALUES (?, ?, ?, ?, ?)",
                hash_,
                d.enc_ts(at),
                actor,
                message,
                parent,
            )
        # The stored timestamp's precision (SQLite keeps microseconds as text, PostgreSQL too).
        return SnapshotInfo(hash_, d.dec_ts(d.enc_ts(at)), actor, message, parent)

    async def latest(self) -> SnapshotInfo | None:
        async with self._read() as tx:
            row = await self._newest(tx)
        return None if row is None else self._info(row)

    async def list_snapshots(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[SnapshotInfo]:
        async with self._read() as tx:
            rows, nxt = await keyset_page(
                tx,
                select=f"SELECT {_COLUMNS} FROM show_snapshots",
                key="id",
                kind="snapshots",
                cursor=cursor,
                limit=limit,
                desc=True,
                enc_key=_cursor_id,
            )
        return Page(tuple(self._info(r) for r in rows), nxt)

    async def get_document(self, hash_: str) -> dict[str, Any]:
        async with self._read() as tx:
            row = await tx.fetchrow("SELECT document FROM show_documents WHERE hash = ?", hash_)
        if row is None:
            raise NotFound(f"no snapshot {hash_}")
        return await trio.to_thread.run_sync(decompress, bytes(row["document"]))

    async def get_snapshot(self, hash_: str) -> SnapshotInfo:
        async with self._read() as tx:
            row = await tx.fetchrow(
                f"SELECT {_COLUMNS} FROM show_snapshots WHERE hash = ? ORDER BY id DESC LIMIT 1",
                hash_,
            )
        if row is None:
            raise NotFound(f"no snapshot {hash_}")
        return self._info(row)
