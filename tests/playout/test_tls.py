"""HTTPS and WSS served by the daemon itself ([web] tls_certificate): the configured
certificate, HSTS, a renewal picked up on SIGHUP (a broken one keeps the running
certificate), and the refusals: plain HTTP beyond loopback, unreadable certificate files."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.daemon_harness import AUTH_UNLIMITED, free_port, running_daemon, write_config
from tests.tls_certs import ServerCert, make_authority, make_server
from tests.ws_client import WsClient


def tls_config(cert: ServerCert) -> str:
    return (
        f'[web]\ntls_certificate = "{cert.certificate}"\ntls_key = "{cert.key}"\n' + AUTH_UNLIMITED
    )


def served_serial(port: int, ca: Path) -> int:
    """The serial number of the certificate a new TLS connection is given."""
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
    ):
        peer = tls.getpeercert()
    assert peer is not None
    return int(str(peer["serialNumber"]), 16)


def wait_for(predicate: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_https_wss_hsts_and_reload_on_sighup(tmp_path: Path) -> None:
    ca, ca_key = make_authority(tmp_path)
    cert = make_server(tmp_path, ca, ca_key, "server", 1001)
    with running_daemon(tmp_path, tls_config(cert), https_ca=ca) as d:
        d.wait_healthy()
        assert served_serial(d.port, ca) == 1001
        r = d.get("/api/playback")
        assert r.status_code == 200
        assert r.headers["strict-transport-security"] == "max-age=31536000"
        assert d.get("/").headers["strict-transport-security"] == "max-age=31536000"
        # Nothing in plain HTTP on that port, and a client that does not trust the CA refuses.
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{d.port}/healthz", timeout=2.0)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(d.base + "/healthz", timeout=2.0)
        # Garbage instead of a handshake costs that connection only; the clock goes on.
        frames = d.health()["clock"]["frames_sent"]
        for junk in (os.urandom(4096), b"\x16\x03\x01\xff\xff" + b"\x00" * 64):
            with socket.create_connection(("127.0.0.1", d.port), timeout=5) as raw:
                raw.sendall(junk)
                raw.settimeout(5)
                try:
                    while raw.recv(4096):
                        pass
                except (ConnectionResetError, TimeoutError):
                    pass
        wait_for(lambda: d.health()["clock"]["frames_sent"] > frames + 10, "frames after junk")
        assert d.health()["status"] == "ok"

        # WSS: the live WebSocket over the same TLS.
        ws = WsClient(d.port, tls=ssl.create_default_context(cafile=str(ca)))
        ws.send({"op": "auth", "token": d.headers()["Authorization"].split()[1]})
        assert ws.receive_json()["ok"]
        ws.close()

        # A renewal: new files in place, SIGHUP; new connections get it, the daemon serves on.
        renewed = make_server(tmp_path, ca, ca_key, "renewed", 1002)
        cert.certificate.write_bytes(renewed.certificate.read_bytes())
        cert.key.write_bytes(renewed.key.read_bytes())
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: served_serial(d.port, ca) == 1002, "the renewed certificate")
        assert "TLS certificate reloaded" in d.log()

        # A broken renewal: logged, and the running certificate is kept.
        cert.certificate.write_text("not a certificate\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload failed" in d.log(), "the failed reload in the log")
        assert served_serial(d.port, ca) == 1002
        assert d.get("/api/playback").status_code == 200
        assert d.proc.poll() is None


def run_daemon_process(tmp_path: Path, web: str) -> subprocess.CompletedProcess[str]:
    config = write_config(
        tmp_path / "trocadero.toml", free_port(), tmp_path / "state", f"[web]\n{web}"
    )
    return subprocess.run(
        [sys.executable, "-m", "trocadero", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_plain_http_beyond_loopback_is_refused(tmp_path: Path) -> None:
    result = run_daemon_process(tmp_path, 'host = "0.0.0.0"\n')
    assert result.returncode == 2
    assert "web.host: '0.0.0.0' is beyond loopback" in result.stderr
    assert "tls_certificate" in result.stderr


def test_allow_plaintext_serves_beyond_loopback(tmp_path: Path) -> None:
    extra = '[web]\nhost = "0.0.0.0"\nallow_plaintext = true\n' + AUTH_UNLIMITED
    with running_daemon(tmp_path, extra) as d:
        health = d.wait_healthy()
        assert health["status"] == "ok"
        assert "strict-transport-security" not in d.get("/api/playback").headers


@pytest.mark.parametrize(
    ("web", "message"),
    [
        ('tls_certificate = "/nonexistent/cert.pem"\n', "give both or neither"),
        (
            'tls_certificate = "/nonexistent/cert.pem"\ntls_key = "/nonexistent/key.pem"\n',
            "web.tls_certificate/tls_key: cannot load '/nonexistent/cert.pem'",
        ),
    ],
)
def test_certificate_problems_are_configuration_errors(
    tmp_path: Path, web: str, message: str
) -> None:
    result = run_daemon_process(tmp_path, web)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


@pytest.mark.parametrize(("hops", "seen"), [(1, "203.0.113.9"), (0, "127.0.0.1")])
def test_proxy_hops_decide_whose_address_is_audited(tmp_path: Path, hops: int, seen: str) -> None:
    # Behind a TLS proxy on this host every request comes from 127.0.0.1: with proxy_hops = 1
    # the proxy's X-Forwarded-For names the client (rate limits and the audit use it); with
    # 0 the header is anybody's to forge and is ignored.
    extra = f"[web]\nproxy_hops = {hops}\n" + AUTH_UNLIMITED
    with running_daemon(tmp_path, extra) as d:
        d.wait_healthy()
        forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        r = d.put("/api/masters/grand", json={"level": 0.5}, headers=forwarded)
        assert r.status_code == 200, r.text
        rows = d.get("/api/audit", params={"action": "master.set", "limit": 5}).json()["items"]
        assert [row["address"] for row in rows] == [seen]
        # HSTS follows the scheme the client used: https through a trusted proxy.
        assert ("strict-transport-security" in r.headers) == (hops == 1)
