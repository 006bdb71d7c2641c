"""The site's wall clock: wall-clock times ↔ instants, and the texts that name them.

The DST rule, one for everything the schedule reads off the wall clock (starts, clamps, end
times): **a wall-clock time stands for the first instant at which the site's clock reads that
time or later.** So on the spring-forward day (Europe/Paris, 02:00 → 03:00) "02:30" is 03:00,
the moment the clock jumps past it, and an entry at 02:30 still runs once; on the fall-back day
(03:00 → 02:00) "02:30" is the first 02:30 (summer time), and the repeated hour does not run
the entry a second time.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InvalidArgument

_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LOCAL = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)$")


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The tz database zone `name`; ValueError naming it when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"not a time zone of the tz database (got {name!r})") from None


def wall(at: datetime, tz: ZoneInfo) -> datetime:
    """What the site's clock reads at the instant `at` (naive)."""
    return at.astimezone(tz).replace(tzinfo=None)


def to_instant(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant (UTC) a naive wall-clock time stands for, by the DST rule above."""
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if wall(first, tz) == local:
        return first  # it exists; fold=0 is the first of two when the hour repeats
    # In a gap: fold=0 reads it with the offset before the jump (an instant after the gap),
    # fold=1 with the offset after it (an instant before the gap). The clock jumps in between.
    late = first
    early = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if early > late:
        early, late = late, early
    early = early.replace(microsecond=0)  # tz transitions fall on whole UTC seconds
    lo, hi = 0, math.ceil((late - early).total_seconds())
    while lo < hi:  # the first whole second whose wall clock reads `local` or later
        mid = (lo + hi) // 2
        if wall(early + timedelta(seconds=mid), tz) >= local:
            hi = mid
        else:
            lo = mid + 1
    return early + timedelta(seconds=lo)


def at_day(day: date, offset: timedelta, tz: ZoneInfo) -> datetime:
    """The instant the wall clock reads `day` 00:00 + `offset` (offsets past 24 h read the
    next day's clock: "25:30" is 01:30 the next night)."""
    return to_instant(datetime.combine(day, datetime.min.time()) + offset, tz)


def parse_time(text: str, *, max_hours: int = 24) -> timedelta:
    """ "HH:MM" or "HH:MM:SS" → time after midnight; hours below `max_hours`."""
    m = _TIME.match(text.strip())
    if m is None:
        raise ValueError(f'expected a time "HH:MM" or "HH:MM:SS" (got {text!r})')
    h, mi, se = int(m[1]), int(m[2]), int(m[3] or 0)
    if h >= max_hours or mi > 59 or se > 59:
        top = f"{max_hours - 1}:59:59"
        raise ValueError(f"must be between 00:00 and {top} (got {text!r})")
    return timedelta(hours=h, minutes=mi, seconds=se)


def parse_date(text: str) -> date:
    """ "YYYY-MM-DD" → date."""
    if not _DATE.match(text.strip()):
        raise ValueError(f'expected a date "YYYY-MM-DD" (got {text!r})')
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a calendar date (got {text!r})") from None


def parse_local(text: str) -> date | datetime:
    """A date ("YYYY-MM-DD") or a naive wall-clock time ("YYYY-MM-DDTHH:MM[:SS]")."""
    text = text.strip()
    m = _LOCAL.match(text)
    if m is None:
        return parse_date(text)
    day = parse_date(m[1])
    return datetime.combine(day, datetime.min.time()) + parse_time(m[2])


def format_local(value: date | datetime) -> str:
    """The text `parse_local` reads back."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    return value.isoformat()


def iso(at: datetime, tz: ZoneInfo) -> str:
    """An instant as ISO 8601 in the site's wall clock, with its offset."""
    return at.astimezone(tz).isoformat()


MAX_TIMELINE_HOURS: Final = 24 * 7  # the longest timeline asked for at once


def instant(text: str | None, key: str, tz: ZoneInfo) -> datetime | None:
    """An ISO 8601 instant; naive ones on the site's clock `tz` (a date: its midnight)."""
    if text is None or text == "":
        return None
    raw = text.strip()
    if " " in raw and "T" in raw:  # an unescaped "+02:00" in a query arrives as " 02:00"
        raw = raw.replace(" ", "+")
    try:
        parsed: datetime | date = (
            datetime.fromisoformat(raw) if len(raw) > 10 else date.fromisoformat(raw)
        )
    except ValueError:
        raise InvalidArgument(
            f"{key}: expected an ISO 8601 date-time, e.g. 2026-12-24T21:37:00+01:00"
            f" or 2026-12-24T21:37 on the site's clock (got {text!r})"
        ) from None
    if not isinstance(parsed, datetime):
        parsed = datetime.combine(parsed, datetime.min.time())
    if parsed.tzinfo is None:
        return to_instant(parsed, tz)
    return parsed
