"""olad sends sACN that our input receiver merges correctly (`playout.inputs`).

olad sends 7,8,9 on universe 2 (as in `test_olad_sends_sacn_that_our_decoder_accepts`) while
this test sends a second source on the same universe from inside the namespace (our own
`DataPacket`s, another CID). `merge_receiver` runs our real Trio receiver and merge, joined on
v1, and reports the merge once both sources are live:

- both at priority 100: HTP per slot, 7,20,9 from two contributing sources;
- ours at priority 150: ours wins outright, 1,20,3; olad's source is live but not contributing.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from trocadero.protocols import sacn

from .harness import sender
from .netns import NetNs
from .olad import Olad
from .scenario import OLA_SACN_OUTPUT_UNIVERSE, OLAD_ADDRESS, PEER_ADDRESS

MERGE_CID = uuid.UUID("5f0a6c0e-8e4b-4d2a-9a57-1c1b7e0d2a03").bytes
MERGE_SOURCE_NAME = "Trocadero interop (merge)"
OLAD_SLOTS = "7,8,9"
OUR_SLOTS = bytes([1, 20, 3])
SEND_PERIOD_S = 0.05  # ours: 20 Hz, well inside the 2.5 s source timeout
POKE_PERIOD_S = 0.1  # olad sends on change only, so its client repeats the frame
RECEIVE_TIMEOUT_S = 10.0


@contextmanager
def feeding(ns: NetNs, olad: Olad, universe: int, priority: int) -> Iterator[None]:
    """While inside: olad sends `OLAD_SLOTS` and we send `OUR_SLOTS` on `universe`.

    Our datagrams leave 10.99.0.1 on v0 (multicast loop on, as any local sender) and come in
    on v1 like olad's. On exit our source sends three stream-terminated packets.
    """
    stop = threading.Event()
    errors: list[BaseException] = []
    with ns.socket() as sock, olad.stream_dmx(universe) as client:
        sock.bind((OLAD_ADDRESS, 0))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(OLAD_ADDRESS))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        group = (sacn.multicast_address(universe), sacn.SACN_PORT)
        assert client.stdin is not None
        stdin = client.stdin
        sequence = 0

        def send(terminated: bool = False) -> None:
            nonlocal sequence
            packet = sacn.DataPacket(
                cid=MERGE_CID,
                source_name=MERGE_SOURCE_NAME,
                universe=universe,
                data=OUR_SLOTS,
                priority=priority,
                sequence=sequence,
                stream_terminated=terminated,
            )
            sock.sendto(packet.to_bytes(), group)
            sequence = sacn.next_sequence(sequence)

        def run() -> None:
            ticks = 0
            try:
                while not stop.is_set():
                    send()
                    if ticks % round(POKE_PERIOD_S / SEND_PERIOD_S) == 0:
                        stdin.write(OLAD_SLOTS + "\n")
                        stdin.flush()
                    ticks += 1
                    stop.wait(SEND_PERIOD_S)
            except BaseException as exc:  # reported by the test, not lost in the thread
                errors.append(exc)

        thread = threading.Thread(target=run, name="merge-feeder", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)
            for _ in range(3):
                send(terminated=True)
    if errors:
        raise AssertionError(f"feeding universe {universe} failed: {errors[0]!r}")


def receive_merge(ns: NetNs, universe: int, sources: int) -> dict[str, Any]:
    """Run `merge_receiver` in `ns` until `sources` sources are live; its JSON report."""
    args = ["--universe", str(universe), "--interface", PEER_ADDRESS, "--sources", str(sources)]
    with sender(ns, "merge_receiver", *args, "--timeout", str(RECEIVE_TIMEOUT_S)) as run:
        return run.finish(timeout=RECEIVE_TIMEOUT_S + 15)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The reported sources keyed "olad" (name "<host>-OLA Server") or "ours"."""
    named: dict[str, dict[str, Any]] = {}
    for source in report["sources"]:
        if source["name"] == MERGE_SOURCE_NAME:
            named["ours"] = source
        elif source["name"].endswith("OLA Server"):
            named["olad"] = source
    return named


@pytest.mark.parametrize(
    ("priority", "expected", "winning_sources"),
    [
        pytest.param(100, [7, 20, 9], {"olad", "ours"}, id="htp-equal-priority"),
        pytest.param(150, [1, 20, 3], {"ours"}, id="higher-priority-overrides-olad"),
    ],
)
def test_olad_sacn_merges_with_a_second_source(
    netns: NetNs, olad: Olad, priority: int, expected: list[int], winning_sources: set[str]
) -> None:
    universe = OLA_SACN_OUTPUT_UNIVERSE
    with feeding(netns, olad, universe, priority):
        report = receive_merge(netns, universe, sources=2)
    assert not report["timed_out"], f"two sources never became live:\n{report}\n{olad.log_tail()}"
    assert report["receiver"]["healthy"], report["receiver"]
    assert report["receiver"]["malformed"] == 0, report["receiver"]
    assert report["active"]
    sources = by_name(report)
    assert set(sources) == {"olad", "ours"}, report["sources"]
    assert len(report["sources"]) == 2, report["sources"]
    assert sources["olad"]["priority"] == 100
    assert sources["olad"]["address"] == OLAD_ADDRESS
    assert sources["olad"]["slot_count"] == 3  # olad sends the universe unpadded
    assert sources["ours"]["priority"] == priority
    assert sources["ours"]["cid"] == str(uuid.UUID(bytes=MERGE_CID))
    assert report["winning_priority"] == max(100, priority)
    contributing = {key for key, source in sources.items() if source["contributing"]}
    assert contributing == winning_sources
    assert report["slots"] == expected
    counters = report["counters"]
    assert counters["sources_added"] == 2, counters
    assert counters["packets_accepted"] >= 2, counters
    assert counters["dropped_sources_full"] == 0, counters
    assert counters["dropped_wrong_universe"] == 0, counters
