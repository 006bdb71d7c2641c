"""The audit log: who did what, in what role, through which interface, from where.

A command that changes playback also saves the playback state; when the state store lives in
the same database (`commits_with`), the entry and the state go in one durable commit (one
fsync: the command's reply waits for it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .. import correlation, tracing
from ..codec import from_plain, to_plain
from ..model import AuditEntry
from .base import DEFAULT_LIMIT, Page, ValidationError
from .sqlkit import SqlPart, Table, aware, keyset_page
from .state import SqlStateStore, state_write

__all__ = ["AuditStore", "SqlAuditStore"]

AUDIT = Table("audit_log", AuditEntry, generated=("id",))


class AuditStore(ABC):
    @abstractmethod
    async def append_audit(
        self,
        *,
        actor: str,
        role: str,
        origin: str,
        action: str,
        target: str = "",
        detail: Mapping[str, Any] | None = None,
        address: str = "",
        at: datetime | None = None,
        state: tuple[str, Mapping[str, Any]] | None = None,
        request_id: str | None = None,
    ) -> None:
        """Record one command (`at` defaults to now). With `state` = (key, doc), that runtime
        state is saved in the same durable transaction (`save_state`'s promise), in this
        store's database: pass it only for a state store this one `commits_with`.
        `request_id` defaults to the correlation id bound where it is called (or "")."""

    @abstractmethod
    async def list_audit(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        origin: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        request_id: str | None = None,
    ) -> Page[AuditEntry]:
        """Newest first. `action` is exact, or a prefix when it ends in "*" ("cue.*");
        `since` is inclusive, `until` exclusive."""

    @abstractmethod
    async def prune_audit(self, before: datetime) -> int:
        """Delete entries older than `before`; returns how many."""

    @abstractmethod
    def commits_with(self, state: object) -> bool:
        """True when `state` (a state store) keeps its documents in this store's database, so
        `append_audit(state=…)` saves what its `save_state` would, in the entry's commit."""


class SqlAuditStore(SqlPart, AuditStore):
    def commits_with(self, state: object) -> bool:
        return isinstance(state, SqlStateStore) and self.shares_driver(state)

    async def append_audit(
        self,
        *,
        actor: str,
        role: str,
        origin: str,
        action: str,
        target: str = "",
        detail: Mapping[str, Any] | None = None,
        address: str = "",
        at: datetime | None = None,
        state: tuple[str, Mapping[str, Any]] | None = None,
        request_id: str | None = None,
    ) -> None:
        plain = {
            "at": aware(at, "at") if at is not None else datetime.now(UTC),
            "actor": actor,
            "role": role,
            "origin": origin,
            "action": action,
            "target": target,
            "address": address,
            "request_id": correlation.current() if request_id is None else request_id,
        }
        try:
            plain["detail"] = to_plain(dict(detail or {}))
        except (TypeError, ValueError) as exc:
            raise ValidationError([f"detail: {exc}"]) from exc
        entry, problems = from_plain(AuditEntry, plain)
        if entry is None:
            raise ValidationError(problems)
        writes: list[tuple[str, Sequence[Any]]] = [
            (AUDIT.insert_sql(), AUDIT.encode(entry, self._d))
        ]
        if state is not None:
            writes.append(state_write(self._d, *state))
        attributes = {"db.operation.name": "audit.append", "trocadero.audit.action": action}
        with tracing.span("storage.commit", attributes):
            await self._db.write_batch(writes, durable=state is not None)

    async def list_audit(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        origin: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        request_id: str | None = None,
    ) -> Page[AuditEntry]:
        d = self._d
        where: list[str] = []
        args: list[Any] = []
        if actor is not None:
            where.append("actor = ?")
            args.append(actor)
        if action is not None and action.endswith("*"):
            prefix = action[:-1]
            # substr, not LIKE: SQLite's LIKE ignores case and both treat % and _ specially.
            where.append("substr(action, 1, ?) = ?")
            args += [len(prefix), prefix]
        elif action is not None:
            where.append("action = ?")
            args.append(action)
        if origin is not None:
            where.append("origin = ?")
            args.append(origin)
        if request_id is not None:
            where.append("request_id = ?")
            args.append(request_id)
        if since is not None:
            where.append("at >= ?")
            args.append(d.enc_ts(aware(since, "since")))
        if until is not None:
            where.append("at < ?")
            args.append(d.enc_ts(aware(until, "until")))
        async with self._read() as tx:
            rows, nxt = await keyset_page(
                tx,
                select=f"SELECT {AUDIT.columns} FROM audit_log",
                key="id",
                kind="audit",
                cursor=cursor,
                limit=limit,
                where=where,
                args=args,
                desc=True,
            )
        return Page(tuple(AUDIT.decode(r, d) for r in rows), nxt)

    async def prune_audit(self, before: datetime) -> int:
        async with self._db.transaction(write=True) as tx:
            return await tx.execute(
                "DELETE FROM audit_log WHERE at < ?", self._d.enc_ts(aware(before, "before"))
            )
