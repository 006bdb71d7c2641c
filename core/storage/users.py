"""The user store: accounts (role, password hash, e-mail, disabled, last login).

User names are unique, and so are non-empty e-mails ignoring case (Conflict otherwise).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any

from ..model import Role, User
from .base import DEFAULT_LIMIT, Conflict, NotFound, Page, row_id
from .driver import Tx
from .sqlkit import SqlPart, Table, aware, keyset_page, validated

__all__ = ["SqlUserStore", "UserStore"]

USERS = Table("users", User, generated=("id",))


class UserStore(ABC):
    @abstractmethod
    async def create_user(
        self,
        username: str,
        *,
        role: Role,
        password_hash: str,
        email: str = "",
        disabled: bool = False,
    ) -> User:
        """Conflict if the username (or a non-empty email) is taken."""

    @abstractmethod
    async def get_user(self, username: str) -> User: ...

    @abstractmethod
    async def get_user_by_id(self, user_id: int) -> User: ...

    @abstractmethod
    async def list_users(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[User]:
        """In username order."""

    @abstractmethod
    async def update_user(
        self,
        username: str,
        *,
        role: Role | None = None,
        disabled: bool | None = None,
        email: str | None = None,
        password_hash: str | None = None,
    ) -> User:
        """Change the given fields only."""

    @abstractmethod
    async def record_login(self, username: str, at: datetime | None = None) -> None: ...


class SqlUserStore(SqlPart, UserStore):
    async def _user(self, tx: Tx, where: str, arg: Any, what: str) -> User:
        row = await tx.fetchrow(f"SELECT {USERS.columns} FROM users WHERE {where}", arg)
        if row is None:
            raise NotFound(f"no user {what}")
        return USERS.decode(row, self._d)

    async def _user_free(self, tx: Tx, user: User) -> None:
        taken = await tx.fetchval(
            "SELECT id FROM users WHERE username = ? AND id <> ?", user.username, user.id
        )
        if taken is not None:
            raise Conflict(f'the username "{user.username}" is taken')
        if user.email:
            taken = await tx.fetchval(
                "SELECT id FROM users WHERE lower(email) = lower(?) AND email <> '' AND id <> ?",
                user.email,
                user.id,
            )
            if taken is not None:
                raise Conflict(f'the email "{user.email}" belongs to another user')

    async def create_user(
        self,
        username: str,
        *,
        role: Role,
        password_hash: str,
        email: str = "",
        disabled: bool = False,
    ) -> User:
        user = validated(
            User(
                username=username,
                email=email,
                role=role,
                password_hash=password_hash,
                disabled=disabled,
                created_at=datetime.now(UTC),
            )
        )
        async with self._db.transaction(write=True) as tx:
            await self._user_free(tx, user)
            new_id = await tx.fetchval(
                USERS.insert_sql(returning="id"), *USERS.encode(user, self._d)
            )
            return await self._user(tx, "id = ?", int(new_id), str(new_id))

    async def get_user(self, username: str) -> User:
        async with self._read() as tx:
            return await self._user(tx, "username = ?", username, f'"{username}"')

    async def get_user_by_id(self, user_id: int) -> User:
        async with self._read() as tx:
            return await self._user(tx, "id = ?", row_id(user_id, "user"), f"with id {user_id}")

    async def list_users(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[User]:
        async with self._read() as tx:
            rows, nxt = await keyset_page(
                tx,
                select=f"SELECT {USERS.columns} FROM users",
                key="username",
                kind="users",
                cursor=cursor,
                limit=limit,
            )
        return Page(tuple(USERS.decode(r, self._d) for r in rows), nxt)

    async def update_user(
        self,
        username: str,
        *,
        role: Role | None = None,
        disabled: bool | None = None,
        email: str | None = None,
        password_hash: str | None = None,
    ) -> User:
        async with self._db.transaction(write=True) as tx:
            user = await self._user(tx, "username = ?", username, f'"{username}"')
            changes: dict[str, Any] = {
                k: v
                for k, v in (
                    ("role", role),
                    ("disabled", disabled),
                    ("email", email),
                    ("password_hash", password_hash),
                )
                if v is not None
            }
            user = validated(dataclasses.replace(user, **changes))
            await self._user_free(tx, user)
            await tx.execute(USERS.update_sql("id = ?"), *USERS.encode(user, self._d), user.id)
            return await self._user(tx, "id = ?", user.id, str(user.id))

    async def record_login(self, username: str, at: datetime | None = None) -> None:
        when = aware(at, "at") if at is not None else datetime.now(UTC)
        async with self._db.transaction(write=True) as tx:
            changed = await tx.execute(
                "UPDATE users SET last_login = ? WHERE username = ?", self._d.enc_ts(when), username
            )
        if not changed:
            raise NotFound(f'no user "{username}"')
