"""Uploading content to the real daemon: a real H.264 clip (made here with PyAV) in chunks,
interrupted and resumed, with progress events; probed, thumbnailed, versioned, approved by
role; a corrupt file and a wrong checksum rejected with nothing left behind."""

from __future__ import annotations

import fractions
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest

from tests.daemon_harness import AUTH_UNLIMITED, Daemon, running_daemon
from tests.ws_client import WsClient


def make_clip(
    path: Path, frames: int = 48, fps: int = 24, colour: tuple[int, int, int] | None = None
) -> bytes:
    """A grey ramp (frame i at level 5i), or one solid colour throughout."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = fractions.Fraction(1, fps)
        for i in range(frames):
            rgb = np.full((48, 64, 3), colour or (i * 5) % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path.read_bytes()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    extra = AUTH_UNLIMITED
    with running_daemon(tmp_path_factory.mktemp("content"), extra) as d:
        d.wait_healthy()
        for name, role in (("mia", "marketing"), ("otto", "operator")):
            r = d.post("/api/users", json={"name": name, "role": role, "password": "content-pw-1"})
            assert r.status_code == 201
        yield d


def as_user(d: Daemon, user: str) -> dict[str, str]:
    r = httpx.post(
        d.base + "/api/auth/login",
        json={"name": user, "password": "content-pw-1"},
        timeout=10,
    )
    return {"Authorization": "Bearer " + r.json()["access_token"]}


def test_chunked_resumable_upload_probe_and_approval(daemon: Daemon, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4")
    mia = as_user(daemon, "mia")
    ws = WsClient(daemon.port)
    ws.send({"op": "auth", "token": mia["Authorization"].split()[1]})
    assert ws.receive_json()["ok"]
    ws.send({"op": "subscribe", "topics": ["content:upload:progress"]})
    assert ws.receive_json()["ok"]
    base = daemon.base + "/api/content/uploads"
    r = httpx.post(
        base, json={"name": "Gradient", "filename": "grad.mp4", "size": len(clip)}, headers=mia
    )
    assert r.status_code == 201, r.text
    upload = r.json()["upload_id"]
    chunk = max(1, len(clip) // 4)
    offset = 0
    # Two chunks, then a retry of the second (a lost reply): refused with the real offset.
    for _ in range(2):
        r = httpx.put(
            f"{base}/{upload}?offset={offset}", content=clip[offset : offset + chunk], headers=mia
        )
        assert r.status_code == 200, r.text
        offset = r.json()["offset"]
    r = httpx.put(f"{base}/{upload}?offset={chunk}", content=clip[chunk : 2 * chunk], headers=mia)
    assert (r.status_code, r.json()["offset"]) == (409, offset)
    # Resume: ask where it is, send the rest.
    offset = httpx.get(f"{base}/{upload}", headers=mia).json()["offset"]
    r = httpx.put(f"{base}/{upload}?offset={offset}", content=clip[offset:], headers=mia)
    assert r.json()["offset"] == len(clip)
    sha = hashlib.sha256(clip).hexdigest()
    r = httpx.post(f"{base}/{upload}/complete", json={"sha256": sha}, headers=mia)
    assert r.status_code == 201, r.text
    done = r.json()
    assert (done["kind"], done["codec"], done["width"], done["height"]) == ("video", "h264", 64, 48)
    assert done["fps"] == 24.0
    assert done["duration_s"] == pytest.approx(2.0, abs=0.1)
    progress: list[dict[str, Any]] = []
    while not progress or not progress[-1].get("done"):
        event = ws.receive_json()
        progress.append(event["data"])
    assert [p["received"] for p in progress] == [chunk, 2 * chunk, len(clip), len(clip)]
    ws.close()
    asset = done["asset_id"]
    thumb = httpx.get(daemon.base + f"/api/content/{asset}/thumbnail", headers=mia)
    assert thumb.content[:2] == b"\xff\xd8"
    # Marketing uploads, operators approve.
    assert httpx.post(daemon.base + f"/api/content/{asset}/approve", headers=mia).status_code == 403
    otto = as_user(daemon, "otto")
    r = httpx.post(daemon.base + f"/api/content/{asset}/approve", headers=otto)
    assert r.json()["status"] == "approved"
    # A new version: back to pending, the old version kept.
    r = httpx.post(
        base, json={"filename": "grad2.mp4", "size": len(clip), "asset_id": asset}, headers=mia
    )
    upload = r.json()["upload_id"]
    httpx.put(f"{base}/{upload}?offset=0", content=clip, headers=mia)
    r = httpx.post(f"{base}/{upload}/complete", json={}, headers=mia)
    assert r.json()["version"] == 2
    info = httpx.get(daemon.base + f"/api/content/{asset}", headers=mia).json()
    assert (info["version"], info["status"]) == (2, "pending")
    versions = httpx.get(daemon.base + f"/api/content/{asset}/versions", headers=mia).json()
    assert [v["version"] for v in versions["items"]] == [2, 1]


def test_corrupt_and_mismatched_uploads_are_rejected_cleanly(
    daemon: Daemon, tmp_path: Path
) -> None:
    mia = as_user(daemon, "mia")
    base = daemon.base + "/api/content/uploads"
    state = Path(daemon.health()["socket"]["path"]).parent
    junk = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    r = httpx.post(base, json={"filename": "evil.mp4", "size": len(junk)}, headers=mia)
    upload = r.json()["upload_id"]
    httpx.put(f"{base}/{upload}?offset=0", content=junk, headers=mia)
    r = httpx.post(f"{base}/{upload}/complete", json={}, headers=mia)
    assert r.status_code == 400
    assert r.json()["error"].startswith("file: not a readable video or image")
    clip = make_clip(tmp_path / "c.mp4", frames=10)
    r = httpx.post(base, json={"filename": "c.mp4", "size": len(clip)}, headers=mia)
    upload = r.json()["upload_id"]
    httpx.put(f"{base}/{upload}?offset=0", content=clip, headers=mia)
    r = httpx.post(f"{base}/{upload}/complete", json={"sha256": "0" * 64}, headers=mia)
    assert r.status_code == 400
    assert r.json()["error"].startswith("sha256:")
    assert list((state / "content" / "uploads").iterdir()) == []  # nothing half-written left
    assert httpx.post(base, json={"filename": "x", "size": 0}, headers=mia).status_code == 400
    big = httpx.post(base, json={"filename": "x", "size": 1 << 50}, headers=mia)
    assert big.status_code == 400
    assert "max_upload_bytes" in big.json()["error"]
    r = httpx.put(f"{base}/{'0' * 24}?offset=0", content=b"x", headers=mia)
    assert r.status_code == 404


def upload(
    daemon: Daemon, headers: dict[str, str], clip: bytes, name: str, asset_id: int | None = None
) -> int:
    base = daemon.base + "/api/content/uploads"
    doc = {"name": name, "filename": f"{name}.mp4", "size": len(clip), "asset_id": asset_id}
    r = httpx.post(base, json=doc, headers=headers)
    upload_id = r.json()["upload_id"]
    httpx.put(f"{base}/{upload_id}?offset=0", content=clip, headers=headers)
    r = httpx.post(f"{base}/{upload_id}/complete", json={}, headers=headers)
    assert r.status_code == 201, r.text
    asset: int = r.json()["asset_id"]
    return asset


def wall_colour(daemon: Daemon, wanted: Callable[[float, float, float], bool]) -> bool:
    """Whether the video wall's preview shows, on average, a colour `wanted` accepts (polled
    for a few seconds: a cue fades in, a new layer takes a frame or two to decode)."""
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        r = daemon.get("/api/canvases/videowall/preview")
        if r.status_code == 200:
            rgb = np.frombuffer(r.content, dtype=np.uint8).reshape(-1, 3).mean(axis=0)
            if wanted(*(float(v) for v in rgb)):
                return True
        time.sleep(0.1)
    return False


def test_only_approved_content_plays_in_a_look(daemon: Daemon, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "wall.mp4", frames=24)
    asset = upload(daemon, as_user(daemon, "mia"), clip, "wall-loop")
    look = {
        "canvases": [
            {"canvas": "videowall", "layers": [{"source": "video", "params": {"asset": asset}}]}
        ]
    }
    r = daemon.put("/api/looks/wall-video", json=look)
    assert r.status_code == 400
    assert f"content asset {asset} is pending" in " ".join(r.json()["problems"])
    assert (
        httpx.post(
            daemon.base + f"/api/content/{asset}/approve", headers=as_user(daemon, "otto")
        ).status_code
        == 200
    )
    r = daemon.put("/api/looks/wall-video", json=look)
    assert r.status_code == 200, r.text
    r = daemon.put(
        "/api/cue-lists/clips",
        json={"priority": 200, "cues": [{"number": "1", "look": "wall-video"}]},
    )
    assert r.status_code == 200, r.text
    assert daemon.post("/api/cue-lists/clips/go", json={}).json()["outcome"] == "done"
    assert daemon.health()["status"] == "ok"
    wall_is_grey = wall_colour(
        daemon, lambda r, g, b: r > 25 and abs(r - g) < 20 and abs(g - b) < 20
    )
    assert wall_is_grey, "the first version never showed"

    # A new version (solid red) waits for approval while the approved one goes on playing.
    otto = as_user(daemon, "otto")
    red = make_clip(tmp_path / "red.mp4", frames=24, colour=(255, 0, 0))
    assert upload(daemon, as_user(daemon, "mia"), red, "wall-loop", asset_id=asset) == asset
    info = httpx.get(daemon.base + f"/api/content/{asset}", headers=otto).json()
    assert (info["version"], info["status"], info["live_version"]) == (2, "pending", 1)
    assert daemon.put("/api/looks/wall-video", json=look).status_code == 200  # still plays
    files = daemon.log_path.parent / "state" / "content" / "assets" / str(asset)
    assert sorted(p.name for p in files.glob("v*.mp4")) == ["v1-wall-loop.mp4", "v2-wall-loop.mp4"]
    assert wall_colour(daemon, lambda r, g, b: r > 25 and abs(r - g) < 20 and abs(g - b) < 20)

    # Approved: the wall switches to it, and the version it replaced is deleted.
    r = httpx.post(daemon.base + f"/api/content/{asset}/approve", headers=otto)
    assert (r.json()["status"], r.json()["live_version"]) == ("approved", 2)
    assert wall_colour(daemon, lambda r, g, b: r > 180 and g < 60 and b < 60), "no switch"
    assert sorted(p.name for p in files.glob("v*.mp4")) == ["v2-wall-loop.mp4"]
    # In use: it cannot be deleted (the look is named); once the look is gone, it can.
    r = daemon.delete(f"/api/content/{asset}")
    assert r.status_code == 409
    assert "wall-video" in r.json()["error"]
    assert daemon.put("/api/cue-lists/clips", json={"cues": []}).status_code == 200
    assert daemon.delete("/api/looks/wall-video").status_code == 200
    assert daemon.delete(f"/api/content/{asset}").status_code == 200


def test_complete_errors_never_name_a_server_path(daemon: Daemon) -> None:
    """Every error body of `/complete` (a text file, a wrong checksum, a short upload, an
    unknown upload, bad JSON) says what is wrong without any path of the state directory."""
    mia = as_user(daemon, "mia")
    base = daemon.base + "/api/content/uploads"
    state = Path(daemon.health()["socket"]["path"]).parent
    bodies: list[str] = []

    def begin(data: bytes, send: bytes | None = None) -> str:
        r = httpx.post(base, json={"filename": "notes.mp4", "size": len(data)}, headers=mia)
        upload: str = r.json()["upload_id"]
        httpx.put(f"{base}/{upload}?offset=0", content=data if send is None else send, headers=mia)
        return upload

    text = b"just some text, not a video\n" * 50
    for upload, doc in (
        (begin(text), {}),
        (begin(text), {"sha256": "0" * 64}),
        (begin(text, send=text[:10]), {}),
        ("0" * 24, {}),
    ):
        r = httpx.post(f"{base}/{upload}/complete", json=doc, headers=mia)
        assert 400 <= r.status_code < 500, r.text
        bodies.append(r.text)
    r = httpx.post(f"{base}/{begin(text)}/complete", content=b"{", headers=mia)
    bodies.append(r.text)
    assert json.loads(bodies[0])["error"] == (
        "file: not a readable video or image: Invalid data found when processing input"
    )
    for body in bodies:
        for path in {str(state), str(state.resolve()), str(state.parent)}:
            assert path not in body, body


def test_the_byte_routes_refuse_fields_they_do_not_take(daemon: Daemon) -> None:
    # Hand-written beside the operation table, they refuse a misspelt field as it does.
    base = "/api/content/uploads"
    r = daemon.post(base, json={"filname": "a.mp4", "size": 9})
    assert r.status_code == 400
    assert r.json()["error"] == (
        "filname: not an argument of an upload (known: name, filename, size, asset_id)"
    )
    upload = daemon.post(base, json={"filename": "a.mp4", "size": 9}).json()["upload_id"]
    r = daemon.put(f"{base}/{upload}?ofset=0", content=b"x")
    assert (r.status_code, r.json()["code"]) == (400, "bad_args")
    assert r.json()["error"].startswith("ofset: not an argument")
    assert "(known: offset)" in r.json()["error"]
    r = daemon.post(f"{base}/{upload}/complete", json={"sha": "00"})
    assert (r.status_code, r.json()["code"]) == (400, "bad_args")
    assert "(known: sha256)" in r.json()["error"]
    assert daemon.delete(f"{base}/{upload}").status_code == 200
