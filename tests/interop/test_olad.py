"""Real peers: Debian's olad (OLA 0.10.9) and tshark, in a private network namespace.

- olad receives our sACN (multicast, universes up to 1001) and Art-Net (unicast, Port-Address
  with non-zero Net and Sub-Net): first from plain Python sockets fed by our sans-IO builders,
  then from the native output thread. Its HTTP ``get_dmx`` must return exactly our slots.
- olad sends sACN; our decoder accepts it (OLA sends short, unpadded universes).
- tshark decodes a live capture of the native sender with the expected field values; every
  payload also decodes with our strict decoders (which check every length field).

No timing assertions: olad needs a moment, so everything polls with generous limits.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import defaultdict

from trocadero.protocols import artnet, sacn

from .harness import SenderRun, sender, tshark_capture
from .netns import NetNs
from .olad import Olad
from .sacn_receiver import join_sacn, receive_sacn
from .scenario import (
    ARTNET_PORT_ADDRESS,
    NATIVE_CID,
    NATIVE_SOURCE_NAME,
    OLA_ARTNET_UNIVERSE,
    OLA_SACN_OUTPUT_UNIVERSE,
    OLAD_ADDRESS,
    OLAD_INTERFACE,
    PEER_ADDRESS,
    SACN_UNIVERSES,
    SLOTS,
    slot_values,
)

SEND_TIMEOUT = 15.0


def wait_for_scenario(olad: Olad, run: SenderRun, seed: int) -> None:
    """olad's universes hold what the sender publishes with `seed`."""
    for universe in SACN_UNIVERSES:
        run.assert_running()
        olad.wait_for_dmx(universe, slot_values(universe, seed), SEND_TIMEOUT)
    run.assert_running()
    olad.wait_for_dmx(OLA_ARTNET_UNIVERSE, slot_values(ARTNET_PORT_ADDRESS, seed), SEND_TIMEOUT)


def test_olad_receives_python_built_sacn_and_artnet(netns: NetNs, olad: Olad) -> None:
    with sender(netns, "sender_python", "--seed", "0") as run:
        wait_for_scenario(olad, run, seed=0)
        report = run.finish()
    assert report["packets_sent"]["sacn"] > 0
    assert report["packets_sent"]["artnet"] > 0


def test_olad_receives_native_sacn_and_artnet(netns: NetNs, olad: Olad) -> None:
    # A different seed than the other runs', so stale values cannot pass. The sACN socket is
    # also tied to v0 (SO_BINDTODEVICE), as a deployment names its NIC.
    seed = 101
    args = ["--seed", str(seed), "--interface", OLAD_INTERFACE]
    with sender(netns, "sender", *args) as run:
        wait_for_scenario(olad, run, seed)
        report = run.finish()
    for protocol, universes in (("sacn", len(SACN_UNIVERSES)), ("artnet", 1)):
        output = report[protocol]
        assert output["universes"] == universes
        assert output["packets_sent"] > 0
        assert (output["send_errors"], output["drops"], output["state"]) == (0, 0, "healthy"), (
            output
        )
    # olad understood the stream-terminated packets sent on stop (it logs them at -l 3).
    cid = str(uuid.UUID(bytes=NATIVE_CID))
    for universe in SACN_UNIVERSES:
        olad.wait_for_log(f"CID {cid} sent a termination for universe {universe}\n")


def test_olad_sends_sacn_that_our_decoder_accepts(netns: NetNs, olad: Olad) -> None:
    universe = OLA_SACN_OUTPUT_UNIVERSE
    expected = bytes([7, 8, 9])
    with netns.socket() as sock, olad.stream_dmx(universe) as client:
        # olad's multicast leaves through v0 and arrives on v1 (see netns.py).
        join_sacn(sock, universe, PEER_ADDRESS)
        assert client.stdin is not None
        stdin = client.stdin

        def poke() -> None:  # olad sends on change only: repeat until a packet arrives
            stdin.write("7,8,9\n")
            stdin.flush()

        packets = receive_sacn(
            sock, lambda p: p.universe == universe and p.data == expected, 10.0, idle=poke
        )
    assert packets, "olad sent no sACN"
    packet = packets[-1]
    assert packet.universe == universe
    assert packet.data == expected  # 3 slots, unpadded
    assert packet.start_code == 0
    assert packet.priority == 100
    assert packet.source_name.endswith("OLA Server")
    assert not packet.preview
    assert not packet.stream_terminated
    assert packet.sync_address == 0


# tshark 4.0 field names (see tests/protocols for the offline checks of every field).
CAPTURE_FIELDS = [
    "ip.dst",
    "udp.dstport",
    "udp.payload",
    "acn.cid",
    "acn.pdu.length",
    "acn.dmx.source_name",
    "acn.dmx.priority",
    "acn.dmx.seq_number",
    "acn.dmx.options",
    "acn.dmx.universe",
    "acn.dmx.count",
    "artnet.header.opcode",
    "artnet.output.sequence",
    "artnet.output.universe",
    "artnet.output.length",
]
ACN_OPTIONS = ["--enable-heuristic", "acn", "-o", "acn.dmx_enable:TRUE"]


def test_tshark_decodes_live_capture_of_native_sender(netns: NetNs, olad: Olad) -> None:
    # olad listens meanwhile: without a listener on 6454 the kernel answers the Art-Net
    # unicast with "port unreachable", and the next send fails with ECONNREFUSED.
    seed, priority = 33, 150
    cid = str(uuid.UUID(bytes=NATIVE_CID))

    def ours(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [r for r in rows if r["acn.cid"] == cid]

    def artdmx(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [r for r in rows if r["artnet.header.opcode"] == "0x5000"]

    # sACN leaves on v0; the Art-Net unicast to our own address goes through lo.
    with tshark_capture(
        netns,
        [OLAD_INTERFACE, "lo"],
        "udp port 5568 or udp port 6454",
        "acn or artnet.header.opcode == 0x5000",
        CAPTURE_FIELDS,
        ACN_OPTIONS,
    ) as capture:
        with sender(netns, "sender", "--seed", str(seed), "--priority", str(priority)) as run:
            time.sleep(1.5)  # some 60 frames
            run.assert_running()
            report = run.finish()
        sent_sacn = report["sacn"]["packets_sent"]
        sent_artnet = report["artnet"]["packets_sent"]
        capture.wait(
            lambda rows: len(ours(rows)) >= sent_sacn and len(artdmx(rows)) >= sent_artnet, 15
        )
        rows = capture.stop()
    for protocol in ("sacn", "artnet"):
        assert report[protocol]["send_errors"] == 0, report[protocol]
    # Every datagram the output thread counted was captured, and nothing else from it.
    assert (len(ours(rows)), len(artdmx(rows))) == (sent_sacn, sent_artnet)
    check_sacn_rows(ours(rows), priority, seed)
    check_artnet_rows(artdmx(rows), seed)


def check_sacn_rows(rows: list[dict[str, str]], priority: int, seed: int) -> None:
    by_universe: dict[int, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_universe[int(row["acn.dmx.universe"])].append(row)
    assert sorted(by_universe) == sorted(SACN_UNIVERSES)
    size = sacn.DATA_HEADER_SIZE + SLOTS
    for universe, packets in by_universe.items():
        assert len(packets) >= 5, f"universe {universe}: only {len(packets)} packets captured"
        for row in packets:
            assert row["ip.dst"] == sacn.multicast_address(universe)
            assert row["udp.dstport"] == str(sacn.SACN_PORT)
            assert row["acn.dmx.source_name"] == NATIVE_SOURCE_NAME
            assert row["acn.dmx.priority"] == str(priority)
            assert row["acn.dmx.count"] == str(SLOTS + 1)
            assert row["acn.pdu.length"] == f"{size - 16},{size - 38},{size - 115}"
            payload = decode_payload(row)
            packet = sacn.decode_sacn(payload)
            assert isinstance(packet, sacn.DataPacket)
            assert packet.data == slot_values(universe, seed)
            assert (packet.universe, packet.priority, packet.cid) == (
                universe,
                priority,
                NATIVE_CID,
            )
            assert packet.sequence == int(row["acn.dmx.seq_number"])
        sequences = [int(r["acn.dmx.seq_number"]) for r in packets]
        assert all(b == sacn.next_sequence(a) for a, b in itertools.pairwise(sequences)), (
            universe,
            sequences,
        )
        options = [int(r["acn.dmx.options"], 0) for r in packets]
        # Data while running, then three stream-terminated packets on stop.
        stop = len(options) - 3
        assert options[:stop] == [0] * stop, options
        assert options[stop:] == [sacn.OPTION_STREAM_TERMINATED] * 3, options


def check_artnet_rows(rows: list[dict[str, str]], seed: int) -> None:
    assert len(rows) >= 5, f"only {len(rows)} ArtDmx packets captured"
    for row in rows:
        assert row["ip.dst"] == OLAD_ADDRESS
        assert row["udp.dstport"] == str(artnet.ARTNET_PORT)
        assert row["artnet.output.universe"] == str(ARTNET_PORT_ADDRESS)
        assert row["artnet.output.length"] == str(SLOTS)
        packet = artnet.decode_artnet(decode_payload(row))
        assert isinstance(packet, artnet.ArtDmx)
        assert packet.port_address == ARTNET_PORT_ADDRESS
        assert packet.data == slot_values(ARTNET_PORT_ADDRESS, seed)
        assert packet.sequence == int(row["artnet.output.sequence"])
    sequences = [int(r["artnet.output.sequence"]) for r in rows]
    assert 0 not in sequences
    assert all(b == artnet.next_sequence(a) for a, b in itertools.pairwise(sequences)), sequences


def decode_payload(row: dict[str, str]) -> bytes:
    return bytes.fromhex(row["udp.payload"].replace(":", ""))
