"""iCal import of calendars as common programs export them (Google Calendar, Outlook and
Exchange with Windows zone names and a customised VTIMEZONE, Apple Calendar), folded lines,
and problems in such files named by their line. The samples are in tests/core/ical_samples/,
written in the shape those programs produce."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from trocadero.core.model import ScheduleEntry
from trocadero.core.schedule.ical import IcalImport, parse_ical

from .util import local, occurrences, paris

SAMPLES = Path(__file__).parent.parent / "ical_samples"
TEMPLATE = ScheduleEntry(name="t", target_kind="look", target="warm", priority=3)


def sample(name: str) -> str:
    return (SAMPLES / name).read_bytes().decode()  # CRLF kept, as the programs write it


def parse(text: str, site: str = "Europe/Paris") -> IcalImport:
    return parse_ical(text, site_timezone=site, template=TEMPLATE)


def by_name(result: IcalImport) -> dict[str, ScheduleEntry]:
    assert result.problems == ()
    return {e.name: e for e in result.entries}


def line_of(text: str, start: str) -> int:
    """The physical line number (1-based) of the first line starting with `start`."""
    return next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith(start))


def test_google_calendar_export() -> None:
    entries = by_name(parse(sample("google.ics")))
    assert sorted(entries) == [
        "Midnight sparkle",
        "New Year's Eve",
        "Weekend facade",
        "Weekend facade (20261212)",
    ]
    weekly = entries["Weekend facade"]
    assert (weekly.timezone, weekly.duration_s, weekly.target_kind, weekly.target) == (
        "Europe/Paris",
        4 * 3600.0,
        "cue_list",
        "evening",
    )
    assert weekly.rrule == "FREQ=WEEKLY;WKST=MO;UNTIL=20270131T225959Z;BYDAY=FR,SA"
    # Two EXDATE lines, then the moved instance's RECURRENCE-ID.
    assert weekly.exdates == ("2026-12-25T19:00:00", "2026-12-26T19:00:00", "2026-12-12T19:00:00")
    days = [o.day for o in occurrences(weekly, local(2026, 12, 1), local(2027, 1, 1))]
    assert days == [date(2026, 12, d) for d in (4, 5, 11, 18, 19)]
    (moved,) = occurrences(
        entries["Weekend facade (20261212)"], local(2026, 12, 1), local(2027, 1, 1)
    )
    assert (paris(moved.start), moved.end and paris(moved.end)) == (
        "2026-12-12 20:00:00+0100",
        "2026-12-13 00:00:00+0100",
    )
    eve = entries["New Year's Eve"]  # whole day, floating: the site's midnight to midnight
    assert (eve.timezone, eve.end_anchor, eve.end_time) == ("", "clock", "00:00")
    assert paris(eve.dtstart) == "2026-12-31 00:00:00+0100"
    sparkle = entries["Midnight sparkle"]  # UTC times, a VALARM inside
    assert (sparkle.timezone, sparkle.duration_s) == ("UTC", 5400.0)
    assert paris(sparkle.dtstart) == "2027-01-01 00:00:00+0100"


def test_outlook_exchange_export_with_windows_zone_names() -> None:
    entries = by_name(parse(sample("outlook.ics")))
    assert "Répétition annulée" not in entries  # STATUS:CANCELLED (see the next test)
    evening = entries["Illumination du soir"]
    # "Romance Standard Time" is Windows' name for the Paris zone.
    assert (evening.timezone, evening.duration_s) == ("Europe/Paris", 3 * 3600.0)
    assert evening.exdates == ("2027-01-01T20:00:00",)
    assert paris(evening.dtstart) == "2026-12-01 20:00:00+0100"
    berlin = entries["Concert (Berlin office)"]  # "W. Europe Standard Time"
    assert (berlin.timezone, berlin.target, berlin.priority) == ("Europe/Berlin", "red", 30)
    xmas = entries["Réveillon de Noël"]
    assert (xmas.end_anchor, xmas.end_time, paris(xmas.dtstart)) == (
        "clock",
        "00:00",
        "2026-12-24 00:00:00+0100",
    )


def test_outlook_skips_the_cancelled_event_naming_its_line() -> None:
    text = sample("outlook.ics")
    begins = [i for i, ln in enumerate(text.splitlines(), 1) if ln == "BEGIN:VEVENT"]
    assert parse(text).skipped == (f'line {begins[-1]}: "Répétition annulée" is cancelled',)


def test_outlook_customised_zone_is_the_site_zone_when_it_agrees() -> None:
    text = sample("outlook_custom_zone.ics")
    (market,) = parse(text).entries
    assert (market.timezone, market.duration_s) == ("Europe/Paris", 4 * 3600.0)
    assert paris(market.dtstart) == "2026-12-19 18:00:00+0100"
    # The same file on a site in New York: the zone is not New York's, and nothing guesses.
    (problem,) = parse(text, "America/New_York").problems
    assert problem == (
        f"line {line_of(text, 'DTSTART;TZID')} (DTSTART): TZID 'Customized Time Zone' is"
        " defined by a VTIMEZONE that is not the site's zone (America/New_York): name a"
        " tz-database zone (e.g. Europe/Paris)"
    )


def test_a_customised_zone_is_read_per_file_not_remembered() -> None:
    paris_rules = sample("outlook_custom_zone.ics")
    assert parse(paris_rules).problems == ()
    # Same TZID, New York's rules: a process-wide cache would reuse the Paris definition.
    new_york_rules = (
        paris_rules.replace("+0200", "-0400")
        .replace("+0100", "-0500")
        .replace("BYMONTH=10", "BYMONTH=11")
        .replace("BYDAY=-1SU;BYMONTH=3", "BYDAY=2SU;BYMONTH=3")
        .replace("BYDAY=-1SU;BYMONTH=11", "BYDAY=1SU;BYMONTH=11")
    )
    assert "TZID 'Customized Time Zone'" in parse(new_york_rules).problems[0]
    (market,) = parse(new_york_rules, "America/New_York").entries
    assert market.timezone == "America/New_York"


def test_apple_calendar_export() -> None:
    entries = by_name(parse(sample("apple.ics")))
    night = entries["Nuit du changement d'heure"]
    # 01:00 CET to 04:00 CEST across the spring change: two hours of real time.
    assert (night.timezone, night.duration_s) == ("Europe/Paris", 2 * 3600.0)
    (o,) = occurrences(night, local(2027, 3, 27), local(2027, 3, 29))
    assert (paris(o.start), o.end and paris(o.end)) == (
        "2027-03-28 01:00:00+0100",
        "2027-03-28 04:00:00+0200",
    )
    feasts = entries["Fêtes (3 jours)"]
    assert (feasts.duration_s, paris(feasts.dtstart)) == (3 * 86400.0, "2026-12-26 00:00:00+0100")
    early = entries["Test matinal"]
    assert (early.rrule, early.duration_s) == ("FREQ=MONTHLY;COUNT=3;BYDAY=1SA", 1800.0)
    days = [o.day for o in occurrences(early, local(2026, 12, 1), local(2027, 6, 1))]
    assert days == [date(2026, 12, 5), date(2027, 1, 2), date(2027, 2, 6)]


def test_a_vtimezone_named_europe_paris() -> None:
    # The GOOD calendar of test_ical.py has a partial VTIMEZONE; this one is what Google
    # writes, with a winter and a summer event either side of the change.
    text = sample("google.ics").replace(
        "DTSTART;VALUE=DATE:20261231\r\nDTEND;VALUE=DATE:20270101",
        "DTSTART;TZID=Europe/Paris:20270701T210000\r\nDTEND;TZID=Europe/Paris:20270701T220000",
    )
    summer = by_name(parse(text))["New Year's Eve"]
    assert (summer.timezone, paris(summer.dtstart)) == ("Europe/Paris", "2027-07-01 21:00:00+0200")


def test_folded_lines_anywhere() -> None:
    # Folds (CRLF then a space or a tab) inside a name, a parameter, a value and a
    # multi-byte word; RFC 5545 §3.1.
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:f\r\n"
        "SUMM\r\n ARY:Lumière \r\n\td'hiver\\, façade\r\n"
        "DTSTART;TZID=Europe/\r\n Paris:20261201T2\r\n 10000\r\n"
        "DURA\r\n\tTION:PT1H30M\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    (e,) = by_name(parse(text)).values()
    assert (e.name, e.timezone, e.duration_s) == ("Lumière d'hiver, façade", "Europe/Paris", 5400.0)
    assert paris(e.dtstart) == "2026-12-01 21:00:00+0100"


@pytest.mark.parametrize(
    ("find", "replace", "prop", "expected"),
    [
        (
            "DTEND;TZID=Europe/Paris:20261213T000000",
            "DTEND;TZID=Europe/Paris:20261213T250000",
            "DTEND",
            "not a calendar date and time",
        ),
        (
            "DTSTART;VALUE=DATE:20261231",
            "DTSTART;VALUE=DATE:31 December 2026",
            "DTSTART",
            "expected a date YYYYMMDD",
        ),
        (
            "DTSTART:20261231T230000Z",
            "DTSTART;TZID=Paris Time:20261231T230000",
            "DTSTART",
            "TZID 'Paris Time'",
        ),
        ("DTEND:20270101T003000Z", "DURATION:half an hour", "DURATION", "expected an ISO 8601"),
    ],
)
def test_problems_in_a_real_export_name_the_physical_line(
    find: str, replace: str, prop: str, expected: str
) -> None:
    text = sample("google.ics").replace(find, replace)
    number = line_of(text, replace)
    assert number > 35  # after the folded DESCRIPTION: lines are counted as written
    problems = parse(text).problems
    assert any(p.startswith(f"line {number} ({prop}): {expected}") for p in problems), problems


def test_a_block_left_open_in_a_real_export() -> None:
    text = sample("apple.ics").replace("END:VALARM\r\n", "")
    problems = parse(text).problems
    assert "END:VEVENT does not close the open block" in problems[0]
    assert problems[0].startswith(f"line {text.splitlines().index('END:VEVENT', 60) + 1} (END)")
