"""The touch simulator in a real Chromium (Debian's): the configured surfaces drawn on their
canvases; pressing, dragging and lifting inside a turned surface sends touches that the
daemon maps back to the very canvas point pressed (its surface coordinates turned as the
panel is), shown live in the page and audited; a touch from a real TUIO tracker (UDP)
appears live too; a rule on a region of the canvas, built in the rule editor, fires on a
simulated press, after the editor's test against typed touches said it would. Screenshots go
to test-artifacts/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.daemon_harness import AUTH_UNLIMITED, Daemon, running_daemon
from tests.ports import free_port
from tests.tuio_sender import TuioSender

from .ui_kit import logged_in, shot, wait_until

W, H = 96, 40  # the default show's stairs canvas
PANEL_PORT = free_port()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    extra = (
        AUTH_UNLIMITED
        + "login_attempts_per_minute = 1000\n"
        # Mounted turned a quarter clockwise, over the whole stairs canvas.
        + f'[[touch.surfaces]]\nname = "panel"\ncanvas = "stairs"\nport = {PANEL_PORT}\n'
        + "rotation = 90\n"
    )
    with running_daemon(tmp_path_factory.mktemp("ui-touch"), extra) as d:
        d.wait_healthy()
        yield d


def touches(daemon: Daemon) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = daemon.get("/api/touch").json()["surfaces"][0]["touches"]
    return found


def press_point(page: Page, fx: float, fy: float) -> tuple[float, float]:
    """Screen point at (fx, fy) of the pad (the surface's rectangle on the canvas)."""
    box = page.locator('[data-pad="panel"]').bounding_box()
    assert box is not None
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def test_press_drag_lift_on_a_turned_surface(browser: Browser, daemon: Daemon) -> None:
    page = logged_in(browser, daemon)
    page.goto(daemon.base + "/#/touch")
    panel = page.locator('[data-touch-surface="panel"]')
    expect(panel.locator("h3")).to_have_text("panel → stairs")
    expect(panel).to_contain_text("turned 90°")

    # Pressed a quarter across and half down the canvas: the daemon puts the touch there
    # (within a pixel), and on the panel, turned, that is u = 0.5, v = 0.75.
    page.mouse.move(*press_point(page, 0.25, 0.5))
    page.mouse.down()
    row = panel.locator("tbody tr")
    expect(row).to_have_count(1)
    (t,) = touches(daemon)
    assert abs(t["x"] - 0.25 * W) < 1.0, t
    assert abs(t["y"] - 0.5 * H) < 1.0, t
    assert abs(t["u"] - 0.5) < 0.02, t
    assert abs(t["v"] - 0.75) < 0.02, t
    expect(row.locator('[data-field="xy"]')).to_have_text(f"{t['x']:.1f}, {t['y']:.1f}")
    expect(panel.locator("circle.touch-dot")).to_have_count(1)

    # Dragged to three quarters across: it moves (same touch), seen live in the page.
    page.mouse.move(*press_point(page, 0.75, 0.5), steps=8)
    wait_until(
        page,
        """() => {
            const p = document.querySelector('[data-touch-surface="panel"]');
            const c = p && p.querySelector('tbody td[data-field="xy"]');
            return !!c && parseFloat(c.textContent) > 60;
        }""",
    )
    (moved,) = touches(daemon)
    assert moved["id"] == t["id"]
    assert abs(moved["x"] - 0.75 * W) < 1.0, moved
    shot(page, "touch-simulator")

    page.mouse.up()
    expect(row).to_have_count(0)
    assert touches(daemon) == []
    audit = daemon.get("/api/audit", params={"actor": "admin", "limit": 20}).json()["items"]
    simulated = [(a["action"], a["target"]) for a in audit if a["action"].startswith("simulate")]
    assert simulated == [("simulate touch up", "panel"), ("simulate touch down", "panel")]

    # A real tracker's touch shows up live, where the turned panel puts it.
    with TuioSender(PANEL_PORT) as tracker:
        tracker.frame([(41, 0.5, 0.5)])
        expect(row).to_have_count(1)
        expect(row.locator('[data-field="xy"]')).to_have_text(f"{W / 2:.1f}, {H / 2:.1f}")
        expect(row.locator("td").first).to_have_text("127.0.0.1/cur/41")
        tracker.frame([])
        expect(row).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_region_rule_built_in_the_editor_fires_on_a_simulated_press(
    browser: Browser, daemon: Daemon
) -> None:
    page = logged_in(browser, daemon)
    page.goto(daemon.base + "/#/rules")
    page.click("#rule-new")
    page.fill("#rule-name", "stairs-left")
    when = page.locator("#rule-when")
    when.locator('[data-field="new-kind"]').select_option("touch region")
    page.click("#add-condition")
    condition = when.locator('[data-row="when-0"]')
    condition.locator('input[data-field="canvas"]').fill("stairs")
    condition.locator('input[data-field="region-w"]').fill("48")
    condition.locator('input[data-field="region-h"]').fill("40")
    rise = page.locator("#rule-on_rise")
    rise.locator('[data-field="new-kind"]').select_option("go")
    page.click("#add-on_rise")
    rise.locator('[data-row="on_rise-0"] input[data-field="go"]').fill("main")
    # Tested against typed touches first (nothing acts).
    verdict = page.locator('#rule-test-result [data-field="verdict"]')
    page.fill("#rule-test-readings", "touch panel stairs 80,20")
    page.click("#rule-test")
    expect(verdict).to_have_text("Condition false")
    page.fill("#rule-test-readings", "touch panel stairs 80,20 10,20")
    page.click("#rule-test")
    expect(verdict).to_have_text("Condition true")
    page.fill("#rule-test-readings", "touch panel stairs 10")
    page.click("#rule-test")
    expect(page.locator("#rule-problems")).to_contain_text("expected x,y in canvas pixels (got 10)")
    page.click("#rule-save")
    expect(page.locator("#toast")).to_have_text("Rule stairs-left created")
    stored = daemon.get("/api/rules/stairs-left").json()
    assert stored["when"] == {"all": [{"touch": {"canvas": "stairs", "region": [0, 0, 48, 40]}}]}

    page.goto(daemon.base + "/#/touch")
    page.mouse.move(*press_point(page, 0.8, 0.5))  # the right half: outside the region
    page.mouse.down()
    expect(page.locator('[data-touch-surface="panel"] tbody tr')).to_have_count(1)
    page.mouse.up()
    expect(page.locator('[data-touch-surface="panel"] tbody tr')).to_have_count(0)
    assert daemon.get("/api/rules/stairs-left/why").json()["fires"] == 0

    page.mouse.move(*press_point(page, 0.2, 0.5))  # the left half
    page.mouse.down()
    wait_until(page, "() => document.querySelectorAll('circle.touch-dot').length === 1")
    deadline = time.monotonic() + 5
    while daemon.get("/api/rules/stairs-left/why").json()["fires"] == 0:
        assert time.monotonic() < deadline, "the rule never fired"
        time.sleep(0.05)
    state = daemon.get("/api/playback").json()
    (main,) = [s for s in state["lists"] if s["name"] == "main"]
    assert (main["level"], main["current"]) == ("rules", "1"), main
    page.mouse.up()
    page.goto(daemon.base + "/#/rules")
    fires = page.locator('#rules-list tr[data-rule="stairs-left"] [data-field="fires"]')
    expect(fires).to_have_text("1")
    shot(page, "touch-rule")


def test_a_refused_touch_is_shown(browser: Browser, daemon: Daemon) -> None:
    """A technician demoted to viewer while the page is open (the daemon revokes the old
    role's tokens): the next press is refused, and the page says so (nothing is swallowed,
    nothing is touched)."""
    r = daemon.post(
        "/api/users", json={"name": "tech", "role": "operator", "password": "on-site-tech"}
    )
    assert r.status_code == 201, r.text
    page = browser.new_page(viewport={"width": 1024, "height": 1366})
    page.goto(daemon.base + "/")
    page.fill("#username", "tech")
    page.fill("#password", "on-site-tech")
    page.click("#login")
    page.goto(daemon.base + "/#/touch")
    expect(page.locator('[data-touch-surface="panel"] p.dim')).to_contain_text("turned 90°")
    expect(page.locator("main")).to_contain_text("Press and drag inside a surface")
    r = daemon.request("PATCH", "/api/users/tech", json={"role": "viewer"})
    assert r.status_code == 200, r.text
    page.mouse.move(*press_point(page, 0.5, 0.5))
    page.mouse.down()
    page.mouse.up()
    expect(page.locator("#toast")).to_contain_text("401: ")
    expect(page.locator("#toast")).to_have_class("show error")
    assert touches(daemon) == []
    shot(page, "touch-refused")
    page.close()
