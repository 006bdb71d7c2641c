"""What every browser test shares: Debian's Chromium driven by Playwright (never a downloaded
browser), one daemon per module, a logged-in tablet page, screenshots kept as artefacts."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.daemon_harness import AUTH_UNLIMITED, Daemon, running_daemon

from .ui_kit import CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's chromium (./dev setup test does)",
            pytrace=False,
        )
    # Once trio_asyncio is imported (the daemon's modules do), its event-loop policy makes
    # asyncio.new_event_loop() a trio-backed loop; Playwright's sync API needs a plain one.
    policy = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    try:
        with sync_playwright() as p:
            args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium refuses root else
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
            yield b
            b.close()
    finally:
        asyncio.set_event_loop_policy(policy)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    extra = AUTH_UNLIMITED + "login_attempts_per_minute = 1000\n"
    with running_daemon(tmp_path_factory.mktemp("ui"), extra) as d:
        d.wait_healthy()
        yield d
