"""Every stored text has a size, against the real daemon: names and labels 200 characters,
notes and other text 4000, a layer's params 64 KiB as JSON; refused over REST (400 naming
the field and the limit) and the socket API (`bad_args`), accepted at the limit."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from tests.daemon_harness import AUTH_UNLIMITED, Daemon, running_daemon
from trocadero.protocols.control_socket import encode


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("text"), AUTH_UNLIMITED) as d:
        d.wait_healthy()
        yield d


def problems(r: Any) -> str:
    assert r.status_code == 400, r.text
    body = r.json()
    return " ".join(body.get("problems", [])) or str(body["error"])


def test_cue_list_label_and_notes(daemon: Daemon) -> None:
    doc: dict[str, Any] = {"label": "L" * 200, "cues": [{"number": "1", "notes": "n" * 4000}]}
    assert daemon.put("/api/cue-lists/sized", json=doc).status_code == 200
    assert daemon.get("/api/cue-lists/sized").json()["label"] == "L" * 200
    doc["label"] = "L" * 201
    assert "label: at most 200 characters (got 201)" in problems(
        daemon.put("/api/cue-lists/sized", json=doc)
    )
    doc["label"] = ""
    doc["cues"][0]["notes"] = "n" * 4001
    assert "cues[0 cue 1].notes: at most 4000 characters (got 4001)" in problems(
        daemon.put("/api/cue-lists/sized", json=doc)
    )
    # One cue edited in place goes through the same check.
    r = daemon.put("/api/cue-lists/sized/cues/2", json={"label": "c" * 300})
    assert "label: at most 200 characters (got 300)" in problems(r)


def test_look_name_label_and_params(daemon: Daemon) -> None:
    long_name = "n" * 201
    r = daemon.put(f"/api/looks/{long_name}", json={"canvases": []})
    assert "name: at most 200 characters (got 201)" in problems(r)
    layer = {"source": "solid", "params": {"pad": "x" * (64 << 10)}}
    r = daemon.put("/api/looks/heavy", json={"canvases": [{"canvas": "facade", "layers": [layer]}]})
    assert "layers[0].params: at most 65536 bytes as JSON" in problems(r)
    r = daemon.put("/api/looks/labelled", json={"label": "x" * 5000, "canvases": []})
    assert "label: at most 200 characters (got 5000)" in problems(r)
    # The refused value is not echoed back whole.
    r = daemon.put("/api/looks/labelled", json={"label": ["y" * 100_000], "canvases": []})
    assert len(r.text) < 1000


def test_users_schedules_and_uploads(daemon: Daemon) -> None:
    r = daemon.post(
        "/api/users",
        json={"name": "eve", "role": "viewer", "password": "long-enough-pw", "email": "e" * 255},
    )
    assert "email: at most 254 characters (got 255)" in problems(r)
    entry = {
        "name": "s" * 201,
        "target_kind": "look",
        "target": "blue-hour",
        "dtstart": "2026-06-01T20:00:00+00:00",
    }
    assert "name: at most 200 characters (got 201)" in problems(
        daemon.post("/api/schedule", json=entry)
    )
    r = daemon.post(
        "/api/content/uploads", json={"name": "a" * 201, "filename": "a.mp4", "size": 9}
    )
    assert problems(r) == "name: at most 200 characters (got 201)"
    r = daemon.post("/api/content/uploads", json={"filename": "f" * 256 + ".mp4", "size": 9})
    assert problems(r) == "name: at most 200 characters (got 260)"  # the name defaults to it


def call(d: Daemon, op: str, **args: Any) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(Path(d.health()["socket"]["path"])))
        s.sendall(encode({"id": 1, "op": op, "args": args}))
        head = s.recv(4, socket.MSG_WAITALL)
        body = s.recv(int.from_bytes(head, "big"), socket.MSG_WAITALL)
    reply: dict[str, Any] = msgpack.unpackb(body, raw=False)
    return reply


def test_socket_api_names_are_limited_too(daemon: Daemon) -> None:
    reply = call(daemon, "go", list="m" * 201)
    assert reply["error"] == {
        "code": "bad_args",
        "message": "list: at most 200 characters (got 201)",
    }
    reply = call(daemon, "park", canvas="facade", look="l" * 300)
    assert reply["error"] == {
        "code": "bad_args",
        "message": "look: at most 200 characters (got 300)",
    }
    assert call(daemon, "go", list="m" * 200)["error"]["code"] == "not_found"
    assert daemon.health()["status"] == "ok"
