"""Reading an iCalendar file with the `icalendar` package, keeping where each thing was.

`icalendar` splits content lines (parameters, quoting, escapes), types the values (dates,
date-times with their TZID resolved to a zone, including Windows zone names, durations,
periods, text) and builds the component tree. What it does not keep is the line a property
came from, which every problem we report names; so its parser is driven here one content line
at a time with the line number at hand, and each property is recorded with that number next
to what `icalendar` made of it. Two deviations from its defaults, both deliberate:

- a VTIMEZONE is not put in `icalendar`'s process-wide zone cache (a later import defining
  the same TZID differently would get the earlier one); `ical.py` decides what a TZID that no
  tz database knows means;
- nothing is raised: every problem is collected with its line, and reading goes on.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from icalendar import Calendar, Component
from icalendar.error import GloballyUniqueTZIDGuessed
from icalendar.parser import Contentline, Parameters
from icalendar.parser.ical.component import ComponentIcalParser

__all__ = ["Block", "Prop", "Read", "read_ical"]


@dataclass(frozen=True, slots=True)
class Prop:
    """One property as written (line, name, parameters, raw value) and as `icalendar`
    typed it (`value`, None when it could not: then `error` says why)."""

    line: int
    name: str
    params: Mapping[str, str]
    raw: str
    value: Any = None
    error: str = ""

    @property
    def where(self) -> str:
        return f"line {self.line} ({self.name})"


@dataclass(frozen=True, slots=True)
class Block:
    """A component (VEVENT, VTIMEZONE) with its BEGIN line and properties in file order."""

    kind: str
    begin: int
    props: tuple[Prop, ...]
    component: Component

    def one(self, name: str) -> Prop | None:
        return next((p for p in self.props if p.name == name), None)

    def all(self, name: str) -> list[Prop]:
        return [p for p in self.props if p.name == name]


@dataclass(frozen=True, slots=True)
class Read:
    events: tuple[Block, ...]  # the VEVENTs directly inside the VCALENDAR, in file order
    timezones: Mapping[str, Block]  # the calendar's VTIMEZONEs by TZID
    problems: tuple[str, ...]


def _contentline(text: str) -> Contentline:
    return Contentline(text)  # type: ignore[no-untyped-call]  # its __new__ is unannotated


def _content_lines(text: str) -> Iterator[tuple[int, Contentline]]:
    """Logical lines with the number of their first physical line (a line starting with a
    space or tab continues the one before: RFC 5545 §3.1 folding)."""
    current: str | None = None
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw[:1] in (" ", "\t") and current is not None:
            current += raw[1:]
            continue
        if current is not None and current.strip():
            yield start, _contentline(current)
        current, start = raw, number
    if current is not None and current.strip():
        yield start, _contentline(current)


class _LocatingParser(ComponentIcalParser):
    """`icalendar`'s component parser, fed line by line so each property keeps its line."""

    def __init__(self, lines: list[tuple[int, Contentline]]) -> None:
        super().__init__(
            [line for _, line in lines], Calendar._get_component_factory(), Calendar.types_factory
        )
        self._numbered = lines
        self.line = 0
        self.problems: list[str] = []
        self.begins: dict[int, int] = {}  # id(component) → its BEGIN line
        self.props: dict[int, list[Prop]] = {}  # id(component) → its properties
        self.saw_calendar = False
        self._keep: list[Component] = []  # the ids above stay valid while this lives

    def parse_content_lines(self) -> None:
        for number, line in self._numbered:
            self.line = number
            try:
                name, params, value = line.parts()
            except ValueError:
                self.problems.append(f"line {number}: expected NAME:VALUE (got {line[:40]!r})")
                continue
            upper = name.upper()
            if upper == "BEGIN":
                self.handle_begin_component(value)
            elif upper == "END":
                self.handle_end_component(value)
            else:
                self.handle_property(upper, params, value, line)

    def handle_begin_component(self, vals: str) -> None:
        super().handle_begin_component(vals)
        component = self._stack[-1]
        self._keep.append(component)
        self.begins[id(component)] = self.line
        self.props[id(component)] = []
        self.saw_calendar |= vals.strip().upper() == "VCALENDAR"

    def handle_end_component(self, vals: str) -> None:
        # Not the base's: it pops whatever is open, and caches VTIMEZONEs process-wide.
        kind = vals.strip().upper()
        if not self._stack or self._stack[-1].name != kind:
            self.problems.append(
                f"line {self.line} (END): END:{kind} does not close the open block"
            )
            return
        component = self._stack.pop()
        if self._stack:
            self._stack[-1].add_component(component)
        else:
            self._components.append(component)

    def handle_property(self, name: str, params: Parameters, vals: str, line: Contentline) -> None:
        if self.component is None:
            self.problems.append(f"line {self.line} ({name}): outside BEGIN:VCALENDAR")
            return
        super().handle_property(name, params, vals, line)

    def parse_and_add_property(
        self, name: str, params: Parameters, val: str, tzid: str | None, line: Contentline
    ) -> None:
        component = self.component
        assert component is not None  # handle_property checked
        errors = len(component.errors)
        value: Any = None
        error = ""
        try:
            super().parse_and_add_property(name, params, val, tzid, line)
        except (ValueError, TypeError) as exc:  # components that do not tolerate errors
            error = str(exc)
        else:
            if len(component.errors) > errors:  # VEVENT: recorded as a broken property
                error = str(component.errors[-1][1])
            else:
                added = component.get(name)
                value = added[-1] if isinstance(added, list) else added
        plain = {str(k).upper(): str(v) for k, v in params.items()}
        self.props[id(component)].append(Prop(self.line, name, plain, val, value, error))

    def block(self, component: Component) -> Block:
        key = id(component)
        return Block(str(component.name), self.begins[key], tuple(self.props[key]), component)


def read_ical(text: str) -> Read:
    """The events and zones of `text`, and every structural problem, each naming its line."""
    parser = _LocatingParser(list(_content_lines(text)))
    with warnings.catch_warnings():
        # "/vendor/Europe/Paris" read as Europe/Paris is what we want, not worth a warning.
        warnings.simplefilter("ignore", GloballyUniqueTZIDGuessed)
        calendars = parser.parse()
    problems = parser.problems
    if not parser.saw_calendar:
        problems.append("line 1: not an iCalendar file (no BEGIN:VCALENDAR)")
    elif parser.component is not None:
        problems.append(f"end of file: BEGIN:{parser.component.name} is never closed")
    events: list[Block] = []
    zones: dict[str, Block] = {}
    for calendar in calendars:
        if calendar.name != "VCALENDAR":
            continue
        for sub in calendar.subcomponents:
            if sub.name == "VEVENT":
                events.append(parser.block(sub))
            elif sub.name == "VTIMEZONE" and "TZID" in sub:
                zones[str(sub["TZID"]).strip("/")] = parser.block(sub)
    return Read(tuple(events), zones, tuple(problems))
