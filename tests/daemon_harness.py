"""Start the real daemon in a subprocess for integration tests.

Every harness daemon starts with the schedule runner off (`[schedule] enabled = false`): the
embedded default show seeds the building's evening schedule, and the runner plays what is due
at start-up, so with it on a test's start state would depend on the time of day (the Evening
list from sunset to 01:00). The entries are still there to list, edit and simulate
(`/api/schedule/now?at=...`). A test that needs the runner says so with its own `[schedule]`
table in the extra config (e.g. `[schedule]\nenabled = true\n`).
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.ports import free_port as free_port  # re-exported: the tests import it from here

ADMIN_USER = "admin"
ADMIN_PASSWORD = "trocadero-test"  # [auth] admin_password of every harness daemon
# The schedule entries the embedded default show seeds (config/default_show.toml), by name.
DEFAULT_SCHEDULE = ("evening-weekend", "evening-weeknights")
# The [auth] section of a daemon that tests and benchmarks drive hard: the known admin
# password, and a rate limit no test reaches (the limiter has its own tests).
AUTH_UNLIMITED = f'[auth]\nadmin_password = "{ADMIN_PASSWORD}"\nrate_limit_per_minute = 100000\n'


class Daemon:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.proc = proc
        self.port = port
        self.log_path = log_path
        self.base = f"http://127.0.0.1:{port}"
        self.verify: ssl.SSLContext | bool = True  # httpx's: trusts an HTTPS daemon's CA
        self._token: str | None = None

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def login(self, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> dict[str, Any]:
        """Log in; the token is used by the request helpers from then on. The response body."""
        r = httpx.post(
            self.base + "/api/auth/login",
            json={"name": username, "password": password},
            timeout=10.0,
            verify=self.verify,
        )
        assert r.status_code == 200, f"login as {username} failed: {r.status_code} {r.text}"
        body: dict[str, Any] = r.json()
        self._token = body["access_token"]
        return body

    def headers(self) -> dict[str, str]:
        """The Authorization header of the admin (logging in first if needed)."""
        if self._token is None:
            self.login()
        return {"Authorization": f"Bearer {self._token}"}

    def request(self, method: str, path: str, *, timeout: float = 5.0, **kw: Any) -> httpx.Response:
        """An authenticated request (the admin unless `login` chose another account)."""
        headers = {**self.headers(), **kw.pop("headers", {})}
        return httpx.request(
            method, self.base + path, headers=headers, timeout=timeout, verify=self.verify, **kw
        )

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(
            self.base + "/healthz", timeout=2.0, verify=self.verify
        ).json()
        return body

    def wait_healthy(self, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log()}")
            try:
                return self.health()
            except httpx.HTTPError as exc:
                last = exc
                time.sleep(0.05)
        raise AssertionError(f"daemon not healthy after {timeout}s ({last}):\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float]:
        """Send `sig`; return (exit code, seconds until exit)."""
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - t0


def write_config(path: Path, port: int, state: Path, extra: str = "") -> Path:
    auth = "" if "[auth]" in extra else f'[auth]\nadmin_password = "{ADMIN_PASSWORD}"\n'
    schedule = "" if "[schedule]" in extra else "[schedule]\nenabled = false\n"  # see above
    web = ""
    if extra.startswith("[web]\n"):  # more [web] keys: into the one [web] table
        first, sep, rest = extra[len("[web]\n") :].partition("\n[")
        web, extra = first + "\n", (sep.lstrip("\n") + rest) if sep else ""
    path.write_text(
        f'[web]\nport = {port}\nrestart_delay_s = 0.1\n{web}[state]\ndirectory = "{state}"\n'
        f'[logging]\nformat = "json"\n{auth}{schedule}{extra}'
    )
    return path


@contextmanager
def running_daemon(
    tmp_path: Path,
    extra_config: str = "",
    env: Mapping[str, str] | None = None,
    *,
    https_ca: Path | None = None,
) -> Iterator[Daemon]:
    """A daemon on `extra_config`; with `https_ca` (its [web] serves TLS), the helpers speak
    HTTPS and verify the server against that CA."""
    port = free_port()
    config = write_config(tmp_path / "trocadero.toml", port, tmp_path / "state", extra_config)
    log_path = tmp_path / "daemon.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trocadero", "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    daemon = Daemon(proc, port, log_path)
    if https_ca is not None:
        daemon.base = f"https://127.0.0.1:{port}"
        daemon.verify = ssl.create_default_context(cafile=str(https_ca))
    try:
        yield daemon
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
