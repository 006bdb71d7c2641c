"""Logins, roles, rate limits and the OpenAPI document against the real daemon (every route
family enabled: playback, show, schedule, MDVR, fault injection)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.daemon_harness import ADMIN_PASSWORD, Daemon, free_port, running_daemon
from trocadero.core.commands import PERMISSIONS
from trocadero.core.operations import OPERATIONS
from trocadero.web.access import PUBLIC, ROUTE_ACCESS
from trocadero.web.choices import choice_routes

ROLES = ("admin", "operator", "marketing", "viewer")
PASSWORD = "role-matrix-pw"


def _config(rate: int = 100_000, login: int = 1000) -> str:
    return (
        f'[auth]\nadmin_password = "{ADMIN_PASSWORD}"\nrate_limit_per_minute = {rate}\n'
        f"login_attempts_per_minute = {login}\n"
        "[debug]\nfault_injection = true\n"
        f"[mdvr]\nenabled = true\nsignaling_port = {free_port()}\nmedia_port = {free_port()}\n"
        # A camera (its source missing: the tracker keeps retrying) so /api/cameras is served.
        '[[cameras]]\nname = "auth-cam"\nurl = "/nonexistent/auth-cam.mkv"\n'
    )


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("auth"), _config()) as d:
        d.wait_healthy()
        for role in ROLES[1:]:
            r = d.post("/api/users", json={"name": role, "role": role, "password": PASSWORD})
            assert r.status_code == 201, r.text
        yield d


def token(d: Daemon, user: str, password: str = PASSWORD) -> str:
    r = httpx.post(
        d.base + "/api/auth/login", json={"name": user, "password": password}, timeout=10
    )
    assert r.status_code == 200, r.text
    access: str = r.json()["access_token"]
    return access


def bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


def concrete(path: str) -> str:
    """A request path for a template: names that do not exist, so writes touch nothing."""
    values = {"verb": "pause", "action": "stop", "which": "thumbnail", "target": "no-such"}
    return re.sub(
        r"{(\w+)(?::int)?}",
        lambda m: values.get(m.group(1), "987654" if ":int" in m.group(0) else "no-such"),
        path,
    )


def test_every_api_route_has_an_access_rule(daemon: Daemon) -> None:
    doc = daemon.get("/openapi.json").json()
    served = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    listed = {(m, re.sub(r"{(\w+):int}", r"{\1}", p)) for m, p in ROUTE_ACCESS} | set(PUBLIC)
    # The catch-alls of verb families only explain a misspelt verb: not in the document.
    catch_alls = {
        (m, re.sub(r"{(\w+):int}", r"{\1}", p)) for m, p, _, _ in choice_routes(OPERATIONS)
    }
    listed = {(m, p) for m, p in listed if p.startswith("/api/")} - catch_alls
    assert served - listed == set(), "routes without an access rule (refused to everybody)"
    assert listed - served == set(), "access rules for routes the app does not serve"


def test_role_matrix_every_endpoint_times_every_role(daemon: Daemon) -> None:
    tokens = {role: token(daemon, role) for role in ROLES[1:]}
    tokens["admin"] = token(daemon, "admin", ADMIN_PASSWORD)
    checked = 0
    for (method, template), group in sorted(ROUTE_ACCESS.items()):
        path = concrete(template)
        for role in ROLES:
            allowed = role in PERMISSIONS[group]
            if allowed and template.startswith("/debug/"):
                continue  # would really crash the web server or block Python
            r = httpx.request(
                method, daemon.base + path, json={}, headers=bearer(tokens[role]), timeout=10
            )
            where = f"{role} {method} {path} (needs {group})"
            if allowed:
                assert r.status_code not in (401, 403), f"{where}: refused: {r.text}"
                assert r.status_code < 500, f"{where}: {r.status_code} {r.text}"
            else:
                assert r.status_code == 403, f"{where}: got {r.status_code} {r.text}"
                assert "may not" in r.json()["error"]
            checked += 1
        # And nobody without a token.
        r = httpx.request(method, daemon.base + path, json={}, timeout=10)
        assert r.status_code == 401, f"anonymous {method} {path}: {r.status_code}"
        assert r.headers["www-authenticate"] == "Bearer"
    assert checked > 4 * 50


def test_security_headers_everywhere(daemon: Daemon) -> None:
    for path in ("/healthz", "/api/playback", "/openapi.json", "/api/no-such"):
        r = httpx.get(daemon.base + path, timeout=5)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
    assert httpx.get(daemon.base + "/api/playback", timeout=5).headers["cache-control"] == (
        "no-store"
    )


def test_refresh_rotation_logout_and_revocation_over_http(daemon: Daemon) -> None:
    base = daemon.base
    r = httpx.post(
        base + "/api/users",
        json={"name": "temp-op", "role": "operator", "password": PASSWORD},
        headers=daemon.headers(),
        timeout=10,
    )
    assert r.status_code == 201, r.text
    login = httpx.post(
        base + "/api/auth/login", json={"name": "temp-op", "password": PASSWORD}, timeout=10
    ).json()
    assert login["user"] == {"name": "temp-op", "role": "operator"}
    me = httpx.get(base + "/api/auth/me", headers=bearer(login["access_token"]), timeout=5)
    assert me.json()["role"] == "operator"
    assert "playback" in me.json()["permissions"]
    new = httpx.post(
        base + "/api/auth/refresh", json={"refresh_token": login["refresh_token"]}, timeout=5
    )
    assert new.status_code == 200
    pair = new.json()
    reuse = httpx.post(
        base + "/api/auth/refresh", json={"refresh_token": login["refresh_token"]}, timeout=5
    )
    assert reuse.status_code == 401
    assert "reused" in reuse.json()["error"]
    # Reuse revoked the family: the rotated token is dead too.
    dead = httpx.post(
        base + "/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}, timeout=5
    )
    assert dead.status_code == 401
    # Logout revokes; disabling the account cuts the access token off at once.
    login = httpx.post(
        base + "/api/auth/login", json={"name": "temp-op", "password": PASSWORD}, timeout=10
    ).json()
    out = httpx.post(
        base + "/api/auth/logout", json={"refresh_token": login["refresh_token"]}, timeout=5
    )
    assert out.json() == {"revoked": True}
    assert (
        httpx.post(
            base + "/api/auth/refresh", json={"refresh_token": login["refresh_token"]}, timeout=5
        ).status_code
        == 401
    )
    # The logout took the login's access token with it (docs/auth.md).
    stale = login["access_token"]
    assert httpx.get(base + "/api/playback", headers=bearer(stale), timeout=5).status_code == 401
    access = token(daemon, "temp-op")
    assert httpx.get(base + "/api/playback", headers=bearer(access), timeout=5).status_code == 200
    r = httpx.patch(
        base + "/api/users/temp-op", json={"disabled": True}, headers=daemon.headers(), timeout=10
    )
    assert r.status_code == 200
    assert r.json()["disabled"] is True
    assert httpx.get(base + "/api/playback", headers=bearer(access), timeout=5).status_code == 401
    bad = httpx.post(
        base + "/api/auth/login", json={"name": "temp-op", "password": PASSWORD}, timeout=10
    )
    assert bad.status_code == 401
    # Bad input names the field.
    r = httpx.post(base + "/api/auth/login", json={"name": "x"}, timeout=5)
    assert r.status_code == 400
    assert r.json()["error"].startswith("password:")
    r = httpx.post(
        base + "/api/users",
        json={"name": "y", "role": "root", "password": PASSWORD},
        headers=daemon.headers(),
        timeout=5,
    )
    assert r.status_code == 400
    assert r.json()["error"].startswith("role:")


def test_openapi_document_validates(daemon: Daemon) -> None:
    doc = daemon.get("/openapi.json").json()
    validate(doc)  # OpenAPI 3.1 schema: raises on any violation
    # The operation table's declarations: the GOTO body's fields, each with its own schema.
    goto = doc["paths"]["/api/cue-lists/{list}/goto"]["post"]
    body = goto["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["cue"]
    assert body["additionalProperties"] is False
    assert body["properties"]["fade"] == {
        "type": "number",
        "minimum": 0,
        "maximum": 86400,
        "description": "fade time; absent: the cue's own",
    }
    assert goto["operationId"] == "goto"
    assert goto["summary"]
    assert doc["paths"]["/api/auth/login"]["post"]["security"] == []


def test_schema_driven_fuzz_finds_no_server_error(daemon: Daemon, tmp_path: Path) -> None:
    """Schemathesis generates requests for every operation from the OpenAPI document (valid
    and invalid bodies, parameters) and checks that no response is a 5xx. Time-boxed."""
    headers = daemon.headers()
    cmd = [
        str(Path(sys.executable).parent / "st"),
        "run",
        daemon.base + "/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "15",
        "--phases",
        "examples,fuzzing",
        "--exclude-path-regex",
        r"^/api/(auth/(password|logout)|users/\{name\})$",  # would lock the fuzzer out
        "--header",
        f"Authorization: {headers['Authorization']}",
        "--request-timeout",
        "10",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        "--seed",
        "1",
    ]
    t0 = time.monotonic()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path
    )
    print(f"schemathesis: {time.monotonic() - t0:.1f} s\n{proc.stdout[-3000:]}")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    health = daemon.health()
    # Degraded only by the test's camera, whose source does not exist (never by the fuzzing).
    if health["status"] != "ok":
        assert health["status"] == "degraded", health
        assert health["reason"].startswith("camera auth-cam"), health["reason"]


def test_rate_limit_429_with_retry_after(tmp_path: Path) -> None:
    with running_daemon(tmp_path, _config(rate=5, login=3)) as d:
        d.wait_healthy()
        headers = d.headers()
        codes = [
            httpx.get(d.base + "/api/playback", headers=headers, timeout=5).status_code
            for _ in range(6)
        ]
        assert codes == [200] * 5 + [429]
        r = httpx.get(d.base + "/api/playback", headers=headers, timeout=5)
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 60
        body: dict[str, Any] = r.json()
        assert body["error"] == "too many requests"
        # Per user: the limit is the admin's; health stays open for monitoring.
        assert httpx.get(d.base + "/healthz", timeout=5).status_code == 200
        # Login guesses are limited per address (3/min here; one was the harness login).
        guesses = [
            httpx.post(
                d.base + "/api/auth/login",
                json={"name": "admin", "password": "wrong-guess"},
                timeout=10,
            ).status_code
            for _ in range(3)
        ]
        assert guesses == [401, 401, 429]
        json.dumps(body)


def _from(address: str) -> httpx.Client:
    """A client whose connections come from `address` (any 127/8 address works on Linux
    loopback): the daemon takes the client address from the socket, never from a header."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


def _audit(d: Daemon, action: str) -> list[dict[str, Any]]:
    r = d.get("/api/audit", params={"action": action, "limit": 100})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_guessing_throttles_the_guessing_address_not_the_account(tmp_path: Path) -> None:
    # 1000 login requests a minute per address: only the growing delay per (name, address)
    # is at work here.
    with running_daemon(tmp_path, _config()) as d:
        d.wait_healthy()
        login = {"name": "admin", "password": "wrong-guess"}
        with _from("127.0.0.2") as attacker:
            codes = []
            for _ in range(30):
                r = attacker.post(d.base + "/api/auth/login", json=login)
                codes.append(r.status_code)
                if r.status_code == 429:
                    break
            assert codes[:3] == [401, 401, 401]  # the first failures cost nothing
            assert codes[-1] == 429, codes
            assert int(r.headers["retry-after"]) >= 1
            assert r.json()["retry_after_s"] > 0
            # Even the right password is refused from there while the delay runs…
            right = {"name": "admin", "password": ADMIN_PASSWORD}
            assert attacker.post(d.base + "/api/auth/login", json=right).status_code == 429
        # …but the real admin logs in from another address.
        with _from("127.0.0.1") as admin:
            r = admin.post(d.base + "/api/auth/login", json=right)
            assert r.status_code == 200, r.text
        d._token = r.json()["access_token"]
        # Every failure is a structured log line and an audit entry (user, address, reason).
        lines = [json.loads(line) for line in d.log().splitlines() if '"login failed"' in line]
        assert {(x["user"], x["address"]) for x in lines} == {("admin", "127.0.0.2")}
        assert {x["reason"] for x in lines} == {"wrong password", "throttled"}
        failed = _audit(d, "auth.login.failed")
        assert len(failed) == len(lines)
        assert {(e["actor"], e["target"], e["address"]) for e in failed} == {
            ("anonymous", "admin", "127.0.0.2")
        }
        ok = _audit(d, "auth.login")
        assert ("admin", "admin", "127.0.0.1") in {
            (e["actor"], e["target"], e["address"]) for e in ok
        }


def test_logout_and_reuse_cut_off_access_tokens_over_http(daemon: Daemon) -> None:
    base = daemon.base

    def login() -> dict[str, Any]:
        r = httpx.post(
            base + "/api/auth/login", json={"name": "viewer", "password": PASSWORD}, timeout=10
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def status(access: str) -> int:
        return httpx.get(base + "/api/playback", headers=bearer(access), timeout=5).status_code

    session = login()
    assert status(session["access_token"]) == 200
    out = httpx.post(
        base + "/api/auth/logout", json={"refresh_token": session["refresh_token"]}, timeout=5
    )
    assert out.json() == {"revoked": True}
    r = httpx.get(base + "/api/playback", headers=bearer(session["access_token"]), timeout=5)
    assert r.status_code == 401
    assert r.json()["error"] == "token revoked"
    # A rotated refresh token presented again: both access tokens of that login stop.
    other = login()
    first = login()
    second = httpx.post(
        base + "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}, timeout=5
    ).json()
    assert status(first["access_token"]) == 200
    reuse = httpx.post(
        base + "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}, timeout=5
    )
    assert reuse.status_code == 401
    assert status(first["access_token"]) == 401
    assert status(second["access_token"]) == 401
    assert status(other["access_token"]) == 200  # another login of the same account
    assert "viewer" in {e["target"] for e in _audit(daemon, "auth.token.reuse")}
    assert "viewer" in {e["actor"] for e in _audit(daemon, "auth.logout")}


def test_the_last_admin_cannot_disable_or_demote_itself(tmp_path: Path) -> None:
    with running_daemon(tmp_path, _config()) as d:
        d.wait_healthy()
        for change in ({"disabled": True}, {"role": "operator"}):
            r = d.request("PATCH", "/api/users/admin", json=change)
            assert r.status_code == 409, r.text
            assert "last enabled admin" in r.json()["error"]
        assert d.get("/api/auth/me").json()["role"] == "admin"  # still in, still admin
        r = d.post("/api/users", json={"name": "deputy", "role": "admin", "password": PASSWORD})
        assert r.status_code == 201
        r = d.request("PATCH", "/api/users/admin", json={"role": "operator"})
        assert r.status_code == 200  # another admin is left
        d.login("deputy", PASSWORD)
        r = d.request("PATCH", "/api/users/deputy", json={"disabled": True})
        assert r.status_code == 409


def test_account_changes_appear_in_the_audit_log(tmp_path: Path) -> None:
    with running_daemon(tmp_path, _config()) as d:
        d.wait_healthy()
        assert (
            d.post(
                "/api/users", json={"name": "ed", "role": "viewer", "password": PASSWORD}
            ).status_code
            == 201
        )
        for change in ({"role": "operator"}, {"disabled": True}, {"disabled": False}):
            assert d.request("PATCH", "/api/users/ed", json=change).status_code == 200
        assert (
            d.request("PATCH", "/api/users/ed", json={"password": "reset-by-admin"}).status_code
            == 200
        )
        ed = token(d, "ed", "reset-by-admin")
        r = httpx.post(
            d.base + "/api/auth/password",
            json={"current_password": "reset-by-admin", "new_password": "chosen-by-ed"},
            headers=bearer(ed),
            timeout=10,
        )
        assert r.status_code == 200, r.text
        r = d.get("/api/audit", params={"action": "user.*", "limit": 100})
        got = [(e["actor"], e["action"], e["target"]) for e in reversed(r.json()["items"])]
        assert got == [
            ("admin", "user.create", "ed"),
            ("admin", "user.role", "ed"),
            ("admin", "user.disable", "ed"),
            ("admin", "user.enable", "ed"),
            ("admin", "user.password", "ed"),
            ("ed", "user.password", "ed"),
        ]


def test_docs_role_table_is_the_code() -> None:
    """docs/auth.md's per-group table says exactly what `PERMISSIONS` enforces."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "auth.md").read_text("utf-8")
    documented = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("`"):
            documented[cells[0].strip("`")] = {
                r for r, c in zip(ROLES, cells[1:5], strict=True) if c == "✓"
            }
    assert documented == {group: set(roles) for group, roles in PERMISSIONS.items()}


def test_vehicle_footage_needs_the_live_view_roles(daemon: Daemon) -> None:
    # Recordings are the same footage as live video: the same roles may see them.
    assert PERMISSIONS["mdvr.footage"] == PERMISSIONS["mdvr.control"]
    assert ROUTE_ACCESS[("GET", "/api/mdvr/files/{id}/{which}")] == "mdvr.footage"
    for role in ("viewer", "marketing"):
        headers = bearer(token(daemon, role))
        for which in ("original", "video", "thumbnail"):
            r = httpx.get(daemon.base + f"/api/mdvr/files/1/{which}", headers=headers, timeout=5)
            assert r.status_code == 403, r.text
            assert r.json()["needs"] == "mdvr.footage"
        # What vehicles there are, where, their alarms and which files exist stay readable.
        for path in ("/api/mdvr/devices", "/api/mdvr/alarms", "/api/mdvr/files"):
            assert httpx.get(daemon.base + path, headers=headers, timeout=5).status_code == 200
    r = httpx.get(
        daemon.base + "/api/mdvr/files/1/video",
        headers=bearer(token(daemon, "operator")),
        timeout=5,
    )
    assert r.status_code == 404  # allowed; there is no such file
