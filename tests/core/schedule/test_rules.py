"""RRULE handling (the fast-forward gives what dateutil gives from DTSTART) and the checks of
an entry's timing fields, each naming the field."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from trocadero.core.codec import from_plain, to_plain
from trocadero.core.model import ScheduleEntry
from trocadero.core.schedule.recurrence import Recurrence

from .util import PARIS

RULES = st.sampled_from(
    [
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=WEEKLY;BYDAY=MO,FR",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA;WKST=SU",
        "FREQ=MONTHLY",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=31",
        "FREQ=YEARLY",
        "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24",
        "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
        "FREQ=HOURLY;INTERVAL=7",
        "FREQ=HOURLY;BYHOUR=20,22",
        "FREQ=MINUTELY;INTERVAL=45",
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    rule=RULES,
    start=st.datetimes(datetime(2016, 1, 1), datetime(2026, 1, 1)),
    ahead=st.integers(0, 6 * 365),
)
def test_fast_forward_gives_what_dateutil_gives_from_dtstart(
    rule: str, start: datetime, ahead: int
) -> None:
    start = start.replace(second=0, microsecond=0)
    lo = start + timedelta(days=ahead)
    hi = lo + timedelta(days=40)
    expected = rrulestr(rule, dtstart=start).between(lo, hi, inc=True)
    assert Recurrence(rule, start, PARIS).between(lo, hi) == expected
    nxt = rrulestr(rule, dtstart=start).after(lo)
    assert Recurrence(rule, start, PARIS).after(lo) == nxt


def test_until_in_utc_is_read_on_the_wall_clock() -> None:
    r = Recurrence("FREQ=DAILY;UNTIL=20260329T190000Z", datetime(2026, 3, 27, 21), PARIS)
    # 19:00Z on the 29th is 21:00 CEST: the 29th at 21:00 is the last one.
    assert r.between(datetime(2026, 3, 1), datetime(2026, 4, 30)) == [
        datetime(2026, 3, 27, 21),
        datetime(2026, 3, 28, 21),
        datetime(2026, 3, 29, 21),
    ]
    whole_day = Recurrence("FREQ=DAILY;UNTIL=20260328", datetime(2026, 3, 27, 21), PARIS)
    assert len(whole_day.between(datetime(2026, 3, 1), datetime(2026, 4, 30))) == 2


def problems(**fields: Any) -> list[str]:
    fields.setdefault("name", "x")
    fields.setdefault("target", "warm")
    fields.setdefault("target_kind", "look")
    built, found = from_plain(ScheduleEntry, {**to_plain(ScheduleEntry()), **fields})
    assert built is None
    return found


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"rrule": "FREQ=FORTNIGHTLY"}, "rrule: FREQ must be one of"),
        ({"rrule": "FREQ=SECONDLY"}, "rrule: FREQ=SECONDLY is not supported"),
        ({"rrule": "BYDAY=MO"}, "rrule: FREQ is required"),
        ({"rrule": "FREQ=DAILY;COUNT=2;UNTIL=20270101"}, "rrule: give COUNT or UNTIL"),
        ({"rrule": "FREQ=DAILY;BYDAY=XX"}, "rrule: "),
        ({"rrule": "FREQ=DAILY;UNTIL=20261340"}, "rrule: UNTIL is not a calendar date"),
        ({"timezone": "Mars/Olympus"}, "timezone: not a time zone of the tz database"),
        ({"anchor": "moonrise"}, "anchor: must be one of"),
        ({"offset_s": 600}, "offset_s: only with a sun anchor"),
        ({"not_before": "20:00"}, "not_before: only with a sun anchor"),
        ({"anchor": "sunset", "not_before": "8pm"}, 'not_before: expected a time "HH:MM"'),
        ({"anchor": "sunset", "not_after": "48:00"}, "not_after: must be between 00:00 and 47"),
        (
            {"anchor": "sunset", "not_before": "22:00", "not_after": "21:00"},
            "not_after: before not_before",
        ),
        ({"offset_s": 50000, "anchor": "sunset"}, "offset_s: must be between -43200 and 43200"),
        ({"end_anchor": "clock"}, "end_time: required with end_anchor clock"),
        ({"end_anchor": "clock", "end_time": "25:00"}, "end_time: must be between 00:00 and 23"),
        ({"end_anchor": "sunrise", "duration_s": 60}, "duration_s: only with end_anchor duration"),
        ({"end_time": "01:00"}, "end_time: only with end_anchor clock"),
        ({"end_offset_s": 60}, "end_offset_s: only with a sun end_anchor"),
        ({"valid_from": "2026-02-30"}, "valid_from: not a calendar date"),
        (
            {"valid_from": "2026-03-01", "valid_until": "2026-02-01"},
            "valid_until: before valid_from",
        ),
        ({"exdates": ["2026-12-24", "Christmas"]}, 'exdates[1]: expected a date "YYYY-MM-DD"'),
        ({"rdates": ["2026-12-24T25:00"]}, "rdates[0]: must be between 00:00 and 23"),
        ({"fade_s": -1}, "fade_s: must be between 0 and 3600"),
    ],
)
def test_timing_fields_are_checked_by_name(fields: dict[str, Any], expected: str) -> None:
    found = problems(**fields)
    assert any(p.startswith(expected) for p in found), found
