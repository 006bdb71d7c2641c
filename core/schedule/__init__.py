"""The building's schedule, pure: no clock, no IO (docs/schedule.md has the rules).

- `clock`: the site's wall clock (local time ↔ instant, the DST rule), time and date texts;
- `sun`: sunrise, sunset, dawn and dusk at the site, with the polar rule;
- `recurrence`: RRULE over wall-clock times (python-dateutil), fast-forwarded;
- `rules`: the checks of an entry's schedule fields (used by `ScheduleEntry.validate`);
- `occurrences`: an entry's occurrences (start, end, the date they belong to) in a window;
- `resolve`: precedence per canvas, "what plays now and why", the timeline;
- `ical`: iCalendar (RFC 5545) VEVENTs → schedule entries.

This package imports `core.model` only from the modules that need the entry type, so that
`core.model` can use `rules` to validate its fields.
"""
