"""Limits before work, against the real daemon: an oversize body is refused with 413 before it
is read (declared or chunked, the daemon's memory does not grow), a JSON document nested
deeper than 32 levels is refused with 400 over REST, the WebSocket and (as msgpack) the
socket API, and the frame clock keeps running through all of it."""

from __future__ import annotations

import contextlib
import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_harness import ADMIN_PASSWORD, ADMIN_USER, AUTH_UNLIMITED, Daemon, running_daemon
from tests.playout.test_socket_api import read_one
from tests.ws_client import Closed, WsClient
from trocadero.protocols.control_socket import encode

LIMIT = 1 << 20  # [web] max_body_bytes by default
MB = 1 << 20


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("limits"), AUTH_UNLIMITED) as d:
        d.wait_healthy()
        yield d


def peak_rss_kib(d: Daemon) -> int:
    """The daemon's peak resident memory so far (VmHWM): a body read whole would raise it."""
    for line in Path(f"/proc/{d.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/PID/status")


def read_response(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length (status, headers, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = s.recv(65536)
        assert chunk, "closed in the middle of the body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def closed_by_server(s: socket.socket, filler: bytes) -> bool:
    """Whether the server has closed the connection: going on sending fails, or reading
    gives end-of-file (within the socket's timeout)."""
    try:
        for _ in range(64):  # 64 times 1 MiB: more than any socket buffer holds
            s.sendall(filler)
    except OSError:
        return True
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def post_head(d: Daemon, path: str, length: int | None, token: str | None = None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{d.port}\r\n{auth}"
        f"Content-Type: application/json\r\n{framing}\r\n\r\n"
    ).encode()


def test_declared_oversize_body_is_refused_before_it_is_read(daemon: Daemon) -> None:
    frames = daemon.health()["clock"]["frames_sent"]
    peak = peak_rss_kib(daemon)
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
        s.sendall(post_head(daemon, "/api/auth/login", 50 * MB) + b'{"name": "' + b"a" * MB)
        status, headers, body = read_response(s)
        assert status == 413
        assert headers["connection"] == "close"
        error = json.loads(body)
        assert error == {
            "error": f"body: larger than {LIMIT} bytes ([web] max_body_bytes)",
            "limit_bytes": LIMIT,
        }
        assert closed_by_server(s, b"a" * MB), "the rest of the 50 MB body was waited for"
    grown = peak_rss_kib(daemon) - peak
    assert grown < 8 * 1024, f"peak RSS grew by {grown} KiB"
    health = daemon.health()
    assert health["status"] == "ok"
    assert health["clock"]["frames_sent"] > frames


def test_chunked_oversize_body_is_read_no_further_than_the_limit(daemon: Daemon) -> None:
    peak = peak_rss_kib(daemon)
    piece = b"a" * (64 << 10)
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
        s.sendall(post_head(daemon, "/api/auth/login", None) + b'a\r\n{"name": "\r\n')
        # Send until the server answers (it must, long before 50 MB).
        while sent < 50 * MB and not select.select([s], [], [], 0)[0]:
            try:
                s.sendall(chunk)
            except OSError:
                break
            sent += len(piece)
        status, _headers, body = read_response(s)
        assert status == 413, body
        assert f"larger than {LIMIT} bytes" in json.loads(body)["error"]
        assert closed_by_server(s, chunk * 16)
    assert sent < 50 * MB
    grown = peak_rss_kib(daemon) - peak
    assert grown < 8 * 1024, f"peak RSS grew by {grown} KiB"
    assert daemon.health()["status"] == "ok"


def test_a_body_within_the_limit_still_works(daemon: Daemon) -> None:
    # Just under the limit: read whole and handed on unchanged (a login, not a 413). The
    # padding is JSON whitespace: the login takes no field but its own.
    doc = json.dumps({"name": ADMIN_USER, "password": ADMIN_PASSWORD})
    body = (doc[:-1] + " " * (LIMIT - len(doc) - 10) + "}").encode()
    assert len(body) <= LIMIT
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
        s.sendall(post_head(daemon, "/api/auth/login", len(body)) + body)
        status, _headers, reply = read_response(s)
    assert status == 200, reply
    assert json.loads(reply)["user"]["name"] == ADMIN_USER


def test_upload_chunks_have_their_own_larger_limit(daemon: Daemon) -> None:
    size = 3 * MB  # a chunk over [web] max_body_bytes
    r = daemon.post("/api/content/uploads", json={"filename": "big.mp4", "size": size})
    assert r.status_code == 201, r.text
    upload = r.json()["upload_id"]
    r = daemon.put(f"/api/content/uploads/{upload}?offset=0", content=b"\0" * size, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["offset"] == size
    token = daemon.headers()["Authorization"].split()[1]
    head = post_head(daemon, f"/api/content/uploads/{upload}?offset={size}", 17 * MB, token)
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
        s.sendall(head.replace(b"POST", b"PUT", 1))
        status, _headers, body = read_response(s)
    assert status == 413
    assert json.loads(body)["error"] == (
        f"body: larger than {16 * MB} bytes (upload chunk limit, [content] max_upload_bytes)"
    )
    assert daemon.delete(f"/api/content/uploads/{upload}").status_code == 200


DEEP = "[" * 100_000


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/login", DEEP),  # read by the login throttle before any handler
        ("/api/looks/deep", '{"canvases": ' + DEEP + "]" * 100_000 + "}"),
        ("/api/looks/deep", '{"label": "x", "canvases": [' + "{" * 33 + "}" * 33 + "]}"),
        ("/api/overrides", '{"canvases": {"facade": ' + "[" * 40 + "]" * 40 + "}}"),
    ],
    ids=["login-unclosed", "look-100k", "look-33", "override-40"],
)
def test_json_nested_too_deep_is_a_400_naming_the_limit(
    daemon: Daemon, path: str, body: str
) -> None:
    method = "PUT" if path.startswith("/api/looks") else "POST"
    r = daemon.request(method, path, content=body.encode(), timeout=10)
    assert r.status_code == 400, r.text
    assert r.json() == {"error": "body: JSON nested deeper than 32 levels", "code": "bad_args"}


def test_brackets_inside_strings_and_32_levels_are_fine(daemon: Daemon) -> None:
    look = {"label": "[" * 100 + '"{' * 50, "canvases": []}
    r = daemon.put("/api/looks/brackets", json=look)
    assert r.status_code == 200, r.text
    assert daemon.get("/api/looks/brackets").json()["label"] == look["label"]
    nested: Any = 1
    for _ in range(29):  # in three objects: 32 levels, the most there may be
        nested = [nested]
    r = daemon.post("/api/overrides", json={"canvases": {"facade": {"rgb": nested}}, "ttl": 1})
    assert r.status_code == 400
    assert r.json()["error"].startswith("canvases.facade.rgb: expected three integers")


def test_nan_and_huge_numbers_are_refused_as_json(daemon: Daemon) -> None:
    r = daemon.put("/api/masters/grand", content=b'{"level": NaN}')
    assert (r.status_code, r.json()["error"]) == (
        400,
        "body: not valid JSON (NaN is not a JSON number)",
    )
    r = daemon.put("/api/masters/grand", content=b'{"level": ' + b"9" * 5000 + b"}")
    assert r.status_code == 400
    assert r.json()["error"].startswith("body: not valid JSON (Exceeds the limit")


def test_websocket_message_nested_too_deep_gets_an_error_reply(daemon: Daemon) -> None:
    # The first message (auth) is not size-limited by the endpoint: 50,000 levels (within
    # the server's 64 KiB frame limit, which refuses a larger one with 1009 before parsing).
    ws = WsClient(daemon.port)
    ws.send_raw('{"op": "auth", "token": ' + "[" * 50_000 + "}")
    with pytest.raises(Closed) as closed:
        ws.receive_json()
    assert closed.value.code == 4401
    with contextlib.suppress(Closed, OSError):
        ws.close()
    ws = WsClient(daemon.port)
    ws.send({"op": "auth", "token": daemon.headers()["Authorization"].split()[1]})
    assert ws.receive_json()["ok"]
    ws.send_raw('{"op": "subscribe", "topics": ' + "[" * 5000 + "}")  # within 8 KiB
    assert ws.receive_json() == {
        "reply": "?",
        "ok": False,
        "error": "message: JSON nested deeper than 32 levels",
    }
    ws.send({"op": "subscribe", "topics": ["sensor:data"]})
    assert ws.receive_json()["ok"]
    ws.close()


def socket_call(d: Daemon, payload: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(d.health()["socket"]["path"])
        s.sendall(payload)
        return read_one(s)


def test_socket_api_refuses_deep_nesting(daemon: Daemon) -> None:
    nested: Any = []
    for _ in range(100):
        nested = [nested]
    reply = socket_call(
        daemon, encode({"id": 1, "op": "sensor", "args": {"sensor": "s", "values": nested}})
    )
    assert reply["error"] == {"code": "bad_args", "message": "args: nested deeper than 32 levels"}
    # Deeper than msgpack's own decoder goes: refused by the framing layer.
    body = b"\x83\xa2id\x02\xa2op\xa4ping\xa4args\x81\xa1x" + b"\x91" * 5000 + b"\xc0"
    reply = socket_call(daemon, len(body).to_bytes(4, "big") + body)
    assert reply["error"]["code"] == "bad_message"
    assert "nested deeper" in reply["error"]["message"]
    assert socket_call(daemon, encode({"id": 3, "op": "ping"}))["result"] == "pong"


@pytest.mark.parametrize(
    "headers",
    [
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",  # no key
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\n"
        "Sec-WebSocket-Version: 7\r\n",
    ],
    ids=["no-key", "old-version"],
)
def test_malformed_websocket_upgrade_gets_400_and_the_connection_closed(
    daemon: Daemon, headers: str
) -> None:
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
        s.sendall(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
        status, response_headers, _body = read_response(s)
        assert (status, response_headers["connection"]) == (400, "close")
        assert s.recv(1024) == b"", "the server left the connection open after its 400"
    assert daemon.health()["status"] == "ok"


def test_configured_body_limit_and_websocket_frame_limit(tmp_path: Path) -> None:
    # [web] max_body_bytes reaches the daemon; a WebSocket frame over 64 KiB is refused by
    # the server (close 1009) before it is buffered, whatever the endpoint would do with it.
    with running_daemon(tmp_path, "[web]\nmax_body_bytes = 4096\n" + AUTH_UNLIMITED) as d:
        d.wait_healthy()
        big = json.dumps({"name": "x" * 5000, "password": "y"})
        r = d.post("/api/auth/login", content=big)
        assert r.status_code == 413
        assert "4096 bytes" in r.json()["error"]
        assert d.post("/api/auth/login", json={"name": "x", "password": "y"}).status_code in (
            401,
            429,
        )
        ws = WsClient(d.port)
        ws.send({"op": "auth", "token": d.headers()["Authorization"].split()[1]})
        assert ws.receive_json()["ok"]
        ws.send_raw('{"op": "ping", "pad": "' + "z" * 100_000 + '"}')

        def until_closed() -> None:
            for _ in range(10):
                ws.receive()

        with pytest.raises((Closed, OSError)) as closed:
            until_closed()
        with contextlib.suppress(Closed, OSError):
            ws.close()
        ws.sock.close()
        if isinstance(closed.value, Closed):
            assert closed.value.code == 1009
        assert d.health()["status"] == "ok"
