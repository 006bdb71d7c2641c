"""Shared bits of the schedule tests: the site, a small show, entries, local instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from trocadero.config.schema import SiteConfig
from trocadero.config.show import CanvasLayersDef, CueDef, CueListDef, LookDef
from trocadero.core.codec import from_plain, to_plain
from trocadero.core.model import ScheduleEntry
from trocadero.core.schedule.clock import zone
from trocadero.core.schedule.occurrences import Occurrence, Timing
from trocadero.core.schedule.resolve import Schedule, ShowIndex

SITE = SiteConfig()  # the Trocadero, Europe/Paris
PARIS = zone("Europe/Paris")
HORIZON = timedelta(days=8)

LOOKS = (
    LookDef("warm", canvases=(CanvasLayersDef("facade"), CanvasLayersDef("canopy"))),
    LookDef("red", canvases=(CanvasLayersDef("facade"),)),
    LookDef("blue", canvases=(CanvasLayersDef("canopy"),)),
    LookDef("stairs", canvases=(CanvasLayersDef("stairs"),)),
)
LISTS = (
    CueListDef(
        "evening",
        cues=(CueDef(Decimal(1), look="warm"), CueDef(Decimal(2), look="red")),
    ),
)
SHOW = ShowIndex.of(LOOKS, LISTS)


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """A Paris wall-clock time that exists (fold 0), as an aware datetime."""
    return datetime(y, mo, d, h, mi, s, tzinfo=PARIS)


def entry(name: str = "e", **fields: Any) -> ScheduleEntry:
    """A validated entry (the same checks as the store and the REST layer)."""
    fields.setdefault("target_kind", "look")
    fields.setdefault("target", "warm")
    fields.setdefault("dtstart", datetime(2026, 1, 1, tzinfo=UTC))
    plain = to_plain(ScheduleEntry(name=name, **fields))
    built, problems = from_plain(ScheduleEntry, plain)
    assert built is not None, problems
    return built


def occurrences(e: ScheduleEntry, lo: datetime, hi: datetime) -> list[Occurrence]:
    return Timing(e, SITE).occurrences(lo, hi)


def schedule(*entries: ScheduleEntry, horizon: timedelta = HORIZON) -> Schedule:
    return Schedule(entries, SITE, SHOW, horizon)


def paris(at: datetime | None) -> str:
    """`at` on the Paris wall clock with its offset, to the second."""
    assert at is not None
    return at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S%z")
