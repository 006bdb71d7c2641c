"""Precedence per canvas and its explanation, the timeline, the look-back horizon."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from trocadero.core.schedule.resolve import Schedule, timeline_doc, verdict_doc

from .util import PARIS, entry, local, paris, schedule


def winners(s: Schedule, at: datetime) -> dict[str, str]:
    """Canvas → the winning entry's name, for the canvases something plays on."""
    v = s.verdict(at)
    return {c: cv.winner.entry.name for c, cv in v.canvases.items() if cv.winner is not None}


def test_restart_at_21_37_shows_the_21_00_entry() -> None:
    nightly = entry(
        "nightly",
        id=1,
        rrule="FREQ=DAILY",
        dtstart=local(2026, 1, 1, 21),
        duration_s=3 * 3600.0,
        target_kind="cue_list",
        target="evening",
    )
    v = schedule(nightly).verdict(local(2026, 11, 3, 21, 37))
    (playing,) = v.winners()
    assert playing.entry.name == "nightly"
    assert paris(playing.occurrence.start) == "2026-11-03 21:00:00+0100"
    assert set(playing.canvases) == {"facade", "canopy"}
    assert schedule(nightly).verdict(local(2026, 11, 4, 0, 0)).winners() == []


def test_priority_wins_over_everything() -> None:
    base = entry("base", id=1, rrule="FREQ=DAILY", dtstart=local(2026, 1, 1, 18), priority=9)
    special = entry("special", id=2, dtstart=local(2026, 12, 24, 19), target="red", priority=1)
    s = schedule(base, special)
    v = s.verdict(local(2026, 12, 24, 20))
    assert v.canvases["facade"].winner is not None
    assert v.canvases["facade"].winner.entry.name == "base"
    (lost,) = v.canvases["facade"].beaten
    assert (lost.candidate.entry.name, lost.rule) == ("special", "priority")
    assert lost.reason == "lower priority (1 < 9)"


def test_same_priority_narrowest_date_range_wins() -> None:
    daily = entry("daily", id=3, rrule="FREQ=DAILY", dtstart=local(2026, 1, 1, 20, 30))
    december = entry(
        "december",
        id=1,
        rrule="FREQ=DAILY",
        dtstart=local(2026, 1, 1, 19),
        valid_from="2026-12-01",
        valid_until="2026-12-31",
        target="red",
    )
    christmas_week = entry(
        "christmas week",
        id=2,
        rrule="FREQ=DAILY;COUNT=7",
        dtstart=local(2026, 12, 20, 18),
        target="red",
    )
    s = schedule(daily, december, christmas_week)
    at = local(2026, 12, 22, 21)
    assert winners(s, at)["facade"] == "christmas week"
    assert winners(s, at)["canopy"] == "daily"  # red has no canopy; daily's warm has
    beaten = {b.candidate.entry.name: b for b in s.verdict(at).canvases["facade"].beaten}
    assert beaten["december"].rule == "date_range"
    assert beaten["december"].reason == (
        "same priority (0), wider date range (31 days against 7 days)"
    )
    assert beaten["daily"].rule == "date_range"
    assert "unbounded against 7 days" in beaten["daily"].reason
    # After the week, December's 31 days beat the unbounded daily entry (started later).
    assert winners(s, local(2026, 12, 28, 21))["facade"] == "december"


def test_same_priority_and_range_the_later_start_wins_then_the_newer_entry() -> None:
    a = entry("a", id=1, rrule="FREQ=DAILY", dtstart=local(2026, 1, 1, 19))
    b = entry("b", id=2, rrule="FREQ=DAILY", dtstart=local(2026, 1, 1, 20), target="red")
    s = schedule(a, b)
    assert winners(s, local(2026, 5, 5, 19, 30))["facade"] == "a"
    assert winners(s, local(2026, 5, 5, 20, 30))["facade"] == "b"
    (lost,) = s.verdict(local(2026, 5, 5, 20, 30)).canvases["facade"].beaten
    assert lost.rule == "start"
    assert lost.reason.startswith("same priority and date range, started earlier")
    # The same start too: the newer entry (higher id).
    c = entry("c", id=7, rrule="FREQ=DAILY", dtstart=local(2026, 1, 1, 20), target="warm")
    s = schedule(b, c)
    assert winners(s, local(2026, 5, 5, 20, 30))["facade"] == "c"
    (lost,) = s.verdict(local(2026, 5, 5, 20, 30)).canvases["facade"].beaten
    assert (lost.candidate.entry.name, lost.rule) == ("b", "entry")


def test_an_open_ended_entry_gives_way_to_its_own_next_occurrence() -> None:
    daily = entry("daily", id=1, rrule="FREQ=DAILY", dtstart=local(2026, 1, 1, 20))
    v = schedule(daily).verdict(local(2026, 5, 5, 19))
    (w,) = v.winners()
    assert paris(w.occurrence.start) == "2026-05-04 20:00:00+0200"
    assert w.occurrence.end is not None
    assert paris(w.occurrence.end) == "2026-05-05 20:00:00+0200"


def test_a_cue_list_plays_as_a_whole() -> None:
    lst = entry(
        "list",
        id=1,
        priority=5,
        rrule="FREQ=DAILY",
        dtstart=local(2026, 1, 1, 20),
        target_kind="cue",
        target="evening",
        cue=Decimal(2),
    )
    canopy_blue = entry("blue", id=2, priority=8, dtstart=local(2026, 7, 14, 21), target="blue")
    facade_low = entry("low", id=3, priority=1, rrule="FREQ=DAILY", dtstart=local(2026, 1, 1, 18),
                       target="red")  # fmt: skip
    s = schedule(lst, canopy_blue, facade_low)
    assert winners(s, local(2026, 7, 13, 21, 30)) == {"canopy": "list", "facade": "list"}
    v = s.verdict(local(2026, 7, 14, 21, 30))
    assert winners(s, local(2026, 7, 14, 21, 30)) == {"canopy": "blue", "facade": "low"}
    facade = {b.candidate.entry.name: b for b in v.canvases["facade"].beaten}
    assert facade["list"].rule == "whole_list"
    assert 'canvas canopy went to "blue" (lower priority (5 < 8))' in facade["list"].reason
    canopy = {b.candidate.entry.name: b for b in v.canvases["canopy"].beaten}
    assert canopy["list"].rule == "priority"


def test_disabled_entries_and_missing_targets_are_explained() -> None:
    off = entry("off", id=1, enabled=False, rrule="FREQ=DAILY", dtstart=local(2026, 1, 1, 20))
    ghost = entry("ghost", id=2, rrule="FREQ=DAILY", target="nope")
    v = schedule(off, ghost).verdict(local(2026, 3, 3, 21))
    assert v.canvases["facade"].winner is None
    (b,) = v.canvases["facade"].beaten
    assert (b.candidate.entry.name, b.rule, b.reason) == (
        "off",
        "disabled",
        "the entry is disabled",
    )
    assert [(e.name, why) for e, why in v.skipped] == [("ghost", 'no look "nope"')]


def test_the_look_back_horizon_bounds_what_a_restart_brings_back() -> None:
    # Weekly and open: each occurrence lasts until the next one, a week later...
    weekly = entry("weekly", id=1, rrule="FREQ=WEEKLY", dtstart=local(2026, 3, 1, 20))
    assert winners(schedule(weekly), local(2026, 3, 7, 23))["facade"] == "weekly"
    # ... unless the horizon is shorter: then it is forgotten that long after it started.
    s = schedule(weekly, horizon=timedelta(days=2))
    assert winners(s, local(2026, 3, 2, 19))["facade"] == "weekly"
    assert winners(s, local(2026, 3, 3, 21)) == {}
    assert s.next_change(local(2026, 3, 2, 19), local(2026, 3, 4)) == local(2026, 3, 3, 20)
    assert winners(s, local(2026, 3, 8, 20))["facade"] == "weekly"


def test_why_view_document() -> None:
    a = entry("a", id=1, rrule="FREQ=DAILY", anchor="sunset", offset_s=900.0, end_anchor="clock",
              end_time="01:00")  # fmt: skip
    b = entry("b", id=2, dtstart=local(2026, 12, 24, 20), duration_s=4 * 3600.0, target="red")
    doc = verdict_doc(schedule(a, b).verdict(local(2026, 12, 24, 21, 37)), PARIS)
    assert doc["at"] == "2026-12-24T21:37:00+01:00"
    facade = doc["canvases"]["facade"]
    assert facade["winner"]["entry"]["name"] == "b"
    assert facade["winner"]["date_range_days"] == 1.0
    (lost,) = facade["beaten"]
    assert lost["entry"]["name"] == "a"
    assert lost["anchor"] == "sunset"
    assert lost["sun"].startswith("2026-12-24T16:57")
    assert lost["start"].startswith("2026-12-24T17:12")
    assert (lost["rule"], lost["by"]) == ("date_range", "b")
    assert doc["canvases"]["canopy"]["winner"]["entry"]["name"] == "a"
    assert [p["entry"]["name"] for p in doc["playing"]] == ["b", "a"]


def test_timeline_of_a_day() -> None:
    a = entry("a", id=1, rrule="FREQ=DAILY", anchor="sunset", offset_s=900.0, end_anchor="clock",
              end_time="01:00")  # fmt: skip
    b = entry("b", id=2, dtstart=local(2026, 12, 24, 20), duration_s=4 * 3600.0, target="red")
    line = schedule(a, b).timeline(local(2026, 12, 24, 12), local(2026, 12, 25, 12))
    doc = timeline_doc(line, PARIS)
    facade = [(s["start"][11:16], s["end"][11:16], s["entry"]) for s in doc["canvases"]["facade"]]
    assert facade == [
        ("12:00", "17:12", None),
        ("17:12", "20:00", "a"),
        ("20:00", "00:00", "b"),
        ("00:00", "01:00", "a"),
        ("01:00", "12:00", None),
    ]
    assert [(t["at"][11:16], t["canvas"], t["from"], t["to"]) for t in doc["transitions"]] == [
        ("17:12", "canopy", None, "a"),
        ("17:12", "facade", None, "a"),
        ("20:00", "facade", "a", "b"),
        ("00:00", "facade", "b", "a"),
        ("01:00", "canopy", "a", None),
        ("01:00", "facade", "a", None),
    ]
