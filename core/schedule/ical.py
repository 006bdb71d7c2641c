"""iCalendar (RFC 5545) import: each VEVENT becomes a schedule entry.

Read: SUMMARY (the entry's name; UID when there is none), DTSTART (with TZID, UTC "Z",
floating = the site's zone, or VALUE=DATE for a whole day), DTEND or DURATION, RRULE, EXDATE
and RDATE (comma lists, each with its own TZID or VALUE=DATE), STATUS:CANCELLED (skipped),
and RECURRENCE-ID (a moved instance: the master gets an EXDATE for it and the moved instance
becomes an entry of its own). VTIMEZONE blocks are not read: TZID must name a tz-database zone
(as every mainstream calendar writes it). What to play comes from the import request
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
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import get_args
from zoneinfo import ZoneInfo

from ..codec import from_plain, to_plain
from ..model import ScheduleEntry, ScheduleTarget
from .clock import format_local, to_instant, wall, zone

_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATETIME = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)$")
_DURATION = re.compile(
    r"^(?P<sign>[+-]?)P(?:(?P<w>\d+)W|(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?"
    r"(?:(?P<s>\d+)S)?)?)$"
)


class IcalError(ValueError):
    """One problem, already naming its line and property."""


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # the first physical line
    name: str
    params: dict[str, str]
    value: str


@dataclass
class _Event:
    begin: int
    props: list[Line] = field(default_factory=list)

    def one(self, name: str) -> Line | None:
        found = [p for p in self.props if p.name == name]
        return found[0] if found else None

    def all(self, name: str) -> list[Line]:
        return [p for p in self.props if p.name == name]


@dataclass(frozen=True, slots=True)
class IcalImport:
    entries: tuple[ScheduleEntry, ...]
    problems: tuple[str, ...]
    skipped: tuple[str, ...]


# --- content lines --------------------------------------------------------------------------------


def _unfold(text: str) -> Iterator[tuple[int, str]]:
    """Logical lines (continuations joined) with the number of their first physical line."""
    current: str | None = None
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw[:1] in (" ", "\t") and current is not None:
            current += raw[1:]
            continue
        if current is not None and current.strip():
            yield start, current
        current, start = raw, number
    if current is not None and current.strip():
        yield start, current


def _split_line(number: int, text: str) -> Line:
    """NAME;PARAM=VALUE;…:VALUE (a colon inside a quoted parameter value does not end it)."""
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            head, value = text[:i], text[i + 1 :]
            break
    else:
        raise IcalError(f"line {number}: expected NAME:VALUE (got {text[:40]!r})")
    name, *raw_params = _split_params(head)
    params: dict[str, str] = {}
    for p in raw_params:
        key, sep, val = p.partition("=")
        if not sep:
            raise IcalError(f"line {number} ({name.upper()}): parameter without a value ({p!r})")
        params[key.strip().upper()] = val.strip().strip('"')
    return Line(number, name.strip().upper(), params, value)


def _split_params(head: str) -> list[str]:
    parts, quoted, cur = [], False, ""
    for ch in head:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _text(value: str) -> str:
    """TEXT value escapes: \\n, \\, \\; \\\\."""
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _events(text: str) -> tuple[list[_Event], list[str]]:
    events: list[_Event] = []
    problems: list[str] = []
    stack: list[str] = []
    event: _Event | None = None
    saw_calendar = False
    for number, raw in _unfold(text):
        try:
            line = _split_line(number, raw)
        except IcalError as exc:
            problems.append(str(exc))
            continue
        if line.name == "BEGIN":
            kind = line.value.strip().upper()
            stack.append(kind)
            saw_calendar |= kind == "VCALENDAR"
            if kind == "VEVENT" and stack[:-1] == ["VCALENDAR"]:
                event = _Event(number)
            continue
        if line.name == "END":
            kind = line.value.strip().upper()
            if not stack or stack[-1] != kind:
                problems.append(f"line {number} (END): END:{kind} does not close the open block")
                continue
            stack.pop()
            if kind == "VEVENT" and event is not None:
                events.append(event)
                event = None
            continue
        if event is not None and stack[-1] == "VEVENT":
            event.props.append(line)
    if not saw_calendar:
        problems.append("line 1: not an iCalendar file (no BEGIN:VCALENDAR)")
    elif stack:
        problems.append(f"end of file: BEGIN:{stack[-1]} is never closed")
    return events, problems


# --- values ---------------------------------------------------------------------------------------


def _where(line: Line) -> str:
    return f"line {line.number} ({line.name})"


def _zone_of(line: Line, default: ZoneInfo) -> ZoneInfo:
    tzid = line.params.get("TZID")
    if tzid is None:
        return default
    try:
        return zone(tzid.lstrip("/"))
    except ValueError:
        raise IcalError(
            f"{_where(line)}: TZID {tzid!r} is not a tz-database zone (e.g. Europe/Paris)"
        ) from None


def _value(line: Line, raw: str) -> tuple[date | datetime, bool]:
    """(a date, or a naive wall-clock time; True if it was UTC)."""
    raw = raw.strip()
    kind = line.params.get("VALUE", "").upper()
    m = _DATE.match(raw)
    if m is not None and kind in ("", "DATE"):
        try:
            return date(int(m[1]), int(m[2]), int(m[3])), False
        except ValueError:
            raise IcalError(f"{_where(line)}: not a calendar date ({raw!r})") from None
    if kind == "PERIOD":
        raise IcalError(f"{_where(line)}: VALUE=PERIOD is not supported; give start times")
    m = _DATETIME.match(raw)
    if m is None or kind == "DATE":
        raise IcalError(
            f"{_where(line)}: expected a date YYYYMMDD or a date-time YYYYMMDDTHHMMSS[Z]"
            f" (got {raw!r})"
        )
    try:
        at = datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]))
    except ValueError:
        raise IcalError(f"{_where(line)}: not a calendar date and time ({raw!r})") from None
    return at, bool(m[7])


def _duration(line: Line) -> float:
    m = _DURATION.match(line.value.strip())
    if m is None or line.value.strip() in ("P", "PT"):
        raise IcalError(f"{_where(line)}: expected an ISO 8601 duration such as PT4H30M")
    if m["sign"] == "-":
        raise IcalError(f"{_where(line)}: a negative duration has no meaning here")
    weeks, days = int(m["w"] or 0), int(m["d"] or 0)
    hours, minutes, seconds = int(m["h"] or 0), int(m["m"] or 0), int(m["s"] or 0)
    return float(((weeks * 7 + days) * 24 + hours) * 3600 + minutes * 60 + seconds)


def _local_text(
    value: date | datetime, utc: bool, source: ZoneInfo, target: ZoneInfo, floating: bool
) -> str:
    """An EXDATE/RDATE value as the entry's wall-clock text."""
    if not isinstance(value, datetime):
        return format_local(value)
    if utc:
        return format_local(wall(value.replace(tzinfo=UTC), target))
    if floating or source.key == target.key:
        return format_local(value)
    return format_local(wall(to_instant(value, source), target))


# --- events → entries -----------------------------------------------------------------------------


def _target(line: Line, base: ScheduleEntry) -> ScheduleEntry:
    kind, sep, rest = line.value.strip().partition(":")
    kinds = get_args(ScheduleTarget)
    if not sep or kind not in kinds or not rest:
        raise IcalError(
            f'{_where(line)}: expected "look:NAME", "cue_list:NAME" or "cue:LIST/NUMBER"'
            f" (got {line.value!r})"
        )
    if kind == "cue":
        name, slash, number = rest.rpartition("/")
        try:
            cue = Decimal(number)
        except InvalidOperation:
            cue = None
        if not slash or cue is None or not name:
            raise IcalError(f'{_where(line)}: expected "cue:LIST/NUMBER" (got {line.value!r})')
        return replace(base, target_kind="cue", target=name, cue=cue, canvases=())
    return replace(base, target_kind=kind, target=rest, cue=None)  # type: ignore[arg-type]


def _entry(ev: _Event, template: ScheduleEntry, site: ZoneInfo) -> ScheduleEntry:
    start_line = ev.one("DTSTART")
    if start_line is None:
        raise IcalError(f"line {ev.begin} (VEVENT): DTSTART is required")
    tz = _zone_of(start_line, site)
    start, utc = _value(start_line, start_line.value)
    floating = "TZID" not in start_line.params and not utc
    if utc:
        tz = ZoneInfo("UTC")
    entry_tz = "UTC" if utc else ("" if floating else tz.key)
    all_day = not isinstance(start, datetime)
    local_start = start if isinstance(start, datetime) else datetime.combine(start, time.min)
    begins = to_instant(local_start, tz)
    e = replace(template, timezone=entry_tz, dtstart=begins, rrule="", exdates=(), rdates=())
    end_line, dur_line = ev.one("DTEND"), ev.one("DURATION")
    if end_line is not None and dur_line is not None:
        raise IcalError(f"{_where(dur_line)}: give DTEND or DURATION, not both")
    if end_line is not None:
        end, end_utc = _value(end_line, end_line.value)
        if isinstance(end, datetime) != isinstance(start, datetime):
            raise IcalError(f"{_where(end_line)}: DTEND must be of the same kind as DTSTART")
        if isinstance(end, datetime):
            end_tz = ZoneInfo("UTC") if end_utc else _zone_of(end_line, tz)
            seconds = (to_instant(end, end_tz) - begins).total_seconds()
        else:
            assert isinstance(start, date)
            seconds = (end - start).days * 86400.0
        if seconds <= 0:
            raise IcalError(f"{_where(end_line)}: DTEND is not after DTSTART")
        e = replace(e, duration_s=seconds)
    elif dur_line is not None:
        e = replace(e, duration_s=_duration(dur_line))
    elif all_day:
        e = replace(e, duration_s=86400.0)
    else:
        e = replace(e, duration_s=None)  # until its next occurrence
    if all_day and e.duration_s == 86400.0:
        e = replace(e, duration_s=None, end_anchor="clock", end_time="00:00")
    rule = ev.one("RRULE")
    if rule is not None:
        e = replace(e, rrule=rule.value.strip())
    target_zone = zone(entry_tz or site.key)
    for key in ("EXDATE", "RDATE"):
        values: list[str] = []
        for line in ev.all(key):
            source = _zone_of(line, target_zone)
            for raw in line.value.split(","):
                v, v_utc = _value(line, raw)
                values.append(_local_text(v, v_utc, source, target_zone, "TZID" not in line.params))
        if key == "EXDATE":
            e = replace(e, exdates=tuple(values))
        else:
            e = replace(e, rdates=tuple(values))
    for line in ev.props:
        if line.name == "X-TROCADERO-TARGET":
            e = _target(line, e)
        elif line.name == "X-TROCADERO-PRIORITY":
            if not line.value.strip().isdigit():
                raise IcalError(f"{_where(line)}: expected a whole number (got {line.value!r})")
            e = replace(e, priority=int(line.value.strip()))
        elif line.name == "X-TROCADERO-CANVASES":
            e = replace(e, canvases=tuple(c.strip() for c in line.value.split(",") if c.strip()))
        elif line.name == "X-TROCADERO-FADE":
            try:
                e = replace(e, fade_s=float(line.value.strip()))
            except ValueError:
                raise IcalError(f"{_where(line)}: expected seconds (got {line.value!r})") from None
    return e


def _name(ev: _Event) -> str:
    summary, uid = ev.one("SUMMARY"), ev.one("UID")
    if summary is not None and _text(summary.value).strip():
        return _text(summary.value).strip()
    if uid is not None and uid.value.strip():
        return uid.value.strip()
    return f"event at line {ev.begin}"


def parse_ical(text: str, *, site_timezone: str, template: ScheduleEntry) -> IcalImport:
    """Entries for the VEVENTs of `text`, or the problems (every one, each naming its line).

    `template` gives what every entry plays and its defaults (target, priority, canvases,
    enabled, created_by); its timing fields are replaced by the event's."""
    site = zone(site_timezone)
    events, problems = _events(text)
    skipped: list[str] = []
    made: list[tuple[_Event, ScheduleEntry]] = []
    masters: dict[str, int] = {}
    moved: list[tuple[_Event, Line]] = []
    for ev in events:
        status = ev.one("STATUS")
        if status is not None and status.value.strip().upper() == "CANCELLED":
            skipped.append(f'line {ev.begin}: "{_name(ev)}" is cancelled')
            continue
        rid = ev.one("RECURRENCE-ID")
        try:
            entry = replace(_entry(ev, template, site), name=_name(ev))
        except IcalError as exc:
            problems.append(str(exc))
            continue
        if rid is not None:
            moved.append((ev, rid))
            entry = replace(entry, name=f"{entry.name} ({rid.value.strip()[:8]})")
        else:
            uid = ev.one("UID")
            if uid is not None:
                masters[uid.value.strip()] = len(made)
        made.append((ev, entry))
    for ev, rid in moved:  # the master leaves the moved instance out
        uid = ev.one("UID")
        index = masters.get(uid.value.strip()) if uid is not None else None
        if index is None:
            continue
        master_ev, master = made[index]
        try:
            v, utc = _value(rid, rid.value)
            tz = zone(master.timezone or site.key)
            text_value = _local_text(v, utc, _zone_of(rid, tz), tz, "TZID" not in rid.params)
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
    if not events and not problems:
        problems.append("line 1: the calendar has no VEVENT")
    return IcalImport(tuple(entries), tuple(problems), tuple(skipped))
