"""Fonts in the browser: a brand's typeface (DejaVu, copied from the system at test time)
uploaded on the content page, named and approved, a fake font refused with its reason shown;
then the look editor offers the approved font to a text layer, whose blind preview lights
pixels, and the saved look names it as "asset:ID"."""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.daemon_harness import Daemon

from .ui_kit import logged_in, shot, wait_until

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
LIT = """(() => {
    const c = document.querySelector('canvas[data-blind="facade"]');
    if (!c || !c.width) return -1;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 127) lit++;
    return lit;
})()"""


def test_a_font_uploaded_approved_and_used_by_a_text_layer(
    browser: Browser, daemon: Daemon, tmp_path: Path
) -> None:
    font = tmp_path / "Brand.ttf"
    shutil.copy(DEJAVU, font)
    fake = tmp_path / "fake.ttf"
    fake.write_bytes(b"\x00\x01\x00\x00" + b"no glyphs here " * 200)
    page = logged_in(browser, daemon)  # admin: may upload and approve
    page.goto(daemon.base + "/#/content")

    page.set_input_files("#upload-file", str(fake))
    page.click("#upload")
    expect(page.locator("#toast")).to_contain_text("file: 'fake.ttf': not a loadable truetype")
    expect(page.locator("#upload-status")).to_have_text("refused")
    assert daemon.get("/api/content?limit=200").json()["items"] == []

    page.set_input_files("#upload-file", str(font))
    page.click("#upload")
    expect(page.locator("#toast")).to_contain_text("Uploaded: Brand.ttf")
    expect(page.locator("#upload-status")).to_have_text("font: DejaVu Sans Book")
    row = page.locator("tr[data-asset]").filter(has_text="Brand.ttf")
    expect(row).to_contain_text("font: DejaVu Sans Book")
    row.locator("button.approve").click()
    expect(
        page.locator("tr[data-asset]").filter(has_text="Brand.ttf").locator(".status")
    ).to_have_text("approved")
    wait_until(
        page, "() => [...document.querySelectorAll('tr[data-asset] img')].some(i => i.naturalWidth)"
    )
    shot(page, "fonts-1-content")
    (asset,) = [a["id"] for a in daemon.get("/api/content?limit=200").json()["items"]]

    page.goto(daemon.base + "/#/edit")
    page.fill("#new-look", "ui-font")
    page.click("#create-look")
    expect(page.locator("#toast")).to_contain_text("Look ui-font created")
    layer = page.locator('[data-layer="facade:0"]')
    layer.locator('[data-field="source"]').select_option("text-scroller")
    layer = page.locator('[data-layer="facade:0"]')
    offered = layer.locator(f'datalist option[value="asset:{asset}"]')
    assert offered.text_content() == "Brand.ttf · DejaVu Sans · Book"
    layer.locator('input[data-param="text"]').fill("BRAND")
    layer.locator('input[data-param="speed"]').fill("0")
    wait_until(page, f"{LIT} > 0")  # the pixel font first
    pixel = page.evaluate(LIT)
    layer.locator('input[data-param="font"]').fill(f"asset:{asset}")
    wait_until(page, f"{LIT} > 0 && {LIT} !== {pixel}")  # redrawn in the uploaded font
    shot(page, "fonts-2-text-layer")
    page.click("#save-look")
    expect(page.locator("#toast")).to_contain_text("Look ui-font saved")
    stored = daemon.get("/api/looks/ui-font").json()["canvases"][0]["layers"]
    assert stored[0]["source"] == "text-scroller"
    assert stored[0]["params"]["font"] == f"asset:{asset}"
    errors = [e for e in page.errors if "status of 400" not in e]  # type: ignore[attr-defined]
    assert errors == []
    page.close()
