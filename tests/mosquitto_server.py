"""A throwaway Mosquitto broker for tests (Debian's `mosquitto`, never a mock): a free loopback
port, a generated config, its files under the test's directory; optionally TLS with a CA and
certificates made here by the openssl CLI, and persistence (retained messages survive
`restart()`, as on a real site)."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.ports import free_port

INSTALL_HINT = "install Debian's mosquitto and mosquitto-clients packages (./dev setup test does)"


class MosquittoUnavailable(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_tls_files(base: Path) -> TlsFiles:
    """A CA, a server certificate for `localhost` / 127.0.0.1 and a client certificate."""
    base.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=trocadero test CA", cwd=base,
    )  # fmt: skip
    (base / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, cn in (("server", "localhost"), ("client", "trocadero-test")):
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=base,
        )  # fmt: skip
        extra = ["-extfile", "san.ext"] if name == "server" else []
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", *extra, cwd=base,
        )  # fmt: skip
    return TlsFiles(
        base / "ca.pem",
        base / "server.pem",
        base / "server.key",
        base / "client.pem",
        base / "client.key",
    )


@dataclass
class Mosquitto:
    base: Path
    port: int
    tls: TlsFiles | None = None
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, base: Path, *, tls: bool = False) -> Mosquitto:
        if shutil.which("mosquitto") is None:
            raise MosquittoUnavailable(f"mosquitto not found; {INSTALL_HINT}")
        base.mkdir(parents=True, exist_ok=True)
        files = make_tls_files(base / "tls") if tls else None
        server = cls(base, free_port(), files)
        server._write_config()
        server._run()
        return server

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            # Run as root, it would drop to user mosquitto, who cannot read the test's files.
            f"user {getpass.getuser()}",
            "persistence true",
            f"persistence_location {self.base}/",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        ]
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca}",
                f"certfile {self.tls.server_cert}",
                f"keyfile {self.tls.server_key}",
                "require_certificate true",
            ]
        (self.base / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def _run(self) -> None:
        with open(self.base / "mosquitto.log", "ab") as log:  # the child keeps its own fd
            self.proc = subprocess.Popen(
                ["mosquitto", "-c", str(self.base / "mosquitto.conf")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise MosquittoUnavailable(f"mosquitto exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise MosquittoUnavailable("mosquitto did not listen within 10 s")

    def log(self) -> str:
        return (self.base / "mosquitto.log").read_text("utf-8", errors="replace")

    def restart(self, down_s: float = 0.0) -> None:
        """Stop (SIGTERM: retained messages are saved), wait `down_s`, start on the same port."""
        self.stop()
        time.sleep(down_s)
        self._run()

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        """Through Debian's mosquitto_pub: a peer that is not our code."""
        data = payload.encode() if isinstance(payload, str) else payload
        args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-t", topic, "-s"]
        if retain:
            args.append("-r")
        if self.tls is not None:
            args += ["--cafile", str(self.tls.ca), "--cert", str(self.tls.client_cert)]
            args += ["--key", str(self.tls.client_key)]
        subprocess.run(args, input=data, check=True, capture_output=True, timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
