"""When occurrences start and end: sun anchors against astral itself, the DST change days,
midnight crossing, clamps, the polar rule, EXDATE/RDATE, date ranges and open ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import astral
import astral.sun
import pytest

from trocadero.config.schema import SiteConfig
from trocadero.core.schedule.occurrences import Timing
from trocadero.core.schedule.sun import sun_time

from .util import PARIS, SITE, entry, local, occurrences, paris

TROCADERO = astral.Observer(latitude=48.8616, longitude=2.2893)


def test_daily_sunset_plus_15_min_across_a_whole_year_matches_astral() -> None:
    e = entry(rrule="FREQ=DAILY", anchor="sunset", offset_s=900.0, duration_s=3600.0)
    found = occurrences(e, local(2026, 1, 1), local(2027, 1, 1))
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    assert [o.day for o in found] == days
    for o, day in zip(found, days, strict=True):
        expected = astral.sun.sunset(TROCADERO, day, tzinfo=PARIS) + timedelta(minutes=15)
        assert o.start == expected, day
        assert o.sun == astral.sun.sunset(TROCADERO, day, tzinfo=PARIS)
        assert o.end == o.start + timedelta(hours=1)
        assert not o.notes
    # DST moves the wall clock, not the sun: across each change day sunset moves by minutes.
    by_day = {o.day: o.start for o in found}
    for change in (date(2026, 3, 29), date(2026, 10, 25)):
        step = by_day[change] - by_day[change - timedelta(days=1)]
        assert timedelta(hours=23, minutes=58) < step < timedelta(hours=24, minutes=3)


def test_spring_forward_02_30_runs_once_at_03_00() -> None:
    e = entry(rrule="FREQ=DAILY", dtstart=local(2026, 3, 1, 2, 30), duration_s=600.0)
    found = occurrences(e, local(2026, 3, 28), local(2026, 3, 31))
    assert [paris(o.start) for o in found] == [
        "2026-03-28 02:30:00+0100",
        "2026-03-29 03:00:00+0200",  # 02:30 does not exist: the clock jumps past it at 03:00
        "2026-03-30 02:30:00+0200",
    ]
    assert found[1].day == date(2026, 3, 29)
    assert "does not exist" in found[1].notes[0]


def test_fall_back_02_30_runs_once_at_the_first_02_30() -> None:
    e = entry(rrule="FREQ=DAILY", dtstart=local(2026, 10, 1, 2, 30), duration_s=600.0)
    found = occurrences(e, local(2026, 10, 24), local(2026, 10, 27))
    assert [paris(o.start) for o in found] == [
        "2026-10-24 02:30:00+0200",
        "2026-10-25 02:30:00+0200",  # summer time; the repeated 02:30 (+0100) is not played
        "2026-10-26 02:30:00+0100",
    ]


def test_hourly_rules_follow_the_wall_clock_on_change_days() -> None:
    e = entry(rrule="FREQ=HOURLY", dtstart=local(2026, 3, 1), duration_s=60.0)
    spring = occurrences(e, local(2026, 3, 29), local(2026, 3, 30))
    # 02:00 does not exist and becomes 03:00, the same instant as 03:00: played once.
    assert len(spring) == 23
    assert [paris(o.start)[11:16] for o in spring[1:4]] == ["01:00", "03:00", "04:00"]
    autumn = occurrences(e, local(2026, 10, 25), local(2026, 10, 26))
    assert len(autumn) == 24  # a 25-hour day, 24 wall-clock hours: 02:00 once
    assert [paris(o.start)[11:] for o in autumn[2:4]] == ["02:00:00+0200", "03:00:00+0100"]


def test_durations_are_real_time_and_end_times_are_wall_clock_on_the_fall_back_night() -> None:
    by_duration = entry(dtstart=local(2026, 10, 24, 22), duration_s=6 * 3600.0)
    (o,) = occurrences(by_duration, local(2026, 10, 24), local(2026, 10, 26))
    assert paris(o.end) == "2026-10-25 03:00:00+0100"  # six hours later, wall clock shows 5
    by_clock = entry(dtstart=local(2026, 10, 24, 22), end_anchor="clock", end_time="04:00")
    (o,) = occurrences(by_clock, local(2026, 10, 24), local(2026, 10, 26))
    assert paris(o.end) == "2026-10-25 04:00:00+0100"
    assert o.end is not None
    assert (o.end - o.start) == timedelta(hours=7)


def test_an_entry_crossing_midnight_belongs_to_its_start_date() -> None:
    friday_night = entry(
        rrule="FREQ=WEEKLY;BYDAY=FR",
        dtstart=local(2026, 6, 5, 22),
        end_anchor="clock",
        end_time="02:00",
        valid_until="2026-06-12",
        exdates=("2026-06-13",),  # a Saturday: it excludes nothing (no start on that date)
    )
    found = occurrences(friday_night, local(2026, 6, 1), local(2026, 7, 1))
    assert [(o.day, paris(o.start), paris(o.end)) for o in found] == [
        (date(2026, 6, 5), "2026-06-05 22:00:00+0200", "2026-06-06 02:00:00+0200"),
        (date(2026, 6, 12), "2026-06-12 22:00:00+0200", "2026-06-13 02:00:00+0200"),
    ]
    # Its date is Friday: a Friday EXDATE removes the night, the range's last Friday runs on.
    without = occurrences(
        entry(
            rrule="FREQ=WEEKLY;BYDAY=FR",
            dtstart=local(2026, 6, 5, 22),
            end_anchor="clock",
            end_time="02:00",
            exdates=("2026-06-12",),
        ),
        local(2026, 6, 1),
        local(2026, 6, 20),
    )
    assert [o.day for o in without] == [date(2026, 6, 5), date(2026, 6, 19)]


def test_a_sun_start_moved_past_midnight_keeps_its_date() -> None:
    late = entry(rrule="FREQ=DAILY", anchor="sunset", offset_s=5 * 3600.0, duration_s=60.0)
    (o,) = occurrences(late, local(2026, 6, 21, 12), local(2026, 6, 22, 12))
    assert o.day == date(2026, 6, 21)
    assert paris(o.start).startswith("2026-06-22 02:57")  # sunset 21:57 + 5 h
    excluded = entry(
        rrule="FREQ=DAILY",
        anchor="sunset",
        offset_s=5 * 3600.0,
        duration_s=60.0,
        exdates=("2026-06-21",),
    )
    assert occurrences(excluded, local(2026, 6, 21, 12), local(2026, 6, 22, 12)) == []


def test_clamps() -> None:
    early = entry(rrule="FREQ=DAILY", anchor="sunset", not_before="20:00", not_after="21:00")
    (winter,) = occurrences(early, local(2026, 12, 21, 12), local(2026, 12, 22, 12))
    assert paris(winter.start) == "2026-12-21 20:00:00+0100"  # sunset 16:56, held back
    assert winter.notes == ("held back to not_before 20:00",)
    (summer,) = occurrences(early, local(2026, 6, 21, 12), local(2026, 6, 22, 12))
    assert paris(summer.start) == "2026-06-21 21:00:00+0200"  # sunset 21:57, brought forward
    (spring,) = occurrences(early, local(2026, 4, 1, 12), local(2026, 4, 2, 12))
    assert spring.notes == ()  # 20:26: inside the window
    # Past midnight: "24:30" is 00:30 the next night, still the same occurrence and date.
    night = entry(rrule="FREQ=DAILY", anchor="sunset", offset_s=3 * 3600.0, not_after="24:30")
    (o,) = occurrences(night, local(2026, 6, 21, 12), local(2026, 6, 22, 12))
    assert (o.day, paris(o.start)) == (date(2026, 6, 21), "2026-06-22 00:30:00+0200")


def test_polar_rule_at_the_trocadero_and_in_tromso() -> None:
    # Astronomical night never comes to Paris around the June solstice: solar midnight.
    june = sun_time(48.8616, 2.2893, "Europe/Paris", "astronomical_dusk", date(2026, 6, 21))
    assert "stays above -18°" in june.polar
    noon = astral.sun.noon(TROCADERO, date(2026, 6, 21))
    assert june.at == noon + timedelta(hours=12)
    # An evening event after midnight belongs to the evening before (not astral's date).
    may = sun_time(48.8616, 2.2893, "Europe/Paris", "astronomical_dusk", date(2026, 5, 24))
    assert paris(may.at).startswith("2026-05-25 00:28")
    assert may.polar == ""
    tromso = SiteConfig(latitude=69.6492, longitude=18.9553, timezone="Europe/Oslo")
    e = entry(rrule="FREQ=DAILY", anchor="sunset", duration_s=60.0)
    t = Timing(e, tromso)
    (midsummer,) = t.occurrences(
        datetime(2026, 6, 21, 10, tzinfo=UTC), datetime(2026, 6, 22, 10, tzinfo=UTC)
    )
    assert "solar midnight" in midsummer.notes[0]
    (midwinter,) = t.occurrences(
        datetime(2026, 12, 21, 0, tzinfo=UTC), datetime(2026, 12, 22, 0, tzinfo=UTC)
    )
    assert "solar noon" in midwinter.notes[0]


def test_dusk_to_dawn_and_sunset_to_a_clock_end() -> None:
    dusk_to_dawn = entry(rrule="FREQ=DAILY", anchor="civil_dusk", end_anchor="civil_dawn")
    (o,) = occurrences(dusk_to_dawn, local(2026, 12, 24, 12), local(2026, 12, 25, 12))
    dusk = astral.sun.dusk(TROCADERO, date(2026, 12, 24), tzinfo=PARIS)
    dawn = astral.sun.dawn(TROCADERO, date(2026, 12, 25), tzinfo=PARIS)
    assert (o.start, o.end) == (dusk, dawn)
    until_one = entry(rrule="FREQ=DAILY", anchor="sunset", end_anchor="clock", end_time="01:00")
    (o,) = occurrences(until_one, local(2026, 12, 24, 12), local(2026, 12, 25, 12))
    assert paris(o.end) == "2026-12-25 01:00:00+0100"


def test_exdate_and_rdate() -> None:
    e = entry(
        rrule="FREQ=DAILY",
        dtstart=local(2026, 12, 20, 21),
        duration_s=3600.0,
        exdates=("2026-12-24", "2026-12-26T21:00"),
        rdates=("2026-12-24T23:30", "2026-12-19"),
    )
    found = occurrences(e, local(2026, 12, 18), local(2026, 12, 28))
    assert [paris(o.start)[:16] for o in found] == [
        "2026-12-19 21:00",  # an RDATE date: at the usual time, even before dtstart
        "2026-12-20 21:00",
        "2026-12-21 21:00",
        "2026-12-22 21:00",
        "2026-12-23 21:00",
        # 24th: the EXDATE date removes the rule's 21:00 ... and the RDATE at 23:30 too,
        # since an EXDATE date removes every start on that date
        "2026-12-25 21:00",
        "2026-12-27 21:00",  # 26th 21:00 removed by the EXDATE date-time
    ]
    one_off = entry(dtstart=local(2026, 7, 14, 22), duration_s=60.0, rdates=("2026-07-13",))
    found = occurrences(one_off, local(2026, 7, 1), local(2026, 8, 1))
    assert [paris(o.start)[:16] for o in found] == ["2026-07-13 22:00", "2026-07-14 22:00"]


def test_date_range_and_open_ends() -> None:
    open_daily = entry(
        rrule="FREQ=DAILY",
        dtstart=local(2026, 12, 1, 20),
        valid_from="2026-12-10",
        valid_until="2026-12-12",
    )
    found = occurrences(open_daily, local(2026, 12, 1), local(2027, 1, 1))
    assert [(paris(o.start)[:16], paris(o.end)[:16]) for o in found] == [
        ("2026-12-10 20:00", "2026-12-11 20:00"),  # until its next occurrence
        ("2026-12-11 20:00", "2026-12-12 20:00"),
        ("2026-12-12 20:00", "2026-12-13 00:00"),  # the date range ends at midnight
    ]
    assert Timing(open_daily, SITE).width == 3.0
    # A one-off open entry: its date range is its day, so it lasts until midnight.
    once = entry(dtstart=local(2026, 12, 1, 20))
    (o,) = occurrences(once, local(2026, 11, 1), local(2027, 1, 1))
    assert o.end is not None
    assert paris(o.end) == "2026-12-02 00:00:00+0100"


@pytest.mark.parametrize(
    ("fields", "width"),
    [
        ({}, 1.0),  # a one-off
        ({"rrule": "FREQ=DAILY"}, float("inf")),
        ({"rrule": "FREQ=DAILY;COUNT=7"}, 7.0),
        ({"rrule": "FREQ=WEEKLY;UNTIL=20260131T000000Z"}, 31.0),
        ({"rrule": "FREQ=DAILY", "valid_until": "2026-01-10"}, 10.0),
        ({"rrule": "FREQ=DAILY", "valid_from": "2026-03-01", "valid_until": "2026-03-31"}, 31.0),
        ({"rdates": ("2026-01-05",)}, 5.0),
    ],
)
def test_date_range_width(fields: dict[str, object], width: float) -> None:
    e = entry(dtstart=local(2026, 1, 1, 20), **fields)  # type: ignore[arg-type]
    assert Timing(e, SITE).width == width
