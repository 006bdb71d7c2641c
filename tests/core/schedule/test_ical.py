"""iCal import: what a calendar's VEVENTs become, and bad calendars named by line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from trocadero.core.model import ScheduleEntry
from trocadero.core.schedule.ical import parse_ical

from .util import entry, local, occurrences, paris

TEMPLATE = ScheduleEntry(name="t", target_kind="look", target="warm", priority=3)

GOOD = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VTIMEZONE\r
TZID:Europe/Paris\r
BEGIN:STANDARD\r
DTSTART:19701025T030000\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:nightly-1\r
SUMMARY:Nightly facade\\, warm\r
DTSTART;TZID=Europe/Paris:20261201T210000\r
DTEND;TZID=Europe/Paris:20261201T233000\r
RRULE:FREQ=DAILY;UNTIL=20261231T225959Z\r
EXDATE;TZID=Europe/Paris:20261224T210000,20261231T210000\r
RDATE;VALUE=DATE:20261130\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
TRIGGER:-PT15M\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:nightly-1\r
RECURRENCE-ID;TZID=Europe/Paris:20261225T210000\r
SUMMARY:Nightly facade\\, warm\r
DTSTART;TZID=Europe/Paris:20261225T220000\r
DURATION:PT1H\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:xmas\r
SUMMARY:Christmas Eve\r
DTSTART;VALUE=DATE:20261224\r
DTEND;VALUE=DATE:20261225\r
X-TROCADERO-TARGET:cue:evening/2\r
X-TROCADERO-PRIORITY:20\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:utc\r
SUMMARY:New year\r
DTSTART:20261231T230000Z\r
DURATION:P1DT2H\r
X-TROCADERO-TARGET:look:red\r
X-TROCADERO-CANVASES:facade\r
X-TROCADERO-FADE:10\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:gone\r
SUMMARY:Cancelled\r
STATUS:CANCELLED\r
DTSTART:20261231T230000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:open\r
SUMMARY:A very long summary line that an iCalendar writer folds over more than one li\r
 ne\r
DTSTART:20270101T080000\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_a_calendar_becomes_entries() -> None:
    result = parse_ical(GOOD, site_timezone="Europe/Paris", template=TEMPLATE)
    assert result.problems == ()
    assert result.skipped == ('line 49: "Cancelled" is cancelled',)
    by_name = {e.name: e for e in result.entries}
    assert sorted(by_name) == [
        "A very long summary line that an iCalendar writer folds over more than one line",
        "Christmas Eve",
        "New year",
        "Nightly facade, warm",
        "Nightly facade, warm (20261225)",
    ]
    nightly = by_name["Nightly facade, warm"]
    assert (nightly.timezone, nightly.rrule, nightly.duration_s) == (
        "Europe/Paris",
        "FREQ=DAILY;UNTIL=20261231T225959Z",
        2.5 * 3600,
    )
    assert (nightly.target_kind, nightly.target, nightly.priority) == ("look", "warm", 3)
    assert nightly.exdates == ("2026-12-24T21:00:00", "2026-12-31T21:00:00", "2026-12-25T21:00:00")
    assert nightly.rdates == ("2026-11-30",)
    days = [o.day for o in occurrences(nightly, local(2026, 11, 1), local(2027, 2, 1))]
    assert (days[0], days[-1]) == (date(2026, 11, 30), date(2026, 12, 30))
    assert not {date(2026, 12, 24), date(2026, 12, 25)} & set(days)
    assert len(days) == 1 + 31 - 3  # the RDATE, December, less 24th, 25th (moved), 31st
    moved = by_name["Nightly facade, warm (20261225)"]
    (o,) = occurrences(moved, local(2026, 12, 1), local(2027, 1, 1))
    assert (paris(o.start), o.end and paris(o.end)) == (
        "2026-12-25 22:00:00+0100",
        "2026-12-25 23:00:00+0100",
    )
    xmas = by_name["Christmas Eve"]
    assert (xmas.target_kind, xmas.target, xmas.cue, xmas.priority) == (
        "cue",
        "evening",
        Decimal(2),
        20,
    )
    assert (xmas.end_anchor, xmas.end_time, xmas.duration_s) == ("clock", "00:00", None)
    (o,) = occurrences(xmas, local(2026, 12, 1), local(2027, 1, 1))
    assert (paris(o.start), o.end and paris(o.end)) == (
        "2026-12-24 00:00:00+0100",
        "2026-12-25 00:00:00+0100",
    )
    new_year = by_name["New year"]
    assert (new_year.timezone, new_year.duration_s, new_year.canvases, new_year.fade_s) == (
        "UTC",
        26 * 3600.0,
        ("facade",),
        10.0,
    )
    assert (new_year.target_kind, new_year.target) == ("look", "red")
    floating = by_name[
        "A very long summary line that an iCalendar writer folds over more than one line"
    ]
    assert (floating.timezone, floating.duration_s) == ("", None)  # the site's zone, open
    assert paris(floating.dtstart) == "2027-01-01 08:00:00+0100"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("DTEND:20261201T210000Z", "line 4 (VEVENT): DTSTART is required"),
        ("DTSTART;TZID=Paris Time:20261201T210000", "line 6 (DTSTART): TZID 'Paris Time'"),
        ("DTSTART:20261301T210000", "line 6 (DTSTART): not a calendar date and time"),
        ("DTSTART:2026-12-01", "line 6 (DTSTART): expected a date YYYYMMDD"),
        (
            "DTSTART:20261201T210000\nRDATE;VALUE=PERIOD:20261202T210000/PT1H",
            "line 7 (RDATE): VALUE=PERIOD is not supported",
        ),
        ("DTSTART:20261201T210000\nDURATION:1 hour", "line 7 (DURATION): expected an ISO 8601"),
        (
            "DTSTART:20261201T210000\nDTEND:20261201T200000",
            "line 7 (DTEND): DTEND is not after DTSTART",
        ),
        (
            "DTSTART:20261201T210000\nRRULE:FREQ=SOMETIMES",
            'line 4 (VEVENT "x"): rrule: FREQ must be one of',
        ),
        (
            "DTSTART:20261201T210000\nX-TROCADERO-TARGET:video:clip",
            'line 7 (X-TROCADERO-TARGET): expected "look:NAME"',
        ),
        ("DTSTART:20261201T210000\nno colon here", "line 7: expected NAME:VALUE"),
    ],
)
def test_bad_events_name_the_line_and_property(body: str, expected: str) -> None:
    text = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nBEGIN:VEVENT\nSUMMARY:x\n"
        f"{body}\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    result = parse_ical(text, site_timezone="Europe/Paris", template=TEMPLATE)
    assert any(p.startswith(expected) for p in result.problems), result.problems


def test_bad_files() -> None:
    def problems(text: str) -> tuple[str, ...]:
        return parse_ical(text, site_timezone="Europe/Paris", template=TEMPLATE).problems

    assert problems("hello") == (
        "line 1: expected NAME:VALUE (got 'hello')",
        "line 1: not an iCalendar file (no BEGIN:VCALENDAR)",
    )
    assert problems("BEGIN:VCALENDAR\nEND:VCALENDAR\n") == ("line 1: the calendar has no VEVENT",)
    assert problems("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260101T000000\n") == (
        "end of file: BEGIN:VEVENT is never closed",
    )
    assert "END:VTODO does not close" in problems("BEGIN:VCALENDAR\nEND:VTODO\nEND:VCALENDAR")[0]


def test_duplicate_summaries_get_numbered() -> None:
    event = "BEGIN:VEVENT\nSUMMARY:Show\nDTSTART:20261201T210000\nEND:VEVENT\n"
    result = parse_ical(
        f"BEGIN:VCALENDAR\n{event}{event}END:VCALENDAR\n",
        site_timezone="Europe/Paris",
        template=entry(),
    )
    assert [e.name for e in result.entries] == ["Show", "Show (2)"]
