"""The blob view in a real Chromium (Debian's): the Cameras page shows a camera's picture
(the daemon's newest JPEG from its tracker) with the tracked blobs drawn over it, their ids
and positions in a table as GET /api/cameras gives them; a killed tracker shows as the
camera's state and error, until the supervisor has it running again. The rule editor builds
a "presence in region" condition over that camera, which the daemon stores and fires.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.camera_clip import write_clip
from tests.daemon_harness import AUTH_UNLIMITED, Daemon, running_daemon

from .ui_kit import logged_in, shot, wait_until

SHOW = """
name = "blob view test"
[[canvases]]
name = "c"
width = 170
height = 1
[[fixture_types]]
name = "linear"
gamma = 1.0
[[fixtures]]
name = "c-strip"
canvas = "c"
type = "linear"
pixels = 170
universe = 1
[[looks]]
name = "white"
canvases = [{ canvas = "c", layers = [{ source = "solid", params = { colour = "#ffffff" } }] }]
[[cue_lists]]
name = "night"
cues = [{ number = "1", look = "white", up_fade = 0.0 }]
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """This module's daemon: the shared one's settings and a camera on a generated clip."""
    tmp = tmp_path_factory.mktemp("ui-blobs")
    write_clip(tmp / "square.mkv")
    (tmp / "show.toml").write_text(SHOW)
    extra = (
        AUTH_UNLIMITED
        + "login_attempts_per_minute = 1000\n"
        + f'[show]\npath = "{tmp / "show.toml"}"\n'
        + f'[[cameras]]\nname = "square"\nurl = "{tmp / "square.mkv"}"\nrate_hz = 25\n'
    )
    with running_daemon(tmp, extra) as d:
        d.wait_healthy()
        yield d


PANEL = 'section[data-camera="square"]'


def test_the_blob_view_draws_the_tracked_blobs_over_the_picture(
    browser: Browser, daemon: Daemon
) -> None:
    page = logged_in(browser, daemon)
    expect(page.locator('#nav a[data-page="cameras"]')).to_be_visible()
    page.click('#nav a[data-page="cameras"]')
    panel = page.locator(PANEL)
    expect(panel).to_have_attribute("data-state", "running", timeout=20_000)

    # The picture: the camera's own JPEG, at the size the tracker analyses.
    wait_until(page, f"document.querySelector('{PANEL} img.blob-picture').naturalWidth === 640")
    # Three walkers: three boxes drawn on the picture they were found in, each on a bright
    # shape of it; the same ids in the live table and in the API.
    wait_until(
        page,
        f"""(() => {{
            const c = document.querySelector('{PANEL} canvas');
            const rows = [...document.querySelectorAll('{PANEL} tr[data-blob]')];
            return c.dataset.drawn === '3' && rows.map((r) => r.dataset.blob).join(',')
                === c.dataset.ids;
        }})()""",
        timeout=15,
    )
    drawn = page.evaluate(
        f"""() => {{
            const c = document.querySelector('{PANEL} canvas');
            const img = document.querySelector('{PANEL} img.blob-picture');
            const pic = document.createElement('canvas');
            pic.width = img.naturalWidth;
            pic.height = img.naturalHeight;
            const g = pic.getContext('2d');
            g.drawImage(img, 0, 0);
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let orange = 0;
            for (let i = 0; i < d.length; i += 4)
                if (d[i] > 200 && d[i + 1] > 120 && d[i + 1] < 220 && d[i + 2] < 80) orange++;
            // The picture's brightness at each red centre dot the overlay drew.
            const centres = [];
            for (let i = 0; i < d.length; i += 4)
                if (d[i] > 200 && d[i + 1] < 80 && d[i + 2] < 80) centres.push(i / 4);
            const bright = centres.map((p) => g.getImageData(p % c.width, Math.floor(p / c.width),
                                                              1, 1).data[0]);
            return {{ids: c.dataset.ids, orange, w: c.width, h: c.height,
                     dim: bright.filter((v) => v < 150).length, centres: centres.length}};
        }}"""
    )
    assert (drawn["w"], drawn["h"]) == (640, 480)
    assert drawn["orange"] > 500, drawn  # the boxes' outlines are on the overlay
    assert drawn["centres"] > 3 * 10, drawn  # three centre dots…
    assert drawn["dim"] == 0, drawn  # …each on a walker, not on the dark background
    ids = {int(i) for i in drawn["ids"].split(",")}
    assert len(ids) == 3
    api = daemon.get("/api/cameras").json()["items"][0]
    assert len(api["blobs"]) == 3
    assert {b["id"] for b in api["blobs"]} == ids
    shot(page, "blobs-view")

    # The tracker killed: the page says so (state and the reason), then it is back.
    os.kill(daemon.health()["cameras"]["square"]["pid"], signal.SIGKILL)
    state = panel.locator('[data-field="state"]')
    expect(state).to_contain_text("killed by signal 9", timeout=10_000)
    expect(state).to_have_class("error")
    shot(page, "blobs-view-tracker-killed")
    expect(panel).to_have_attribute("data-state", "running", timeout=20_000)
    expect(state).not_to_contain_text("killed")
    assert daemon.health()["cameras"]["square"]["starts"] == 2
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_presence_in_region_rule_is_built_in_the_editor_and_fires(
    browser: Browser, daemon: Daemon
) -> None:
    page = logged_in(browser, daemon)
    page.goto(daemon.base + "/#/rules")
    page.click("#rule-new")
    page.fill("#rule-name", "square-east")
    when = page.locator("#rule-when")
    when.locator('[data-field="new-kind"]').select_option("camera_presence")
    page.click("#add-condition")
    condition = when.locator('[data-row="when-0"]')
    camera = condition.locator('input[data-field="presence"]')
    expect(camera).to_have_attribute("list", "rule-camera-names")
    assert page.evaluate(
        "[...document.querySelectorAll('#rule-camera-names option')].map((o) => o.value)"
    ) == ["square"]
    camera.fill("square")
    condition.locator('input[data-field="region"]').fill("0.6, 0, 1, 0.5")
    rise = page.locator("#rule-on_rise")
    rise.locator('[data-field="new-kind"]').select_option("go")
    page.click("#add-on_rise")
    rise.locator('[data-row="on_rise-0"] input[data-field="go"]').fill("night")
    page.click("#rule-save")
    expect(page.locator("#toast")).to_have_text("Rule square-east created")

    stored = daemon.get("/api/rules/square-east").json()
    assert stored["when"] == {
        "all": [{"presence": "square", "region": [0.6, 0.0, 1.0, 0.5], "stale_s": 2.0}]
    }
    # The east-bound walker reaches the region: the rule fires, the list shows it.
    row = page.locator('#rules-list tr[data-rule="square-east"]')
    expect(row.locator('[data-field="fires"]')).not_to_have_text("0", timeout=15_000)
    # Its "why": the camera's count in the region, as the rule last saw it.
    expect(row.locator('[data-field="held"]')).to_contain_text("square: ")
    expect(row.locator('[data-field="held"]')).to_contain_text(" in [0.6, 0, 1, 0.5]")
    audit = daemon.get("/api/audit", params={"actor": "rule:square-east", "limit": 5}).json()
    assert "cue.go" in [e["action"] for e in audit["items"]]
    shot(page, "blobs-rule-fired")

    # A region the daemon refuses: the problem is shown, nothing stored.
    page.click("#rule-new")
    page.fill("#rule-name", "bad-region")
    when.locator('[data-field="new-kind"]').select_option("camera_presence")
    page.click("#add-condition")
    condition.locator('input[data-field="presence"]').fill("square")
    condition.locator('input[data-field="region"]').fill("0.8, 0, 0.2, 1")
    rise.locator('[data-field="new-kind"]').select_option("go")
    page.click("#add-on_rise")
    rise.locator('[data-row="on_rise-0"] input[data-field="go"]').fill("night")
    page.click("#rule-save")
    expect(page.locator("#rule-problems")).to_contain_text(
        "rule.when.all[0].region: x1 must be right of x0"
    )
    assert daemon.get("/api/rules/bad-region").status_code == 404
