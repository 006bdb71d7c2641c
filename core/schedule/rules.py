"""The checks of a schedule entry's timing fields, one "field: what is wrong" line each.

`ScheduleEntry.validate` calls `entry_problems`, so the store, the show file and the REST
layer all refuse the same things with the same words. Nothing here depends on `dtstart`: the
loader checks fields before it parses datetimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .clock import parse_date, parse_local, parse_time, zone
from .recurrence import parse_rule

CLAMP_HOURS = 48  # not_before / not_after up to "47:59:59": the next night, same occurrence


class TimingFields(Protocol):
    @property
    def rrule(self) -> str: ...
    @property
    def duration_s(self) -> float | None: ...
    @property
    def timezone(self) -> str: ...
    @property
    def anchor(self) -> str: ...
    @property
    def offset_s(self) -> float: ...
    @property
    def not_before(self) -> str: ...
    @property
    def not_after(self) -> str: ...
    @property
    def end_anchor(self) -> str: ...
    @property
    def end_time(self) -> str: ...
    @property
    def end_offset_s(self) -> float: ...
    @property
    def valid_from(self) -> str: ...
    @property
    def valid_until(self) -> str: ...
    @property
    def exdates(self) -> Sequence[str]: ...
    @property
    def rdates(self) -> Sequence[str]: ...


def entry_problems(e: TimingFields) -> list[str]:
    problems: list[str] = []
    if e.timezone:
        try:
            zone(e.timezone)
        except ValueError as exc:
            problems.append(f"timezone: {exc}")
    if e.rrule:
        try:
            parse_rule(e.rrule)
        except ValueError as exc:
            problems.append(f"rrule: {exc} (got {e.rrule!r})")
    sun_start = e.anchor != "clock"
    if not sun_start:
        if e.offset_s:
            problems.append(f"offset_s: only with a sun anchor (got {e.offset_s:g})")
        for key, value in (("not_before", e.not_before), ("not_after", e.not_after)):
            if value:
                problems.append(f"{key}: only with a sun anchor (got {value!r})")
    clamps = {}
    for key, value in (("not_before", e.not_before), ("not_after", e.not_after)):
        if value and sun_start:
            try:
                clamps[key] = parse_time(value, max_hours=CLAMP_HOURS)
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
    if len(clamps) == 2 and clamps["not_before"] > clamps["not_after"]:
        problems.append(f"not_after: before not_before (got {e.not_after!r} < {e.not_before!r})")
    problems += _end_problems(e)
    days = {}
    for key, value in (("valid_from", e.valid_from), ("valid_until", e.valid_until)):
        if value:
            try:
                days[key] = parse_date(value)
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
    if len(days) == 2 and days["valid_from"] > days["valid_until"]:
        problems.append(
            f"valid_until: before valid_from (got {e.valid_until!r} < {e.valid_from!r})"
        )
    for key, values in (("exdates", e.exdates), ("rdates", e.rdates)):
        for i, value in enumerate(values):
            try:
                parse_local(value)
            except ValueError as exc:
                problems.append(f"{key}[{i}]: {exc}")
    return problems


def _end_problems(e: TimingFields) -> list[str]:
    problems: list[str] = []
    if e.end_anchor == "duration":
        if e.end_time:
            problems.append(f"end_time: only with end_anchor clock (got {e.end_time!r})")
    elif e.duration_s is not None:
        problems.append(
            f"duration_s: only with end_anchor duration (got {e.duration_s:g} with"
            f" end_anchor {e.end_anchor})"
        )
    if e.end_anchor == "clock":
        if not e.end_time:
            problems.append('end_time: required with end_anchor clock, e.g. "01:00"')
        else:
            try:
                parse_time(e.end_time)
            except ValueError as exc:
                problems.append(f"end_time: {exc}")
    elif e.end_anchor != "duration" and e.end_time:
        problems.append(f"end_time: only with end_anchor clock (got {e.end_time!r})")
    if e.end_anchor in ("duration", "clock") and e.end_offset_s:
        problems.append(f"end_offset_s: only with a sun end_anchor (got {e.end_offset_s:g})")
    return problems
