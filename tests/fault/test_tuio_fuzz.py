"""A flood of junk at a touch surface's UDP port, time-boxed (`TROCADERO_FUZZ_SECONDS`,
default 40 s, of which this takes a quarter): random bytes, valid TUIO bundles with bytes
flipped, truncated or with garbage appended, hostile sizes and depths. The frame clock never
stops, nothing is contained, the listener never crashes, every bad datagram is counted and
the log says so once per source (not once per datagram), and a good frame after the flood
still lands."""

from __future__ import annotations

import os
import random
import socket
import struct
import time
from pathlib import Path

from tests.daemon_harness import running_daemon
from tests.ports import free_port
from tests.tuio_sender import cursor_frame, osc_bundle, osc_message

SECONDS = float(os.environ.get("TROCADERO_FUZZ_SECONDS", "40")) / 4


def junk(rng: random.Random) -> bytes:
    good = cursor_frame(rng.randrange(1, 1000), [(rng.randrange(100), 0.5, 0.5)])
    choice = rng.randrange(6)
    if choice == 0:
        return rng.randbytes(rng.randrange(1, 600))
    if choice == 1:
        data = bytearray(good)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if choice == 2:
        return good[: rng.randrange(1, len(good))]
    if choice == 3:
        return good + rng.randbytes(rng.randrange(1, 9))
    if choice == 4:  # bundles nested past any sane depth
        nested = osc_message("/tuio/2Dcur", ["fseq", 1])
        for _ in range(rng.randrange(5, 40)):
            nested = osc_bundle([nested])
        return nested
    # An alive list of thousands of sessions, or a bundle element claiming 2 GB.
    if rng.random() < 0.5:
        return osc_message("/tuio/2Dcur", ["alive", *range(rng.randrange(300, 2000))])
    return b"#bundle\x00" + bytes(8) + struct.pack(">i", 0x7FFFFFF0) + bytes(8)


def test_a_junk_flood_never_stops_the_clock(tmp_path: Path) -> None:
    seed = int(os.environ.get("TROCADERO_FUZZ_SEED", "1"))
    rng = random.Random(seed)
    port = free_port()
    extra = f'[[touch.surfaces]]\nname = "panel"\ncanvas = "stairs"\nport = {port}\n'
    with (
        running_daemon(tmp_path, extra) as d,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        d.wait_healthy()
        before = d.health()
        frames, sent = before["clock"]["frames_sent"], 0
        end = time.monotonic() + SECONDS
        next_check = time.monotonic() + 0.5
        while time.monotonic() < end:
            tx.sendto(junk(rng), ("127.0.0.1", port))
            sent += 1
            if time.monotonic() >= next_check:  # the clock goes on during the flood
                h = d.health()
                assert h["status"] == "ok", h["clock"]
                assert h["clock"]["frames_sent"] > frames, h["clock"]
                frames = h["clock"]["frames_sent"]
                next_check = time.monotonic() + 0.5
        tx.sendto(cursor_frame(5000, [(77, 0.5, 0.5)]), ("127.0.0.1", port))
        deadline = time.monotonic() + 5
        touches: list[dict[str, object]] = []
        while time.monotonic() < deadline and not any(t["session"] == 77 for t in touches):
            touches = d.get("/api/touch").json()["surfaces"][0]["touches"]
            time.sleep(0.05)
        assert any(t["session"] == 77 for t in touches), touches
        h = d.health()
        print(f"seed {seed}: {sent} datagrams in {SECONDS:g} s; touch {h['touch']}")
        assert h["containment"]["total"] == before["containment"]["total"]
        touch = h["subsystems"]["touch"]  # keyed by name
        assert (touch["state"], touch["crashes"]) == ("running", 0), touch
        assert h["touch"]["malformed"] > sent / 4  # most of the junk was seen as such
        assert h["touch"]["datagrams"] <= sent + 1
        log = d.log()
        assert log.count("malformed TUIO datagram ignored") == 1  # one source, one line a minute
        assert d.stop()[0] == 0
