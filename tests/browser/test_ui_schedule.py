"""Schedule entries made and changed in the web UI's form, in a real Chromium (Debian's):
a cue list at sunset -15 min on weekends, created, checked as stored, edited to other days,
refused with its problem shown and the form kept, simulated on a date it wins, deleted; a
viewer sees the entries without any edit control. Screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Locator, Page, expect

from tests.daemon_harness import DEFAULT_SCHEDULE, Daemon

from .ui_kit import logged_in, shot

NAME = "weekend-dusk"
PARIS = ZoneInfo("Europe/Paris")  # the default config's site zone
# The entry starts a week back, so any 7 days shown hold one of its Saturdays and Sundays; it
# lasts 8 hours from sunset -15 min (16:38 in December, 21:43 in June): 22:30 is in it all year.
TODAY = datetime.now(PARIS).date()
FIRST = TODAY - timedelta(days=7)
SATURDAY_DATE = TODAY + timedelta(days=(5 - TODAY.weekday()) % 7 or 7)
SATURDAY = f"{SATURDAY_DATE.isoformat()}T22:30"
SUNDAY = f"{(SATURDAY_DATE + timedelta(days=1)).isoformat()}T22:30"


def stored(daemon: Daemon) -> dict[str, Any]:
    entries = daemon.get("/api/schedule").json()["entries"]
    found = [e for e in entries if e["name"] == NAME]
    assert len(found) == 1, entries
    entry: dict[str, Any] = found[0]
    return entry


def fields(entry: dict[str, Any]) -> dict[str, Any]:
    """What the form sets, as stored."""
    keys = ("target_kind", "target", "anchor", "offset_s", "rrule", "duration_s", "priority")
    return {k: entry[k] for k in (*keys, "enabled")}


def entry_row(page: Page, name: str) -> Locator:
    return page.locator("#schedule-entries tr[data-entry]").filter(has_text=name)


def week_day(page: Page, weekday: int) -> Locator:
    """The plays of that weekday (0 = Monday) in the page's week, which starts today."""
    day = TODAY + timedelta(days=(weekday - TODAY.weekday()) % 7)
    return page.locator(f'#schedule-week .day[data-day="{day.isoformat()}"] .play')


def simulate(page: Page, at: str) -> str:
    page.fill("#simulate-at", at)
    page.click("#simulate")
    expect(page.locator("#schedule-now h2")).to_contain_text(at)
    return page.locator('#schedule-now tr[data-canvas="facade"] .winner').inner_text()


def test_entry_created_edited_refused_simulated_deleted(browser: Browser, daemon: Daemon) -> None:
    page = logged_in(browser, daemon)
    page.goto(daemon.base + "/#/schedule")
    # The default show's own evening is listed; the new entry is not there yet.
    for seeded in DEFAULT_SCHEDULE:
        expect(entry_row(page, seeded)).to_have_count(1)
    expect(entry_row(page, NAME)).to_have_count(0)
    assert NAME not in simulate(page, SATURDAY)

    # New: the cue list "main" at sunset -15 min on weekends, for 8 hours.
    page.click("#entry-new")
    form = page.locator("#schedule-form")
    expect(form).to_be_visible()
    page.fill("#entry-name", NAME)
    page.select_option("#entry-kind", "cue_list")
    page.select_option("#entry-target", "main")
    expect(page.locator("#entry-offset")).to_be_hidden()
    page.select_option("#entry-anchor", "sunset")
    expect(page.locator("#entry-time")).to_be_hidden()
    page.fill("#entry-offset", "-15")
    page.fill("#entry-date", FIRST.isoformat())
    page.select_option("#entry-repeat", "weekends")
    expect(page.locator("#entry-rrule")).to_have_text("FREQ=WEEKLY;BYDAY=SA,SU")
    page.select_option("#entry-end", "duration")
    page.fill("#entry-duration", "480")
    page.fill("#entry-priority", "500")
    shot(page, "schedule-1-new-entry-form")
    page.click("#entry-save")
    expect(page.locator("#toast")).to_contain_text(f"Saved {NAME}")
    expect(form).to_have_count(0)
    row = page.locator("#schedule-entries tr[data-entry]").filter(has_text=NAME)
    expect(row.locator(".rrule")).to_have_text("FREQ=WEEKLY;BYDAY=SA,SU")
    expect(row.locator(".starts")).to_have_text(f"sunset \N{MINUS SIGN}15 min from {FIRST}")
    expect(row).to_contain_text("cue list main")
    expect(row).to_contain_text("after 480 min")
    entry = stored(daemon)
    assert fields(entry) == {
        "target_kind": "cue_list",
        "target": "main",
        "anchor": "sunset",
        "offset_s": -900.0,
        "rrule": "FREQ=WEEKLY;BYDAY=SA,SU",
        "duration_s": 28800.0,
        "priority": 500,
        "enabled": True,
    }
    # The first date on the site's clock (a sun entry's time of day does not count).
    first = datetime.fromisoformat(entry["dtstart"]).astimezone(PARIS)
    assert first.date() == FIRST, entry["dtstart"]
    # Everything below the form is refreshed: the simulated Saturday now plays it (not asked
    # again), and the week shows it on Saturday, not on Friday.
    expect(page.locator('#schedule-now tr[data-canvas="facade"] .winner')).to_contain_text(NAME)
    expect(week_day(page, 5).filter(has_text=NAME)).to_have_count(1)
    expect(week_day(page, 4).filter(has_text=NAME)).to_have_count(0)

    # Simulated: it plays on a Sunday evening too.
    assert NAME in simulate(page, SUNDAY)
    shot(page, "schedule-2-created")

    # Edit: the same entry on Fridays and Saturdays (weekly on chosen days).
    row.locator("button.edit").click()
    expect(page.locator("#entry-name")).to_have_value(NAME)
    expect(page.locator("#entry-anchor")).to_have_value("sunset")
    expect(page.locator("#entry-offset")).to_have_value("-15")
    expect(page.locator("#entry-repeat")).to_have_value("weekends")
    page.select_option("#entry-repeat", "weekly")
    for day, on in (("MO", False), ("FR", True), ("SA", True), ("SU", False)):
        box = page.locator(f'#schedule-form input[data-day="{day}"]')
        if on:
            box.check()
        else:
            box.uncheck()
    expect(page.locator("#entry-rrule")).to_have_text("FREQ=WEEKLY;BYDAY=FR,SA")
    page.click("#entry-save")
    expect(row.locator(".rrule")).to_have_text("FREQ=WEEKLY;BYDAY=FR,SA")
    assert fields(stored(daemon)) == {**fields(entry), "rrule": "FREQ=WEEKLY;BYDAY=FR,SA"}
    expect(week_day(page, 4).filter(has_text=NAME)).to_have_count(1)
    # The simulated Sunday no longer plays it; Saturday still does.
    assert NAME not in simulate(page, SUNDAY)
    assert NAME in simulate(page, SATURDAY)
    shot(page, "schedule-3-edited-simulated")

    # Refused: a custom RRULE the daemon cannot read. The problem is shown next to the form
    # and as a notice; every value stays in the form; nothing is stored.
    row.locator("button.edit").click()
    expect(page.locator("#entry-repeat")).to_have_value("weekly")
    page.fill("#entry-name", NAME + "-renamed")
    page.select_option("#entry-repeat", "custom")
    page.fill("#entry-rrule-custom", "FREQ=SOMETIMES")
    expect(page.locator("#entry-rrule")).to_have_text("FREQ=SOMETIMES")
    page.click("#entry-save")
    expect(page.locator("#entry-problems")).to_contain_text("rrule: FREQ must be one of")
    expect(page.locator("#toast.error")).to_contain_text("rrule")
    expect(page.locator("#entry-name")).to_have_value(NAME + "-renamed")
    expect(page.locator("#entry-rrule-custom")).to_have_value("FREQ=SOMETIMES")
    expect(page.locator("#entry-anchor")).to_have_value("sunset")
    expect(page.locator("#entry-offset")).to_have_value("-15")
    shot(page, "schedule-4-refused")
    assert stored(daemon)["rrule"] == "FREQ=WEEKLY;BYDAY=FR,SA"
    page.click("#entry-cancel")
    expect(page.locator("#schedule-form")).to_have_count(0)

    # Delete, with the confirmation: first cancelled, then confirmed.
    row.locator("button.delete").click()
    expect(page.locator("#confirm")).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text(NAME)
    page.click("#confirm-cancel")
    expect(row).to_have_count(1)
    row.locator("button.delete").click()
    page.click("#confirm-ok")
    expect(row).to_have_count(0)
    names = [e["name"] for e in daemon.get("/api/schedule").json()["entries"]]
    assert tuple(names) == DEFAULT_SCHEDULE
    assert NAME not in simulate(page, SATURDAY)
    shot(page, "schedule-5-deleted")
    # The browser logs the refused save's 400 as a failed resource; nothing else went wrong.
    errors = page.errors  # type: ignore[attr-defined]
    assert errors == ["Failed to load resource: the server responded with a status of 400 ()"]
    page.close()


def test_viewer_sees_entries_without_edit_controls(browser: Browser, daemon: Daemon) -> None:
    r = daemon.post(
        "/api/schedule",
        json={
            "name": "nightly",
            "target_kind": "look",
            "target": "blue-hour",
            "rrule": "FREQ=DAILY",
            "dtstart": "2026-01-01T21:00:00+01:00",
        },
    )
    assert r.status_code == 201, r.text
    viewer = {"name": "vera", "role": "viewer", "password": "only-looking"}
    r = daemon.post("/api/users", json=viewer)
    assert r.status_code == 201, r.text
    page = browser.new_page()
    page.goto(daemon.base + "/#/schedule")
    page.fill("#username", "vera")
    page.fill("#password", "only-looking")
    page.click("#login")
    page.goto(daemon.base + "/#/schedule")
    row = page.locator("#schedule-entries tr[data-entry]").filter(has_text="nightly")
    expect(row.locator(".starts")).to_have_text("21:00 from 2026-01-01")
    expect(row.locator(".rrule")).to_have_text("FREQ=DAILY")
    expect(page.locator("#entry-new")).to_have_count(0)
    expect(page.locator("#schedule-entries button")).to_have_count(0)
    expect(page.locator("#schedule-now button#simulate")).to_be_visible()  # reading is open
    shot(page, "schedule-6-viewer")
    page.close()
