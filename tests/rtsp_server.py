"""A throwaway RTSP relay for tests (Debian's `rtsp-server-perl`, never a mock): a source
publishes a stream to it (ANNOUNCE/RECORD on `source_port`), clients pull it
(DESCRIBE/SETUP/PLAY on `client_port`), as they pull an IP camera's stream on a site.

It carries RTP over UDP only, both ways: a SETUP asking for RTP interleaved on the RTSP
connection (TCP) is answered 400 ("Failed to find client RTP start port"), so its clients
pull with `rtsp_transport` udp and its sources publish with it. Its RTP ports are taken two
by two from `rtp_start_port` upwards; each server here gets a block of its own."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.ports import free_port

INSTALL_HINT = "install Debian's rtsp-server-perl package (./dev setup test does)"
RTP_BLOCK = 64  # RTP/RTCP ports one server may take: two per stream per source or client


class RtspServerUnavailable(RuntimeError):
    pass


def _udp_block_free(start: int) -> bool:
    for port in range(start, start + RTP_BLOCK):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _rtp_start() -> int:
    """An even port with a free block above it, away from the ephemeral range's start."""
    for _ in range(50):
        start = random.randrange(20000, 30000 - RTP_BLOCK, 2)
        if _udp_block_free(start):
            return start
    raise RtspServerUnavailable("no free block of UDP ports for RTP")


@dataclass
class RtspServer:
    base: Path
    client_port: int
    source_port: int
    rtp_start_port: int
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, base: Path) -> RtspServer:
        if shutil.which("rtsp-server-perl") is None:
            raise RtspServerUnavailable(f"rtsp-server-perl not found; {INSTALL_HINT}")
        base.mkdir(parents=True, exist_ok=True)
        server = cls(base, free_port(), free_port(), _rtp_start())
        server._run()
        return server

    def url(self, name: str) -> str:
        """Where clients pull stream `name`."""
        return f"rtsp://127.0.0.1:{self.client_port}/{name}"

    def source_url(self, name: str) -> str:
        """Where a source publishes stream `name`."""
        return f"rtsp://127.0.0.1:{self.source_port}/{name}"

    def _run(self) -> None:
        args = [
            "rtsp-server-perl",
            "--clientport", str(self.client_port),
            "--serverport", str(self.source_port),
            "--client_listen_address", "127.0.0.1",
            "--source_listen_address", "127.0.0.1",
            "--rtp_start_port", str(self.rtp_start_port),
            "--loglevel", "4",
        ]  # fmt: skip
        with open(self.base / "rtsp-server.log", "ab") as log:  # the child keeps its own fd
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20  # Moose loads slowly on a busy machine
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RtspServerUnavailable(f"rtsp-server-perl exited: {self.log()}")
            if all(self._listens(port) for port in (self.client_port, self.source_port)):
                return
            time.sleep(0.05)
        self.stop()
        raise RtspServerUnavailable("rtsp-server-perl did not listen within 20 s")

    @staticmethod
    def _listens(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    def mounted(self, name: str) -> bool:
        """Whether a source publishes `name` now: a DESCRIBE on the client port, as a client
        asks before SETUP (404 until the source's ANNOUNCE)."""
        request = f"DESCRIBE {self.url(name)} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode()
        try:
            with socket.create_connection(("127.0.0.1", self.client_port), timeout=2) as conn:
                conn.sendall(request)
                return conn.recv(64).startswith(b"RTSP/1.0 200")
        except OSError:
            return False

    def wait_mounted(self, name: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.mounted(name):
            if time.monotonic() > deadline:
                raise RtspServerUnavailable(f"no source published {name!r}: {self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        return (self.base / "rtsp-server.log").read_text("utf-8", errors="replace")

    def restart(self) -> None:
        """Start again on the same ports (its mounts are gone: sources publish again)."""
        self.stop()
        self._run()

    def stop(self) -> None:
        """SIGINT, which it handles (its main loop ends); killed if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
