"""Refresh-token storage (migration 5): hashed, rotating, revocable.

The auth layer (`core.auth`) makes the tokens and hashes them; this module only stores hashes.
Rotation is one transaction: the presented token is revoked and its successor inserted, or
nothing changes. A rotated-out token presented again is reuse (a stolen copy raced the real
client): the whole family is revoked, so both copies stop working.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from .driver import Driver, Tx

__all__ = ["RefreshGrant", "SqlTokenStore", "TokenStore"]

# Revocations read back at once: logins are rate-limited per address, so far more than one
# access-token lifetime holds; past it the newest win (the oldest expire first anyway).
_MAX_REVOKED = 100_000

Outcome = Literal["ok", "unknown", "expired", "revoked", "reused"]


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """What a refresh attempt found: ``outcome`` and, for "ok", whose token it was."""

    outcome: Outcome
    username: str = ""
    family: str = ""


class TokenStore(ABC):
    @abstractmethod
    async def issue(
        self, token_hash: str, *, family: str, username: str, expires_at: datetime
    ) -> None: ...

    @abstractmethod
    async def owner(self, token_hash: str) -> str | None:
        """The user name a stored token (live or not) belongs to."""

    @abstractmethod
    async def rotate(
        self, old_hash: str, new_hash: str, *, expires_at: datetime, now: datetime | None = None
    ) -> RefreshGrant:
        """Revoke `old_hash` and issue `new_hash` in its family, if `old_hash` is live."""

    @abstractmethod
    async def revoke(self, token_hash: str, *, reason: str = "logout") -> RefreshGrant:
        """Revoke the family of this token: outcome "revoked" with whose family it was, or
        "unknown"."""

    @abstractmethod
    async def revoke_user(self, username: str, *, reason: str) -> int:
        """Revoke every live token of a user (password change, account disabled)."""

    @abstractmethod
    async def revoked_families(self, since: datetime) -> list[tuple[str, datetime]]:
        """(family, when) for every family revoked at or after `since` for a reason other
        than rotation (logout, reuse, account change): their access tokens are refused."""


class SqlTokenStore(TokenStore):
    def __init__(self, driver: Driver) -> None:
        self._db = driver
        self._d = driver.dialect

    async def issue(
        self, token_hash: str, *, family: str, username: str, expires_at: datetime
    ) -> None:
        async with self._db.transaction(write=True) as tx:
            await self._insert(tx, token_hash, family, username, expires_at)

    async def _insert(
        self, tx: Tx, token_hash: str, family: str, username: str, expires_at: datetime
    ) -> None:
        await tx.execute(
            "INSERT INTO refresh_tokens (token_hash, family, username, issued_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            token_hash,
            family,
            username,
            self._d.enc_ts(datetime.now(UTC)),
            self._d.enc_ts(expires_at),
        )

    async def owner(self, token_hash: str) -> str | None:
        async with self._db.transaction(write=False) as tx:
            value = await tx.fetchval(
                "SELECT username FROM refresh_tokens WHERE token_hash = ?", token_hash
            )
        return None if value is None else str(value)

    async def rotate(
        self, old_hash: str, new_hash: str, *, expires_at: datetime, now: datetime | None = None
    ) -> RefreshGrant:
        at = now or datetime.now(UTC)
        async with self._db.transaction(write=True) as tx:
            row = await tx.fetchrow(
                "SELECT family, username, expires_at, revoked_at, revoked_reason"
                " FROM refresh_tokens WHERE token_hash = ?",
                old_hash,
            )
            if row is None:
                return RefreshGrant("unknown")
            family, username = str(row["family"]), str(row["username"])
            if row["revoked_at"] is not None:
                if row["revoked_reason"] == "rotated":
                    await self._revoke_family(tx, family, "reuse detected", at)
                    return RefreshGrant("reused", username, family)
                return RefreshGrant("revoked", username, family)
            if self._d.dec_ts(row["expires_at"]) <= at:
                return RefreshGrant("expired", username, family)
            changed = await tx.execute(
                "UPDATE refresh_tokens SET revoked_at = ?, revoked_reason = 'rotated'"
                " WHERE token_hash = ? AND revoked_at IS NULL",
                self._d.enc_ts(at),
                old_hash,
            )
            if changed != 1:  # a concurrent rotation won the race: treat as reuse
                await self._revoke_family(tx, family, "reuse detected", at)
                return RefreshGrant("reused", username, family)
            await self._insert(tx, new_hash, family, username, expires_at)
            return RefreshGrant("ok", username, family)

    async def _revoke_family(self, tx: Tx, family: str, reason: str, at: datetime) -> int:
        return await tx.execute(
            "UPDATE refresh_tokens SET revoked_at = ?, revoked_reason = ?"
            " WHERE family = ? AND revoked_at IS NULL",
            self._d.enc_ts(at),
            reason,
            family,
        )

    async def revoke(self, token_hash: str, *, reason: str = "logout") -> RefreshGrant:
        async with self._db.transaction(write=True) as tx:
            row = await tx.fetchrow(
                "SELECT family, username FROM refresh_tokens WHERE token_hash = ?", token_hash
            )
            if row is None:
                return RefreshGrant("unknown")
            family = str(row["family"])
            await self._revoke_family(tx, family, reason, datetime.now(UTC))
            return RefreshGrant("revoked", str(row["username"]), family)

    async def revoke_user(self, username: str, *, reason: str) -> int:
        async with self._db.transaction(write=True) as tx:
            return await tx.execute(
                "UPDATE refresh_tokens SET revoked_at = ?, revoked_reason = ?"
                " WHERE username = ? AND revoked_at IS NULL",
                self._d.enc_ts(datetime.now(UTC)),
                reason,
                username,
            )

    async def revoked_families(self, since: datetime) -> list[tuple[str, datetime]]:
        async with self._db.transaction(write=False) as tx:
            rows = await tx.fetch(
                "SELECT family, MAX(revoked_at) AS at FROM refresh_tokens"
                " WHERE revoked_at >= ? AND revoked_reason <> 'rotated' GROUP BY family"
                " ORDER BY at DESC LIMIT ?",
                self._d.enc_ts(since),
                _MAX_REVOKED,
            )
        return [(str(r["family"]), self._d.dec_ts(r["at"])) for r in rows]
