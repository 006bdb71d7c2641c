"""Whose fleet rows a transaction may touch: the tenant scope, carried in a context variable.

The request's identity sets it (a session or token names a tenant; the lighting roles belong
to the default tenant) and the PostgreSQL driver turns it into `SET LOCAL
app.current_tenant_id` at the start of every transaction, where row-level security holds each
statement to that tenant's rows (docs/fleet.md). `as_super_admin` is the one way to see every
tenant: the driver writes an audit entry in the same transaction, so a super_admin read or
write commits with its audit row or not at all. SQLite is single-tenant and ignores the scope.

A context variable, because Trio copies it into the tasks a task starts: a device session's
tasks keep the device's tenant without passing it through every call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final

DEFAULT_TENANT: Final = 1


@dataclass(frozen=True, slots=True)
class TenantScope:
    tenant_id: int | None  # None: no tenant (a super_admin scope over all of them)
    super_admin: bool = False
    actor: str = ""  # who, for the super_admin audit entry
    reason: str = ""  # why, likewise

    def setting(self) -> str:
        """The value of `app.current_tenant_id` ("" = none: no row matches)."""
        return "" if self.tenant_id is None else str(self.tenant_id)


DEFAULT_SCOPE: Final = TenantScope(DEFAULT_TENANT)
_scope: ContextVar[TenantScope | None] = ContextVar("trocadero_tenant_scope", default=None)


def current() -> TenantScope:
    """The default tenant's unless a scope was entered (the lighting side never enters one)."""
    return _scope.get() or DEFAULT_SCOPE


@contextmanager
def as_tenant(tenant_id: int) -> Iterator[TenantScope]:
    """Transactions inside act for `tenant_id` only."""
    if tenant_id < 1:
        raise ValueError(f"tenant id {tenant_id}: ids start at 1")
    scope = TenantScope(tenant_id)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def bind(tenant_id: int) -> None:
    """For the rest of the calling task (and the tasks it starts from now on): a device
    session, once the registry has said whose device it is."""
    if tenant_id < 1:
        raise ValueError(f"tenant id {tenant_id}: ids start at 1")
    _scope.set(TenantScope(tenant_id))


@contextmanager
def as_super_admin(actor: str, reason: str) -> Iterator[TenantScope]:
    """Transactions inside see every tenant; each one is audited (actor, reason)."""
    if not actor or not reason:
        raise ValueError("the super_admin path needs an actor and a reason (they are audited)")
    scope = TenantScope(None, super_admin=True, actor=actor, reason=reason)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)
