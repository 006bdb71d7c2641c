"""Correlation ids: which incoming ids are kept, and binding them for a block (the
ContextVar and structlog's contextvars, both reset afterwards; a Trio task spawned inside
inherits the id)."""

from __future__ import annotations

import structlog
import trio

from trocadero.core import correlation


def test_sane_ids_are_kept_and_anything_else_replaced() -> None:
    for kept in ("t-123", "a.b_c-D9", "x" * 64, "0"):
        assert correlation.take(kept) == kept
    for refused in ("", "x" * 65, "a b", "a\nb", "é", "t;1", None, 42, b"t-1"):
        made = correlation.take(refused)
        assert made != refused
        assert correlation.sane(made)
    assert correlation.take(None) != correlation.take(None)  # fresh each time


def test_bound_sets_the_id_for_the_block_and_its_log_lines_only() -> None:
    assert correlation.current() == ""
    with correlation.bound("r-1"):
        assert correlation.current() == "r-1"
        assert structlog.contextvars.get_contextvars()["request_id"] == "r-1"
        with correlation.bound("r-2"):
            assert correlation.current() == "r-2"
        assert correlation.current() == "r-1"
        assert structlog.contextvars.get_contextvars()["request_id"] == "r-1"
    assert correlation.current() == ""
    assert "request_id" not in structlog.contextvars.get_contextvars()


async def test_a_task_spawned_in_a_request_carries_its_id() -> None:
    seen: list[str] = []

    async def child() -> None:
        await trio.lowlevel.checkpoint()
        seen.append(correlation.current())

    async with trio.open_nursery() as nursery:
        with correlation.bound("r-3"):
            nursery.start_soon(child)
        seen.append(correlation.current())
    assert sorted(seen) == ["", "r-3"]
