"""The web UI in a real Chromium (Debian's, driven by Playwright; never a downloaded
browser) against the real daemon: log in, GO a cue and watch the progress bar and the live
preview, engage and release the emergency with its confirmation, edit a cue's fade time and
see the next GO take it, the schedule's what-plays-now. Screenshots go to test-artifacts/."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.daemon_harness import AUTH_UNLIMITED, Daemon, free_port, running_daemon

from .ui_kit import logged_in, preview_sum, shot, wait_until


def progress(page: Page, cue_list: str) -> float:
    width: str = page.evaluate(
        '(n) => document.querySelector(`[data-progress="${n}"] .fill`).style.width', cue_list
    )
    return float(width.rstrip("%") or 0) / 100


def test_login_go_progress_and_preview(browser: Browser, daemon: Daemon) -> None:
    page = logged_in(browser, daemon)
    expect(page.locator('[data-list="main"]')).to_be_visible()
    wait_until(page, "() => document.querySelector('canvas[data-preview=\"facade\"]').width > 1")
    before = preview_sum(page, "facade")
    shot(page, "1-show-before-go")
    page.locator('[data-list="main"] button.go').click()
    expect(page.locator('[data-list="main"] .running')).to_have_text("1")
    seen, statuses = [], []
    deadline = time.monotonic() + 10  # cue 1 fades up in 3 s
    while time.monotonic() < deadline:
        seen.append(progress(page, "main"))
        statuses.append(page.locator('[data-list="main"] .status').inner_text())
        if seen[-1] >= 1.0:
            break
        time.sleep(0.1)
    assert seen[-1] == 1.0, seen
    assert any(0.0 < p < 1.0 for p in seen), f"never saw the fade in between: {seen}"
    assert any("s left" in text for text in statuses), f"no fade countdown shown: {statuses}"
    page.wait_for_timeout(500)  # a preview after the fade
    after = preview_sum(page, "facade")
    assert after != before, "the facade preview did not change with the cue"
    shot(page, "2-show-after-go")
    # Space is GO as well (the selected list is the first one).
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("Space")
    expect(page.locator('[data-list="main"] .running')).to_have_text("2")
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_what_a_verb_did_is_said_and_the_keys(browser: Browser, daemon: Daemon) -> None:
    """End of list is said, not silent; B/P/R keys; column headers; an idle list's bar is
    empty (issue 16)."""
    page = logged_in(browser, daemon)
    panel = page.locator('[data-list="main"]')
    expect(panel.locator("thead th")).to_have_count(5)
    expect(page.locator("#keys")).to_contain_text("Space GO")
    assert daemon.post("/api/cue-lists/main/goto", json={"cue": "4", "fade": 0}).status_code == 200
    expect(panel.locator(".running")).to_have_text("4")
    panel.locator("button.go").click()
    expect(page.locator("#toast")).to_contain_text("end of list")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("KeyP")

    def paused() -> bool:
        lists = daemon.get("/api/playback").json()["lists"]
        return bool(next(lst for lst in lists if lst["name"] == "main")["paused"])

    deadline = time.monotonic() + 5
    while not paused():
        assert time.monotonic() < deadline, "P did not pause the list"
        time.sleep(0.05)
    page.keyboard.press("KeyP")  # P again resumes
    page.keyboard.press("KeyR")
    expect(panel.locator(".running")).to_have_text("—")
    expect(panel.locator(".progress .fill")).to_have_attribute("style", "width: 0%;")
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_load_fire_with_a_fade_top_and_panic(browser: Browser, daemon: Daemon) -> None:
    """The verbs beyond GO from the show page (issue 16): LOAD stands a cue by, FIRE plays it
    in the fade typed for the list, TOP, and PANIC after a confirmation; each checked in the
    daemon's audit log and state."""
    page = logged_in(browser, daemon)
    panel = page.locator('[data-list="main"]')
    panel.locator('tr[data-cue="3"] button.load').click()
    expect(panel.locator(".standby")).to_have_text("3")
    panel.locator("input.fade").fill("0.5")
    panel.locator('tr[data-cue="2"] button.fire').click()
    expect(panel.locator(".running")).to_have_text("2")
    fired = daemon.get("/api/audit", params={"action": "cue.fire", "limit": 1}).json()["items"]
    assert fired[0]["detail"]["fade"] == 0.5
    panel.locator("button.top").click()  # GOTO the first cue (docs/playback.md)
    expect(panel.locator(".running")).to_have_text("1")
    assert daemon.put("/api/parks/facade", json={"rgb": [1, 2, 3]}).status_code == 200
    page.click("#panic")
    expect(page.locator("#confirm-text")).to_contain_text("PANIC")
    page.click("#confirm-ok")
    deadline = time.monotonic() + 5
    while daemon.get("/api/playback").json()["parks"]:
        assert time.monotonic() < deadline, "PANIC did not release the park"
        time.sleep(0.05)
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_parks_overrides_and_masters_on_stage(browser: Browser, daemon: Daemon) -> None:
    """Parks and scripted overrides per canvas, who holds them, set and released from the
    page; a master set by its number (issue 16)."""
    page = logged_in(browser, daemon)
    stage = page.locator("#stage")
    page.select_option("#park-canvas", "canopy")
    page.fill("#park-colour", "#00ff00")
    page.click("#park")
    row = stage.locator('tr[data-park="canopy"]')
    expect(row).to_contain_text("#00ff00")
    expect(row).to_contain_text("admin")
    assert daemon.get("/api/playback").json()["parks"]["canopy"] == {"rgb": [0, 65535, 0]}
    row.locator("button.unpark").click()
    expect(row).to_have_count(0)
    assert "canopy" not in daemon.get("/api/playback").json()["parks"]
    r = daemon.post(
        "/api/overrides", json={"canvases": {"stairs": {"look": "blue-hour"}}, "ttl": 60}
    )
    oid = r.json()["id"]
    line = stage.locator(f'tr[data-override="{oid}"]')
    expect(line).to_contain_text("stairs")
    expect(line).to_contain_text("s left")
    line.locator("button").click()
    expect(line).to_have_count(0)
    assert daemon.get("/api/playback").json()["overrides"] == []
    level = page.locator('input[data-level="grand"]')
    level.fill("0.5")
    level.press("Enter")
    deadline = time.monotonic() + 5
    while daemon.get("/api/playback").json()["masters"]["grand"] != 0.5:
        assert time.monotonic() < deadline, "the typed level did not reach the grand master"
        time.sleep(0.05)
    assert daemon.put("/api/masters/grand", json={"level": 1.0}).status_code == 200
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_admin_manages_users_and_roles(browser: Browser, daemon: Daemon) -> None:
    """The Users page (admins only): add an account, change its role, disable it; the new
    account's own navigation has no Users tab (issue 16)."""
    page = logged_in(browser, daemon)
    page.click('#nav a[data-page="users"]')
    page.fill("#new-user", "ines")
    page.select_option("#new-role", "operator")
    page.fill("#new-password-user", "stage-manager-1")
    page.click("#create-user")
    row = page.locator('#users tr[data-user="ines"]')
    expect(row).to_be_visible()
    row.locator("select.role").select_option("marketing")
    deadline = time.monotonic() + 5
    while daemon.get("/api/users/ines").json()["role"] != "marketing":
        assert time.monotonic() < deadline, "the role change did not reach the daemon"
        time.sleep(0.05)
    other = browser.new_page()
    other.goto(daemon.base + "/")
    other.fill("#username", "ines")
    other.fill("#password", "stage-manager-1")
    other.click("#login")
    expect(other.locator("#who")).to_have_text("ines (marketing)")
    expect(other.locator('#nav a[data-page="users"]')).to_be_hidden()
    other.close()
    page.locator('#users tr[data-user="ines"] button.disable').click()
    expect(page.locator('#users tr[data-user="ines"] button.enable')).to_be_visible()
    assert daemon.get("/api/users/ines").json()["disabled"] is True
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_cue_lists_created_labelled_and_deleted_in_the_ui(browser: Browser, daemon: Daemon) -> None:
    """A new list from nothing in edit mode, its first cue, label and priority, then deleted
    after a confirmation (issue 16)."""
    page = logged_in(browser, daemon)
    page.click('#nav a[data-page="edit"]')
    page.fill("#new-list", "encore")
    page.click("#create-list")
    expect(page.locator("#cue-list")).to_have_value("encore")
    page.fill("#new-cue", "1")
    page.click("text=Add cue")
    expect(page.locator('tr[data-cue="1"]')).to_be_visible()
    state = daemon.get("/api/playback").json()
    assert next(lst for lst in state["lists"] if lst["name"] == "encore")["pending"] == "1"
    page.fill("#list-label", "Encore!")
    page.fill("#list-priority", "150")
    page.click("#save-list")
    deadline = time.monotonic() + 5
    while daemon.get("/api/cue-lists/encore").json()["label"] != "Encore!":
        assert time.monotonic() < deadline, "the label did not reach the daemon"
        time.sleep(0.05)
    stored = daemon.get("/api/cue-lists/encore").json()
    assert stored["priority"] == 150
    assert [c["number"] for c in stored["cues"]] == ["1"]  # the cue kept through the save
    page.click("#delete-list")
    expect(page.locator("#confirm-text")).to_contain_text("encore")
    page.click("#confirm-ok")
    deadline = time.monotonic() + 5
    while daemon.get("/api/cue-lists/encore").status_code != 404:
        assert time.monotonic() < deadline, "the list was not deleted"
        time.sleep(0.05)
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_emergency_needs_confirmation(browser: Browser, daemon: Daemon) -> None:
    page = logged_in(browser, daemon)
    expect(page.locator('#nav a[data-page="audit"]')).to_be_visible()  # an admin's
    # The site's clock and zone in the header ([site] timezone, not the browser's).
    zone = daemon.get("/api/schedule/now").json()["timezone"]
    expect(page.locator("#clock")).to_contain_text(zone)
    page.click("#emergency-engage")
    page.click("#confirm-cancel")  # cancelled: nothing happens
    page.wait_for_timeout(300)
    assert daemon.get("/api/playback").json()["emergency"]["engaged"] is False
    page.click("#emergency-engage")
    expect(page.locator("#confirm-text")).to_contain_text("ENGAGE")
    # The scope named is the canvases that have an emergency look, not "the whole building".
    scope = daemon.get("/api/playback").json()["emergency"]["canvases"]
    expect(page.locator("#confirm-text")).to_contain_text(", ".join(scope))
    expect(page.locator("#confirm-text")).not_to_contain_text("whole building")
    page.click("#confirm-ok")
    expect(page.locator("#emergency-state")).to_contain_text("On ")
    assert daemon.get("/api/playback").json()["emergency"]["engaged"] is True
    shot(page, "3-emergency-engaged")
    page.click("#emergency-release")
    page.click("#confirm-ok")
    expect(page.locator("#emergency-state")).to_have_text("Not engaged")
    assert daemon.get("/api/playback").json()["emergency"]["engaged"] is False
    # The audit log shows it, its times on the site's clock.
    page.click('#nav a[data-page="audit"]')
    audit = page.locator('.page[data-page="audit"]')  # not the show page it replaces
    expect(audit.locator("thead")).to_contain_text(f"when ({zone})")
    expect(audit.locator("tbody")).to_contain_text("emergency.release")
    page.close()


def test_edit_a_cue_fade_and_it_takes_effect(browser: Browser, daemon: Daemon) -> None:
    page = logged_in(browser, daemon)
    page.goto(daemon.base + "/#/edit")
    row = page.locator('tr[data-cue="3"]')  # "Back to blue": 4 s up
    expect(row).to_be_visible()
    row.locator('[data-field="up_fade"]').fill("0.5")
    row.locator('[data-field="down_fade"]').fill("0.5")
    row.locator("button.save").click()
    expect(page.locator("#toast")).to_contain_text("Cue 3 saved")
    shot(page, "4-edit-cue")
    cue = daemon.get("/api/cue-lists/main/cues/3").json()
    assert (cue["up_fade"], cue["down_fade"]) == (0.5, 0.5)
    # A new look, made here, is stored and usable.
    page.fill("#new-look", "lobby-white")
    page.click("#create-look")
    expect(page.locator("#toast")).to_contain_text("Look lobby-white created")
    look = daemon.get("/api/looks/lobby-white").json()
    assert look["canvases"][0]["layers"][0]["source"] == "solid"
    # Take effect: GOTO 3 from the show page; its fade is over in well under the old 4 s.
    page.goto(daemon.base + "/#/show")
    page.locator('[data-list="main"] tr[data-cue="3"] button.goto').click()
    t0 = time.monotonic()
    expect(page.locator('[data-list="main"] .running')).to_have_text("3")
    while daemon.get("/api/playback").json()["lists"][0]["fading"]:
        assert time.monotonic() - t0 < 3.0, "the fade still runs: the old 4 s time was used"
        time.sleep(0.05)
    page.close()


def test_schedule_page_shows_what_plays_now(browser: Browser, daemon: Daemon) -> None:
    r = daemon.post(
        "/api/schedule",
        json={
            "name": "evening-blue",
            "target_kind": "look",
            "target": "blue-hour",
            "rrule": "FREQ=DAILY",
            "dtstart": "2026-01-01T21:00:00+01:00",
            "duration_s": 3600.0,
        },
    )
    assert r.status_code == 201, r.text
    page = logged_in(browser, daemon)
    page.goto(daemon.base + "/#/schedule")
    expect(page.locator("#schedule-now h2")).to_contain_text("What plays now")
    # The week calendar: the daily entry on each of the 7 days (21:00 Paris, shown as given).
    expect(page.locator("#schedule-week .day")).to_have_count(7)
    expect(page.locator("#schedule-week .play").filter(has_text="evening-blue")).to_have_count(7)
    expect(page.locator('#schedule-now tr[data-canvas="facade"]')).to_be_visible()
    page.fill("#simulate-at", "2026-12-24T21:37")
    page.click("#simulate")
    expect(page.locator("#schedule-now h2")).to_contain_text("2026-12-24T21:37")
    shot(page, "5-schedule")
    for name in ("system", "audit", "devices"):
        page.goto(daemon.base + f"/#/{name}")
        expect(page.locator("main section.panel").first).to_be_visible()
        shot(page, f"6-{name}")
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_viewer_sees_but_cannot_operate(browser: Browser, daemon: Daemon) -> None:
    r = daemon.post(
        "/api/users", json={"name": "ugo", "role": "viewer", "password": "only-looking"}
    )
    assert r.status_code == 201
    page = browser.new_page()
    page.goto(daemon.base + "/")
    page.fill("#username", "ugo")
    page.fill("#password", "only-looking")
    page.click("#login")
    expect(page.locator('[data-list="main"] button.go')).to_be_disabled()
    expect(page.locator("#emergency-engage")).to_be_disabled()
    # Only the pages a viewer may use: no Audit tab (it would answer 403), no Vehicles tab on
    # a daemon without the MDVR gateway; asked for by address, the show page comes instead.
    expect(page.locator('#nav a[data-page="audit"]')).to_be_hidden()
    expect(page.locator('#nav a[data-page="devices"]')).to_be_hidden()
    expect(page.locator('#nav a[data-page="schedule"]')).to_be_visible()
    page.goto(daemon.base + "/#/audit")
    expect(page.locator('.page[data-page="show"]')).to_be_visible()
    page.close()


def test_vehicles_page_with_a_simulated_device(browser: Browser, tmp_path: Path) -> None:
    sig, media = free_port(), free_port()
    extra = (
        AUTH_UNLIMITED
        + f'[mdvr]\nenabled = true\nbind_address = "127.0.0.1"\nsignaling_port = {sig}\n'
        f'media_port = {media}\nallowed_devices = ["00001"]\n'
    )
    with running_daemon(tmp_path, extra) as daemon:
        daemon.wait_healthy()
        sim = [sys.executable, "-m", "trocadero", "mdvr-sim", "--port", str(sig)]
        with subprocess.Popen(
            [*sim, "--devices", "1", "--interval", "0.2", "--duration", "60"]
        ) as p:
            try:
                page = logged_in(browser, daemon)
                page.goto(daemon.base + "/#/devices")
                row = page.locator('tr[data-device="00001"]')
                expect(row).to_contain_text("online", timeout=15_000)
                expect(row).to_contain_text("km/h", timeout=15_000)  # a position arrived
                shot(page, "7-vehicles")
                page.close()
            finally:
                p.terminate()


def test_content_page_upload_and_approve(browser: Browser, daemon: Daemon, tmp_path: Path) -> None:
    from tests.playout.test_content_upload import make_clip

    clip = tmp_path / "lobby.mp4"
    make_clip(clip, frames=60)
    page = logged_in(browser, daemon)  # admin: may upload and approve
    page.goto(daemon.base + "/#/content")
    page.set_input_files("#upload-file", str(clip))
    page.click("#upload")
    expect(page.locator("#toast")).to_contain_text("Uploaded: lobby.mp4")
    expect(page.locator("#upload-status")).to_have_text("h264 64x48")
    width = page.evaluate("document.querySelector('#upload-progress .fill').style.width")
    assert width == "100%"
    row = page.locator("tr[data-asset]").filter(has_text="lobby.mp4")
    expect(row.locator(".status")).to_have_text("pending")
    row.locator("button.approve").click()
    expect(
        page.locator("tr[data-asset]").filter(has_text="lobby.mp4").locator(".status")
    ).to_have_text("approved")
    wait_until(
        page, "() => [...document.querySelectorAll('tr[data-asset] img')].some(i => i.naturalWidth)"
    )
    shot(page, "8-content")
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()
