"""The building view and the patch grid in Debian's Chromium against the real daemon: the
five canvases at their placements with live previews that follow a GO; a canvas parked on a
look from its panel (checked through REST), its holder shown, released; "why this colour"
listing the real contenders; the patch grid per output compared with the patch the API
reports. Screenshots go to test-artifacts/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, FloatRect, Locator, Page, expect

from tests.daemon_harness import AUTH_UNLIMITED, Daemon, running_daemon

from .ui_kit import logged_in, preview_sum, shot, wait_until

# Two outputs over parts of the default show's patch (universes it does not patch, like 5000,
# are not sent: the grid must not show them).
OUTPUTS = """
[[outputs]]
name = "front"
protocol = "sacn"
universes = "29-30, 501-502"
destinations = ["127.0.0.1"]

[[outputs]]
name = "inside"
protocol = "artnet"
universes = "701, 901, 1101, 5000"
destinations = ["127.0.0.1"]
"""
CANVASES = ("facade", "canopy", "interior", "videowall", "stairs")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    extra = AUTH_UNLIMITED + "login_attempts_per_minute = 1000\n" + OUTPUTS
    with running_daemon(tmp_path_factory.mktemp("ui-building"), extra) as d:
        d.wait_healthy()
        yield d


def building(browser: Browser, daemon: Daemon) -> Page:
    page = logged_in(browser, daemon)
    page.click('#nav a[data-page="building"]')
    expect(page.locator("#elevation")).to_be_visible()
    return page


def box(locator: Locator) -> FloatRect:
    b = locator.bounding_box()
    assert b is not None
    return b


def mean_colour(page: Page, canvas: str) -> list[float]:
    value: list[float] = page.evaluate(
        """(name) => {
            const c = document.querySelector(`#elevation canvas[data-preview="${name}"]`);
            const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            const s = [0, 0, 0];
            for (let i = 0; i < d.length; i += 4) {
                s[0] += d[i]; s[1] += d[i + 1]; s[2] += d[i + 2];
            }
            return s.map((v) => v / (d.length / 4));
        }""",
        canvas,
    )
    return value


def ladder_levels(page: Page) -> list[str]:
    levels: list[str] = page.evaluate(
        "() => [...document.querySelectorAll('.canvas-panel .ladder li')]"
        ".map(li => li.dataset.level)"
    )
    return levels


def api_ladder(daemon: Daemon, canvas: str) -> list[dict[str, Any]]:
    ladder: list[dict[str, Any]] = daemon.get("/api/playback").json()["ladder"][canvas]
    return ladder


def test_five_canvases_at_their_placements_with_previews_that_follow_a_go(
    browser: Browser, daemon: Daemon
) -> None:
    page = building(browser, daemon)
    canvases = {c["name"]: c for c in daemon.get("/api/canvases").json()["canvases"]}
    assert sorted(canvases) == sorted(CANVASES)
    tiles = page.locator("#elevation .placed")
    expect(tiles).to_have_count(5)
    drawing = page.locator("#elevation")
    d = box(drawing)
    # The drawing spans the placements; every tile sits where its placement says, to the pixel.
    width = max(c["placement"]["x"] + c["placement"]["width"] for c in canvases.values())
    height = max(c["placement"]["y"] + c["placement"]["height"] for c in canvases.values())
    units_w = float(drawing.get_attribute("data-width") or 0)
    units_h = float(drawing.get_attribute("data-height") or 0)
    assert units_w >= width
    assert units_h >= height
    assert abs(d["width"] / d["height"] - units_w / units_h) < 0.01
    scale = d["width"] / units_w
    for name, c in canvases.items():
        p = c["placement"]
        t = box(page.locator(f'#elevation .placed[data-canvas="{name}"]'))
        for got, want in (
            (t["x"] - d["x"], p["x"]),
            (t["y"] - d["y"], p["y"]),
            (t["width"], p["width"]),
            (t["height"], p["height"]),
        ):
            assert abs(got - want * scale) <= 1.5, (name, got, want * scale)
    # The facade is the largest tile; the canopy is below it.
    facade = box(page.locator('#elevation .placed[data-canvas="facade"]'))
    canopy = box(page.locator('#elevation .placed[data-canvas="canopy"]'))
    assert facade["width"] * facade["height"] > 4 * canopy["width"] * canopy["height"]
    assert canopy["y"] >= facade["y"] + facade["height"]
    for name in CANVASES:
        wait_until(
            page, f"() => document.querySelector('canvas[data-preview=\"{name}\"]').width > 1"
        )
    before = {name: preview_sum(page, name) for name in CANVASES}
    shot(page, "building-1-before-go")
    assert daemon.post("/api/cue-lists/main/go", json={}).status_code == 200
    page.wait_for_timeout(3800)  # cue 1 (warm welcome) fades up in 3 s
    after = {name: preview_sum(page, name) for name in CANVASES}
    # Warm welcome covers the facade, canopy, interior and stairs; the video wall is not in it.
    for name in ("facade", "canopy", "interior", "stairs"):
        assert after[name] != before[name], f"the {name} preview did not follow the GO"
    canopy_rgb = mean_colour(page, "canopy")
    assert all(abs(a - b) <= 12 for a, b in zip(canopy_rgb, (0xFF, 0xC0, 0x70), strict=True)), (
        canopy_rgb
    )
    expect(page.locator('#elevation .placed[data-canvas="canopy"]')).to_have_attribute(
        "data-level", "cue list"
    )
    shot(page, "building-2-after-go")
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_park_from_the_panel_the_holder_and_why_this_colour(
    browser: Browser, daemon: Daemon
) -> None:
    if daemon.get("/api/playback").json()["lists"][0]["current"] is None:
        assert (
            daemon.post("/api/cue-lists/main/goto", json={"cue": "1", "fade": 0}).status_code == 200
        )
    page = building(browser, daemon)
    page.click('#elevation .placed[data-canvas="canopy"]')
    panel = page.locator('.canvas-panel[data-canvas="canopy"]')
    expect(panel).to_be_visible()
    # Before the park: the cue list plays it, over the idle look.
    expect(panel.locator('tr[data-holder="cue-list"]')).to_contain_text("cue 1")
    wait_until(page, "() => document.querySelectorAll('.canvas-panel .ladder li').length === 2")
    assert ladder_levels(page) == ["cue list", "idle"]
    assert [c["level"] for c in api_ladder(daemon, "canopy")] == ["cue list", "idle"]
    # Park it on a look from the panel.
    panel.locator("select.park-look").select_option("blue-hour")
    panel.locator("button.park").click()
    deadline = time.monotonic() + 5
    while daemon.get("/api/playback").json()["parks"].get("canopy") != {"look": "blue-hour"}:
        assert time.monotonic() < deadline, "the park did not reach the daemon"
        time.sleep(0.05)
    state = daemon.get("/api/playback").json()
    assert state["park_holders"]["canopy"]["by"] == "admin"
    row = panel.locator('tr[data-holder="park"]')
    expect(row).to_contain_text("blue-hour")
    expect(row.locator(".park-holder")).to_have_text("admin")
    expect(page.locator('#elevation .placed[data-canvas="canopy"] .badge')).to_have_text("PARK")
    # A script's override under the park: the ladder lists every contender, top first.
    oid = daemon.post(
        "/api/overrides", json={"canvases": {"canopy": {"rgb": [0, 0, 65535]}}, "ttl": 120}
    ).json()["id"]
    expect(panel.locator('tr[data-holder="override"]')).to_contain_text(oid)
    wait_until(page, "() => document.querySelectorAll('.canvas-panel .ladder li').length === 4")
    levels = ladder_levels(page)
    assert levels == ["park", "override", "cue list", "idle"]
    assert levels == [c["level"] for c in api_ladder(daemon, "canopy")]
    ladder = panel.locator(".ladder li")
    expect(ladder.nth(0)).to_contain_text("look blue-hour")
    expect(ladder.nth(0)).to_contain_text("by admin")
    expect(ladder.nth(0)).to_contain_text("shows now")
    expect(ladder.nth(1)).to_contain_text("#0000ff")
    expect(ladder.nth(2)).to_contain_text("main")
    expect(ladder.nth(2)).to_contain_text("cue 1")
    expect(ladder.nth(2)).to_contain_text("look warm-welcome")
    expect(ladder.nth(3)).to_contain_text("the idle look")
    shot(page, "building-3-parked-panel")
    # Release the park: the override shows now.
    panel.locator("button.unpark").click()
    deadline = time.monotonic() + 5
    while "canopy" in daemon.get("/api/playback").json()["parks"]:
        assert time.monotonic() < deadline, "the release did not reach the daemon"
        time.sleep(0.05)
    expect(panel.locator('tr[data-holder="park"]')).to_have_count(0)
    wait_until(page, "() => document.querySelectorAll('.canvas-panel .ladder li').length === 3")
    assert ladder_levels(page) == ["override", "cue list", "idle"]
    expect(page.locator('#elevation .placed[data-canvas="canopy"] .badge')).to_have_text("OVERRIDE")
    assert daemon.delete(f"/api/overrides/{oid}", json={}).status_code == 200
    expect(panel.locator('tr[data-holder="override"]')).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_a_refused_park_is_reported(browser: Browser, daemon: Daemon) -> None:
    page = building(browser, daemon)
    page.click('#elevation .placed[data-canvas="stairs"]')
    panel = page.locator('.canvas-panel[data-canvas="stairs"]')
    # A look deleted behind the page's back: the daemon refuses the park, the page says so.
    assert daemon.put("/api/looks/gone-soon", json={"canvases": []}).status_code in (200, 201)
    page.reload()
    expect(page.locator("#elevation")).to_be_visible()
    page.click('#elevation .placed[data-canvas="stairs"]')
    assert daemon.delete("/api/looks/gone-soon").status_code == 200
    panel.locator("select.park-look").select_option("gone-soon")
    panel.locator("button.park").click()
    expect(page.locator("#toast.error")).to_contain_text("gone-soon")
    assert "stairs" not in daemon.get("/api/playback").json()["parks"]
    page.close()


def test_patch_grid_per_output_matches_the_patch(browser: Browser, daemon: Daemon) -> None:
    page = logged_in(browser, daemon)
    page.click('#nav a[data-page="patch"]')
    grid = daemon.get("/api/patch").json()
    assert [o["name"] for o in grid["outputs"]] == ["front", "inside"]
    sent = {o["name"]: [u["universe"] for u in o["universes"]] for o in grid["outputs"]}
    assert sent == {"front": [29, 30, 501, 502], "inside": [701, 901, 1101]}
    # The fixtures' ranges as the per-canvas patch reports them: (universe, first, last) → who.
    ranges: dict[tuple[int, int, int], tuple[str, str]] = {}
    for name in CANVASES:
        for fx in daemon.get(f"/api/canvases/{name}/patch").json()["fixtures"]:
            for u, first, last in fx["ranges"]:
                ranges[(u, first, last)] = (name, fx["name"])
    colours: dict[str, str] = page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('[data-legend]')]"
        ".map(n => [n.dataset.legend,"
        " getComputedStyle(n.querySelector('.swatch')).backgroundColor]))"
    )
    assert sorted(colours) == sorted(CANVASES)
    assert len(set(colours.values())) == 5
    for output in grid["outputs"]:
        section = page.locator(f'section[data-output="{output["name"]}"]')
        expect(section.locator("tbody tr")).to_have_count(len(output["universes"]))
        expect(section.locator("thead .scale span")).to_have_count(5)  # 1, 128, 256, 384, 512
        for entry in output["universes"]:
            u = entry["universe"]
            row = section.locator(f'tr[data-universe="{u}"]')
            cells = row.locator(".cell")
            expect(cells).to_have_count(len(entry["cells"]))
            strip = box(row.locator(".slots"))
            for i, c in enumerate(entry["cells"]):
                assert ranges[(u, c["first"], c["last"])] == (c["canvas"], c["fixture"])
                cell = cells.nth(i)
                assert cell.get_attribute("data-canvas") == c["canvas"]
                assert cell.get_attribute("data-fixture") == c["fixture"]
                assert cell.get_attribute("data-first") == str(c["first"])
                assert cell.get_attribute("data-last") == str(c["last"])
                colour = cell.evaluate("n => getComputedStyle(n).backgroundColor")
                assert colour == colours[c["canvas"]]
                b = box(cell)
                slot = strip["width"] / 512
                assert abs(b["x"] - strip["x"] - (c["first"] - 1) * slot) <= 1.5
                assert abs(b["width"] - (c["last"] - c["first"] + 1) * slot) <= 1.5
    # Spot checks against what the default show's patch is known to be.
    front = page.locator('section[data-output="front"]')
    expect(front.locator('tr[data-universe="29"] .cell')).to_have_attribute(
        "data-fixture", "facade-01"
    )
    expect(front.locator('tr[data-universe="29"] .cell')).to_contain_text("pixels 4760\u20134799")
    expect(front.locator('tr[data-universe="501"] .cell')).to_have_attribute(
        "data-canvas", "canopy"
    )
    inside = page.locator('section[data-output="inside"]')
    expect(inside.locator('tr[data-universe="1101"] .cell')).to_have_attribute(
        "data-canvas", "stairs"
    )
    expect(inside.locator('tr[data-universe="5000"]')).to_have_count(0)
    # The rest of the patch, which no output sends, is counted.
    assert 29 not in grid["unsent"]
    assert 1 in grid["unsent"]
    expect(page.locator("#unsent summary")).to_contain_text(
        f"{len(grid['unsent'])} patched universes"
    )
    shot(page, "patch-grid")
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_both_pages_are_in_the_navigation_of_a_viewer(browser: Browser, daemon: Daemon) -> None:
    r = daemon.post(
        "/api/users", json={"name": "vera", "role": "viewer", "password": "vera-password-1"}
    )
    assert r.status_code == 201, r.text
    page = browser.new_page(viewport={"width": 1024, "height": 1366})
    page.goto(daemon.base + "/")
    page.fill("#username", "vera")
    page.fill("#password", "vera-password-1")
    page.click("#login")
    expect(page.locator("#who")).to_have_text("vera (viewer)")
    expect(page.locator('#nav a[data-page="building"]')).to_be_visible()
    expect(page.locator('#nav a[data-page="patch"]')).to_be_visible()
    page.click('#nav a[data-page="building"]')
    page.click('#elevation .placed[data-canvas="facade"]')
    expect(page.locator('.canvas-panel[data-canvas="facade"] button.park')).to_be_disabled()
    page.click('#nav a[data-page="patch"]')
    expect(page.locator('section[data-output="front"]')).to_be_visible()
    page.close()
