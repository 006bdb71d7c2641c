"""The console over HTTPS and WSS ([web] tls_certificate) in Debian's Chromium, trusting
exactly the daemon's certificate (its public key pinned on the command line): the login,
the live WebSocket (previews move with a GO) and the HSTS header."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.daemon_harness import AUTH_UNLIMITED, Daemon, running_daemon
from tests.tls_certs import ServerCert, make_authority, make_server

from .ui_kit import CHROMIUM, logged_in, preview_sum, shot, wait_until


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ServerCert]:
    directory = tmp_path_factory.mktemp("pki")
    ca, ca_key = make_authority(directory)
    return ca, make_server(directory, ca, ca_key, "console", 4242)


def spki_pin(cert: ServerCert) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)): what Chromium's pin list takes."""
    der = ssl.PEM_cert_to_DER_cert(cert.certificate.read_text())
    spki = subprocess.run(  # the SPKI is a field of the certificate: OpenSSL's parser finds it
        ["openssl", "x509", "-inform", "DER", "-pubkey", "-noout"],
        input=der,
        capture_output=True,
        check=True,
    ).stdout
    pub_der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"],
        input=spki,
        capture_output=True,
        check=True,
    ).stdout
    return base64.b64encode(hashlib.sha256(pub_der).digest()).decode()


@pytest.fixture(scope="module")
def browser(pki: tuple[Path, ServerCert]) -> Iterator[Browser]:
    policy = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    try:
        with sync_playwright() as p:
            args = ["--no-sandbox"] if os.geteuid() == 0 else []
            args.append(f"--ignore-certificate-errors-spki-list={spki_pin(pki[1])}")
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
            yield b
            b.close()
    finally:
        asyncio.set_event_loop_policy(policy)


@pytest.fixture(scope="module")
def daemon(
    tmp_path_factory: pytest.TempPathFactory, pki: tuple[Path, ServerCert]
) -> Iterator[Daemon]:
    ca, cert = pki
    extra = (
        f'[web]\ntls_certificate = "{cert.certificate}"\ntls_key = "{cert.key}"\n'
        + AUTH_UNLIMITED
        + "login_attempts_per_minute = 1000\n"
    )
    with running_daemon(tmp_path_factory.mktemp("tls-ui"), extra, https_ca=ca) as d:
        d.wait_healthy()
        yield d


def test_console_over_https_and_wss(browser: Browser, daemon: Daemon) -> None:
    assert daemon.base.startswith("https://")
    page = logged_in(browser, daemon)
    assert page.url.startswith("https://")
    expect(page.locator('[data-list="main"]')).to_be_visible()
    wait_until(page, "() => document.querySelector('canvas[data-preview=\"facade\"]').width > 1")
    before = preview_sum(page, "facade")
    page.locator('[data-list="main"] button.go').click()
    expect(page.locator('[data-list="main"] .running')).to_have_text("1")
    page.wait_for_timeout(3500)  # cue 1 fades up in 3 s; previews arrive over WSS
    assert preview_sum(page, "facade") != before, "no preview over WSS followed the GO"
    hsts = page.evaluate(
        "() => fetch('/healthz').then((r) => r.headers.get('strict-transport-security'))"
    )
    assert hsts == "max-age=31536000"
    shot(page, "tls-console")
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()
