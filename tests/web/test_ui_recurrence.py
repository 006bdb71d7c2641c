"""The schedule form's arithmetic (web/ui/recurrence.js) run in node: presets to and from an
RRULE, and wall-clock times to dtstart by the daemon's rules (docs/schedule.md, Time)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

MODULE = Path(__file__).resolve().parents[2] / "web" / "ui" / "recurrence.js"


def run(tmp_path: Path, expression: str) -> Any:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required to check the UI modules (the brief's machine has it)")
    (tmp_path / "recurrence.mjs").write_text(MODULE.read_text())
    script = tmp_path / "probe.mjs"
    script.write_text(
        'import * as r from "./recurrence.mjs";\n'
        f"process.stdout.write(JSON.stringify({expression}));\n"
    )
    done = subprocess.run([node, str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    ("date", "time", "zone", "dtstart"),
    [
        ("2026-12-01", "21:00", "Europe/Paris", "2026-12-01T21:00:00+01:00"),
        ("2026-07-01", "21:00", "Europe/Paris", "2026-07-01T21:00:00+02:00"),
        # Spring forward: 02:30 does not exist; it stands for 03:00, when the clock jumps.
        ("2026-03-29", "02:30", "Europe/Paris", "2026-03-29T03:00:00+02:00"),
        # Fall back: 02:30 happens twice; the first (summer time) is meant.
        ("2026-10-25", "02:30", "Europe/Paris", "2026-10-25T02:30:00+02:00"),
        ("2026-07-01", "09:00", "America/New_York", "2026-07-01T09:00:00-04:00"),
        ("2026-07-01", "09:00", "Asia/Kolkata", "2026-07-01T09:00:00+05:30"),
        ("2026-12-01", "12:00", "UTC", "2026-12-01T12:00:00+00:00"),
    ],
)
def test_wall_clock_to_dtstart(
    tmp_path: Path, date: str, time: str, zone: str, dtstart: str
) -> None:
    assert run(tmp_path, f"r.zonedIso({date!r}, {time!r}, {zone!r})") == dtstart


def test_dtstart_read_on_the_site_clock(tmp_path: Path) -> None:
    got = run(tmp_path, 'r.wallClock("2026-11-30T23:00:00+00:00", "Europe/Paris")')
    assert got == {"date": "2026-12-01", "time": "00:00"}


@pytest.mark.parametrize(
    ("rrule", "preset", "days"),
    [
        ("", "once", []),
        ("FREQ=DAILY", "daily", []),
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "weekdays", ["MO", "TU", "WE", "TH", "FR"]),
        ("FREQ=WEEKLY;BYDAY=SU,SA", "weekends", ["SU", "SA"]),
        ("FREQ=WEEKLY;BYDAY=FR,SA", "weekly", ["FR", "SA"]),
        ("FREQ=MONTHLY", "monthly", []),
        ("FREQ=WEEKLY;COUNT=3", "custom", []),
        ("FREQ=MONTHLY;BYDAY=1SA", "custom", []),
    ],
)
def test_rrule_read_as_a_preset(tmp_path: Path, rrule: str, preset: str, days: list[str]) -> None:
    got = run(tmp_path, f"r.readRrule({rrule!r})")
    assert got == {"preset": preset, "days": days, "custom": rrule if preset == "custom" else ""}


def test_presets_build_the_rrule(tmp_path: Path) -> None:
    got = run(
        tmp_path,
        '[r.buildRrule("once"), r.buildRrule("weekends"), r.buildRrule("weekly", ["SA", "FR"]),'
        ' r.buildRrule("weekly", []), r.buildRrule("custom", [], " FREQ=YEARLY ")]',
    )
    assert got == [
        "",
        "FREQ=WEEKLY;BYDAY=SA,SU",
        "FREQ=WEEKLY;BYDAY=FR,SA",
        "FREQ=WEEKLY",
        "FREQ=YEARLY",
    ]
