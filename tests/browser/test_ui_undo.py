"""Edit mode, Undo: a look edited through the form, the Undo button saying what it will
revert, pressed, and the stored look checked over REST; then nothing left to undo, and a
refused undo (someone changed the look since) shown as an error with the look untouched."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, expect

from tests.daemon_harness import Daemon

from .ui_kit import logged_in, shot


def test_undo_of_a_look_edit(browser: Browser, daemon: Daemon) -> None:
    page = logged_in(browser, daemon)
    original = daemon.get("/api/looks/blue-hour").json()
    page.goto(daemon.base + "/#/edit")
    undo = page.locator("#undo")
    expect(undo).to_have_text("Nothing to undo")
    expect(undo).to_be_disabled()

    expect(page.locator("#look")).to_have_value("blue-hour")  # the first look, shown
    expect(page.locator("#look-label")).to_have_value(original["label"])
    page.fill("#look-label", "Blue hour, edited")
    page.click("#save-look")
    expect(page.locator("#toast")).to_contain_text("Look blue-hour saved")
    assert daemon.get("/api/looks/blue-hour").json()["label"] == "Blue hour, edited"
    expect(undo).to_have_text('Undo: look "blue-hour" changed by admin just now')
    expect(undo).to_be_enabled()
    shot(page, "undo-1-after-edit")

    undo.click()
    expect(page.locator("#toast")).to_contain_text('Undone: look "blue-hour" changed by admin')
    assert daemon.get("/api/looks/blue-hour").json() == original
    expect(undo).to_have_text("Nothing to undo")
    expect(undo).to_be_disabled()
    shot(page, "undo-2-undone")

    # Edited again, then changed by another technician over REST: the undo is refused, the
    # error shown, and their change kept.
    expect(page.locator("#look")).to_have_value("blue-hour")  # the page, built anew
    page.fill("#look-label", "mine")
    page.click("#save-look")
    expect(undo).to_contain_text('look "blue-hour" changed by admin')
    expect(page.locator("#toast")).to_contain_text("Look blue-hour saved")
    r = daemon.post(
        "/api/users", json={"name": "tech2", "role": "operator", "password": "tech2-pw-long"}
    )
    assert r.status_code == 201, r.text
    login = httpx.post(
        daemon.base + "/api/auth/login", json={"name": "tech2", "password": "tech2-pw-long"}
    )
    token = login.json()["access_token"]
    r = httpx.put(
        daemon.base + "/api/looks/blue-hour",
        json={**original, "label": "theirs"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    undo.click()
    expect(page.locator("#toast")).to_contain_text(
        '409: look "blue-hour" changed since that edit: undo refused'
    )
    expect(page.locator("#toast")).to_have_class("show error")
    assert daemon.get("/api/looks/blue-hour").json()["label"] == "theirs"
    # No script error (the browser logs the refused request itself; that one is expected).
    errors = page.errors  # type: ignore[attr-defined]
    assert [e for e in errors if "status of 409" not in e] == []


def test_undo_on_the_schedule_page(browser: Browser, daemon: Daemon) -> None:
    """A schedule entry's creation undone from the schedule page's Undo button."""
    entry = {
        "name": "undo-me",
        "target_kind": "cue_list",
        "target": "main",
        "rrule": "FREQ=DAILY",
        "dtstart": "2026-12-01T20:00:00+01:00",
        "duration_s": 600,
    }
    r = daemon.post("/api/schedule", json=entry)  # made by admin, the page's user too
    assert r.status_code == 201, r.text
    page = logged_in(browser, daemon)
    page.goto(daemon.base + "/#/schedule")
    undo = page.locator("#undo")
    expect(undo).to_have_text('Undo: schedule entry "undo-me" created by admin just now')
    undo.click()
    expect(page.locator("#toast")).to_contain_text('Undone: schedule entry "undo-me" created')
    names = [e["name"] for e in daemon.get("/api/schedule").json()["entries"]]
    assert "undo-me" not in names
    expect(page.locator('[data-entry] >> text="undo-me"')).to_have_count(0)
    shot(page, "undo-3-schedule")
