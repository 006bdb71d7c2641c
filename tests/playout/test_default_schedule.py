"""The embedded default show's own evening: a fresh store is seeded with its schedule entries
(the Evening list from sunset -15 min, released at 01:00 on weeknights and 02:00 on Friday and
Saturday nights), the why view picks them on the right nights, and a show file's schedule
entries are checked like every other entry (check-config names the bad one)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_harness import DEFAULT_SCHEDULE, Daemon, running_daemon

# December 2026 in Paris: sunset about 16:55, so the lists start about 16:40.
WEDNESDAY = "2026-12-09"
SATURDAY = "2026-12-12"
EVENING_CANVASES = ("canopy", "facade", "interior", "stairs", "videowall")  # all `main` uses


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("default-schedule")) as d:
        d.wait_healthy()
        yield d


def winners(daemon: Daemon, at: str) -> dict[str, str | None]:
    """Per canvas, the name of the entry that plays at `at` (site wall clock), or None."""
    r = daemon.get("/api/schedule/now", params={"at": at})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["timezone"] == "Europe/Paris"
    return {
        canvas: (why["winner"] or {}).get("entry", {}).get("name")
        for canvas, why in body["canvases"].items()
    }


def test_a_fresh_store_holds_the_default_evening(daemon: Daemon) -> None:
    entries = daemon.get("/api/schedule").json()["entries"]
    assert tuple(e["name"] for e in entries) == DEFAULT_SCHEDULE
    by_name = {e["name"]: e for e in entries}
    for entry in entries:
        assert entry["enabled"] is True
        assert (entry["target_kind"], entry["target"]) == ("cue_list", "main")
        assert (entry["anchor"], entry["offset_s"]) == ("sunset", -900.0)
    assert by_name["evening-weeknights"]["rrule"] == "FREQ=WEEKLY;BYDAY=SU,MO,TU,WE,TH"
    assert by_name["evening-weeknights"]["end_time"] == "01:00"
    assert by_name["evening-weekend"]["rrule"] == "FREQ=WEEKLY;BYDAY=FR,SA"
    assert by_name["evening-weekend"]["end_time"] == "02:00"


def test_weeknights_play_the_evening_list_from_before_sunset_to_one(daemon: Daemon) -> None:
    evening = winners(daemon, f"{WEDNESDAY}T21:00")
    assert {c: evening[c] for c in EVENING_CANVASES} == dict.fromkeys(
        EVENING_CANVASES, "evening-weeknights"
    )
    assert winners(daemon, f"{WEDNESDAY}T16:45")["facade"] == "evening-weeknights"
    assert winners(daemon, f"{WEDNESDAY}T16:00")["facade"] is None  # before sunset -15
    # Released at 01:00: the idle look has the building until the next evening.
    assert winners(daemon, "2026-12-10T00:55")["facade"] == "evening-weeknights"
    assert set(winners(daemon, "2026-12-10T01:30").values()) == {None}
    assert set(winners(daemon, "2026-12-10T03:00").values()) == {None}


def test_friday_and_saturday_nights_run_to_two(daemon: Daemon) -> None:
    assert winners(daemon, f"{SATURDAY}T21:00")["facade"] == "evening-weekend"
    assert winners(daemon, "2026-12-13T01:30")["facade"] == "evening-weekend"  # Saturday's night
    assert set(winners(daemon, "2026-12-13T03:00").values()) == {None}
    assert winners(daemon, "2026-12-11T21:00")["facade"] == "evening-weekend"  # Friday
    assert winners(daemon, "2026-12-13T21:00")["facade"] == "evening-weeknights"  # Sunday


def test_the_harness_daemon_does_not_run_the_schedule(daemon: Daemon) -> None:
    """Whatever the time of day, the harness's daemon starts with no list playing."""
    state = daemon.get("/api/playback").json()
    assert [s["name"] for s in state["lists"] if s["current"] is not None] == []


def test_check_config_names_a_bad_schedule_entry_of_a_show_file(tmp_path: Path) -> None:
    show = tmp_path / "show.toml"
    show.write_text(
        '[[canvases]]\nname = "c"\nwidth = 4\nheight = 1\n'
        '[[looks]]\nname = "warm"\ncanvases = [{ canvas = "c", layers = [] }]\n'
        '[[schedules]]\nname = "dusk"\ntarget_kind = "look"\ntarget = "warm"\n'
        'dtstart = "2026-01-01T18:00:00+01:00"\nrrule = "FREQ=DAILY"\n'
        '[[schedules]]\nname = "late"\ntarget_kind = "cue_list"\ntarget = "nope"\n'
        'dtstart = "tomorrow"\n'
    )
    config = tmp_path / "site.toml"
    config.write_text(f'[show]\npath = "{show}"\n')
    done = subprocess.run(
        [sys.executable, "-m", "trocadero", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f'{show}: schedules[1 "late"].dtstart: expected an ISO 8601' in done.stderr
    assert "dusk" not in done.stderr
    show.write_text(show.read_text().replace('"tomorrow"', '"2026-01-01T23:00:00+01:00"'))
    done = subprocess.run(
        [sys.executable, "-m", "trocadero", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f'{show}: schedules[1 "late"].target: no cue list "nope"' in done.stderr
