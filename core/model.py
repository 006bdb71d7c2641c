"""Domain objects that the show file (`config/show.py`) does not cover: users, the audit log,
content assets, schedules, and the show-level settings and patch as the store hands them out.

Plain frozen dataclasses. Fields the store assigns (`id`, `created_at`, an asset's `version`)
have defaults, so an object read from a request (`core.codec.from_plain`) can be built without
them; the store ignores what the caller put there. Datetimes are timezone-aware, in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal, get_args

from trocadero.config.fields import EMAIL_MAX, FILENAME_MAX, JSON_MAX_BYTES, NAME_MAX, setting
from trocadero.config.show import (
    CanvasDef,
    CanvasLayersDef,
    FixtureDef,
    FixtureTypeDef,
    SafeState,
)

from .schedule.rules import entry_problems

Role = Literal["admin", "operator", "marketing", "viewer"]
Origin = Literal["ui", "api", "socket", "schedule", "rule", "input", "system"]
AssetStatus = Literal["pending", "approved", "rejected"]
ScheduleTarget = Literal["cue_list", "look", "cue"]
SunEvent = Literal[
    "sunrise",
    "sunset",
    "civil_dawn",
    "civil_dusk",
    "nautical_dawn",
    "nautical_dusk",
    "astronomical_dawn",
    "astronomical_dusk",
]
StartAnchor = Literal[
    "clock",
    "sunrise",
    "sunset",
    "civil_dawn",
    "civil_dusk",
    "nautical_dawn",
    "nautical_dusk",
    "astronomical_dawn",
    "astronomical_dusk",
]
EndAnchor = Literal[
    "duration",
    "clock",
    "sunrise",
    "sunset",
    "civil_dawn",
    "civil_dusk",
    "nautical_dawn",
    "nautical_dusk",
    "astronomical_dawn",
    "astronomical_dusk",
]

ROLES: tuple[Role, ...] = ("admin", "operator", "marketing", "viewer")
ORIGINS: tuple[Origin, ...] = ("ui", "api", "socket", "schedule", "rule", "input", "system")
ASSET_STATUSES: tuple[AssetStatus, ...] = ("pending", "approved", "rejected")
SCHEDULE_TARGETS: tuple[ScheduleTarget, ...] = ("cue_list", "look", "cue")
SUN_EVENTS: tuple[SunEvent, ...] = get_args(SunEvent)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Placeholder for a timestamp the store fills in (an object not stored yet)."""


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class User:
    """An account. `password_hash` is opaque here (the auth layer makes and checks it)."""

    id: int = setting(0, "assigned by the store")
    username: str = setting("", "unique login name", max_length=NAME_MAX)
    email: str = setting("", "contact address; unique when not empty", max_length=EMAIL_MAX)
    role: Role = setting("viewer", "admin, operator, marketing or viewer")
    password_hash: str = setting("", "opaque hash made by the auth layer")
    disabled: bool = setting(False, "a disabled account cannot log in")
    created_at: datetime = setting(EPOCH, "when the account was made")
    last_login: datetime | None = setting(None, "last successful login")

    def validate(self) -> list[str]:
        return [] if self.username.strip() else ["username: must not be empty (got '')"]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One state-changing command: who, in what role, through what, did what to what."""

    id: int = setting(0, "assigned by the store; increases with every entry")
    at: datetime = setting(EPOCH, "when (UTC)")
    actor: str = setting("system", 'username, or "system"')
    role: str = setting("", "the actor's role at the time")
    origin: Origin = setting("system", "the interface the command came through")
    action: str = setting("", 'what was done, e.g. "cue.go"')
    target: str = setting("", 'what it was done to, e.g. "main/12.5"')
    detail: Mapping[str, Any] = field(
        default_factory=_empty, metadata={"doc": "command arguments and outcome"}
    )
    address: str = setting("", 'client address, or ""')
    request_id: str = setting("", 'the correlation id of the request that caused it, or ""')


@dataclass(frozen=True, slots=True)
class ContentAsset:
    """An uploaded media file's catalogue entry (the file itself lives outside the database)."""

    id: int = setting(0, "assigned by the store")
    name: str = setting("", "display name", max_length=NAME_MAX)
    filename: str = setting("", "file name of the current version", max_length=FILENAME_MAX)
    content_type: str = setting("", "MIME type")
    size: int = setting(0, "bytes", minimum=0)
    sha256: str = setting("", "hex digest of the current version")
    status: AssetStatus = setting("pending", "approval state of the current version")
    version: int = setting(1, "current version, from 1", minimum=1)
    # What plays: the newest approved version. A new upload is pending while the version
    # before it goes on playing; approving it makes it the live one.
    live_version: int | None = setting(None, "the version that plays (None: none approved)")
    live_filename: str = setting("", "file name of the version that plays")
    metadata: Mapping[str, Any] = field(
        default_factory=_empty,
        metadata={"doc": "free-form (duration, resolution, tags, …)", "max_bytes": JSON_MAX_BYTES},
    )
    created_at: datetime = setting(EPOCH, "when the asset was first uploaded")
    created_by: str = setting("", "username")


@dataclass(frozen=True, slots=True)
class AssetVersion:
    """One uploaded version of a content asset."""

    asset_id: int = setting(0, "the asset")
    version: int = setting(1, "from 1", minimum=1)
    filename: str = setting("", "file name", max_length=FILENAME_MAX)
    content_type: str = setting("", "MIME type")
    size: int = setting(0, "bytes", minimum=0)
    sha256: str = setting("", "hex digest")
    created_at: datetime = setting(EPOCH, "when uploaded")
    created_by: str = setting("", "username")


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """Something the building plays by itself at set times (docs/schedule.md has the rules).

    The target is a cue list (played from its first cue), a look, or one cue of a cue list
    (`target` = the list, `cue` = its number). Occurrences recur by `rrule` on the wall clock
    of `timezone`, starting at `dtstart`'s wall-clock time or at a sun event of each
    occurrence's date, and end after `duration_s`, at a wall-clock time or at a sun event.
    """

    id: int = setting(0, "assigned by the store")
    name: str = setting("", "unique schedule name", max_length=NAME_MAX)
    enabled: bool = setting(True, "disabled entries never fire")
    target_kind: ScheduleTarget = setting("cue_list", "cue_list, look or cue")
    target: str = setting(
        "", "cue list name (cue_list, cue) or look name (look)", max_length=NAME_MAX
    )
    cue: Decimal | None = setting(None, "cue number when target_kind is cue")
    canvases: tuple[str, ...] = setting(
        (),
        "canvases a look entry drives (empty = all the look covers); cue lists play whole",
        max_length=NAME_MAX,
    )
    rrule: str = setting("", 'RFC 5545 RRULE, e.g. "FREQ=DAILY;BYDAY=FR,SA"; "" = once')
    dtstart: datetime = setting(
        EPOCH, "first occurrence; its wall-clock time in `timezone` is the time of day"
    )
    duration_s: float | None = setting(
        None,
        "seconds each occurrence lasts when end_anchor is duration; none = until its next"
        " occurrence",
        minimum=0.0,
    )
    priority: int = setting(0, "higher wins between overlapping entries", minimum=0, maximum=1000)
    created_by: str = setting("", "username")
    detail: Mapping[str, Any] = field(
        default_factory=_empty,
        metadata={"doc": "free-form notes kept with the entry", "max_bytes": JSON_MAX_BYTES},
    )
    timezone: str = setting("", "IANA zone of the recurrence's wall clock; \"\" = the site's")
    anchor: StartAnchor = setting(
        "clock", "clock = dtstart's time of day, or a sun event on each occurrence's date"
    )
    offset_s: float = setting(
        0.0, "seconds after (negative: before) the sun event", minimum=-43200.0, maximum=43200.0
    )
    not_before: str = setting(
        "", 'earliest start for a sun anchor, "HH:MM" ("25:30" = 01:30 the next night)'
    )
    not_after: str = setting("", 'latest start for a sun anchor, "HH:MM" (up to "47:59")')
    end_anchor: EndAnchor = setting(
        "duration", "duration (duration_s), clock (end_time) or the next such sun event"
    )
    end_time: str = setting("", 'wall-clock end "HH:MM", the first one after the start')
    end_offset_s: float = setting(
        0.0,
        "seconds after (negative: before) the end's sun event",
        minimum=-43200.0,
        maximum=43200.0,
    )
    valid_from: str = setting("", 'first date occurrences may start on, "YYYY-MM-DD"; "" = any')
    valid_until: str = setting("", 'last date occurrences may start on, "YYYY-MM-DD"; "" = any')
    exdates: tuple[str, ...] = setting(
        (), 'dates ("YYYY-MM-DD") or wall-clock starts ("YYYY-MM-DDTHH:MM") left out'
    )
    rdates: tuple[str, ...] = setting(
        (), "extra occurrences: a date (at the usual time) or a wall-clock start"
    )
    fade_s: float | None = setting(
        None,
        "fade in and out; none = the cues' own times (cue lists) or the configured default",
        minimum=0.0,
        maximum=3600.0,
    )

    def validate(self) -> list[str]:
        problems = [] if self.name else ["name: must not be empty (got '')"]
        if not self.target:
            problems.append("target: must not be empty (got '')")
        if self.target_kind == "cue" and self.cue is None:
            problems.append("cue: required when target_kind is cue")
        if self.target_kind != "cue" and self.cue is not None:
            problems.append(f"cue: only for target_kind cue (got {self.cue})")
        return problems + entry_problems(self)


@dataclass(frozen=True, slots=True)
class ShowSettings:
    """The show-wide settings of a `ShowDef` (everything but the patch, looks and cue lists)."""

    name: str = setting("Untitled show", "show name")
    grand_master: float = setting(1.0, "grand master level, 0..1", minimum=0.0, maximum=1.0)
    safe_state: SafeState = setting("black", "black, or hold the last frame")
    idle: tuple[CanvasLayersDef, ...] = setting((), "idle look per canvas")
    emergency: tuple[CanvasLayersDef, ...] = setting((), "emergency look per canvas")


@dataclass(frozen=True, slots=True)
class Patch:
    """Canvases, fixture types and fixtures, in their stored order."""

    canvases: tuple[CanvasDef, ...] = ()
    fixture_types: tuple[FixtureTypeDef, ...] = ()
    fixtures: tuple[FixtureDef, ...] = ()
