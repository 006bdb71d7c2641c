"""The storage interface: the show model, users, content assets, schedules, the audit log and
runtime state, behind one async API with two backends (SQLite, PostgreSQL). `Storage` composes
one store per aggregate (`store.show`, `store.patch`, `store.schedules`, `store.assets`,
`store.users`, `store.audit`, `store.state`, `store.devices`, `store.tokens`); each store's
interface is in its own module. This module holds what they share: errors and `Page`.

Every method is `async` and safe to call from Trio tasks concurrently. Every list method is
paged: `limit` (default 100, at most 1000) and an opaque `cursor` from the previous page's
`Page.next`; nothing fetches an unbounded number of rows in one go (a 100k-row fetch holds the
GIL for ~150 ms, docs/design.md). Objects are the frozen dataclasses of `config/show.py` and
`core/model.py`; whatever is written is validated first (`ValidationError` lists every
problem, nothing is written).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from trocadero.config.fields import PAGE_DEFAULT, PAGE_MAX

from ..errors import ConflictError, InvalidDocument, NotFoundError, UnavailableError

if TYPE_CHECKING:
    from .assets import AssetStore
    from .audit import AuditStore
    from .devices import DeviceStore
    from .patch import PatchStore
    from .rules import RuleStore
    from .schedules import ScheduleStore
    from .show import ShowStore
    from .snapshots import SnapshotStore
    from .state import StateStore
    from .tenants import SqlTenantStore
    from .tokens import TokenStore
    from .users import UserStore

T = TypeVar("T")

DEFAULT_LIMIT: Final = PAGE_DEFAULT
MAX_LIMIT: Final = PAGE_MAX


class StorageError(UnavailableError):
    """The store could not do what was asked (database unreachable, corrupt, …)."""


class NotFound(StorageError, NotFoundError):
    """The named object does not exist."""


class Conflict(StorageError, ConflictError):
    """The change clashes with what is stored: a duplicate name, or an object still in use."""


class ValidationError(StorageError, InvalidDocument):
    """The input is invalid; `problems` has one `key.path: what is wrong (got X)` per line."""


class StoreCorrupt(StorageError):
    """The store is damaged (not a database, a malformed page): nothing to seed over."""


class SchemaError(StorageError):
    """The database schema cannot be used by this version of trocadero."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; `next` is the cursor for the following page (None: last page)."""

    items: tuple[T, ...]
    next: str | None = None


MAX_ROW_ID = 2**63 - 1  # ids are 64-bit (SQLite INTEGER, PostgreSQL bigserial)


def row_id(value: int, what: str) -> int:
    """An id as the database can hold it; NotFound for one it never could (a fuzzer's
    2^80 must be a 404, not an overflow deep in the driver)."""
    if not 0 < int(value) <= MAX_ROW_ID:
        raise NotFound(f"{what} {value} not found")
    return int(value)


class Storage(ABC):
    """The store: one sub-store per aggregate, all over the same database. Open with
    `open_storage()`; it applies pending migrations on open.

        await store.show.put_look(look)
        await store.audit.append_audit(actor=..., role=..., origin=..., action=...)
    """

    backend: str = ""

    @property
    @abstractmethod
    def show(self) -> ShowStore:
        """Settings, looks, cue lists and cues, and the show as a whole (show.py)."""

    @property
    @abstractmethod
    def patch(self) -> PatchStore:
        """Canvases, fixture types and fixtures (patch.py)."""

    @property
    @abstractmethod
    def schedules(self) -> ScheduleStore:
        """Recurrence entries that fire looks, cue lists and cues (schedules.py)."""

    @property
    @abstractmethod
    def assets(self) -> AssetStore:
        """Content assets and their versions (assets.py)."""

    @property
    @abstractmethod
    def users(self) -> UserStore:
        """Accounts (users.py)."""

    @property
    @abstractmethod
    def audit(self) -> AuditStore:
        """The audit log (audit.py); commits a command's playback state with its entry when
        `audit.commits_with(state)`."""

    @property
    @abstractmethod
    def state(self) -> StateStore:
        """Runtime state documents: the playback state for restart (state.py)."""

    @property
    @abstractmethod
    def rules(self) -> RuleStore:
        """Trigger rules, as their documents (rules.py)."""

    @property
    @abstractmethod
    def devices(self) -> DeviceStore:
        """Devices, positions, alarms and downloaded files of the MDVR gateway (devices.py)."""

    @property
    @abstractmethod
    def tenants(self) -> SqlTenantStore:
        """Tenants and the device registry, beside the fleet's tables (tenants.py)."""

    @property
    @abstractmethod
    def tokens(self) -> TokenStore:
        """Hashed, rotating refresh tokens of the auth layer (tokens.py)."""

    @property
    @abstractmethod
    def snapshots(self) -> SnapshotStore:
        """Content-addressed snapshots of the whole show (snapshots.py)."""

    @abstractmethod
    async def schema_version(self) -> int: ...

    @abstractmethod
    async def close(self) -> None: ...
