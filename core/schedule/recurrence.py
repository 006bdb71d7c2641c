"""RFC 5545 RRULE (python-dateutil) over naive wall-clock times of the entry's time zone.

Recurrence runs on the wall clock, not in UTC: "FREQ=DAILY" at 21:00 stays at 21:00 across
DST changes (the instant each one stands for is `clock.to_instant`'s business). UNTIL may be
UTC ("…Z", turned into the zone's wall clock), a floating local time, or a date (the whole
day). SECONDLY is refused (a lighting schedule has no use for it) and COUNT is capped.

dateutil always iterates from DTSTART; for a rule without COUNT, `Recurrence` moves DTSTART
forward by whole periods to just before the window asked for, which yields the same
occurrences (the period grid and the defaults taken from DTSTART — weekday, day of month,
month, time of day — are kept) in constant time instead of time proportional to the age of
the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, HOURLY, MINUTELY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

from .clock import wall

MAX_COUNT: Final = 100_000
_FREQS: Final = {
    "YEARLY": YEARLY,
    "MONTHLY": MONTHLY,
    "WEEKLY": WEEKLY,
    "DAILY": DAILY,
    "HOURLY": HOURLY,
    "MINUTELY": MINUTELY,
}
_UNTIL = re.compile(r"^(\d{8})(?:T(\d{6})(Z?))?$")
_FIXED: Final = {
    DAILY: timedelta(days=1),
    WEEKLY: timedelta(weeks=1),
    HOURLY: timedelta(hours=1),
    MINUTELY: timedelta(minutes=1),
}


@dataclass(frozen=True, slots=True)
class RuleText:
    """An RRULE value checked for syntax: its parts without UNTIL, and UNTIL apart."""

    body: str
    freq: int
    interval: int
    count: int | None
    until: str | None  # as written: YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ


def parse_rule(text: str) -> RuleText:
    """Syntax of an RRULE value (an optional "RRULE:" prefix is allowed); ValueError says
    what is wrong."""
    value = text.strip()
    if value.upper().startswith("RRULE:"):
        value = value[6:]
    if not value:
        raise ValueError("empty rule")
    if "\n" in value or "\r" in value:
        raise ValueError("one RRULE only (EXDATE and RDATE have their own fields)")
    parts: dict[str, str] = {}
    for chunk in value.split(";"):
        key, sep, val = chunk.partition("=")
        key = key.strip().upper()
        if not sep or not key or not val.strip():
            raise ValueError(f"expected KEY=VALUE parts separated by ';' (got {chunk!r})")
        if key in parts:
            raise ValueError(f"{key} given twice")
        parts[key] = val.strip()
    freq_name = parts.get("FREQ", "").upper()
    if not freq_name:
        raise ValueError("FREQ is required")
    if freq_name == "SECONDLY":
        raise ValueError("FREQ=SECONDLY is not supported (at most MINUTELY)")
    if freq_name not in _FREQS:
        raise ValueError(f"FREQ must be one of {', '.join(_FREQS)} (got {freq_name!r})")
    if "DTSTART" in parts:
        raise ValueError("DTSTART belongs in the entry's dtstart field")
    until = parts.pop("UNTIL", None)
    if until is not None:
        if "COUNT" in parts:
            raise ValueError("give COUNT or UNTIL, not both")
        if not _UNTIL.match(until):
            raise ValueError(f"UNTIL must be YYYYMMDD or YYYYMMDDTHHMMSS[Z] (got {until!r})")
    count: int | None = None
    if "COUNT" in parts:
        if not parts["COUNT"].isdigit() or not 1 <= int(parts["COUNT"]) <= MAX_COUNT:
            raise ValueError(f"COUNT must be 1..{MAX_COUNT} (got {parts['COUNT']!r})")
        count = int(parts["COUNT"])
    interval = parts.get("INTERVAL", "1")
    if not interval.isdigit() or int(interval) < 1:
        raise ValueError(f"INTERVAL must be a whole number from 1 (got {interval!r})")
    body = ";".join(f"{k}={v}" for k, v in parts.items())
    try:  # the rest of the grammar is dateutil's
        rrulestr(body, dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None
    if until is not None:
        _until_wall(until, ZoneInfo("UTC"))  # a real calendar date
    return RuleText(body, _FREQS[freq_name], int(interval), count, until)


def _until_wall(until: str, tz: ZoneInfo) -> datetime:
    m = _UNTIL.match(until)
    assert m is not None
    try:
        day = datetime.strptime(m[1], "%Y%m%d")
        if m[2] is None:
            return datetime.combine(day.date(), time.max)  # the whole day
        at = datetime.strptime(m[1] + m[2], "%Y%m%d%H%M%S")
    except ValueError:
        raise ValueError(f"UNTIL is not a calendar date and time (got {until!r})") from None
    return wall(at.replace(tzinfo=UTC), tz) if m[3] else at


class Recurrence:
    """One entry's rule from its first wall-clock start `dtstart` (naive) in zone `tz`."""

    def __init__(self, text: str, dtstart: datetime, tz: ZoneInfo) -> None:
        self.spec = parse_rule(text)
        self.dtstart = dtstart
        rule = rrulestr(self.spec.body, dtstart=dtstart)
        assert isinstance(rule, rrule)
        self.until: datetime | None = None
        if self.spec.until is not None:
            self.until = _until_wall(self.spec.until, tz)
            rule = rule.replace(until=self.until)
        self.rule = rule
        self._counted = False
        self._last: datetime | None = None

    def _from(self, lo: datetime) -> rrule:
        """The rule restarted a whole number of periods later, just before `lo`."""
        spec, start = self.spec, self.dtstart
        if spec.count is not None or lo <= start:
            return self.rule
        if spec.freq in _FIXED:
            step = _FIXED[spec.freq] * spec.interval
            k = (lo - start) // step - 1
            if k <= 0:
                return self.rule
            return self.rule.replace(dtstart=start + k * step)
        months = spec.interval * (12 if spec.freq == YEARLY else 1)
        k = ((lo.year - start.year) * 12 + lo.month - start.month) // months - 1
        while k > 0:  # the 31st, or 29 February: only periods that have that day
            moved = start + relativedelta(months=k * months)
            if moved.day == start.day:
                return self.rule.replace(dtstart=moved)
            k -= 1
        return self.rule

    def between(self, lo: datetime, hi: datetime) -> list[datetime]:
        """Wall-clock starts from `lo` to `hi`, both included."""
        return list(self._from(lo).between(lo, hi, inc=True))

    def after(self, at: datetime) -> datetime | None:
        """The first wall-clock start after `at`."""
        found: datetime | None = self._from(at).after(at)
        return found

    def last_day(self) -> date | None:
        """The date of the last start, or None when the rule never ends."""
        if self.until is not None:
            return self.until.date()
        if self.spec.count is None:
            return None
        if not self._counted:  # at most MAX_COUNT starts, once
            starts = list(self.rule)
            self._last = starts[-1] if starts else None
            self._counted = True
        return None if self._last is None else self._last.date()
