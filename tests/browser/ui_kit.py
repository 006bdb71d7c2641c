"""Helpers of the browser tests: polling a page, screenshots kept as artefacts, a logged-in
tablet page, a preview's pixel sum."""

from __future__ import annotations

import os
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.daemon_harness import ADMIN_PASSWORD, Daemon

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TROCADERO_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
CHROMIUM = os.environ.get("TROCADERO_CHROMIUM", "/usr/bin/chromium")


def wait_until(page: Page, predicate: str, timeout: float = 10.0) -> None:
    """Poll a JS predicate with page.evaluate (CDP, unaffected by the page's CSP; Playwright's
    wait_for_function compiles the string in the page, which our CSP rightly forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, f"not true within {timeout} s: {predicate}"
        time.sleep(0.05)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def logged_in(browser: Browser, daemon: Daemon) -> Page:
    page = browser.new_page(viewport={"width": 1024, "height": 1366})  # a tablet, portrait
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(daemon.base + "/")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login")
    expect(page.locator("#who")).to_have_text("admin (admin)")
    page.errors = errors  # type: ignore[attr-defined]
    return page


def preview_sum(page: Page, canvas: str) -> int:
    value: int = page.evaluate(
        """(name) => {
            const c = document.querySelector(`canvas[data-preview="${name}"]`);
            if (!c || c.width < 2) return -1;
            const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            let s = 0;
            for (let i = 0; i < d.length; i += 4) s += d[i] * 3 + d[i + 1] * 5 + d[i + 2] * 7;
            return s;
        }""",
        canvas,
    )
    return value
