"""An entry's occurrences: when each starts and ends, and the local date it belongs to.

- The recurrence (RRULE, plus RDATE, less EXDATE) gives wall-clock starts in the entry's
  zone; each belongs to its **date** — the date of that wall-clock start — even when its sun
  event, offset or clamp moves the real start past midnight, and even when it runs on past
  midnight. EXDATE, the date range and the weekday parts of the rule all test that date.
- A clock anchor starts at the wall-clock time (the DST rule of `clock`); a sun anchor at the
  sun event of the date plus `offset_s`, then moved into [not_before, not_after] (wall-clock
  times of the date; "25:00" is 01:00 the next night).
- It ends after `duration_s` seconds of real time, at the first `end_time` on the wall clock
  after the start, or at the first such sun event after the start (plus `end_offset_s`). With
  no end (duration none) it lasts until the entry's next occurrence starts, and at the latest
  until the end of the entry's date range (midnight after its last date: a one-off open entry
  lasts until midnight).
- The entry's **date range** — used for "the narrowest date range wins" — runs from its first
  date (dtstart, an earlier RDATE, or valid_from if later) to its last one (the rule's UNTIL
  date or last COUNT occurrence, a later RDATE, or valid_until if earlier); a rule that never
  ends has an unbounded range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from trocadero.config.schema import SiteConfig

from ..model import ScheduleEntry, SunEvent
from .clock import at_day, parse_date, parse_local, parse_time, to_instant, wall, zone
from .recurrence import Recurrence
from .rules import CLAMP_HOURS
from .sun import sun_time

_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_MAX_SKIPS = 4096  # excluded starts passed over while looking for the next occurrence


@dataclass(frozen=True, slots=True)
class Occurrence:
    entry: ScheduleEntry
    day: date  # the local date it belongs to
    start: datetime  # UTC
    end: datetime | None  # UTC; None: nothing ends it (until the look-back horizon)
    sun: datetime | None = None  # the sun event it was read from (UTC), before offset/clamps
    notes: tuple[str, ...] = ()

    def active(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)

    @property
    def key(self) -> tuple[int, str, datetime]:
        """Identifies the occurrence across evaluations."""
        return (self.entry.id, self.entry.name, self.start)


class Timing:
    """One entry compiled for the site: its zone, rule, exceptions and date range."""

    def __init__(self, entry: ScheduleEntry, site: SiteConfig) -> None:
        self.entry = entry
        self.site = site
        self.tz_name = entry.timezone or site.timezone
        self.tz = zone(self.tz_name)
        self.first = wall(entry.dtstart, self.tz)
        self.rule = Recurrence(entry.rrule, self.first, self.tz) if entry.rrule else None
        self.sun_anchor = entry.anchor != "clock"
        self.ex_days: set[date] = set()
        self.ex_times: set[datetime] = set()
        for text in entry.exdates:
            value = parse_local(text)
            if isinstance(value, datetime) and not self.sun_anchor:
                self.ex_times.add(value)
            else:  # a date, or a time on a sun-anchored entry: the whole date
                self.ex_days.add(value.date() if isinstance(value, datetime) else value)
        self.extra: list[datetime] = []
        for text in entry.rdates:
            value = parse_local(text)
            if not isinstance(value, datetime):
                value = datetime.combine(value, self.first.time())
            self.extra.append(value)
        self.extra.sort()
        self.valid_from = parse_date(entry.valid_from) if entry.valid_from else None
        self.valid_until = parse_date(entry.valid_until) if entry.valid_until else None
        self.not_before = (
            parse_time(entry.not_before, max_hours=CLAMP_HOURS) if entry.not_before else None
        )
        self.not_after = (
            parse_time(entry.not_after, max_hours=CLAMP_HOURS) if entry.not_after else None
        )
        self.end_time = parse_time(entry.end_time) if entry.end_time else None
        self.first_day, self.last_day = self._range()
        self.width = (
            math.inf
            if self.last_day is None
            else float(max(1, (self.last_day - self.first_day).days + 1))
        )

    # --- the date range -----------------------------------------------------------------------

    def _range(self) -> tuple[date, date | None]:
        """First and last date of the entry's date range (last None: it never ends)."""
        days = [self.first.date(), *(x.date() for x in self.extra)]
        first = min(days)
        last: date | None
        if self.rule is None:
            last = max(days)
        else:
            rule_last = self.rule.last_day()
            last = None if rule_last is None else max(rule_last, *days)
        if self.valid_from is not None:
            first = max(first, self.valid_from)
        if self.valid_until is not None:
            last = self.valid_until if last is None else min(last, self.valid_until)
        return first, last

    def range_end(self, start: datetime) -> datetime | None:
        """Where an open occurrence starting at `start` ends at the latest: midnight after the
        range's last date (or after its own date, if it started past that)."""
        if self.last_day is None:
            return None
        return at_day(max(self.last_day, wall(start, self.tz).date()) + _DAY, _ZERO, self.tz)

    # --- starts -------------------------------------------------------------------------------

    def _keep(self, start: datetime) -> bool:
        day = start.date()
        if self.valid_from is not None and day < self.valid_from:
            return False
        if self.valid_until is not None and day > self.valid_until:
            return False
        return day not in self.ex_days and start not in self.ex_times

    def wall_starts(self, lo: datetime, hi: datetime) -> list[datetime]:
        """Wall-clock starts (naive) from `lo` to `hi` inclusive, exceptions applied."""
        found: set[datetime] = {x for x in self.extra if lo <= x <= hi}
        if self.rule is not None:
            found.update(self.rule.between(lo, hi))
        elif lo <= self.first <= hi:
            found.add(self.first)
        return sorted(s for s in found if self._keep(s))

    def next_wall_start(self, after: datetime) -> datetime | None:
        """The first kept wall-clock start after `after`."""
        at = after
        for _ in range(_MAX_SKIPS):
            candidates = [x for x in self.extra if x > at]
            if self.rule is not None:
                nxt = self.rule.after(at)
                if nxt is not None:
                    candidates.append(nxt)
            elif self.first > at:
                candidates.append(self.first)
            if not candidates:
                return None
            at = min(candidates)
            if self.valid_until is not None and at.date() > self.valid_until:
                return None
            if self._keep(at):
                return at
        return None

    # --- one occurrence -----------------------------------------------------------------------

    def _sun(self, kind: SunEvent, day: date) -> tuple[datetime, str]:
        s = sun_time(self.site.latitude, self.site.longitude, self.tz_name, kind, day)
        return s.at, s.polar

    def start_of(self, local: datetime) -> tuple[datetime, datetime | None, tuple[str, ...]]:
        """(start, the sun event, notes) of the occurrence whose wall-clock start is `local`."""
        e = self.entry
        if e.anchor == "clock":
            start = to_instant(local, self.tz)
            moved = wall(start, self.tz) != local
            note = (f"{local:%H:%M} does not exist that day (DST): starts at the clock's jump",)
            return start, None, note if moved else ()
        sun, polar = self._sun(e.anchor, local.date())
        start = sun + timedelta(seconds=e.offset_s)
        notes = [polar] if polar else []
        if self.not_before is not None:
            floor = at_day(local.date(), self.not_before, self.tz)
            if start < floor:
                start = floor
                notes.append(f"held back to not_before {e.not_before}")
        if self.not_after is not None:
            ceiling = at_day(local.date(), self.not_after, self.tz)
            if start > ceiling:
                start = ceiling
                notes.append(f"brought forward to not_after {e.not_after}")
        return start, sun, tuple(notes)

    def end_of(self, start: datetime) -> datetime | None:
        """When an occurrence starting at `start` ends by itself (None: it does not)."""
        e = self.entry
        if e.end_anchor == "duration":
            return None if e.duration_s is None else start + timedelta(seconds=e.duration_s)
        day = wall(start, self.tz).date()
        if e.end_anchor == "clock":
            assert self.end_time is not None
            end = at_day(day, self.end_time, self.tz)
            return end if end > start else at_day(day + _DAY, self.end_time, self.tz)
        offset = timedelta(seconds=e.end_offset_s)
        for d in (day - _DAY, day, day + _DAY, day + 2 * _DAY):
            end = self._sun(e.end_anchor, d)[0] + offset
            if end > start:
                return end
        return None  # pragma: no cover - a sun event comes every day (or its polar stand-in)

    # --- a window -----------------------------------------------------------------------------

    def occurrences(self, lo: datetime, hi: datetime) -> list[Occurrence]:
        """Occurrences starting from `lo` (included) to `hi` (excluded), UTC, in start order,
        each with its end (an open one ends where the next occurrence starts)."""
        first_day = wall(lo, self.tz).date() - 2 * _DAY
        last_day = wall(hi, self.tz).date() + _DAY
        walls = self.wall_starts(
            datetime.combine(first_day, time.min), datetime.combine(last_day, time.max)
        )
        made = [(local, *self.start_of(local)) for local in walls]
        made.sort(key=lambda m: m[1])
        out: list[Occurrence] = []
        for i, (local, start, sun, notes) in enumerate(made):
            if not lo <= start < hi or (out and out[-1].start == start):
                continue
            end = self.end_of(start)
            if end is None and self.entry.end_anchor == "duration":
                later = [m[1] for m in made[i + 1 :] if m[1] > start]
                nxt = later[0] if later else self._next_start(walls[-1] if walls else local)
                end = _earliest(nxt, self.range_end(start))
            out.append(Occurrence(self.entry, local.date(), start, end, sun, notes))
        return out

    def _next_start(self, after: datetime) -> datetime | None:
        local = self.next_wall_start(after)
        return None if local is None else self.start_of(local)[0]


def _earliest(*values: datetime | None) -> datetime | None:
    found = [v for v in values if v is not None]
    return min(found) if found else None


def compile_entries(entries: Iterable[ScheduleEntry], site: SiteConfig) -> list[Timing]:
    return [Timing(e, site) for e in entries]
