"""/ws against the real daemon: authentication, role-checked subscriptions, events, previews
at the asked rate, bad messages answered without closing, and a client that stops reading is
cut off without the daemon buffering for it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.daemon_harness import ADMIN_PASSWORD, AUTH_UNLIMITED, Daemon, running_daemon
from tests.ws_client import Closed, WsClient, parse_preview


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    extra = AUTH_UNLIMITED + "[render]\npreview_rate_hz = 30.0\n"
    with running_daemon(tmp_path_factory.mktemp("ws"), extra) as d:
        d.wait_healthy()
        r = d.post(
            "/api/users", json={"name": "vera", "role": "viewer", "password": "viewer-pass-1"}
        )
        assert r.status_code == 201
        yield d


def token(d: Daemon, user: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    r = httpx.post(
        d.base + "/api/auth/login", json={"name": user, "password": password}, timeout=10
    )
    access: str = r.json()["access_token"]
    return access


def connect(d: Daemon, access: str) -> WsClient:
    ws = WsClient(d.port)
    ws.send({"op": "auth", "token": access})
    reply = ws.receive_json()
    assert reply["ok"], reply
    return ws


def test_auth_is_required_first(daemon: Daemon) -> None:
    for first in ({"op": "subscribe", "topics": ["cue:progress"]}, {"op": "auth", "token": "x"}):
        ws = WsClient(daemon.port)
        ws.send(first)
        with pytest.raises(Closed) as closed:
            ws.receive()
        assert closed.value.code == 4401
        assert closed.value.reason.startswith("auth:")
        ws.close()


def test_events_reach_subscribers_and_bad_ops_get_errors(daemon: Daemon) -> None:
    ws = connect(daemon, token(daemon))
    ws.send({"op": "subscribe", "topics": ["celebration:trigger", "sensor:data"]})
    assert ws.receive_json()["topics"] == ["celebration:trigger", "sensor:data"]
    r = daemon.post("/api/sensors/hall", json={"values": {"people": 3}})
    assert r.status_code == 202
    event = ws.receive_json()
    assert event["event"] == "sensor:data"
    assert event["data"]["values"] == {"people": 3.0}
    ws.send_raw("{not json")
    assert ws.receive_json() == {
        "reply": "?",
        "ok": False,
        "error": 'expected a JSON object with "op"',
    }
    ws.send({"op": "subscribe", "topics": ["secret:stuff"]})
    assert "not allowed" in ws.receive_json()["error"]
    ws.send({"op": "preview", "canvases": ["moon"]})
    assert "unknown" in ws.receive_json()["error"]
    ws.send({"op": "fly"})
    assert ws.receive_json()["error"] == "op: unknown 'fly'"
    ws.send({"op": "ping"})
    assert ws.receive_json()["reply"] == "ping"  # still open after all that
    ws.close()


def test_viewer_reads_but_previews_come_at_the_asked_rate(daemon: Daemon) -> None:
    ws = connect(daemon, token(daemon, "vera", "viewer-pass-1"))
    ws.send({"op": "preview", "canvases": ["facade", "canopy"], "fps": 5})
    reply = ws.receive_json()
    assert reply == {"reply": "preview", "ok": True, "canvases": ["facade", "canopy"], "fps": 5.0}
    frames: list[tuple[float, str]] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.0:
        message = ws.receive()
        if isinstance(message, bytes):
            name, width, height, _t, rgb = parse_preview(message)
            assert (width, height) == (160, 53)  # 480x160 and 240x80, longest side 160
            assert any(rgb)  # the default show's looks are not black
            frames.append((time.monotonic() - t0, name))
    per_canvas = [sum(1 for _, n in frames if n == c) for c in ("facade", "canopy")]
    # 5 fps for 2 s: about 10 each; bounded above whatever the daemon's own preview rate.
    assert all(6 <= n <= 12 for n in per_canvas), per_canvas
    ws.close()


def test_a_client_that_stops_reading_is_cut_off(daemon: Daemon) -> None:
    ws = connect(daemon, token(daemon))
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ws.send({"op": "preview", "canvases": ["facade", "canopy", "videowall"], "fps": 25})
    ws.send({"op": "subscribe", "topics": ["sensor:data"]})
    # Never read again. Previews back up in the socket; the server skips them (one slot per
    # canvas), and the events behind them overflow the bounded queue: the client is dropped.
    deadline = time.monotonic() + 30
    deepest = 0  # the send queue, seen filling before the cut-off
    while True:
        for i in range(50):
            daemon.post("/api/sensors/flood", json={"values": {"n": i}})
        web = daemon.health()["web"]["websocket"]
        deepest = max(deepest, web["deepest_queue"])
        if web["dropped_slow"] >= 1:
            break
        assert time.monotonic() < deadline, web
    assert web["previews_skipped"] > 0
    assert deepest > 0
    assert web["queued"] <= web["open"] * 256  # EVENT_QUEUE per session at most
    ws.sock.close()
    assert daemon.health()["status"] == "ok"


def test_health_counts_sessions(daemon: Daemon) -> None:
    web = daemon.health()["web"]["websocket"]
    assert web["sessions"] >= 4
    assert web["refused_auth"] >= 2


def test_go_publishes_canvas_update_and_fade_progress(daemon: Daemon) -> None:
    ws = connect(daemon, token(daemon, "vera", "viewer-pass-1"))
    ws.send({"op": "subscribe", "topics": ["canvas:update", "cue:progress"]})
    assert ws.receive_json()["ok"]
    assert daemon.post("/api/cue-lists/main/go", json={}).status_code == 200
    update = ws.receive_json()
    while update.get("event") != "canvas:update":
        update = ws.receive_json()
    (main,) = [lst for lst in update["data"]["lists"] if lst["name"] == "main"]
    assert main["current"] == "1"
    progress: list[float] = []
    deadline = time.monotonic() + 10  # cue 1 fades up in 3 s
    while time.monotonic() < deadline:
        event = ws.receive_json()
        if event.get("event") == "cue:progress" and event["data"]["list"] == "main":
            progress.append(event["data"]["progress"])
            if not event["data"]["fading"]:
                break
    assert progress[-1] == 1.0
    assert progress == sorted(progress)  # rises monotonically
    assert 10 <= len(progress) <= 45  # ~10 per second over 3 s: bounded, not per frame
    ws.close()


def test_logout_ends_an_open_session(daemon: Daemon) -> None:
    login = httpx.post(
        daemon.base + "/api/auth/login",
        json={"name": "admin", "password": ADMIN_PASSWORD},
        timeout=10,
    ).json()
    ws = connect(daemon, login["access_token"])
    ws.send({"op": "ping"})
    assert ws.receive_json()["reply"] == "ping"
    r = httpx.post(
        daemon.base + "/api/auth/logout",
        json={"refresh_token": login["refresh_token"]},
        headers={"Authorization": f"Bearer {login['access_token']}"},
        timeout=10,
    )
    assert r.status_code == 200

    def until_closed() -> None:
        for _ in range(1000):  # events and previews may still come before the close
            ws.receive()

    with pytest.raises(Closed) as closed:
        until_closed()
    ws.sock.close()
    assert closed.value.code == 4401
    assert "revoked" in closed.value.reason
