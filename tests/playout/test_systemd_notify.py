from __future__ import annotations

import os
import socket
from pathlib import Path

from trocadero.playout.systemd import Notifier


def test_disabled_without_notify_socket() -> None:
    n = Notifier({})
    assert not n.enabled
    assert n.notify("READY=1") is False
    assert n.watchdog_interval_s is None


def test_sends_to_path_socket(tmp_path: Path) -> None:
    path = tmp_path / "n.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        n = Notifier({"NOTIFY_SOCKET": str(path)})
        assert n.notify("READY=1", "STATUS=playing")
        assert server.recv(100) == b"READY=1\nSTATUS=playing"
        n.close()


def test_sends_to_abstract_socket() -> None:
    name = f"trocadero-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        n = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert n.notify("WATCHDOG=1")
        assert server.recv(100) == b"WATCHDOG=1"
        n.close()


def test_missing_listener_is_not_fatal(tmp_path: Path) -> None:
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert n.notify("READY=1") is False
    n.close()


def test_watchdog_interval_is_half_the_timeout() -> None:
    assert Notifier({"WATCHDOG_USEC": "10000000"}).watchdog_interval_s == 5.0
    mine = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier(mine).watchdog_interval_s == 1.0
    # Meant for another process (e.g. inherited through a wrapper): not ours to pet.
    assert Notifier({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}).watchdog_interval_s is None
    assert Notifier({"WATCHDOG_USEC": "junk"}).watchdog_interval_s is None
