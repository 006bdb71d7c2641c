"""No page asks the daemon once per item when it loads (no 1+N requests): every page the
admin sees is loaded, the daemon is given more cue lists, looks, schedule entries and users
(and so more audit entries), and every page is loaded again; each page must make exactly the
same number of API requests as before. A page that fetched each list or look on its own
would make more."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, Request

from tests.daemon_harness import Daemon

from .ui_kit import logged_in, wait_until

MORE = 6  # of each kind of item added between the two rounds


def visit(page: Page, name: str) -> Counter[str]:
    """Navigate to a page and count its API requests (by path) until it marks itself ready."""
    paths: Counter[str] = Counter()

    def seen(request: Request) -> None:
        if request.resource_type in ("fetch", "xhr") and "/api/" in request.url:
            paths[urlsplit(request.url).path] += 1

    ready = f"() => performance.getEntriesByName('page:{name}').length"
    before: int = page.evaluate(ready)
    page.on("request", seen)
    try:
        page.evaluate("(name) => { location.hash = `#/${name}`; }", name)
        wait_until(page, f"() => performance.getEntriesByName('page:{name}').length > {before}")
        page.wait_for_timeout(300)  # anything a page asks for just after it is shown
    finally:
        page.remove_listener("request", seen)
    return paths


def round_of_visits(page: Page, pages: list[str]) -> dict[str, Counter[str]]:
    return {name: visit(page, name) for name in pages}


def add_items(daemon: Daemon, n: int) -> None:
    for i in range(n):
        cues = [{"number": str(k), "look": "blue-hour", "up_fade": 1} for k in range(1, 4)]
        r = daemon.put(f"/api/cue-lists/extra-{i}", json={"label": f"Extra {i}", "cues": cues})
        assert r.status_code == 200, r.text
        layer = {"source": "solid", "params": {"colour": "#102030"}}
        look = {"canvases": [{"canvas": "facade", "layers": [layer]}]}
        r = daemon.put(f"/api/looks/extra-look-{i}", json=look)
        assert r.status_code == 200, r.text
        entry = {
            "name": f"extra-entry-{i}",
            "target_kind": "look",
            "target": f"extra-look-{i}",
            "rrule": "FREQ=DAILY",
            "dtstart": f"2026-06-01T{10 + i:02d}:00:00+00:00",
        }
        r = daemon.post("/api/schedule", json=entry)
        assert r.status_code == 201, r.text
        user = {"name": f"viewer{i}", "role": "viewer", "password": "viewer-pass-1"}
        r = daemon.post("/api/users", json=user)
        assert r.status_code in (200, 201), r.text


def test_no_page_makes_a_request_per_item(browser: Browser, daemon: Daemon) -> None:
    page = logged_in(browser, daemon)
    wait_until(page, "() => performance.getEntriesByName('page:show').length > 0")
    pages: list[str] = page.evaluate(
        "() => [...document.querySelectorAll('#nav a:not([hidden])')].map((a) => a.dataset.page)"
    )
    assert {"show", "edit", "schedule", "users", "audit"} <= set(pages), pages
    # Start away from the page already shown, so that every visit is a navigation.
    pages = [p for p in pages if p != "show"] + ["show"]
    round_of_visits(page, pages)  # warm: the session's one-off requests (site zone, …)
    few = round_of_visits(page, pages)
    add_items(daemon, MORE)
    many = round_of_visits(page, pages)
    for name in pages:
        assert sum(few[name].values()) > 0, f"{name}: no API request seen"
        # Counted, not compared by path: the page may now open another list or look first.
        assert many[name].total() == few[name].total(), (
            f"{name}: its requests grew with the number of items: {dict(few[name])} "
            f"→ {dict(many[name])}"
        )
    # The items are on the pages (the second round saw them, not a stale view).
    page.evaluate("() => { location.hash = '#/edit'; }")
    wait_until(page, "() => !!document.querySelector('#cue-list option:nth-child(2)')")
    options = page.locator("#cue-list option").all_inner_texts()
    assert [f"extra-{i}" for i in range(MORE)] == [o for o in options if o.startswith("extra-")]
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()
