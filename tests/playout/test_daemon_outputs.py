"""The daemon puts the rendered show on the wire: decoded with our codecs, exact values."""

from __future__ import annotations

import dataclasses
import itertools
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.daemon_harness import running_daemon
from trocadero.protocols.artnet import ArtDmx, decode_artnet
from trocadero.protocols.sacn import DataPacket, DiscoveryPacket, decode_sacn

# Two universes' worth of a 1-row canvas, solid #ff8000 through a gamma-1.0 type:
# slots per pixel (255, 128, 0); the strip starts at universe 300 to test numbers > 255.
SHOW = """
name = "wire test"
[[canvases]]
name = "c"
width = 200
height = 1
[[fixture_types]]
name = "linear"
gamma = 1.0
[[fixtures]]
name = "strip"
canvas = "c"
type = "linear"
pixels = 200
universe = 300
[[idle]]
canvas = "c"
[[idle.layers]]
source = "solid"
params = { colour = "#ff8000" }
"""


@contextmanager
def udp_listener() -> Iterator[tuple[socket.socket, int]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    try:
        yield sock, sock.getsockname()[1]
    finally:
        sock.close()


def receive(sock: socket.socket, seconds: float) -> list[bytes]:
    got: list[bytes] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            got.append(sock.recv(2048))
        except TimeoutError:
            pass
    return got


def test_rendered_show_goes_out_as_sacn_and_artnet(tmp_path: Path) -> None:
    show = tmp_path / "show.toml"
    show.write_text(SHOW)
    with udp_listener() as (sacn_sock, sacn_port), udp_listener() as (art_sock, art_port):
        extra = (
            f'[show]\npath = "{show}"\n'
            f'[[outputs]]\nname = "s"\nprotocol = "sacn"\nuniverses = "300-301"\n'
            f'destinations = ["127.0.0.1:{sacn_port}"]\npriority = 150\nsource_name = "Troc test"\n'
            f'[[outputs]]\nname = "a"\nprotocol = "artnet"\nuniverses = "300"\n'
            f'wire_offset = {0x0123 - 299}\ndestinations = ["127.0.0.1:{art_port}"]\n'
        )
        with running_daemon(tmp_path, extra) as d:
            health = d.wait_healthy()
            assert [o["name"] for o in health["outputs"]] == ["s", "a"]
            sacn = [decode_sacn(p) for p in receive(sacn_sock, 0.6)]
            art = [decode_artnet(p) for p in receive(art_sock, 0.3)]
            assert d.stop()[0] == 0
            after = [decode_sacn(p) for p in receive(sacn_sock, 0.3)]
        cid_file = tmp_path / "state" / "cid" / "s.uuid"
        assert cid_file.exists()

    data = [p for p in sacn if isinstance(p, DataPacket)]
    assert {p.universe for p in data} == {300, 301}
    # E1.31 universe discovery goes out at start (then every 10 s) with the same CID.
    (discovery,) = [p for p in sacn if isinstance(p, DiscoveryPacket)]
    assert tuple(discovery.universes) == (300, 301)
    assert discovery.cid == data[0].cid
    first = next(p for p in data if p.universe == 300)
    assert first.priority == 150
    assert first.source_name == "Troc test"
    # 170 whole RGB pixels per universe (510 usable slots), slots 511-512 unused.
    assert bytes(first.data[:6]) == bytes([255, 128, 0, 255, 128, 0])
    assert bytes(first.data[507:512]) == bytes([255, 128, 0, 0, 0])
    second = next(p for p in data if p.universe == 301)
    assert bytes(second.data[:90]) == bytes([255, 128, 0]) * 30  # pixels 171-200
    assert not any(second.data[90:])
    seqs = [p.sequence for p in data if p.universe == 300]
    assert all((b - a) % 256 == 1 for a, b in itertools.pairwise(seqs))

    dmx = [p for p in art if isinstance(p, ArtDmx)]
    assert dmx
    assert {p.port_address for p in dmx} == {0x0123}
    assert bytes(dmx[0].data[:3]) == bytes([255, 128, 0])

    terminated = [p for p in after if isinstance(p, DataPacket) and p.stream_terminated]
    assert sorted(p.universe for p in terminated) == [300, 300, 300, 301, 301, 301]
    assert all(p.cid == first.cid for p in terminated)


def test_unreachable_output_never_stops_the_clock(tmp_path: Path) -> None:
    extra = (
        '[[outputs]]\nname = "gone"\nprotocol = "artnet"\nuniverses = "1"\n'
        'bind_address = "192.0.2.77"\ndestinations = ["127.0.0.1"]\n'
    )
    with running_daemon(tmp_path, extra) as d:
        first = d.wait_healthy()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            health = d.health()
            if health["outputs"][0]["state"] == "failing":
                break
            time.sleep(0.1)
        assert health["outputs"][0]["state"] == "failing", health["outputs"]
        assert health["outputs"][0]["last_error"]
        assert health["clock"]["frames_sent"] > first["clock"]["frames_sent"]
        assert health["status"] == "ok"
        deadline = time.monotonic() + 5
        while "output failing; retrying" not in d.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # ~66 more failing frames: still one line (once per state change)
        assert d.stop()[0] == 0
        assert d.log().count("output failing; retrying") == 1


def test_console_input_takes_over_a_universe_then_releases(tmp_path: Path) -> None:
    show = tmp_path / "show.toml"
    show.write_text(SHOW)
    console = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with udp_listener() as (out_sock, out_port), udp_listener() as (probe, in_port):
        probe.close()  # reserve a free port number for the daemon's sACN input
        extra = (
            f'[show]\npath = "{show}"\n'
            f'[[outputs]]\nname = "s"\nprotocol = "sacn"\nuniverses = "300"\n'
            f'destinations = ["127.0.0.1:{out_port}"]\n'
            f'[[inputs]]\nprotocol = "sacn"\nuniverses = [300]\nbind_address = "127.0.0.1"\n'
            f'port = {in_port}\nmode = "takeover"\n'
        )
        with running_daemon(tmp_path, extra) as d:
            d.wait_healthy()
            packet = DataPacket(
                cid=bytes(range(16)),
                source_name="console",
                priority=100,
                sequence=0,
                universe=300,
                data=bytes([9, 8, 7]),
            )
            end = time.monotonic() + 0.8
            seq = 0
            while time.monotonic() < end:  # a console sends continuously
                seq = (seq + 1) % 256
                console.sendto(
                    dataclasses.replace(packet, sequence=seq).to_bytes(),
                    ("127.0.0.1", in_port),
                )
                time.sleep(0.02)
            taken = [decode_sacn(p) for p in receive(out_sock, 0.2)]
            health = d.health()
            time.sleep(3.0)  # silent > 2.5 s: the console source times out
            receive(out_sock, 0.1)
            released = [decode_sacn(p) for p in receive(out_sock, 0.3)]
            assert d.stop()[0] == 0
    console.close()
    live = [p for p in taken if isinstance(p, DataPacket) and not p.stream_terminated]
    assert bytes(live[-1].data[:6]) == bytes([9, 8, 7, 0, 0, 0])
    assert health["inputs"] is not None
    back = [p for p in released if isinstance(p, DataPacket) and not p.stream_terminated]
    assert bytes(back[-1].data[:6]) == bytes([255, 128, 0, 255, 128, 0])


def test_artnet_nodes_discovered_by_the_daemon(tmp_path: Path) -> None:
    from tests.playout.test_artnet_nodes import node_reply
    from trocadero.protocols.artnet import ArtPoll

    node = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    node.bind(("127.0.0.1", 0))
    node.settimeout(0.2)
    port = node.getsockname()[1]
    extra = (
        f'[artnet_discovery]\nenabled = true\npoll_targets = ["127.0.0.1"]\nport = {port}\n'
        "interval_s = 1.0\n"
    )
    polls = 0
    with running_daemon(tmp_path, extra) as d:
        d.wait_healthy()
        end = time.monotonic() + 8
        nodes: list[dict[str, object]] = []
        while time.monotonic() < end and not nodes:
            try:
                data, sender = node.recvfrom(2048)
            except TimeoutError:
                continue
            if isinstance(decode_artnet(data), ArtPoll):  # answer like a pixel controller
                polls += 1
                node.sendto(node_reply().to_bytes(), sender)
                time.sleep(0.1)
                nodes = d.get("/api/artnet/nodes").json()["nodes"]
        health = d.health()
        assert d.stop()[0] == 0
    node.close()
    assert polls >= 1
    (found,) = nodes
    assert found["short_name"] == "FakeNode"
    assert [o["port_address"] for o in found["outputs"]] == [0x0123, 0x0124]  # type: ignore[attr-defined]
    assert health["artnet_discovery"]["polls_sent"] >= 1


def test_artnet_nodes_endpoint_says_when_disabled(tmp_path: Path) -> None:
    with running_daemon(tmp_path) as d:
        d.wait_healthy()
        response = d.get("/api/artnet/nodes")
        assert response.status_code == 404
        assert "disabled" in response.json()["error"]
        assert d.stop()[0] == 0


def test_serial_outputs_carry_the_rendered_universe(tmp_path: Path) -> None:
    """Enttec DMX USB Pro and Open DMX on pseudo-terminal pairs standing in for /dev/ttyUSB*."""
    import os

    from trocadero.protocols.enttec import EnttecDecoder

    show = tmp_path / "show.toml"
    show.write_text(SHOW)
    pro_master, pro_slave = os.openpty()
    dmx_master, dmx_slave = os.openpty()
    try:
        extra = (
            f'[show]\npath = "{show}"\n'
            f'[[outputs]]\nname = "pro"\nprotocol = "enttec-pro"\nuniverses = "300"\n'
            f'device = "{os.ttyname(pro_slave)}"\n'
            f'[[outputs]]\nname = "open"\nprotocol = "open-dmx"\nuniverses = "301"\n'
            f'device = "{os.ttyname(dmx_slave)}"\nrate_hz = 30\n'
        )
        with running_daemon(tmp_path, extra) as d:
            health = d.wait_healthy()
            time.sleep(0.5)
            pro_bytes = os.read(pro_master, 65536)
            dmx_bytes = os.read(dmx_master, 65536)
            health = d.health()
            assert d.stop()[0] == 0
    finally:
        for fd in (pro_master, pro_slave, dmx_master, dmx_slave):
            os.close(fd)
    assert {o["name"]: o["state"] for o in health["outputs"]} == {
        "pro": "healthy",
        "open": "healthy",
    }
    messages = EnttecDecoder().feed(pro_bytes)
    assert messages, "no Enttec message decoded"
    frame = pro_bytes[: 5 + 512 + 1]
    assert frame[:5] == bytes([0x7E, 6, 0x01, 0x02, 0x00])  # label 6, length 513, start code
    assert frame[5:11] == bytes([255, 128, 0, 255, 128, 0])
    assert frame[-1] == 0xE7
    # Open DMX: start code then 512 slots per frame; universe 301 holds pixels 171-200.
    assert len(dmx_bytes) >= 513
    assert dmx_bytes[:1] == b"\x00"
    assert dmx_bytes[1:91] == bytes([255, 128, 0]) * 30
    assert not any(dmx_bytes[91:513])


def test_console_channel_drives_the_grand_master(tmp_path: Path) -> None:
    show = tmp_path / "show.toml"
    show.write_text(SHOW)
    console = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with udp_listener() as (out_sock, out_port), udp_listener() as (probe, in_port):
        probe.close()
        extra = (
            f'[show]\npath = "{show}"\n'
            f'[[outputs]]\nname = "s"\nprotocol = "sacn"\nuniverses = "300"\n'
            f'destinations = ["127.0.0.1:{out_port}"]\n'
            f'[[inputs]]\nprotocol = "sacn"\nuniverses = [7]\nbind_address = "127.0.0.1"\n'
            f"port = {in_port}\n"
            '[[input_masters]]\ntarget = "grand"\nuniverse = 7\nchannel = 1\n'
        )
        with running_daemon(tmp_path, extra) as d:
            d.wait_healthy()
            packet = DataPacket(
                cid=bytes(range(16)),
                source_name="console",
                priority=100,
                sequence=0,
                universe=7,
                data=bytes([128]),
            )
            end = time.monotonic() + 0.8
            seq = 0
            while time.monotonic() < end:
                seq = (seq + 1) % 256
                console.sendto(
                    dataclasses.replace(packet, sequence=seq).to_bytes(), ("127.0.0.1", in_port)
                )
                time.sleep(0.02)
            dimmed = [decode_sacn(p) for p in receive(out_sock, 0.2)]
            time.sleep(3.0)  # the console's source times out: the show's own master returns
            receive(out_sock, 0.1)
            restored = [decode_sacn(p) for p in receive(out_sock, 0.3)]
            assert d.stop()[0] == 0
    console.close()
    live = [p for p in dimmed if isinstance(p, DataPacket) and not p.stream_terminated]
    # grand master 128/255: R 65535 → 32896 → 128, G 32896 → 16512 → 64 (gamma 1.0 LUT)
    assert bytes(live[-1].data[:3]) == bytes([128, 64, 0])
    back = [p for p in restored if isinstance(p, DataPacket) and not p.stream_terminated]
    assert bytes(back[-1].data[:3]) == bytes([255, 128, 0])


def test_input_master_for_an_unreceived_universe_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[input_masters]]\ntarget = "grand"\nuniverse = 9\nchannel = 1\n')
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "trocadero", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "input_masters[0].universe: not received by any [[inputs]] (got 9)" in result.stderr
