"""The History page: a look edited through the Edit page shows up as a snapshot; two
snapshots picked show the diff for that look; a rollback (confirmed) puts the look back in
the store; export downloads the show file, and a bad import is refused with its path shown."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.daemon_harness import Daemon

from .ui_kit import logged_in, shot


def test_history_diff_rollback_export_import(
    browser: Browser, daemon: Daemon, tmp_path: Path
) -> None:
    page = logged_in(browser, daemon)
    original = daemon.get("/api/looks/blue-hour").json()
    before = daemon.get("/api/snapshots", params={"limit": 1}).json()["items"][0]

    page.goto(daemon.base + "/#/edit")
    expect(page.locator("#look")).to_have_value("blue-hour")
    page.fill("#look-label", "Blue hour, history")
    page.click("#save-look")
    expect(page.locator("#toast")).to_contain_text("Look blue-hour saved")

    page.goto(daemon.base + "/#/history")
    rows = page.locator("#history-list tr")
    expect(rows.first.locator(".message")).to_have_text('look "blue-hour" changed')
    expect(rows.first).to_contain_text("admin")
    newest = rows.first.get_attribute("data-hash")
    assert newest != before["hash"]
    assert daemon.get("/api/snapshots", params={"limit": 1}).json()["items"][0]["hash"] == newest

    # Pick the two: the change for that look, with the field that changed.
    page.locator(f'#history-list tr[data-hash="{newest}"] input').check()
    page.locator(f'#history-list tr[data-hash="{before["hash"]}"] input').first.check()
    change = page.locator('#history-diff li[data-kind="look"][data-name="blue-hour"]')
    expect(change).to_have_text("look blue-hour: changed (label)")
    expect(page.locator("#history-diff li")).to_have_count(1)
    shot(page, "history-1-diff")

    # Roll back to the snapshot before the edit, confirmed.
    page.locator(f'#history-list tr[data-hash="{before["hash"]}"] .rollback').first.click()
    expect(page.locator("#confirm-text")).to_contain_text(before["hash"][:12])
    page.click("#confirm-ok")
    expect(page.locator("#toast")).to_contain_text("Rolled back: 1 changes")
    expect(rows.first.locator(".message")).to_have_text(f"rolled back to {before['hash'][:12]}")
    assert daemon.get("/api/looks/blue-hour").json() == original
    assert rows.first.get_attribute("data-hash") == before["hash"]
    shot(page, "history-2-rolled-back")

    # Export: the download is the show file the API serves.
    with page.expect_download() as download:
        page.click("#history-export")
    saved = tmp_path / "show.json"
    download.value.save_as(saved)
    exported = json.loads(saved.read_text())
    assert exported == daemon.get("/api/show/export").json()

    # A bad import: refused, the problem's path shown, nothing changed.
    bad = {**exported, "cue_lists": [{"name": "main", "cues": [{"number": "1", "look": "nope"}]}]}
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps(bad))
    page.set_input_files("#history-import", str(bad_file))
    page.click("#confirm-ok")
    expect(page.locator("#toast")).to_contain_text('cue_lists[0 "main"]')
    expect(page.locator("#toast")).to_have_class("show error")
    assert daemon.get("/api/show/export").json() == exported
    expect(rows.first.locator(".message")).to_have_text(f"rolled back to {before['hash'][:12]}")
    shot(page, "history-3-bad-import")
    errors = page.errors  # type: ignore[attr-defined]
    assert [e for e in errors if "status of 400" not in e] == []
