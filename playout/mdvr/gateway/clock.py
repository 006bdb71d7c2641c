"""The gateway's clocks, injected so its timing can be tested with a controlled clock.

Trio's own timers (``trio.sleep``, ``move_on_after``) run on the Trio run's clock; everything
the gateway reads itself (silence, pacing, rate limits, report and store times) goes through a
`Clock`. A test runs the gateway under ``trio.testing.MockClock`` and gives it a clock that
reads the same time (tests/playout/test_mdvr_timing.py), so driving one drives both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (intervals, deadlines)."""
        ...

    def now(self) -> datetime:
        """The wall-clock time, timezone-aware UTC (what is stored and sent to devices)."""
        ...


@dataclass(frozen=True)
class SystemClock:
    """The real clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)


SYSTEM_CLOCK: Final = SystemClock()
