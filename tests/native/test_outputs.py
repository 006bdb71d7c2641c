"""Network outputs of the native output thread, received on 127.0.0.1 and decoded with the
sans-IO codecs (the oracle): every datagram must decode and equal what the Python builders
produce for the same fields.

Behaviour only: timing windows are generous (shared, loaded machines).
"""

from __future__ import annotations

import errno
import os
import re
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import trocadero_rt

from trocadero.protocols import artnet, ddp, sacn

RATE_HZ = 44.0
CID = uuid.UUID("6f1c4a52-7d0e-4c1b-9a6e-3b2f0c5d8e71").bytes
SO_RCVBUFFORCE = 33  # Linux; lets root go past net.core.rmem_max
IP_FREEBIND = 15


Receivers = Callable[[], socket.socket]


@pytest.fixture
def receiver() -> Iterator[Receivers]:
    """Factory of UDP sockets on ephemeral 127.0.0.1 ports with large receive buffers."""
    opened: list[socket.socket] = []

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        opened.append(sock)
        for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, 8 << 20)
                break
            except OSError:
                continue
        sock.bind(("127.0.0.1", 0))
        return sock

    yield make
    for sock in opened:
        sock.close()


def dest(sock: socket.socket) -> str:
    host, port = sock.getsockname()
    return f"{host}:{port}"


def drain(sock: socket.socket, quiet_s: float = 0.2) -> list[bytes]:
    """Everything queued on `sock`, until it has been quiet for `quiet_s`."""
    got = []
    sock.settimeout(quiet_s)
    try:
        while True:
            got.append(sock.recv(2048))
    except TimeoutError:
        pass
    return got


def receive_for(sock: socket.socket, seconds: float) -> list[tuple[float, bytes]]:
    """(monotonic arrival time, datagram) for `seconds`."""
    got = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(2048)
        except TimeoutError:
            break
        got.append((time.monotonic(), data))
    return got


def known_frame(universes: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, universes * 512, dtype=np.uint8)


def slots(frame: np.ndarray, index: int, count: int = 512) -> bytes:
    return bytes(frame[index * 512 : index * 512 + count])


@contextmanager
def running(clock: trocadero_rt.FrameClock) -> Iterator[trocadero_rt.FrameClock]:
    clock.start()
    try:
        yield clock
    finally:
        clock.stop()


def test_sacn_and_artnet_unicast_packets_decode_and_match_the_builders(receiver: Receivers) -> None:
    rx_sacn, rx_art = receiver(), receiver()
    frame = known_frame(4)
    clock = trocadero_rt.FrameClock(RATE_HZ, frame.nbytes)
    sacn_map = [(0, 1), (2, 300), (1, 63999)]
    art_map = [
        (3, artnet.port_address(net=2, subnet=5, universe=9)),
        (1, artnet.port_address(net=0x7F, subnet=0xF, universe=0xF)),
    ]
    sacn_id = clock.add_output(
        protocol="sacn",
        universes=sacn_map,
        destinations=[dest(rx_sacn)],
        cid=CID,
        priority=150,
        source_name="Trocadero façade",
        sync_address=7,
    )
    art_id = clock.add_output(
        protocol="artnet", universes=art_map, destinations=[dest(rx_art)], cid=CID, sync_address=1
    )
    clock.publish(frame)
    with running(clock):
        time.sleep(0.5)
        assert clock.output_stats(sacn_id).healthy
    got_sacn, got_art = drain(rx_sacn), drain(rx_art)
    clock_stats = clock.stats()
    s_stats, a_stats = clock.output_stats(sacn_id), clock.output_stats(art_id)
    assert s_stats.protocol == "sacn"
    assert a_stats.protocol == "artnet"

    # --- sACN: [data x3, sync] per frame, then 3 stream-terminated packets per universe.
    decoded = [sacn.decode_sacn(d) for d in got_sacn]
    frames = s_stats.frames_sent
    assert frames >= 10
    assert frames <= clock_stats.frames_sent
    assert len(decoded) == 4 * frames + 3 * len(sacn_map)
    assert s_stats.packets_sent == len(decoded)
    assert s_stats.bytes_sent == sum(len(d) for d in got_sacn)
    seqs: dict[int, list[int]] = defaultdict(list)
    sync_seqs = []
    for k in range(frames):
        group = decoded[4 * k : 4 * k + 4]
        for (index, universe), packet in zip(sacn_map, group[:3], strict=True):
            assert isinstance(packet, sacn.SacnData)
            assert packet.universe == universe
            assert packet.data == slots(frame, index)
            assert (packet.cid, packet.source_name, packet.priority) == (
                CID,
                "Trocadero façade",
                150,
            )
            assert packet.sync_address == 7
            assert not packet.stream_terminated
            seqs[universe].append(packet.sequence)
        sync = group[3]
        assert isinstance(sync, sacn.SacnSync), "the sync packet follows the frame's data"
        assert (sync.cid, sync.sync_address) == (CID, 7)
        sync_seqs.append(sync.sequence)
    for universe, found in seqs.items():
        assert found == [(found[0] + i) % 256 for i in range(frames)], universe
    assert sync_seqs == [(sync_seqs[0] + i) % 256 for i in range(frames)]
    # Byte-identical to the Python builder for the same fields.
    for datagram, packet in zip(got_sacn, decoded, strict=True):
        assert packet.to_bytes() == datagram
    terminated = decoded[4 * frames :]
    per_universe: dict[int, list[int]] = defaultdict(list)
    for packet in terminated:
        assert isinstance(packet, sacn.SacnData)
        assert packet.stream_terminated
        per_universe[packet.universe].append(packet.sequence)
    assert {u: len(s) for u, s in per_universe.items()} == {u: 3 for _, u in sacn_map}
    for universe, found in per_universe.items():
        last = seqs[universe][-1]
        assert found == [(last + i) % 256 for i in (1, 2, 3)]

    # --- Art-Net: [ArtDmx x2, ArtSync] per frame; sequence 1..255 per Port-Address.
    decoded_art = [artnet.decode_artnet(d) for d in got_art]
    frames = a_stats.frames_sent
    assert len(decoded_art) == 3 * frames
    art_seqs: dict[int, list[int]] = defaultdict(list)
    for k in range(frames):
        art_group = decoded_art[3 * k : 3 * k + 3]
        for (index, port_address), dmx in zip(art_map, art_group[:2], strict=True):
            assert isinstance(dmx, artnet.ArtDmx)
            assert dmx.port_address == port_address
            assert dmx.data == slots(frame, index)
            art_seqs[port_address].append(dmx.sequence)
        assert isinstance(art_group[2], artnet.ArtSync), "ArtSync follows the frame's ArtDmx"
    first = decoded_art[0]
    assert isinstance(first, artnet.ArtDmx)
    assert (first.net, first.sub_uni) == (2, 0x59)  # Net 2, Sub-Net 5, Universe 9
    for found in art_seqs.values():
        assert found[0] == 1
        assert found == [(found[0] - 1 + i) % 255 + 1 for i in range(frames)]
    for datagram, art_packet in zip(got_art, decoded_art, strict=True):
        assert art_packet.to_bytes() == datagram


def test_ddp_packets_match_frame_packets(receiver: Receivers) -> None:
    rx = receiver()
    frame = known_frame(3, seed=3)
    clock = trocadero_rt.FrameClock(RATE_HZ, frame.nbytes)
    out = clock.add_output(
        protocol="ddp",
        universes=[(i, i * 510) for i in range(3)],
        destinations=[dest(rx)],
        cid=CID,
        slots=510,
    )
    clock.publish(frame)
    with running(clock):
        time.sleep(0.3)
    got = drain(rx)
    stats = clock.output_stats(out)
    assert stats.packets_per_frame == 2  # 1530 bytes: 1440 + 90
    assert len(got) == 2 * stats.frames_sent
    device = b"".join(slots(frame, i, 510) for i in range(3))
    for k in range(stats.frames_sent):
        pair = got[2 * k : 2 * k + 2]
        sequence = ddp.decode_ddp(pair[0]).sequence
        assert sequence == k % 15 + 1
        expected = ddp.frame_packets(device, sequence=sequence)
        assert [p.to_bytes() for p in expected] == pair
        assert [ddp.decode_ddp(p).push for p in pair] == [False, True]


def test_send_on_change_resends_unchanged_data_about_once_a_second(receiver: Receivers) -> None:
    rx = receiver()
    frame = known_frame(1)
    clock = trocadero_rt.FrameClock(RATE_HZ, frame.nbytes)
    out = clock.add_output(
        protocol="sacn", universes=[(0, 5)], destinations=[dest(rx)], cid=CID, send_on_change=True
    )
    clock.publish(frame)
    with running(clock):
        got = receive_for(rx, 2.6)
        frames_run = clock.stats().frames_sent
        changed = frame.copy()
        changed[100] ^= 0xFF
        clock.publish(changed)
        after = receive_for(rx, 0.5)
    # The change + 3 repeats, then keep-alives at ~1 s and ~2 s, not one per frame.
    assert frames_run >= 60
    assert 5 <= len(got) <= 8, [round(t - got[0][0], 3) for t, _ in got]
    keepalives = [t for t, _ in got[4:]]
    gaps = np.diff([got[3][0], *keepalives])
    assert all(0.7 <= g <= 1.3 for g in gaps), gaps
    packets = [sacn.decode_sacn(d) for _, d in got + after]
    assert all(isinstance(p, sacn.SacnData) and p.data == slots(frame, 0) for p in packets[:-4])
    # The changed frame goes out at once, then 3 more times.
    changed_packets = [
        p for p in packets if isinstance(p, sacn.SacnData) and p.data[100] != frame[100]
    ]
    assert len(changed_packets) == 4
    assert all(p.data == slots(changed, 0) for p in changed_packets)
    seqs = [p.sequence for p in packets if isinstance(p, sacn.SacnData)]
    assert seqs == [(seqs[0] + i) % 256 for i in range(len(seqs))]
    stats = clock.output_stats(out)
    assert stats.healthy
    assert stats.frames_sent >= frames_run


def test_rate_hz_22_on_a_44_hz_clock_sends_every_other_frame(receiver: Receivers) -> None:
    rx = receiver()
    frame = known_frame(1)
    clock = trocadero_rt.FrameClock(RATE_HZ, frame.nbytes)
    out = clock.add_output(
        protocol="artnet", universes=[(0, 0x0210)], destinations=[dest(rx)], cid=CID, rate_hz=22
    )
    clock.publish(frame)
    with running(clock):
        time.sleep(0.6)
    got = [artnet.decode_artnet(d) for d in drain(rx)]
    stats = clock.output_stats(out)
    clock_frames = clock.stats().frames_sent
    assert stats.frames_sent >= 8
    assert abs(stats.frames_sent - stats.frames_skipped_by_rate) <= 1
    assert stats.frames_sent + stats.frames_skipped_by_rate == clock_frames
    assert len(got) == stats.frames_sent == stats.packets_sent
    assert [p.sequence for p in got] == list(range(1, len(got) + 1))  # type: ignore[union-attr]


def _unroutable_source() -> tuple[str, int]:
    """An address not on this host, and the errno sending from it gives (checked for real)."""
    address = "198.51.100.7"  # TEST-NET-2
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
        probe.bind((address, 0))
        probe.sendto(b"probe", ("127.0.0.1", 9))
    except OSError as exc:
        return address, exc.errno or 0
    finally:
        probe.close()
    pytest.fail(f"{address} is configured on this host: the failure test needs it not to be")


def test_unreachable_output_fails_while_other_outputs_and_the_clock_go_on(
    receiver: Receivers,
) -> None:
    source, expected_errno = _unroutable_source()
    assert expected_errno in (errno.ENETUNREACH, errno.EINVAL, errno.EADDRNOTAVAIL)
    missing_if = "trocnone0"
    with pytest.raises(OSError, match="no interface with this name"):
        socket.if_nametoindex(missing_if)  # the interface really does not exist
    rx_good, rx_bad = receiver(), receiver()
    frame = known_frame(2)
    clock = trocadero_rt.FrameClock(RATE_HZ, frame.nbytes)
    pairs = [(0, 1), (1, 2)]
    bad = clock.add_output(
        protocol="sacn", universes=pairs, cid=CID, destinations=[dest(rx_bad)], bind_address=source
    )
    gone = clock.add_output(
        protocol="sacn", universes=pairs, cid=CID, destinations=[dest(rx_bad)], interface=missing_if
    )
    good = clock.add_output(protocol="sacn", universes=pairs, cid=CID, destinations=[dest(rx_good)])
    clock.publish(frame)
    with running(clock):
        time.sleep(0.4)
        first = clock.output_stats(good).frames_sent, clock.stats().frames_sent
        time.sleep(0.4)
        bad_stats, gone_stats = clock.output_stats(bad), clock.output_stats(gone)
        good_stats, clock_stats = clock.output_stats(good), clock.stats()
    assert good_stats.frames_sent > first[0]
    assert clock_stats.frames_sent > first[1]
    assert good_stats.healthy
    assert good_stats.send_errors == 0
    assert bad_stats.state == "failing"
    assert not bad_stats.healthy
    assert bad_stats.last_error is not None
    assert bad_stats.last_error.startswith(f"send to {dest(rx_bad)} failed: ")
    assert os.strerror(expected_errno) in bad_stats.last_error
    assert f"bind_address {source}" in bad_stats.last_error
    assert bad_stats.state_changes == 1, "one state change to log, however many frames fail"
    assert bad_stats.packets_sent == 0
    assert bad_stats.frames_sent == 0
    assert bad_stats.send_errors >= 2 * 10
    assert gone_stats.state == "failing"
    assert gone_stats.last_error == (
        f'interface "{missing_if}" unavailable: No such device (os error 19); retrying every second'
    )
    assert (gone_stats.state_changes, gone_stats.packets_sent) == (1, 0)
    # Nothing from the failing outputs arrived; the good one sent every frame + 6 terminated.
    assert drain(rx_bad) == []
    assert len(drain(rx_good)) == 2 * good_stats.frames_sent + 6


def test_stop_sends_exactly_three_stream_terminated_packets_per_universe(
    receiver: Receivers,
) -> None:
    rx = receiver()
    frame = known_frame(3)
    clock = trocadero_rt.FrameClock(RATE_HZ, frame.nbytes)
    clock.add_output(
        protocol="sacn", universes=[(0, 4000), (1, 1), (2, 256)], destinations=[dest(rx)], cid=CID
    )
    clock.publish(frame)
    with running(clock):
        time.sleep(0.2)
    packets = [sacn.decode_sacn(d) for d in drain(rx)]
    terminated = [p for p in packets if isinstance(p, sacn.SacnData) and p.stream_terminated]
    assert sorted(p.universe for p in terminated) == [1] * 3 + [256] * 3 + [4000] * 3
    assert packets[-9:] == terminated, "the terminated packets are the last ones"
    assert all(p.data == slots(frame, i) for i, p in zip([0, 1, 2] * 3, terminated, strict=True))


def test_the_sacn_package_receiver_accepts_our_packets() -> None:
    peer = pytest.importorskip("sacn")
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    received: dict[int, tuple[int, ...]] = {}
    receiver_peer = peer.sACNreceiver(bind_address="127.0.0.1", bind_port=port)
    for universe in (1, 300):

        def on_packet(packet: object, universe: int = universe) -> None:
            received[universe] = tuple(packet.dmxData)  # type: ignore[attr-defined]

        receiver_peer.register_listener("universe", on_packet, universe=universe)
    receiver_peer.start()
    try:
        frame = known_frame(2)
        clock = trocadero_rt.FrameClock(RATE_HZ, frame.nbytes)
        clock.add_output(
            protocol="sacn",
            universes=[(0, 1), (1, 300)],
            destinations=[f"127.0.0.1:{port}"],
            cid=CID,
        )
        clock.publish(frame)
        with running(clock):
            deadline = time.monotonic() + 5
            while len(received) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        receiver_peer.stop()
    assert received == {1: tuple(slots(frame, 0)), 300: tuple(slots(frame, 1))}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocol": "osc"}, "protocol must be 'sacn', 'artnet' or 'ddp'"),
        ({"universes": []}, "universes must not be empty"),
        ({"universes": [(2, 1)]}, "universes[0]: frame index 2 is outside the frame"),
        ({"universes": [(-1, 1)]}, "universes[0]: frame index must not be negative"),
        ({"universes": [(0, 0)]}, "universes[0]: sACN universe 0 out of range 1..63999"),
        ({"universes": [(0, 1), (1, 1)]}, "universes[1]: sACN universe 1 is already sent"),
        ({"protocol": "artnet", "universes": [(0, 0x8000)]}, "Port-Address 32768 out of range"),
        ({"protocol": "artnet", "destinations": []}, "destinations must not be empty for artnet"),
        ({"broadcast": True}, "broadcast is only for artnet"),
        ({"cid": b"short"}, "cid must be 16 bytes (got 5)"),
        ({"destinations": ["localhost"]}, "destinations[0]: "),
        ({"destinations": ["10.0.0.1:99999"]}, "destinations[0]: "),
        ({"bind_address": "fe80::1"}, "bind_address must be an IPv4 address"),
        ({"interface": "x" * 16}, "interface must be a network interface name"),
        ({"multicast_ttl": 256}, "multicast_ttl must be between 0 and 255 (got 256)"),
        ({"priority": 201}, "priority must be between 0 and 200 (got 201)"),
        ({"source_name": "x" * 64}, "source_name must be at most 63 UTF-8 bytes"),
        ({"sync_address": 64000}, "sync_address must be between 0 and 63999"),
        (
            {
                "protocol": "ddp",
                "universes": [(0, 0)],
                "destinations": ["127.0.0.1"],
                "sync_address": 1,
            },
            "sync_address must be 0 for ddp",
        ),
        ({"protocol": "ddp", "universes": [(0, 0), (1, 500)]}, "DDP bytes overlap universes[0]"),
        ({"rate_hz": 0.0}, "rate_hz must be None or at least 1 Hz"),
        ({"keepalive_s": 3.0}, "keepalive_s must be between 0.01 and 2 s for sacn"),
        ({"pace_every": 1}, "pace_every and pace_us must both be 0"),
        ({"pace_every": 1, "pace_us": 20000}, "pacing needs"),
        ({"slots": 0}, "slots must be between 1 and 512"),
    ],
)
def test_invalid_output_arguments_raise_value_error(
    kwargs: dict[str, object], message: str
) -> None:
    clock = trocadero_rt.FrameClock(RATE_HZ, 2 * 512)
    args: dict[str, object] = {
        "protocol": "sacn",
        "universes": [(0, 1), (1, 2)],
        "cid": CID,
        "destinations": ["127.0.0.1:5568"],
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        clock.add_output(**args)  # type: ignore[arg-type]


def test_outputs_only_before_start_and_unknown_ids() -> None:
    clock = trocadero_rt.FrameClock(RATE_HZ, 512)
    with (
        running(clock),
        pytest.raises(RuntimeError, match=r"outputs must be added before start\(\)"),
    ):
        clock.add_output(protocol="sacn", universes=[(0, 1)], cid=CID)
    with pytest.raises(ValueError, match="output_id 0 is not an output of this clock"):
        clock.output_stats(0)


def test_thread_cpu_time_is_reported(receiver: Receivers) -> None:
    rx = receiver()
    clock = trocadero_rt.FrameClock(RATE_HZ, 512)
    clock.add_output(protocol="sacn", universes=[(0, 1)], destinations=[dest(rx)], cid=CID)
    assert clock.stats().thread_cpu_ns == 0
    with running(clock):
        time.sleep(0.2)
    stats = clock.stats()
    assert 0 < stats.thread_cpu_ns < 200_000_000
    assert "thread_cpu_ns=" in repr(stats)
