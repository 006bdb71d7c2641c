"""`trocadero users` (recovery on the appliance) as a subprocess on a real SQLite store, next to
the real daemon running on the same config."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.daemon_harness import ADMIN_PASSWORD, Daemon, running_daemon
from trocadero.core.model import ROLES
from trocadero.playout import users_cli


def users(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trocadero", "users", *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def login(d: Daemon, name: str, password: str) -> httpx.Response:
    return httpx.post(
        d.base + "/api/auth/login", json={"name": name, "password": password}, timeout=10
    )


def one_time_password(out: str) -> str:
    return out.split("one-time password: ")[1].split()[0]


def test_roles_match_the_model() -> None:
    assert users_cli.ROLES == ROLES


def test_recovery_on_a_running_appliance(tmp_path: Path) -> None:
    with running_daemon(tmp_path) as d:
        d.wait_healthy()
        config = tmp_path / "trocadero.toml"
        r = d.post("/api/users", json={"name": "ops", "role": "operator", "password": "ops-pass-1"})
        assert r.status_code == 201
        assert d.request("PATCH", "/api/users/ops", json={"disabled": True}).status_code == 200
        admin_token = d.headers()

        listed = users(config, "list")
        assert listed.returncode == 0, listed.stderr
        rows = {line.split()[0]: line.split()[1:3] for line in listed.stdout.splitlines()[1:]}
        assert rows == {"admin": ["admin", "enabled"], "ops": ["operator", "disabled"]}

        # The admin's password is lost: a new one-time password, every login cut off.
        reset = users(config, "reset-password", "admin")
        assert reset.returncode == 0, reset.stderr
        fresh = one_time_password(reset.stdout)
        assert login(d, "admin", ADMIN_PASSWORD).status_code == 401
        # The running daemon re-reads revoked logins every 2 s (docs/auth.md).
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            r = httpx.get(d.base + "/api/playback", headers=admin_token, timeout=5)
            if r.status_code == 401:
                break
            time.sleep(0.2)
        assert r.status_code == 401, r.text
        r = login(d, "admin", fresh)
        assert r.status_code == 200
        assert r.json()["password_change_required"] is True
        r = httpx.post(
            d.base + "/api/auth/password",
            json={"current_password": fresh, "new_password": "a-new-admin-password"},
            headers={"Authorization": f"Bearer {r.json()['access_token']}"},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        d.login("admin", "a-new-admin-password")

        # A second admin with a chosen password, and the disabled operator back.
        added = users(
            config, "add", "rescue", "--role", "admin", "--password-stdin", stdin="rescue-pass-1\n"
        )
        assert added.returncode == 0, added.stderr
        assert login(d, "rescue", "rescue-pass-1").json()["password_change_required"] is False
        added = users(config, "add", "guest", "--role", "viewer")
        assert added.returncode == 0, added.stderr
        r = login(d, "guest", one_time_password(added.stdout))
        assert r.json()["password_change_required"] is True
        assert login(d, "ops", "ops-pass-1").status_code == 401
        enabled = users(config, "enable", "ops")
        assert enabled.returncode == 0, enabled.stderr
        assert login(d, "ops", "ops-pass-1").status_code == 200

        # All of it is in the audit log, the Unix user named.
        r = d.get("/api/audit", params={"actor": f"cli:{users_cli._unix_user()}", "limit": 50})
        got = {(e["action"], e["target"]) for e in r.json()["items"]}
        assert got == {
            ("user.password", "admin"),
            ("user.create", "rescue"),
            ("user.create", "guest"),
            ("user.enable", "ops"),
        }


def test_refusals_and_exit_codes(tmp_path: Path) -> None:
    with running_daemon(tmp_path) as d:
        d.wait_healthy()
    config = tmp_path / "trocadero.toml"  # the daemon's store, now at rest
    cases = [
        (("enable", "nobody"), "", 1, "no user named 'nobody'"),
        (("reset-password", "nobody"), "", 1, "no user named"),
        (("add", "admin", "--role", "viewer", "--password-stdin"), "long-enough-1\n", 1, ""),
        (("add", "x", "--role", "root"), "", 2, "invalid choice"),
        (("add", "shorty", "--role", "viewer", "--password-stdin"), "abc\n", 2, "at least 10"),
        (("frobnicate",), "", 2, "invalid choice"),
    ]
    for args, stdin, code, message in cases:
        proc = users(config, *args, stdin=stdin)
        assert proc.returncode == code, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
    listed = users(config, "list")
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == ["admin"]
    # A bad config is a usage error; a config whose store does not exist a runtime one
    # (nothing is created: a wrong --config must not look like an empty appliance).
    bad = tmp_path / "bad.toml"
    bad.write_text("[web]\nport = 0\n")
    assert users(bad, "list").returncode == 2
    empty = tmp_path / "empty.toml"
    empty.write_text(f'[state]\ndirectory = "{tmp_path / "nowhere"}"\n')
    proc = users(empty, "list")
    assert proc.returncode == 1
    assert "no store at" in proc.stderr
    assert not (tmp_path / "nowhere").exists()
