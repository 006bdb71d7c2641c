"""The storage interface: the show model, users, content assets, schedules, the audit log and
runtime state, behind one async API with two backends (SQLite, PostgreSQL).

Every method is `async` and safe to call from Trio tasks concurrently. Every list method is
paged: `limit` (default 100, at most 1000) and an opaque `cursor` from the previous page's
`Page.next`; nothing fetches an unbounded number of rows in one go (a 100k-row fetch holds the
GIL for ~150 ms, DESIGN.md). Objects are the frozen dataclasses of `config/show.py` and
`core/model.py`; whatever is written is validated first (`ValidationError` lists every
problem, nothing is written).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from trocadero.config.fields import PAGE_DEFAULT, PAGE_MAX
from trocadero.config.show import (
    CanvasDef,
    CueDef,
    CueListDef,
    FixtureDef,
    FixtureTypeDef,
    LookDef,
    ShowDef,
)

from ..errors import ConflictError, InvalidDocument, NotFoundError, UnavailableError
from ..model import (
    AssetStatus,
    AssetVersion,
    AuditEntry,
    ContentAsset,
    Patch,
    Role,
    ScheduleEntry,
    ShowSettings,
    User,
)

if TYPE_CHECKING:
    from .devices import DeviceStore
    from .tokens import TokenStore

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
    """The store. Open with `open_storage()`; it applies pending migrations on open."""

    backend: str = ""

    # --- the whole show ------------------------------------------------------------------------

    @abstractmethod
    async def get_show(self) -> ShowDef:
        """Settings, patch, looks and cue lists (with cues) as one `ShowDef`."""

    @abstractmethod
    async def replace_show(
        self, show: ShowDef, schedules: Sequence[ScheduleEntry] | None = None
    ) -> None:
        """Replace everything show-related in one transaction (schedules too when given;
        otherwise the stored schedules are kept, and Conflict if the new show removes what
        they fire). `show.fixtures_csv` is ignored: its fixtures must be in `show.fixtures`
        (as `playout/showload.py` merges them). Raises ValidationError listing every problem;
        nothing is written then."""

    @abstractmethod
    async def export_show(self) -> dict[str, Any]:
        """The show file document (docs/show-file.md), read in one consistent snapshot."""

    @abstractmethod
    async def import_show(self, doc: Mapping[str, Any]) -> None:
        """Replace the show and the schedules with a show file document, in one transaction.

        Raises ValidationError listing every problem; the store is then untouched."""

    # --- settings and patch --------------------------------------------------------------------

    @abstractmethod
    async def get_settings(self) -> ShowSettings: ...

    @abstractmethod
    async def put_settings(self, settings: ShowSettings) -> None:
        """Idle/emergency stacks must name existing canvases (ValidationError)."""

    @abstractmethod
    async def get_patch(self) -> Patch: ...

    @abstractmethod
    async def put_patch(
        self,
        canvases: Sequence[CanvasDef],
        fixture_types: Sequence[FixtureTypeDef],
        fixtures: Sequence[FixtureDef],
    ) -> None:
        """Replace the patch as a whole. ValidationError if it does not compile
        (`compile_patch`); Conflict if a removed canvas is still used by a look or the
        idle/emergency stacks."""

    @abstractmethod
    async def import_patch_csv(
        self, text: str, *, source: str = "patch.csv", replace: bool = True
    ) -> tuple[FixtureDef, ...]:
        """Fixtures from CSV (docs/patch-csv.md): replace all fixtures (or, with
        `replace=False`, add to them), keeping canvases and fixture types. The file is parsed
        and the resulting patch compiled before anything is written; ValidationError lists
        every problem. Returns the fixtures read."""

    # --- looks ---------------------------------------------------------------------------------

    @abstractmethod
    async def put_look(self, look: LookDef) -> bool:
        """Create or replace a look by name; True if it was created."""

    @abstractmethod
    async def get_look(self, name: str) -> LookDef: ...

    @abstractmethod
    async def list_looks(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[LookDef]:
        """In name order."""

    @abstractmethod
    async def delete_look(self, name: str) -> None:
        """Conflict while a cue or a schedule uses it."""

    # --- cue lists and cues --------------------------------------------------------------------

    @abstractmethod
    async def put_cue_list(self, cue_list: CueListDef) -> bool:
        """Create or replace a cue list with all its cues; True if it was created."""

    @abstractmethod
    async def get_cue_list(self, name: str) -> CueListDef:
        """The list with every cue, in number order (read in chunks)."""

    @abstractmethod
    async def list_cue_lists(
        self, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[CueListDef]:
        """Headers only (`cues` is empty), in name order; use get_cue_list or list_cues."""

    @abstractmethod
    async def delete_cue_list(self, name: str) -> None:
        """Deletes its cues too; Conflict while a schedule uses it."""

    @abstractmethod
    async def put_cue(self, cue_list: str, cue: CueDef) -> bool:
        """Create or replace cue (list, number); True if it was created."""

    @abstractmethod
    async def get_cue(self, cue_list: str, number: Decimal) -> CueDef: ...

    @abstractmethod
    async def list_cues(
        self, cue_list: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[CueDef]:
        """In number order (2 < 10 < 10.5)."""

    @abstractmethod
    async def delete_cue(self, cue_list: str, number: Decimal) -> None:
        """Conflict while another cue links to it or a schedule fires it."""

    # --- schedules -----------------------------------------------------------------------------

    @abstractmethod
    async def create_schedule(self, entry: ScheduleEntry) -> ScheduleEntry:
        """Store a new entry (its `id` is ignored and assigned); its target must exist."""

    @abstractmethod
    async def get_schedule(self, schedule_id: int) -> ScheduleEntry: ...

    @abstractmethod
    async def list_schedules(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        enabled: bool | None = None,
    ) -> Page[ScheduleEntry]:
        """In name order."""

    @abstractmethod
    async def update_schedule(self, entry: ScheduleEntry) -> ScheduleEntry:
        """Replace the entry with `entry.id`."""

    @abstractmethod
    async def delete_schedule(self, schedule_id: int) -> None: ...

    # --- content assets ------------------------------------------------------------------------

    @abstractmethod
    async def create_asset(
        self,
        *,
        name: str,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        created_by: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> ContentAsset:
        """A new asset at version 1, status pending."""

    @abstractmethod
    async def get_asset(self, asset_id: int) -> ContentAsset: ...

    @abstractmethod
    async def list_assets(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        status: AssetStatus | None = None,
    ) -> Page[ContentAsset]:
        """In id order (oldest first)."""

    @abstractmethod
    async def update_asset(
        self,
        asset_id: int,
        *,
        name: str | None = None,
        status: AssetStatus | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ContentAsset: ...

    @abstractmethod
    async def add_asset_version(
        self,
        asset_id: int,
        *,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        created_by: str,
    ) -> ContentAsset:
        """A new upload of the asset: version + 1, status back to pending."""

    @abstractmethod
    async def list_asset_versions(
        self, asset_id: int, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[AssetVersion]:
        """Newest first."""

    @abstractmethod
    async def delete_asset(self, asset_id: int) -> None: ...

    # --- users ---------------------------------------------------------------------------------

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

    # --- audit log -----------------------------------------------------------------------------

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
    ) -> None:
        """Record one command (`at` defaults to now). With `state` = (key, doc), that runtime
        state is saved in the same durable transaction (`save_state`'s promise)."""

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
    ) -> Page[AuditEntry]:
        """Newest first. `action` is exact, or a prefix when it ends in "*" ("cue.*");
        `since` is inclusive, `until` exclusive."""

    @abstractmethod
    async def prune_audit(self, before: datetime) -> int:
        """Delete entries older than `before`; returns how many."""

    # --- runtime state -------------------------------------------------------------------------

    @abstractmethod
    async def save_state(self, key: str, doc: Mapping[str, Any]) -> None:
        """Store a JSON document under `key`; durable (on disk) when this returns."""

    @abstractmethod
    async def load_state(self, key: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def delete_state(self, key: str) -> None: ...

    # --- MDVR gateway ------------------------------------------------------------------------

    @property
    @abstractmethod
    def devices(self) -> DeviceStore:
        """Devices, positions, alarms and downloaded files of the MDVR gateway (devices.py)."""

    # --- refresh tokens ----------------------------------------------------------------------

    @property
    @abstractmethod
    def tokens(self) -> TokenStore:
        """Hashed, rotating refresh tokens of the auth layer (tokens.py)."""

    # --- housekeeping --------------------------------------------------------------------------

    @abstractmethod
    async def schema_version(self) -> int: ...

    @abstractmethod
    async def close(self) -> None: ...
