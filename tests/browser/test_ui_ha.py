"""The hot-standby pair on the "Patch & outputs" page: a single node says it has no pair; on
a pair (two daemons, one PostgreSQL) the leader's page shows both nodes, and its handover
button (confirmed) moves the lease to the standby, as both daemons then report."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.daemon_harness import Daemon
from tests.ha_pair import pair_rig

from .ui_kit import logged_in, shot


def test_single_node_has_no_pair(browser: Browser, daemon: Daemon) -> None:
    page = logged_in(browser, daemon)
    page.goto(daemon.base + "/#/system")
    expect(page.locator("#pair-single")).to_contain_text("Single node")
    expect(page.locator("#pair-handover")).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]


def test_pair_panel_and_handover_button(
    browser: Browser, tmp_path: Path, postgres_dsn: str
) -> None:
    with pair_rig(tmp_path, postgres_dsn, misses=10) as rig:  # 500 ms dead: see test_ha_pair.py
        a = rig.nodes["a"]
        page = logged_in(browser, a)
        page.goto(a.base + "/#/system")
        expect(page.locator("#pair-node")).to_have_text("a: leader (transmitting)")
        expect(page.locator("#pair-peer")).to_have_text("b: standby")
        expect(page.locator("#pair-last")).to_contain_text("lead: nobody leads")
        shot(page, "ha-1-leader")
        page.click("#pair-handover")
        expect(page.locator("#confirm-text")).to_contain_text("Hand the output over")
        page.click("#confirm-ok")
        expect(page.locator("#toast")).to_contain_text("Handed over: this node is now standby")
        expect(page.locator("#pair-node")).to_have_text("a: standby")
        expect(page.locator("#pair-peer")).to_have_text("b: leader")
        expect(page.locator("#pair-handover")).to_be_disabled()
        shot(page, "ha-2-handed-over")
        assert rig.leader() == "b"
        assert rig.ha("a")["last_transition"] == "handover"
        assert page.errors == []  # type: ignore[attr-defined]
        # A refusal is shown, not swallowed: b leads, a is killed, b's handover is refused.
        b = rig.nodes["b"]
        page_b = logged_in(browser, b)
        page_b.goto(b.base + "/#/system")
        expect(page_b.locator("#pair-node")).to_have_text("b: leader (transmitting)")
        a.proc.kill()
        rig.wait_for("b to miss a", lambda: int(str(rig.ha("b")["peer_heartbeats_missed"])) > 12)
        page_b.click("#pair-handover")
        page_b.click("#confirm-ok")
        expect(page_b.locator("#toast")).to_contain_text("409: ha: no live standby")
        expect(page_b.locator("#toast")).to_have_class("show error")
        shot(page_b, "ha-3-refused")
        assert rig.ha("b")["role"] == "leader"
        # Only the refused request itself in the console (no script error).
        errors = page_b.errors  # type: ignore[attr-defined]
        assert all(e.startswith("Failed to load resource") for e in errors), errors
