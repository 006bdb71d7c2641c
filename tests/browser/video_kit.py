"""Reading a live <video> back in the browser tests and benches/live_video.py: the counter
the simulator burns into each frame (playout/mdvr/sim.py `counter_image`), read from every
presented frame, and the glass-to-glass latency against when the device sent it."""

from __future__ import annotations

import time
from collections.abc import Mapping

from playwright.sync_api import Page

from trocadero.playout.mdvr.sim import COUNTER_BITS

# Reads the counter cells of every frame the <video> presents (requestVideoFrameCallback),
# into window.__frames as {c: counter or -1, at: Date.now()}. CDP evaluation: no eval in the
# page, so its CSP stays as it is.
READ_FRAMES = """([selector, bits]) => {
    const v = document.querySelector(selector);
    window.__frames = [];
    const c = document.createElement("canvas");
    const g = c.getContext("2d", { willReadFrequently: true });
    const read = () => {
        c.width = v.videoWidth; c.height = v.videoHeight;
        g.drawImage(v, 0, 0);
        const band = Math.floor(c.height / 4), cell = Math.floor(c.width / bits);
        const px = (x, y) => {
            const d = g.getImageData(x, y, 1, 1).data;
            return (d[0] + d[1] + d[2]) / 3 > 127;
        };
        let value = 0;
        for (let b = 0; b < bits; b++) {
            const x = b * cell + Math.floor(cell / 2);
            const top = px(x, Math.floor(band / 2)), below = px(x, band + Math.floor(band / 2));
            if (top === below) return -1;
            value = value * 2 + (top ? 1 : 0);
        }
        return value;
    };
    const step = () => {
        if (v.videoWidth) window.__frames.push({ c: read(), at: Date.now() });
        v.requestVideoFrameCallback(step);
    };
    v.requestVideoFrameCallback(step);
}"""


def presented_frames(
    page: Page, video: str, sent_at: Mapping[int, float], seconds: float
) -> tuple[list[int], list[float]]:
    """The counters of the frames `video` presents during `seconds`, in order, and for each
    whose send time is known, ms from the device sending it to the browser presenting it."""
    page.evaluate(READ_FRAMES, [video, COUNTER_BITS])
    seen: list[int] = []
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.5)
        frames = page.evaluate("window.__frames.splice(0)")
        sent = dict(sent_at)  # counter → when the device last sent it (Unix s)
        for f in frames:
            assert f["c"] >= 0, "a presented frame's counter cells did not read back"
            seen.append(f["c"])
            at = sent.get(f["c"])
            if at is not None and at * 1e3 <= f["at"]:
                latencies.append(f["at"] - at * 1e3)
    return seen, latencies


def percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p95 (nan when empty)."""
    if not values:
        return float("nan"), float("nan")
    ordered = sorted(values)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
