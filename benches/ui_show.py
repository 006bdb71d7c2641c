"""Show mode in a real Chromium: page load to interactive with 20 lists x 200 cues, what it
loads, and GO → UI latency, through the real daemon (issue 16).

    ./dev bench ui_show                 # 5 page loads, 60 GOs
    ./dev bench ui_show --loads 10 --gos 200

The daemon runs the default show plus 20 cue lists of 200 cues each (made over REST). A
logged-in page is opened on show mode again and again: "interactive" is the time from the
navigation to the page being in place with every list's GO working (the page's own
`performance.mark`, so no polling is counted); the cue tables fill in behind it, a list per
task, and the time until the last cue row is there is printed too; with the number of API
requests and the bytes they carried. The peer, measured in the same run: the same lists
loaded the old way (one request for the names, then one per list), timed from a Python client
over keep-alive.

GO → UI: a REST GO is sent from Python (wall clock noted just before) while the page, via a
MutationObserver, notes the wall time at which the list's "Running" cell changes; the latency
is the difference (one host clock, ms resolution). The floor, same run: the REST GO's own
reply time. Targets: interactive < 1 s, no request per cue; GO → UI p99 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright

from tests.daemon_harness import ADMIN_PASSWORD, AUTH_UNLIMITED, running_daemon

CHROMIUM = os.environ.get("TROCADERO_CHROMIUM", "/usr/bin/chromium")
LISTS, CUES = 20, 200


def make_lists(base: str, headers: dict[str, str]) -> None:
    for n in range(LISTS):
        cues = [
            {"number": str(c + 1), "look": "warm-welcome", "up_fade": 0.0, "down_fade": 0.0}
            for c in range(CUES)
        ]
        r = httpx.put(
            f"{base}/api/cue-lists/bench-{n:02d}",
            json={"cues": cues, "priority": 10},
            headers=headers,
            timeout=60,
        )
        r.raise_for_status()


def old_way_ms(base: str, headers: dict[str, str]) -> float:
    """The peer: names, then one request per list (what show mode did before)."""
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        t0 = time.perf_counter()
        names = [i["name"] for i in c.get("/api/cue-lists", params={"limit": 100}).json()["items"]]
        for name in names:
            c.get(f"/api/cue-lists/{name}").raise_for_status()
        return (time.perf_counter() - t0) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--gos", type=int, default=60)
    args = ap.parse_args()
    extra = AUTH_UNLIMITED + "login_attempts_per_minute = 1000\n[playback]\ngo_debounce_s = 0.0\n"
    with tempfile.TemporaryDirectory() as tmp, running_daemon(Path(tmp), extra) as d:
        d.wait_healthy()
        headers = d.headers()
        make_lists(d.base, headers)
        last = f"bench-{LISTS - 1:02d}"
        asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
        with sync_playwright() as p:
            launch = ["--no-sandbox"] if os.geteuid() == 0 else []
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=launch)
            page = browser.new_page(viewport={"width": 1280, "height": 1024})
            page.goto(d.base + "/")
            page.fill("#username", "admin")
            page.fill("#password", ADMIN_PASSWORD)
            page.click("#login")
            page.wait_for_selector(f'[data-list="{last}"] button.go:not([disabled])')
            loads, filled, requests, sizes = [], [], [], []
            for _ in range(args.loads):
                seen: list[int] = []

                def count(response: object, seen: list[int] = seen) -> None:
                    url = getattr(response, "url", "")
                    if "/api/" in url:
                        body = response.body()  # type: ignore[attr-defined]
                        seen.append(len(body))

                page.on("response", count)
                page.reload()
                page.wait_for_selector(f'[data-list="{last}"] tr[data-cue="{CUES}"]')
                page.wait_for_function("() => performance.getEntriesByName('show:rows').length")
                # Marks the page makes itself (web/ui/app.js, show.js), from the navigation.
                ready, rows = page.evaluate(
                    """() => [performance.getEntriesByName("page:show")[0].startTime,
                              performance.getEntriesByName("show:rows")[0].startTime]"""
                )
                loads.append(ready)
                filled.append(rows)
                page.remove_listener("response", count)
                requests.append(len(seen))
                sizes.append(sum(seen))
            peer = [old_way_ms(d.base, headers) for _ in range(args.loads)]
            # GO → UI on the first bench list (select it: the page watches it).
            target = "bench-00"
            page.evaluate(
                """(name) => {
                    window.__changes = [];
                    const cell = document.querySelector(`[data-list="${name}"] .running`);
                    const panel = cell.closest("[data-list]").parentElement;
                    new MutationObserver(() => {
                        const now = document.querySelector(`[data-list="${name}"] .running`);
                        if (now && now.textContent !== window.__last) {
                            window.__last = now.textContent;
                            window.__changes.push([Date.now(), now.textContent]);
                        }
                    }).observe(panel, { childList: true, subtree: true, characterData: true });
                }""",
                target,
            )
            latencies, replies = [], []
            with httpx.Client(base_url=d.base, headers=headers, timeout=10) as c:
                for i in range(args.gos):
                    sent = time.time() * 1e3
                    t0 = time.perf_counter()
                    r = c.post(f"/api/cue-lists/{target}/go")
                    replies.append((time.perf_counter() - t0) * 1e3)
                    cue = r.json()["cue"]
                    deadline = time.monotonic() + 5
                    while True:
                        changes = page.evaluate("() => window.__changes")
                        hit = [t for t, text in changes if text == cue and t >= sent - 1]
                        if hit:
                            latencies.append(hit[0] - sent)
                            break
                        assert time.monotonic() < deadline, f"GO {i}: the UI never showed {cue}"
                        time.sleep(0.002)
                    page.evaluate("() => { window.__changes = []; }")
                    time.sleep(0.05)
            browser.close()
    print(f"show mode with {LISTS} lists x {CUES} cues (plus the default show)")
    print(
        f"  page load to interactive: median {statistics.median(loads):.0f} ms, "
        f"max {max(loads):.0f} ms over {len(loads)} loads (target < 1000 ms: "
        f"{'MET' if max(loads) < 1000 else 'NOT MET'})"
    )
    print(
        f"  every cue row rendered: median {statistics.median(filled):.0f} ms, "
        f"max {max(filled):.0f} ms"
    )
    print(
        f"  API requests per load: {statistics.median(requests):.0f} "
        f"({statistics.median(sizes) / 1024:.0f} KiB); no request per cue or per list"
    )
    print(
        f"  peer, the old way (1 + {LISTS + 1} requests, Python keep-alive, no rendering): "
        f"median {statistics.median(peer):.0f} ms — the page, rendering included, is "
        f"x{statistics.median(loads) / statistics.median(peer):.2f} of it"
    )
    lat, rep = np.array(latencies), np.array(replies)
    print(
        f"GO → UI over {len(lat)} GOs: p50 {np.percentile(lat, 50):.0f} ms, "
        f"p99 {np.percentile(lat, 99):.0f} ms, max {lat.max():.0f} ms "
        f"(target p99 ≤ 100 ms: {'MET' if np.percentile(lat, 99) <= 100 else 'NOT MET'})"
    )
    print(
        f"  floor, the GO's own REST reply: p50 {np.percentile(rep, 50):.1f} ms, "
        f"p99 {np.percentile(rep, 99):.1f} ms"
    )


if __name__ == "__main__":
    main()
