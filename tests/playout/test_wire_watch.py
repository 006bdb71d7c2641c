"""The GO→wire watch on its own (a probe that plays the native threads): one observation
per plan on the wire, nothing without a render thread, a bounded queue, a stalled output
given up."""

from __future__ import annotations

import trio

from trocadero.playout import wire_watch
from trocadero.playout.frame_probe import SentFrame
from trocadero.playout.wire_watch import WireWatch


class Probe:
    """Plan 3 drawn for frame 10 at once; sent 150 µs after the hand-over unless stalled."""

    def __init__(self, *, stalled: bool = False) -> None:
        self.stalled = stalled

    def plan_number(self) -> int:
        return 3

    def drawn(self, plan: int) -> tuple[int, int] | None:
        return (10, 1_000)

    def sent(self, number: int, deadline_ns: int) -> SentFrame | None:
        return None if self.stalled else SentFrame(number, deadline_ns, 1_150, 11, True)


async def test_each_plan_is_observed_once_from_hand_over_to_send() -> None:
    observed: list[float] = []
    watch = WireWatch(observed.append)
    assert watch.handed(0) is None  # no render thread: nothing followed
    watch.probe = Probe()
    sent: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch.run)
        handed = watch.handed(1_000)
        assert handed is not None
        handed.on_sent = lambda s: sent.append(s.number)
        with trio.fail_after(2):
            while watch.pending:  # noqa: ASYNC110  (the watch sets no event when done)
                await trio.sleep(0.001)
        nursery.cancel_scope.cancel()
    assert observed == [150e-9]
    assert sent == [10]


async def test_a_full_queue_and_a_stalled_output_give_plans_up() -> None:
    observed: list[float] = []
    watch = WireWatch(observed.append)
    watch.probe = Probe(stalled=True)
    why: list[str] = []
    for _ in range(wire_watch.MAX_PENDING + 1):
        h = watch.handed(0)
        assert h is not None
        h.on_lost = why.append
    assert len(watch.pending) == wire_watch.MAX_PENDING  # bounded: the oldest was given up
    assert why == ["too many plans pending"]
    # handed at 0 ns: long past the timeout, and never sent
    watch._settle(int(wire_watch.FRAME_TIMEOUT_S * 1e9) + 1)
    assert not watch.pending
    assert watch.lost == wire_watch.MAX_PENDING + 1
    assert why.count("the frame was not seen on the wire") == wire_watch.MAX_PENDING
    assert observed == []
