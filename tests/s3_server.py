"""A throwaway S3-compatible server for tests: gofakes3 (MIT, built by `./dev setup test` into
.venv/bin), in memory, on a free loopback port. A real HTTP S3 peer, never a mock of boto3."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.ports import free_port

INSTALL_HINT = "./dev setup test builds it (go install github.com/johannesboyne/gofakes3/...)"
ACCESS_KEY = "trocadero-test"
SECRET_KEY = "trocadero-test-secret"


class S3Unavailable(RuntimeError):
    pass


def find_binary() -> str:
    beside = Path(sys.executable).parent / "gofakes3"  # .venv/bin, where ./dev puts it
    if beside.is_file():
        return str(beside)
    found = shutil.which("gofakes3")
    if found is None:
        raise S3Unavailable(f"gofakes3 not found; {INSTALL_HINT}")
    return found


@dataclass
class S3Server:
    proc: subprocess.Popen[bytes]
    port: int
    bucket: str

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, base: Path, bucket: str = "backups") -> S3Server:
        base.mkdir(parents=True, exist_ok=True)
        port = free_port()
        with open(base / "gofakes3.log", "wb") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                [
                    find_binary(),
                    "-backend",
                    "memory",
                    "-host",
                    f"127.0.0.1:{port}",
                    "-initialbucket",
                    bucket,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = cls(proc, port, bucket)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise S3Unavailable(f"gofakes3 exited: {(base / 'gofakes3.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return server
            except OSError:
                time.sleep(0.05)
        server.stop()
        raise S3Unavailable("gofakes3 did not listen within 10 s")

    def keys(self) -> list[str]:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        listed = client.list_objects_v2(Bucket=self.bucket)
        return sorted(obj["Key"] for obj in listed.get("Contents", []))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
