"""Hostile heartbeats (issue 19): a node of a pair, alone with its PostgreSQL, gets a stream
of junk and mutated heartbeats on its heartbeat port (random bytes, truncations, bit flips,
forged leaders with huge epochs, forged handovers). Each costs a decode and a counter: the
frame clock goes on, the pair's task never crashes, the node keeps leading (a heartbeat
never overrules the lease), and every datagram is counted as what the codec says it is."""

from __future__ import annotations

import os
import random
import socket
import time
from pathlib import Path

from tests.daemon_harness import running_daemon
from tests.ha_pair import SHOW
from tests.ports import free_udp_port
from trocadero.protocols.ha_heartbeat import Heartbeat, HeartbeatError, Role, decode_heartbeat

SECONDS = float(os.environ.get("TROCADERO_FUZZ_SECONDS", "40")) / 4


def _case(rng: random.Random) -> bytes:
    valid = Heartbeat(
        rng.choice(["b", "peer", "a"]),
        rng.choice([0, 1, 2**63, 2**64 - 1]),
        rng.choice(list(Role)),
        rng.randrange(2**32),
        rng.randrange(2**64),
    ).to_bytes()
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 120))
    if kind == 1:
        return valid[: rng.randrange(len(valid))]
    if kind == 2:
        return valid + rng.randbytes(rng.randrange(1, 8))
    if kind == 3:
        flipped = bytearray(valid)
        for _ in range(rng.randrange(1, 4)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        return bytes(flipped)
    return valid  # forged but well-formed: leaders with huge epochs, handovers


def _valid(datagram: bytes) -> bool:
    try:
        return decode_heartbeat(datagram).node != "a"  # its own name is refused too
    except HeartbeatError:
        return False


def test_hostile_heartbeats_cost_nothing(tmp_path: Path, postgres_dsn: str) -> None:
    seed = int(os.environ.get("TROCADERO_FUZZ_SEED", "1"))
    rng = random.Random(seed)
    show = tmp_path / "show.toml"
    show.write_text(SHOW)
    bind = free_udp_port()  # the heartbeat socket is UDP
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    extra = (
        f'[show]\npath = "{show}"\n'
        f'[storage]\nbackend = "postgres"\npostgres_dsn = "{postgres_dsn}"\n'
        f'[ha]\nnode_name = "a"\nbind = "127.0.0.1:{bind}"\n'
        f'peer = "127.0.0.1:{peer.getsockname()[1]}"\nrole_preference = "primary"\n'
    )
    with running_daemon(tmp_path, extra) as d:
        d.wait_healthy()
        deadline = time.monotonic() + 5
        while d.health()["ha"]["role"] != "leader":
            assert time.monotonic() < deadline, d.health()["ha"]
            time.sleep(0.05)
        before = d.health()
        sent = valid = 0
        end = time.monotonic() + SECONDS
        while time.monotonic() < end:
            for _ in range(20):
                datagram = _case(rng)
                peer.sendto(datagram, ("127.0.0.1", bind))
                sent += 1
                valid += _valid(datagram)
            time.sleep(0.02)  # ~1000 a second
        time.sleep(0.5)
        after = d.health()
    peer.close()
    ha = after["ha"]
    print(f"\nseed {seed}: {sent} datagrams, {valid} well-formed, {ha}")
    assert after["status"] == "ok"
    frames = after["clock"]["frames_sent"] - before["clock"]["frames_sent"]
    assert frames > 0.8 * 44 * SECONDS  # the clock went on
    assert after["subsystems"]["ha"]["crashes"] == 0
    assert (ha["role"], ha["leading"], ha["takeovers"], ha["fences"]) == ("leader", True, 1, 0)
    assert ha["heartbeats_received"] - before["ha"]["heartbeats_received"] == valid
    assert ha["heartbeats_junk"] - before["ha"]["heartbeats_junk"] == sent - valid
