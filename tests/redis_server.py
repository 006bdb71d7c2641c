"""A throwaway Redis server for tests (Debian's `redis-server`, never a mock): a free loopback
port, no persistence, its files under the test's directory."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.ports import free_port as free_port  # re-exported: the tests import it from here

INSTALL_HINT = "install Debian's redis-server package (./dev setup test does)"


class RedisUnavailable(RuntimeError):
    pass


@dataclass
class RedisServer:
    proc: subprocess.Popen[bytes]
    port: int
    base: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, base: Path, port: int | None = None) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable(f"redis-server not found; {INSTALL_HINT}")
        base.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        with open(base / "redis.log", "wb") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(base),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = cls(proc, port, base)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RedisUnavailable(f"redis-server exited: {(base / 'redis.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return server
            except OSError:
                time.sleep(0.05)
        server.stop()
        raise RedisUnavailable("redis-server did not answer PING within 10 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
