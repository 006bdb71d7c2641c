"""The socket API against the real daemon: the client library (sync and Trio), `trocadero
ctl`, scripted overrides that expire by themselves, subscriptions, malformed input, roles,
and the example show scripts."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
import trio

from tests.daemon_harness import Daemon, running_daemon
from trocadero.client import Client, ScriptError, TrioClient
from trocadero.protocols.control_socket import encode

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("sock")) as d:
        d.wait_healthy()
        yield d


def sock_path(d: Daemon) -> Path:
    return Path(d.health()["socket"]["path"])


def ctl(d: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trocadero", "ctl", "--socket", str(sock_path(d)), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def raw(d: Daemon) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(str(sock_path(d)))
    return s


def read_one(s: socket.socket) -> dict[str, object]:
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        assert chunk, "closed"
        head += chunk
    size = int.from_bytes(head, "big")
    body = b""
    while len(body) < size:
        body += s.recv(size - len(body))
    doc: dict[str, object] = msgpack.unpackb(body, raw=False)
    return doc


def test_socket_file_mode_and_client_library(daemon: Daemon) -> None:
    path = sock_path(daemon)
    assert stat.S_IMODE(path.stat().st_mode) == 0o660
    with Client(path) as c:
        assert c.ping() == "pong"
        assert c.go("main")["outcome"] == "done"
        state = c.status()
        (main,) = [lst for lst in state["lists"] if lst["name"] == "main"]
        assert main["current"] == "1"
        with pytest.raises(ScriptError) as err:
            c.call("goto", list="main", cue="1.23456")
        assert err.value.code == "bad_args"
        assert err.value.message.startswith("cue:")
        with pytest.raises(ScriptError) as err:
            c.call("go", list="ghost")
        assert err.value.code == "not_found"
        with pytest.raises(ScriptError) as err:
            c.call("teleport")
        assert err.value.code == "unknown_op"
        assert c.ping() == "pong"  # the connection is still fine
    # The audit log names the local user and the socket origin.
    rows = daemon.get("/api/audit?origin=socket").json()["items"]
    assert rows
    assert rows[0]["origin"] == "socket"
    assert rows[0]["address"].startswith("pid ")


def test_trio_client_and_override_that_expires_by_itself(daemon: Daemon) -> None:
    async def script() -> tuple[object, object]:
        async with TrioClient(sock_path(daemon)) as c:
            added = await c.override({"facade": {"rgb": [65535, 0, 0]}}, ttl=0.6, priority=5)
            during = await c.status()
            await trio.sleep(1.5)
            after = await c.status()
            assert added["outcome"] == "done"
            return during["overrides"], after["overrides"]

    during, after = trio.run(script)
    assert len(during) == 1  # type: ignore[arg-type]
    assert during[0]["priority"] == 5  # type: ignore[index]
    assert after == []


def test_subscription_receives_events(daemon: Daemon) -> None:
    with Client(sock_path(daemon)) as watcher, Client(sock_path(daemon)) as actor:
        events = watcher.events(["sensor:data"])
        actor.call("sensor", sensor="door", values={"open": True})
        event = next(events)
        assert event["event"] == "sensor:data"
        assert event["data"]["values"] == {"open": True}


def test_malformed_input_gets_errors_and_the_connection_stays(daemon: Daemon) -> None:
    s = raw(daemon)
    s.sendall(b"\x00\x00\x00\x03\xc1\xc1\xc1")  # framed, not msgpack
    reply = read_one(s)
    assert reply["ok"] is False
    assert reply["error"]["code"] == "bad_message"  # type: ignore[index]
    s.sendall(encode({"id": 5, "op": "go", "args": "main"}))
    reply = read_one(s)
    assert (reply["id"], reply["error"]["code"]) == (5, "bad_message")  # type: ignore[index]
    big = encode({"id": 6, "op": "ping", "args": {"x": "y" * (2 << 20)}})
    s.sendall(big)
    reply = read_one(s)
    assert reply["error"]["code"] == "too_large"  # type: ignore[index]
    s.sendall(encode({"id": 7, "op": "ping"}))
    reply = read_one(s)
    assert reply.pop("request_id")  # none was sent: one was made (docs/tracing.md)
    assert reply == {"id": 7, "ok": True, "result": "pong"}
    # Framing lost: an error with the reason, then the daemon closes the connection.
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = read_one(s)
    assert reply["error"]["code"] == "framing_lost"  # type: ignore[index]
    assert s.recv(10) == b""
    s.close()
    with Client(sock_path(daemon)) as c:
        assert c.ping() == "pong"


def test_ctl_commands_and_exit_codes(daemon: Daemon, tmp_path: Path) -> None:
    r = ctl(daemon, "go", "main")
    assert r.returncode == 0, r.stderr
    assert '"outcome": "done"' in r.stdout
    r = ctl(daemon, "status")
    assert r.returncode == 0
    assert "main" in r.stdout
    assert "grand master" in r.stdout
    r = ctl(daemon, "goto", "main", "99")
    assert r.returncode == 1
    assert "trocadero ctl:" in r.stderr
    r = ctl(daemon, "call", "master", "target=grand", "level=0.8")
    assert r.returncode == 0, r.stderr
    r = ctl(daemon, "call", "master", "target=grand", "level=7")
    assert (r.returncode, r.stderr.strip()) == (
        1,
        "trocadero ctl: bad_args: level: expected a level between 0 and 1 (got 7)",
    )
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "trocadero",
            "ctl",
            "--socket",
            str(tmp_path / "none.sock"),
            "status",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert r.returncode == 2
    assert "cannot reach the daemon" in r.stderr
    cmd = [sys.executable, "-m", "trocadero", "ctl", "--socket", str(sock_path(daemon))]
    with subprocess.Popen([*cmd, "watch", "celebration:*"], stdout=subprocess.PIPE, text=True) as w:
        try:
            time.sleep(1.0)
            with Client(sock_path(daemon)) as c:
                c.call("celebrate", look="celebration", duration_s=1)
            assert w.stdout is not None
            line = w.stdout.readline()
            assert '"event": "celebration:trigger"' in line
        finally:
            w.terminate()


def test_example_script_runs(daemon: Daemon) -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "examples" / "celebrate.py"), "--duration", "1"],
        env={**os.environ, "TROCADERO_SOCKET": str(sock_path(daemon))},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert "celebration over" in r.stdout


def test_role_from_config(tmp_path: Path) -> None:
    with running_daemon(tmp_path, '[socket]\nrole = "viewer"\n') as d:
        d.wait_healthy()
        with Client(sock_path(d)) as c:
            assert c.status()["lists"]
            with pytest.raises(ScriptError) as err:
                c.go("main")
            assert err.value.code == "forbidden"


def test_ops_name_their_arguments_and_read_the_stored_show(daemon: Daemon) -> None:
    with Client(sock_path(daemon)) as c:
        # A misspelt argument is named, not silently dropped (a GO with the default fade).
        with pytest.raises(ScriptError) as err:
            c.call("back", list="main", fdae=2)
        assert err.value.code == "bad_args"
        assert err.value.message == "fdae: not an argument of back (known: list, fade)"
        # A cue number beyond any decimal context is a named error, not an internal one.
        with pytest.raises(ScriptError) as err:
            c.call("goto", list="main", cue="1e30")
        assert (err.value.code, err.value.message.split(":")[0]) == ("bad_args", "cue")
        # msgpack maps may have integer keys; a sensor reading name must be a string.
        with pytest.raises(ScriptError) as err:
            c.call("sensor", sensor="door", values={1: True})
        assert err.value.code == "bad_args"
        assert err.value.message.startswith("values.1:")
        # Reads: the same documents REST gives.
        looks = c.looks(limit=2)
        assert 1 <= len(looks["items"]) <= 2
        name = looks["items"][0]["name"]
        assert c.look(name) == daemon.get(f"/api/looks/{name}").json()
        lists = c.cue_lists()
        assert "main" in [item["name"] for item in lists["items"]]
        assert c.cue_list("main")["name"] == "main"
        with pytest.raises(ScriptError) as err:
            c.look("no-such-look")
        assert err.value.code == "not_found"
        with pytest.raises(ScriptError) as err:
            c.looks(limit=0)
        assert err.value.message.startswith("limit:")
        # Topic patterns: '*' only at the end.
        assert c.subscribe(["cue:*"]) == {"topics": ["cue:*"]}
        with pytest.raises(ScriptError) as err:
            c.subscribe(["cue:*:x"])
        assert err.value.code == "bad_args"
        assert c.unsubscribe(["cue:*"]) == {"topics": []}
        assert c.ping() == "pong"
