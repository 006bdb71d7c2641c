"""A show built from nothing in the web UI alone, in Debian's Chromium, as the admin: a new cue
list, three looks made through the look forms (a source picked from the list, its
parameters), three cues playing them, GO through them in show mode with the live preview
following, a canvas parked from the building view and released, PANIC, and a schedule entry
for the new list made in the schedule form. Every step is checked in what the daemon stored
or plays (REST), not only on the page. Screenshots go to test-artifacts/."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.daemon_harness import Daemon

from .ui_kit import logged_in, shot, wait_until

LIST = "finale"
# name, source, parameters set in its form, the facade's colour it gives (a bar as wide as the
# canvas, hard-edged, covers it whole).
LOOKS = (
    ("finale-red", "solid", {"colour": "#ff0000"}, (255, 0, 0)),
    ("finale-green", "chase", {"colour": "#00ff00", "width": "1"}, (0, 255, 0)),
    ("finale-blue", "chase", {"colour": "#0000ff", "width": "1"}, (0, 0, 255)),
)

# The mean colour of a live preview (-1s until it is drawn).
MEAN = """(name) => {
    const c = document.querySelector(`canvas[data-preview="${name}"]`);
    if (!c || c.width < 2) return [-1, -1, -1];
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const m = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) m[k] += d[i + k];
    return m.map((v) => Math.round(v / (d.length / 4)));
}"""


def eventually(what: str, check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def wait_preview(page: Page, canvas: str, rgb: tuple[int, int, int]) -> None:
    """Until the live preview of `canvas` shows `rgb` (within 12 on every channel)."""
    deadline = time.monotonic() + 10
    while True:
        got: list[int] = page.evaluate(MEAN, canvas)
        if all(abs(g - w) <= 12 for g, w in zip(got, rgb, strict=True)):
            return
        assert time.monotonic() < deadline, f"preview of {canvas}: {got}, not {rgb}"
        time.sleep(0.1)


def playing(daemon: Daemon) -> dict[str, Any]:
    state: dict[str, Any] = daemon.get("/api/playback").json()
    return state


def list_state(daemon: Daemon) -> dict[str, Any]:
    found = [s for s in playing(daemon)["lists"] if s["name"] == LIST]
    return found[0] if found else {}


def wait_current(daemon: Daemon, cue: str | None) -> None:
    eventually(f"{LIST} is not on cue {cue}", lambda: list_state(daemon).get("current") == cue)


def make_look(page: Page, daemon: Daemon, name: str, source: str, params: dict[str, str]) -> None:
    page.fill("#new-look", name)
    page.click("#create-look")
    expect(page.locator("#toast")).to_contain_text(f"Look {name} created")
    expect(page.locator("#look")).to_have_value(name)
    layer = page.locator('[data-layer="facade:0"]')
    if source != "solid":  # a new look's layer is a solid already
        layer.locator('[data-field="source"]').select_option(source)
        layer = page.locator('[data-layer="facade:0"]')  # redrawn with the source's parameters
        expect(layer.locator('[data-param="width"]')).to_be_visible()
        layer.locator('input[data-param="soft"]').uncheck()
    for key, value in params.items():
        layer.locator(f'input[data-param="{key}"]').fill(value)
    page.click("#save-look")
    expect(page.locator("#toast")).to_contain_text(f"Look {name} saved")
    expect(page.locator("#look-problems")).to_be_empty()


def test_a_show_from_nothing_in_the_ui(browser: Browser, daemon: Daemon) -> None:
    assert daemon.get(f"/api/cue-lists/{LIST}").status_code == 404
    page = logged_in(browser, daemon)
    page.goto(daemon.base + "/#/edit")

    # Three looks through the look forms.
    for name, source, params, _ in LOOKS:
        make_look(page, daemon, name, source, params)
    for name, source, params, _ in LOOKS:
        layers = daemon.get(f"/api/looks/{name}").json()["canvases"][0]["layers"]
        assert [layer["source"] for layer in layers] == [source]
        assert layers[0]["params"]["colour"] == params["colour"]
        if source == "chase":
            assert (layers[0]["params"]["width"], layers[0]["params"]["soft"]) == (1, False)
    shot(page, "from-nothing-1-looks")

    # A new cue list with three cues, each on its look, with short fades.
    page.fill("#new-list", LIST)
    page.click("#create-list")
    expect(page.locator("#cue-list")).to_have_value(LIST)
    for number, (look, *_) in enumerate(LOOKS, start=1):
        page.fill("#new-cue", str(number))
        page.click("text=Add cue")
        row = page.locator(f'tr[data-cue="{number}"]')
        expect(row).to_be_visible()
        row.locator('[data-field="look"]').select_option(look)
        row.locator('[data-field="up_fade"]').fill("0.5")
        row.locator('[data-field="down_fade"]').fill("0.5")
        row.locator("button.save").click()
        expect(page.locator("#toast")).to_contain_text(f"Cue {number} saved")
    stored = daemon.get(f"/api/cue-lists/{LIST}").json()
    assert [(c["number"], c["look"], c["up_fade"]) for c in stored["cues"]] == [
        (str(n), look, 0.5) for n, (look, *_) in enumerate(LOOKS, start=1)
    ]
    shot(page, "from-nothing-2-cues")

    # Show mode: GO through the three cues; the daemon plays each, the preview follows.
    page.goto(daemon.base + "/#/show")
    panel = page.locator(f'[data-list="{LIST}"]')
    expect(panel).to_be_visible()
    wait_until(page, "() => document.querySelector('canvas[data-preview=\"facade\"]').width > 1")
    assert list_state(daemon).get("current") is None
    for number, (*_, rgb) in enumerate(LOOKS, start=1):
        panel.locator("button.go").click()
        expect(panel.locator(".running")).to_have_text(str(number))
        wait_current(daemon, str(number))
        wait_preview(page, "facade", rgb)
        ladder = playing(daemon)["ladder"]["facade"]
        assert ladder[0]["level"] == "cue list", ladder
        shot(page, f"from-nothing-3-go-{number}")

    # The building view: park the facade on a look from its panel, then release it.
    page.click('#nav a[data-page="building"]')
    expect(page.locator("#elevation")).to_be_visible()
    page.click('#elevation .placed[data-canvas="facade"]')
    canvas_panel = page.locator('.canvas-panel[data-canvas="facade"]')
    expect(canvas_panel).to_be_visible()
    canvas_panel.locator("select.park-look").select_option("finale-red")
    canvas_panel.locator("button.park").click()
    eventually(
        "the park did not reach the daemon",
        lambda: playing(daemon)["parks"].get("facade") == {"look": "finale-red"},
    )
    expect(page.locator('#elevation .placed[data-canvas="facade"] .badge')).to_have_text("PARK")
    wait_preview(page, "facade", (255, 0, 0))
    shot(page, "from-nothing-4-parked")
    canvas_panel.locator("button.unpark").click()
    eventually("the park was not released", lambda: "facade" not in playing(daemon)["parks"])
    expect(canvas_panel.locator('tr[data-holder="park"]')).to_have_count(0)
    wait_preview(page, "facade", (0, 0, 255))  # the list's cue 3 again

    # PANIC from the show page, after its confirmation: the list is released.
    page.click('#nav a[data-page="show"]')
    page.click("#panic")
    expect(page.locator("#confirm-text")).to_contain_text("PANIC")
    page.click("#confirm-ok")
    wait_current(daemon, None)  # PANIC released the list
    expect(page.locator(f'[data-list="{LIST}"] .running')).to_have_text("—")
    shot(page, "from-nothing-5-panic")

    # The schedule form: the new list every day at 20:00 for an hour, above the default show's.
    page.click('#nav a[data-page="schedule"]')
    page.click("#entry-new")
    form = page.locator("#schedule-form")
    expect(form).to_be_visible()
    page.fill("#entry-name", "finale-nightly")
    page.select_option("#entry-kind", "cue_list")
    page.select_option("#entry-target", LIST)
    page.select_option("#entry-anchor", "clock")
    page.fill("#entry-time", "20:00")
    page.fill("#entry-date", "2026-12-01")
    page.select_option("#entry-repeat", "daily")
    expect(page.locator("#entry-rrule")).to_have_text("FREQ=DAILY")
    page.select_option("#entry-end", "duration")
    page.fill("#entry-duration", "60")
    page.fill("#entry-priority", "500")
    shot(page, "from-nothing-6-schedule-form")
    page.click("#entry-save")
    expect(page.locator("#toast")).to_contain_text("Saved finale-nightly")
    expect(form).to_have_count(0)
    row = page.locator("#schedule-entries tr[data-entry]").filter(has_text="finale-nightly")
    expect(row).to_contain_text(f"cue list {LIST}")
    entries = daemon.get("/api/schedule").json()["entries"]
    (entry,) = [e for e in entries if e["name"] == "finale-nightly"]
    assert (entry["target_kind"], entry["target"]) == ("cue_list", LIST)
    assert entry["rrule"] == "FREQ=DAILY"
    assert (entry["duration_s"], entry["priority"], entry["enabled"]) == (3600.0, 500, True)
    why = daemon.get("/api/schedule/now", params={"at": "2026-12-09T20:30"}).json()
    assert why["canvases"]["facade"]["winner"]["entry"]["name"] == "finale-nightly"
    why = daemon.get("/api/schedule/now", params={"at": "2026-12-09T21:30"}).json()
    assert why["canvases"]["facade"]["winner"]["entry"]["name"] != "finale-nightly"
    shot(page, "from-nothing-7-scheduled")
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()
