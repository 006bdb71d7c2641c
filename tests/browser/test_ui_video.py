"""Live vehicle video in Debian's Chromium: a simulated MDVR device streams an H.264 clip with a
burned-in frame counter; the Vehicle video page plays it through Media Source Extensions (the
daemon remuxes, never transcodes); the test reads the decoded frames back from the <video>
(drawImage + getImageData) to check their order and measure glass-to-glass latency, and
checks tokens, roles, shared device streams, the grace stop and a device sending garbage."""

from __future__ import annotations

import io
import itertools
import re
import time
from collections.abc import Iterator
from typing import Any

import av
import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.daemon_harness import AUTH_UNLIMITED, Daemon, free_port, running_daemon
from tests.sim_thread import SimThread, sim_thread
from tests.ws_client import Closed, WsClient
from trocadero.playout.mdvr.sim import SimDevice, counter_clip, read_counter
from trocadero.protocols.mdvr import LiveVideoRequest

from .ui_kit import logged_in, shot, wait_until
from .video_kit import percentiles, presented_frames

DEVICE = "00967"
CLIP_FRAMES = 300  # 20 s at 15 fps: a counter is sent again only after that
GRACE_S = 1.0
TOKEN_S = 3.0


@pytest.fixture(scope="module")
def sim_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, sim_port: int) -> Iterator[Daemon]:
    extra = (
        AUTH_UNLIMITED
        + "login_attempts_per_minute = 1000\n"
        + f'[mdvr]\nenabled = true\nbind_address = "127.0.0.1"\nsignaling_port = {sim_port}\n'
        + f'media_port = {free_port()}\nallowed_devices = ["{DEVICE}"]\n'
        + f"video_grace_s = {GRACE_S}\nvideo_token_s = {TOKEN_S}\nsession_timeout_s = 5.0\n"
    )
    with running_daemon(tmp_path_factory.mktemp("video"), extra) as d:
        d.wait_healthy()
        yield d


@pytest.fixture(scope="module")
def sim(daemon: Daemon, sim_port: int) -> Iterator[SimThread]:
    clip = counter_clip(frames=CLIP_FRAMES)
    with sim_thread(SimDevice(DEVICE, "127.0.0.1", sim_port, clip=clip)) as s:
        deadline = time.monotonic() + 15
        while not s.device.online:
            assert time.monotonic() < deadline, "the simulated vehicle did not register"
            time.sleep(0.05)
        yield s


def c508(sim: SimThread, channel: int, start: bool) -> int:
    return sum(
        1
        for m in list(sim.device.received)
        if isinstance(m, LiveVideoRequest) and m.channel == channel and m.start == start
    )


def streams(daemon: Daemon) -> dict[int, dict[str, Any]]:
    r = daemon.get("/api/video/streams")
    assert r.status_code == 200, r.text
    return {s["channel"]: s for s in r.json()["items"] if s["device"] == DEVICE}


def cameras(browser: Browser, daemon: Daemon) -> Page:
    page = logged_in(browser, daemon)
    page.click("a[data-page=video]")
    expect(page.locator(f'.video-tile[data-device="{DEVICE}"]')).to_have_count(4)
    return page


def tile(page: Page, channel: int) -> str:
    return f'.video-tile[data-device="{DEVICE}"][data-channel="{channel}"]'


def play(page: Page, channel: int) -> None:
    page.click(f"{tile(page, channel)} .video-play")
    wait_until(
        page,
        f"""(() => {{ const v = document.querySelector('{tile(page, channel)} video');
            return v.closest('.video-tile').dataset.state === 'playing' && v.currentTime > 0
                && v.videoWidth === 320; }})()""",
        timeout=20,
    )


def test_chromium_plays_the_device_h264_through_mse(
    browser: Browser, daemon: Daemon, sim: SimThread
) -> None:
    page = cameras(browser, daemon)
    assert page.evaluate("MediaSource.isTypeSupported('video/mp4; codecs=\"avc1.42E01E\"')")
    play(page, 0)
    seen, latencies = presented_frames(page, f"{tile(page, 0)} video", sim.device.sent_at, 6.0)
    assert len(seen) >= 45, f"only {len(seen)} frames presented in 6 s"
    steps = [b - a for a, b in itertools.pairwise(seen)]
    assert all(s > 0 or s < -CLIP_FRAMES // 2 for s in steps), f"frames out of order: {seen}"
    assert sum(1 for s in steps if s == 1) >= len(steps) * 0.8, f"frames skipped: {seen}"
    p50, p95 = percentiles(latencies)
    print(f"glass-to-glass (device send → frame presented): p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    readout = page.text_content(f"{tile(page, 0)} .video-latency") or ""
    assert readout.endswith("ms behind"), readout
    shot(page, "video-playing")

    with page.expect_download() as download:
        page.click(f"{tile(page, 0)} .video-snapshot")
    jpeg = download.value.path().read_bytes()
    assert jpeg[:3] == b"\xff\xd8\xff", "the snapshot is not a JPEG"
    assert download.value.suggested_filename.startswith(f"{DEVICE}-ch0-")

    page.click(f"{tile(page, 0)} .video-stop")
    expect(page.locator(tile(page, 0))).to_have_attribute("data-state", "stopped")
    page.close()


def test_two_viewers_share_one_device_stream_and_the_last_leaving_stops_it(
    browser: Browser, daemon: Daemon, sim: SimThread
) -> None:
    starts = c508(sim, 1, True)
    one, two = cameras(browser, daemon), cameras(browser, daemon)
    play(one, 1)
    play(two, 1)
    ch1 = streams(daemon)[1]
    assert ch1["viewers"] == 2
    assert ch1["users"] == ["admin"]
    assert c508(sim, 1, True) == starts + 1, "a second C508 for a channel already streaming"
    live = [s for s in daemon.get("/api/mdvr/live").json()["items"] if s["channel"] == 1]
    assert len(live) == 1

    one.click(f"{tile(one, 1)} .video-stop")
    deadline = time.monotonic() + 5
    while streams(daemon)[1]["viewers"] != 1:
        assert time.monotonic() < deadline, streams(daemon)
        time.sleep(0.1)
    time.sleep(GRACE_S + 0.5)
    assert c508(sim, 1, False) == 0, "stopped while someone still watches"
    assert two.get_attribute(tile(two, 1), "data-state") == "playing"

    stops = c508(sim, 1, False)
    two.click(f"{tile(two, 1)} .video-stop")
    deadline = time.monotonic() + GRACE_S + 5
    while 1 in streams(daemon) or c508(sim, 1, False) == stops:
        assert time.monotonic() < deadline, "the device stream outlived its last viewer"
        time.sleep(0.1)
    assert not [s for s in daemon.get("/api/mdvr/live").json()["items"] if s["channel"] == 1]
    one.close()
    two.close()


def test_tokens_expire_and_name_their_stream(
    browser: Browser, daemon: Daemon, sim: SimThread
) -> None:
    r = daemon.post("/api/video/streams", json={"device": DEVICE, "channel": 3}, timeout=15)
    assert r.status_code == 200, r.text
    started = r.json()
    token = started["token"]
    assert started["url"] == f"/api/video/ws/{DEVICE}/3/0"

    def close_code(path: str) -> int:
        try:  # the close may come in the same read as the upgrade's acceptance
            ws = WsClient(daemon.port, path)
        except Closed as closed:
            return closed.code
        try:
            while True:
                ws.receive()
        except Closed as closed:
            return closed.code
        finally:
            ws.close()

    # Another channel, another stream type, a forged signature: refused (4403).
    assert close_code(f"/api/video/ws/{DEVICE}/2/0?token={token}") == 4403
    assert close_code(f"/api/video/ws/{DEVICE}/3/1?token={token}") == 4403
    assert close_code(f"/api/video/ws/{DEVICE}/3/0?token={token[:-2]}xx") == 4403
    assert close_code(f"/api/video/ws/{DEVICE}/3/0") == 4403
    # The right one streams: the stream description, then the init segment.
    ws = WsClient(daemon.port, f"{started['url']}?token={token}")
    hello = ws.receive_json()
    assert hello["type"] == "stream"
    assert hello["codec"].startswith("avc1.")
    init = ws.receive()
    assert isinstance(init, bytes)
    assert init[4:8] == b"ftyp"
    ws.close()
    # Past its lifetime: 4401, as the browser sees it too.
    time.sleep(TOKEN_S + 0.5)
    assert close_code(f"{started['url']}?token={token}") == 4401
    page = logged_in(browser, daemon)
    code = page.evaluate(
        """(url) => new Promise((resolve) => {
            const ws = new WebSocket(`ws://${location.host}${url}`);
            ws.onclose = (ev) => resolve(ev.code);
        })""",
        f"{started['url']}?token={token}",
    )
    assert code == 4401
    page.close()


def test_a_role_without_video_watch_is_refused(
    browser: Browser, daemon: Daemon, sim: SimThread
) -> None:
    viewer = {"name": "vic", "role": "viewer", "password": "vic-password-1"}
    r = daemon.post("/api/users", json=viewer)
    assert r.status_code in (200, 201), r.text
    login = httpx.post(
        daemon.base + "/api/auth/login",
        json={"name": viewer["name"], "password": viewer["password"]},
        timeout=10,
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    r = httpx.post(
        daemon.base + "/api/video/streams",
        json={"device": DEVICE, "channel": 0},
        headers=headers,
        timeout=10,
    )
    assert r.status_code == 403, r.text
    assert "video:watch" in r.text
    assert 0 not in streams(daemon)  # nothing was started for it
    page = browser.new_page()
    page.goto(daemon.base + "/")
    page.fill("#username", viewer["name"])
    page.fill("#password", viewer["password"])
    page.click("#login")
    expect(page.locator("#who")).to_have_text("vic (viewer)")
    expect(page.locator("a[data-page=video]")).to_be_hidden()
    page.close()


def test_garbage_from_a_device_shows_on_its_tile_and_nowhere_else(
    browser: Browser, daemon: Daemon, sim: SimThread
) -> None:
    page = cameras(browser, daemon)
    play(page, 0)
    play(page, 2)
    starts = daemon.health()["mdvr_process"]["starts"]
    frames = daemon.health()["clock"]["frames_sent"]
    sim.device.corrupt_media(2)
    wait_until(
        page,
        f"""['device not sending', 'reconnecting'].includes(
            document.querySelector('{tile(page, 2)}').dataset.state)""",
        timeout=10,
    )
    shot(page, "video-device-not-sending")
    wait_until(
        page,
        f"document.querySelector('{tile(page, 2)}').dataset.state === 'reconnecting'",
        timeout=15,
    )
    text = page.text_content(f"{tile(page, 2)} .video-state") or ""
    assert "reconnecting" in text, text
    # Channel 0 of the same vehicle goes on playing, the gateway process did not restart
    # and the daemon is healthy.
    before = page.evaluate(f"document.querySelector('{tile(page, 0)} video').currentTime")
    time.sleep(1.0)
    after = page.evaluate(f"document.querySelector('{tile(page, 0)} video').currentTime")
    assert after > before + 0.5, (before, after)
    assert page.get_attribute(tile(page, 0), "data-state") == "playing"
    health = daemon.health()
    assert health["mdvr_process"]["starts"] == starts
    assert health["clock"]["frames_sent"] > frames  # the building's frames go on
    shot(page, "video-garbage-reconnecting")
    sim.call(sim.device.heal_media, 2)
    play_again = f"document.querySelector('{tile(page, 2)}').dataset.state === 'playing'"
    wait_until(page, play_again, timeout=20)
    assert not [e for e in page.errors if "video" in e.lower()], page.errors  # type: ignore[attr-defined]
    page.close()


def test_ll_hls_from_the_same_fragments(daemon: Daemon, sim: SimThread) -> None:
    r = daemon.post("/api/video/streams", json={"device": DEVICE, "channel": 5}, timeout=15)
    assert r.status_code == 200, r.text
    base = daemon.base + r.json()["hls"].rsplit("/", 1)[0]
    with httpx.Client(timeout=10) as http:  # no Authorization: the token is in the path
        text = ""
        deadline = time.monotonic() + 10
        while "#EXTINF" not in text:  # a first complete segment (1 s GOP)
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
            got = http.get(f"{base}/index.m3u8")
            assert got.status_code == 200, got.text
            assert got.headers["content-type"].startswith("application/vnd.apple.mpegurl")
            text = got.text
        assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES" in text
        hint = re.search(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part(\d+)\.(\d+)\.m4s"', text)
        assert hint is not None, text
        msn, part = int(hint.group(1)), int(hint.group(2))
        # Blocking reloads, part after part: each answers once its part exists.
        arrivals = []
        for _ in range(6):
            t0 = time.monotonic()
            got = http.get(f"{base}/index.m3u8", params={"_HLS_msn": msn, "_HLS_part": part})
            assert got.status_code == 200, got.text
            assert f'URI="part{msn}.{part}.m4s"' in got.text
            arrivals.append(time.monotonic() - t0)
            duration = re.search(rf'DURATION=([\d.]+),URI="part{msn}\.{part}\.m4s"', got.text)
            assert duration is not None
            assert float(duration.group(1)) <= 0.2 + 1e-3  # never longer than PART-TARGET
            last = re.search(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part(\d+)\.(\d+)\.m4s"', got.text)
            assert last is not None
            msn, part = int(last.group(1)), int(last.group(2))
        print("LL-HLS blocked reloads answered after (s):", [round(a, 3) for a in arrivals])
        assert max(arrivals[1:]) < 1.0
        # Far ahead: refused; a segment and the init decode to the clip's frames in order.
        ahead = http.get(f"{base}/index.m3u8", params={"_HLS_msn": msn + 5})
        assert ahead.status_code == 400, ahead.text
        seg = re.findall(r"^seg(\d+)\.m4s$", got.text, re.M)[-1]
        media = http.get(f"{base}/init.mp4").content + http.get(f"{base}/seg{seg}.m4s").content
        container: Any = av.open(io.BytesIO(media), format="mp4")
        counters = [read_counter(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
        assert counters[0] is not None
        assert counters == list(range(counters[0], counters[0] + len(counters)))
        forged = base.rsplit("/", 1)[0] + "/not-a-token"
        assert http.get(f"{forged}/index.m3u8").status_code == 403
    assert streams(daemon)[5]["hls_requests"] >= 8
