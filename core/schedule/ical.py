"""iCalendar (RFC 5545) import: each VEVENT becomes a schedule entry.

The file is read with the `icalendar` package (`ical_read.py`: content lines, folding,
escapes, typed values, zones); recurrence stays with dateutil (the entry's RRULE text, as the
schedule reads every rule). Read: SUMMARY (the entry's name; UID when there is none), DTSTART
(with TZID, UTC "Z", floating = the site's zone, or VALUE=DATE for a whole day), DTEND or
DURATION, RRULE, EXDATE and RDATE (comma lists, each with its own TZID or VALUE=DATE),
STATUS:CANCELLED (skipped), and RECURRENCE-ID (a moved instance: the master gets an EXDATE for
it and the moved instance becomes an entry of its own).

Zones: a TZID may be a tz-database zone (also written "/vendor/Europe/Paris"), or a Windows
zone name as Outlook and Exchange write it ("Romance Standard Time" → Europe/Paris, through
`icalendar`'s table). A TZID neither names (Outlook's "Customized Time Zone") is read from its
VTIMEZONE and accepted as the site's zone when their UTC offsets agree over the years around
the event; otherwise it is refused, naming the TZID. What to play comes from the import request
(`template`); an event may say otherwise with X-TROCADERO-TARGET ("look:NAME",
"cue_list:NAME" or "cue:LIST/NUMBER"), X-TROCADERO-PRIORITY, X-TROCADERO-CANVASES (comma list)
and X-TROCADERO-FADE (seconds).

Mapping: a timed event starts at DTSTART's wall-clock time in its zone and lasts DTEND -
DTSTART (or DURATION) of real time; with neither, it lasts until its next occurrence. A
whole-day event runs from midnight to the next midnight (DST days included); several days
become a duration of that many 24 h days. Every problem names its line and property.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, cast, get_args
from zoneinfo import ZoneInfo

from icalendar.timezone import tzp

from ..codec import from_plain, to_plain
from ..model import ScheduleEntry, ScheduleTarget
from .clock import format_local, to_instant, wall, zone
from .ical_read import Block, Prop, read_ical

# Only to word a problem: the shape was right but the calendar has no such day or time.
_DATE_SHAPE = re.compile(r"^\d{8}(T\d{6}Z?)?$")
_DATE_PROPS = frozenset({"DTSTART", "DTEND", "EXDATE", "RDATE", "RECURRENCE-ID"})


class IcalError(ValueError):
    """One problem, already naming its line and property."""


@dataclass(frozen=True, slots=True)
class IcalImport:
    entries: tuple[ScheduleEntry, ...]
    problems: tuple[str, ...]
    skipped: tuple[str, ...]


# --- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Moment:
    """A date, or a naive wall-clock time in `zone` (None: floating, the entry's own zone)."""

    value: date | datetime
    zone: ZoneInfo | None


def _broken(prop: Prop) -> IcalError:
    if prop.name == "DURATION":
        return IcalError(f"{prop.where}: expected an ISO 8601 duration such as PT4H30M")
    raw = prop.raw.strip()
    if _DATE_SHAPE.match(raw.split(",")[0].strip()):
        what = "date and time" if "T" in raw else "date"
        return IcalError(f"{prop.where}: not a calendar {what} ({raw!r})")
    return IcalError(
        f"{prop.where}: expected a date YYYYMMDD or a date-time YYYYMMDDTHHMMSS[Z] (got {raw!r})"
    )


class _Zones:
    """What each TZID of one file means (see the module's doc), asked once per TZID."""

    def __init__(self, vtimezones: Mapping[str, Block], site: ZoneInfo) -> None:
        self._vtimezones = vtimezones
        self._site = site
        self._known: dict[str, ZoneInfo | None] = {}

    def of(self, prop: Prop, tzid: str, near: datetime) -> ZoneInfo:
        key = tzid.strip("/")
        if key not in self._known:
            self._known[key] = self._resolve(key, near)
        found = self._known[key]
        if found is not None:
            return found
        if key in self._vtimezones:
            raise IcalError(
                f"{prop.where}: TZID {tzid!r} is defined by a VTIMEZONE that is not the site's"
                f" zone ({self._site.key}): name a tz-database zone (e.g. Europe/Paris)"
            )
        raise IcalError(
            f"{prop.where}: TZID {tzid!r} is not a tz-database zone (e.g. Europe/Paris)"
        )

    def _resolve(self, key: str, near: datetime) -> ZoneInfo | None:
        # tz database, Windows names, "/vendor/Area/City" (its annotation names datetime.tzinfo
        # with `datetime` the class, which mypy misreads: hence the cast).
        known = cast("tzinfo | None", tzp.timezone(key))
        if isinstance(known, ZoneInfo):
            return known
        block = self._vtimezones.get(key)
        if block is None:
            return None
        try:
            defined = tzp.create_timezone(block.component)  # not cached process-wide
        except (ValueError, TypeError, KeyError):
            return None
        return self._site if _same_offsets(defined, self._site, near.year) else None


def _same_offsets(a: tzinfo, b: tzinfo, year: int) -> bool:
    """Whether two zones agree on the UTC offset weekly from a year before to two after."""
    at = datetime(year - 1, 1, 1, 12, tzinfo=UTC)
    for _ in range(3 * 53):
        if at.astimezone(a).utcoffset() != at.astimezone(b).utcoffset():
            return False
        at += timedelta(days=7)
    return True


def _moment(prop: Prop, item: Any, zones: _Zones) -> _Moment:
    """One value of a date property: `item` is `icalendar`'s vDDDTypes."""
    value = item.dt
    if isinstance(value, tuple):
        raise IcalError(f"{prop.where}: VALUE=PERIOD is not supported; give start times")
    if isinstance(value, datetime):
        naive = value.replace(tzinfo=None)
        tz = value.tzinfo
        if tz is None:
            tzid = item.params.get("TZID") or prop.params.get("TZID")
            return _Moment(naive, None if tzid is None else zones.of(prop, str(tzid), naive))
        if tz is UTC:
            return _Moment(naive, ZoneInfo("UTC"))
        if isinstance(tz, ZoneInfo):
            return _Moment(naive, ZoneInfo("UTC") if tz.key in ("UTC", "Etc/UTC") else tz)
        return _Moment(naive, zones.of(prop, str(prop.params.get("TZID", tz)), naive))
    if isinstance(value, date):
        return _Moment(value, None)
    raise _broken(prop)


def _single(prop: Prop, zones: _Zones) -> _Moment:
    if prop.error or prop.value is None:
        raise _broken(prop)
    return _moment(prop, prop.value, zones)


def _several(prop: Prop, zones: _Zones) -> list[_Moment]:
    """The values of an EXDATE or RDATE line (a comma list)."""
    if prop.error or prop.value is None:
        raise _broken(prop)
    return [_moment(prop, item, zones) for item in prop.value.dts]


def _duration(prop: Prop) -> float:
    if prop.error or not isinstance(getattr(prop.value, "dt", None), timedelta):
        raise _broken(prop)
    seconds = float(prop.value.dt.total_seconds())
    if seconds < 0:
        raise IcalError(f"{prop.where}: a negative duration has no meaning here")
    return seconds


def _local_text(m: _Moment, target: ZoneInfo) -> str:
    """An EXDATE/RDATE value as the entry's wall-clock text."""
    if not isinstance(m.value, datetime) or m.zone is None or m.zone.key == target.key:
        return format_local(m.value)
    return format_local(wall(to_instant(m.value, m.zone), target))


def _text(prop: Prop | None) -> str:
    if prop is None:
        return ""
    return str(prop.value if prop.value is not None else prop.raw).strip()


# --- events → entries -----------------------------------------------------------------------------


def _target(prop: Prop, base: ScheduleEntry) -> ScheduleEntry:
    value = _text(prop)
    kind, sep, rest = value.partition(":")
    kinds = get_args(ScheduleTarget)
    if not sep or kind not in kinds or not rest:
        raise IcalError(
            f'{prop.where}: expected "look:NAME", "cue_list:NAME" or "cue:LIST/NUMBER"'
            f" (got {prop.raw!r})"
        )
    if kind == "cue":
        name, slash, number = rest.rpartition("/")
        try:
            cue = Decimal(number)
        except InvalidOperation:
            cue = None
        if not slash or cue is None or not name:
            raise IcalError(f'{prop.where}: expected "cue:LIST/NUMBER" (got {prop.raw!r})')
        return replace(base, target_kind="cue", target=name, cue=cue, canvases=())
    return replace(base, target_kind=kind, target=rest, cue=None)  # type: ignore[arg-type]


def _extensions(ev: Block, e: ScheduleEntry) -> ScheduleEntry:
    for prop in ev.props:
        value = _text(prop)
        if prop.name == "X-TROCADERO-TARGET":
            e = _target(prop, e)
        elif prop.name == "X-TROCADERO-PRIORITY":
            if not value.isdigit():
                raise IcalError(f"{prop.where}: expected a whole number (got {prop.raw!r})")
            e = replace(e, priority=int(value))
        elif prop.name == "X-TROCADERO-CANVASES":
            e = replace(e, canvases=tuple(c.strip() for c in value.split(",") if c.strip()))
        elif prop.name == "X-TROCADERO-FADE":
            try:
                e = replace(e, fade_s=float(value))
            except ValueError:
                raise IcalError(f"{prop.where}: expected seconds (got {prop.raw!r})") from None
    return e


def _entry(ev: Block, template: ScheduleEntry, site: ZoneInfo, zones: _Zones) -> ScheduleEntry:
    start_prop = ev.one("DTSTART")
    if start_prop is None:
        raise IcalError(f"line {ev.begin} (VEVENT): DTSTART is required")
    start = _single(start_prop, zones)
    tz = start.zone or site
    floating = start.zone is None and isinstance(start.value, datetime)
    entry_tz = "" if floating or start.zone is None else tz.key
    all_day = not isinstance(start.value, datetime)
    local_start = (
        start.value
        if isinstance(start.value, datetime)
        else datetime.combine(start.value, time.min)
    )
    begins = to_instant(local_start, tz)
    e = replace(template, timezone=entry_tz, dtstart=begins, rrule="", exdates=(), rdates=())
    end_prop, dur_prop = ev.one("DTEND"), ev.one("DURATION")
    if end_prop is not None and dur_prop is not None:
        raise IcalError(f"{dur_prop.where}: give DTEND or DURATION, not both")
    if end_prop is not None:
        end = _single(end_prop, zones)
        if isinstance(end.value, datetime) != isinstance(start.value, datetime):
            raise IcalError(f"{end_prop.where}: DTEND must be of the same kind as DTSTART")
        if isinstance(end.value, datetime):
            seconds = (to_instant(end.value, end.zone or tz) - begins).total_seconds()
        else:
            seconds = (end.value - start.value).days * 86400.0
        if seconds <= 0:
            raise IcalError(f"{end_prop.where}: DTEND is not after DTSTART")
        e = replace(e, duration_s=seconds)
    elif dur_prop is not None:
        e = replace(e, duration_s=_duration(dur_prop))
    elif all_day:
        e = replace(e, duration_s=86400.0)
    else:
        e = replace(e, duration_s=None)  # until its next occurrence
    if all_day and e.duration_s == 86400.0:
        e = replace(e, duration_s=None, end_anchor="clock", end_time="00:00")
    rule = ev.one("RRULE")
    if rule is not None:
        # The text as written: recurrence is dateutil's (the entry's check names a bad rule).
        e = replace(e, rrule=rule.raw.strip())
    target_zone = zone(entry_tz or site.key)
    exdates = [_local_text(m, target_zone) for p in ev.all("EXDATE") for m in _several(p, zones)]
    rdates = [_local_text(m, target_zone) for p in ev.all("RDATE") for m in _several(p, zones)]
    return _extensions(ev, replace(e, exdates=tuple(exdates), rdates=tuple(rdates)))


def _name(ev: Block) -> str:
    summary, uid = _text(ev.one("SUMMARY")), _text(ev.one("UID"))
    return summary or uid or f"event at line {ev.begin}"


def parse_ical(text: str, *, site_timezone: str, template: ScheduleEntry) -> IcalImport:
    """Entries for the VEVENTs of `text`, or the problems (every one, each naming its line).

    `template` gives what every entry plays and its defaults (target, priority, canvases,
    enabled, created_by); its timing fields are replaced by the event's."""
    site = zone(site_timezone)
    read = read_ical(text)
    zones = _Zones(read.timezones, site)
    problems = list(read.problems)
    skipped: list[str] = []
    made: list[tuple[Block, ScheduleEntry]] = []
    masters: dict[str, int] = {}
    moved: list[tuple[Block, Prop]] = []
    for ev in read.events:
        if _text(ev.one("STATUS")).upper() == "CANCELLED":
            skipped.append(f'line {ev.begin}: "{_name(ev)}" is cancelled')
            continue
        rid = ev.one("RECURRENCE-ID")
        try:
            entry = replace(_entry(ev, template, site, zones), name=_name(ev))
        except IcalError as exc:
            problems.append(str(exc))
            continue
        if rid is not None:
            moved.append((ev, rid))
            entry = replace(entry, name=f"{entry.name} ({rid.raw.strip()[:8]})")
        elif uid := _text(ev.one("UID")):
            masters[uid] = len(made)
        made.append((ev, entry))
    for ev, rid in moved:  # the master leaves the moved instance out
        index = masters.get(_text(ev.one("UID")))
        if index is None:
            continue
        master_ev, master = made[index]
        try:
            tz = zone(master.timezone or site.key)
            text_value = _local_text(_single(rid, zones), tz)
        except IcalError as exc:
            problems.append(str(exc))
            continue
        made[index] = (master_ev, replace(master, exdates=(*master.exdates, text_value)))
    entries: list[ScheduleEntry] = []
    seen: dict[str, int] = {}
    for ev, entry in made:
        count = seen.get(entry.name, 0) + 1
        seen[entry.name] = count
        if count > 1:
            entry = replace(entry, name=f"{entry.name} ({count})")
        checked, found = from_plain(ScheduleEntry, to_plain(entry))
        if checked is None:
            problems += [f'line {ev.begin} (VEVENT "{entry.name}"): {p}' for p in found]
            continue
        entries.append(checked)
    if not read.events and not problems:
        problems.append("line 1: the calendar has no VEVENT")
    return IcalImport(tuple(entries), tuple(problems), tuple(skipped))
