"""Edit mode, looks: a look built through the forms made from the source schemas alone (no
JSON), its blind preview following each edit before anything is saved, a refused save shown
next to the form with nothing lost, then the stored look checked over REST."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.daemon_harness import Daemon
from tests.playout.test_content_upload import make_clip

from .ui_kit import logged_in, shot, wait_until

# The mean colour of the blind preview of a canvas (-1s before it is drawn).
MEAN = """(() => {
    const c = document.querySelector('canvas[data-blind="%s"]');
    if (!c || !c.width) return [-1, -1, -1];
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const m = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) m[k] += d[i + k];
    return m.map((v) => Math.round(v / (d.length / 4)));
})()"""


def mean(page: Page, canvas: str) -> list[int]:
    value: list[int] = page.evaluate(MEAN % canvas)
    return value


def wait_colour(page: Page, canvas: str, rgb: tuple[int, int, int]) -> None:
    """Until the blind preview's mean is within 8 of `rgb` on every channel."""
    deadline = time.monotonic() + 10
    while any(abs(m - v) > 8 for m, v in zip(mean(page, canvas), rgb, strict=True)):
        got = mean(page, canvas)
        status = page.locator("#blind-preview").inner_text()
        assert time.monotonic() < deadline, f"blind preview of {canvas}: {got}, not {rgb}; {status}"
        time.sleep(0.05)


def test_a_look_built_through_the_forms(browser: Browser, daemon: Daemon) -> None:
    page = logged_in(browser, daemon)
    page.goto(daemon.base + "/#/edit")
    page.fill("#new-look", "ui-draft")
    page.click("#create-look")
    expect(page.locator("#toast")).to_contain_text("Look ui-draft created")
    expect(page.locator("#look")).to_have_value("ui-draft")
    wait_colour(page, "facade", (255, 255, 255))  # the new look's white layer

    # Layer 1: a chase, red, as wide as the canvas (a number with a range: 0..1), hard-edged.
    first = page.locator('[data-layer="facade:0"]')
    first.locator('[data-field="source"]').select_option("chase")
    first = page.locator('[data-layer="facade:0"]')  # redrawn with the chase's parameters
    expect(first.locator('[data-param="width"]')).to_have_attribute("max", "1")
    expect(first.locator('select[data-param="direction"]')).to_be_visible()
    first.locator('input[data-param="colour"]').fill("#ff0000")
    first.locator('input[data-param="width"]').fill("1")
    first.locator('input[data-param="soft"]').uncheck()  # a hard bar: the whole canvas red
    wait_colour(page, "facade", (255, 0, 0))
    # Blind: nothing is stored yet (the preview is of the form, not of the stored look).
    stored = daemon.get("/api/looks/ui-draft").json()
    assert stored["canvases"][0]["layers"][0]["source"] == "solid"

    # Layer 2, on top: solid, blue; it covers the chase.
    page.click('[data-canvas="facade"] [data-act="add-layer"]')
    second = page.locator('[data-layer="facade:1"]')
    second.locator('input[data-param="colour"]').fill("#0000ff")
    wait_colour(page, "facade", (0, 0, 255))
    shot(page, "looks-1-two-layers")

    # Reordered: the blue one to the bottom, the red chase over it.
    second.locator('[data-act="up"]').click()
    expect(page.locator('[data-layer="facade:0"] [data-field="source"]')).to_have_value("solid")
    wait_colour(page, "facade", (255, 0, 0))

    # A value out of range: the preview says why, the save is refused next to the form, and
    # the form keeps every edit.
    chase = page.locator('[data-layer="facade:1"]')
    chase.locator('input[data-param="width"]').fill("5")
    expect(page.locator("#blind-problems")).to_contain_text('param "width"')
    page.click("#save-look")
    expect(page.locator("#look-problems")).to_contain_text('param "width": must be between 0 and 1')
    shot(page, "looks-2-refused")
    expect(chase.locator('input[data-param="width"]')).to_have_value("5")
    expect(chase.locator('input[data-param="colour"]')).to_have_value("#ff0000")
    assert daemon.get("/api/looks/ui-draft").json() == stored

    chase.locator('input[data-param="width"]').fill("1")
    wait_colour(page, "facade", (255, 0, 0))
    page.click("#save-look")
    expect(page.locator("#toast")).to_contain_text("Look ui-draft saved")
    expect(page.locator("#look-problems")).to_be_empty()
    shot(page, "looks-3-saved")
    deadline = time.monotonic() + 5
    while (look := daemon.get("/api/looks/ui-draft").json()) == stored:
        assert time.monotonic() < deadline, "the look was not stored"
        time.sleep(0.05)
    layers = look["canvases"][0]["layers"]
    assert [(layer["source"], layer["blend"], layer["opacity"]) for layer in layers] == [
        ("solid", "normal", 1.0),
        ("chase", "normal", 1.0),
    ]
    assert layers[0]["params"] == {"colour": "#0000ff"}
    assert layers[1]["params"] == {"colour": "#ff0000", "width": 1, "soft": False}

    # Animated: the frames keep coming (a few a second) while the box is ticked.
    renders = int(page.locator("#blind-preview").get_attribute("data-renders") or 0)
    page.check("#blind-animate")
    counter = 'Number(document.getElementById("blind-preview").dataset.renders)'
    wait_until(page, f"{counter} > {renders + 3}")
    page.uncheck("#blind-animate")
    expect(page.locator("#blind-status")).to_contain_text("t = ")
    refused = [e for e in page.errors if "status of 400" not in e]  # type: ignore[attr-defined]
    assert refused == []
    page.close()


def test_a_video_layer_picks_an_approved_asset(
    browser: Browser, daemon: Daemon, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "amber.mp4", frames=12, colour=(255, 160, 0))
    base = "/api/content/uploads"
    r = daemon.post(base, json={"filename": "amber.mp4", "size": len(clip)})
    assert r.status_code == 201, r.text
    upload = r.json()["upload_id"]
    assert daemon.put(f"{base}/{upload}?offset=0", content=clip).status_code == 200
    r = daemon.post(f"{base}/{upload}/complete", json={}, timeout=30)
    assert r.status_code == 201, r.text
    asset = r.json()["asset_id"]
    r = daemon.post(f"/api/content/{asset}/approve", json={})
    assert r.status_code == 200, r.text

    page = logged_in(browser, daemon)
    page.goto(daemon.base + "/#/edit")
    page.fill("#new-look", "ui-video")
    page.click("#create-look")
    expect(page.locator("#toast")).to_contain_text("Look ui-video created")
    layer = page.locator('[data-layer="facade:0"]')
    layer.locator('[data-field="source"]').select_option("video")
    picker = page.locator('[data-layer="facade:0"] select[data-param="asset"]')
    expect(picker.locator(f'option[value="{asset}"]')).to_have_text(f"amber.mp4 (#{asset})")
    picker.select_option(str(asset))
    wait_colour(page, "facade", (255, 160, 0))
    shot(page, "looks-4-video-asset")
    page.click("#save-look")
    expect(page.locator("#toast")).to_contain_text("Look ui-video saved")
    stored = daemon.get("/api/looks/ui-video").json()["canvases"][0]["layers"]
    assert [(layer["source"], layer["params"]) for layer in stored] == [("video", {"asset": asset})]
    page.close()


def test_a_viewer_sees_the_look_forms_disabled_and_no_preview(
    browser: Browser, daemon: Daemon
) -> None:
    vera = {"name": "vera", "role": "viewer", "password": "look-only-1"}
    r = daemon.post("/api/users", json=vera)
    assert r.status_code == 201, r.text
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(daemon.base + "/")
    page.fill("#username", "vera")
    page.fill("#password", "look-only-1")
    page.click("#login")
    page.goto(daemon.base + "/#/edit")
    first = page.locator(".layers .layer").first
    expect(first.locator('[data-field="source"]')).to_be_disabled()
    expect(first.locator("[data-param]").first).to_be_disabled()
    expect(page.locator('[data-act="add-layer"]').first).to_be_disabled()
    expect(page.locator("#save-look")).to_be_disabled()
    expect(page.locator("#blind-preview")).to_contain_text("roles that may edit looks")
    page.wait_for_timeout(500)  # a preview request would have been refused (403) by now
    assert errors == []
    expect(page.locator("#toast")).not_to_have_class("show error")
    page.close()
