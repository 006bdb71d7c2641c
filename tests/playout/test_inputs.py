"""The sACN / Art-Net input receivers on real loopback sockets.

Receivers bind 127.0.0.1 (or 0.0.0.0 for multicast) on an ephemeral port (`port=0`), since
5568/6454 may be taken by an olad running in parallel; packets come from a plain socket,
built with the protocol builders.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import structlog
import trio
from structlog.testing import capture_logs

from trocadero.config import ConfigError
from trocadero.config.inputs import InputConfig, validate_inputs
from trocadero.config.loader import parse_toml
from trocadero.playout.inputs import (
    MAX_DATAGRAM,
    InputUniverses,
    ReceiverStatus,
    input_health,
    input_metrics,
    serve_artnet_input,
    serve_inputs,
    serve_sacn_input,
)
from trocadero.protocols.artnet import ArtDmx, ArtPoll, ArtSync
from trocadero.protocols.merge import SLOTS
from trocadero.protocols.sacn import DataPacket, SyncPacket, multicast_address

CID_A = bytes(range(16))
CID_B = bytes(range(16, 32))
TEST_NET = "192.0.2.1"  # TEST-NET-1: never a local address


def padded(*values: int) -> bytes:
    return bytes(values).ljust(SLOTS, b"\0")


def sacn(cid: bytes, universe: int, data: bytes, sequence: int = 0, priority: int = 100) -> bytes:
    return DataPacket(
        cid=cid,
        source_name="test console",
        universe=universe,
        data=data,
        sequence=sequence,
        priority=priority,
    ).to_bytes()


@pytest.fixture
def sender() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    with sock:
        yield sock


@pytest.fixture(autouse=True)
def default_structlog() -> Iterator[None]:
    # Other tests may have configured structlog to write to a closed stream.
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


async def wait_for(condition: Callable[[], bool]) -> None:
    """Poll, as the render loop does, until `condition` holds; fail after 3 s."""
    with trio.fail_after(3.0):
        while True:
            if condition():
                return
            await trio.sleep(0.002)


def address(status: ReceiverStatus) -> tuple[str, int]:
    assert status.bound is not None
    return ("127.0.0.1", status.bound[1])


async def test_sacn_unicast_feeds_the_snapshot(
    nursery: trio.Nursery, sender: socket.socket
) -> None:
    inputs = InputUniverses([InputConfig("sacn", (1, 300), bind_address="127.0.0.1")])
    status: ReceiverStatus = await nursery.start(
        partial(serve_sacn_input, port=0), inputs.configs[0], inputs
    )
    assert status.state == "listening"
    assert status.bound is not None
    assert status.bound[0] == "127.0.0.1"
    dest = address(status)

    sender.sendto(sacn(CID_A, 1, bytes([10, 20, 30])), dest)
    sender.sendto(sacn(CID_A, 300, bytes(range(1, 200))), dest)
    sender.sendto(sacn(CID_B, 1, bytes([0, 99, 0, 5])), dest)  # HTP with A at priority 100
    await wait_for(lambda: inputs.merger(1).counters.packets_accepted == 2)
    await wait_for(lambda: inputs.merger(300).counters.packets_accepted == 1)

    snap = inputs.snapshot()
    assert set(snap) == {1, 300}
    assert snap[1].slots == padded(10, 99, 30, 5)
    assert snap[1].active
    assert {s.source_id[:8] for s in snap[1].sources} == {"00010203", "10111213"}
    assert all(s.address == "127.0.0.1" for s in snap[1].sources)
    assert snap[300].slots == padded(*range(1, 200))
    assert inputs.get(300).slots == snap[300].slots
    assert status.datagrams == 3


async def test_ignored_packets_are_counted(nursery: trio.Nursery, sender: socket.socket) -> None:
    inputs = InputUniverses(
        [InputConfig("sacn", (1,), bind_address="127.0.0.1")], ignore_cids=[CID_B]
    )
    status: ReceiverStatus = await nursery.start(
        partial(serve_sacn_input, port=0), inputs.configs[0], inputs
    )
    dest = address(status)
    sender.sendto(sacn(CID_A, 2, bytes([1])), dest)  # a universe not received
    sender.sendto(SyncPacket(CID_A, 1).to_bytes(), dest)  # sync: carries no levels
    sender.sendto(sacn(CID_B, 1, bytes([255])), dest)  # our own output looped back
    sender.sendto(sacn(CID_A, 1, bytes([7])), dest)
    await wait_for(lambda: status.datagrams == 4)
    assert (status.ignored_universe, status.ignored_other, status.ignored_own) == (1, 1, 1)
    assert inputs.get(1).slots == padded(7)


async def test_malformed_datagrams_are_counted_logged_once_and_not_fatal(
    nursery: trio.Nursery, sender: socket.socket
) -> None:
    inputs = InputUniverses([InputConfig("sacn", (1,), bind_address="127.0.0.1")])
    with capture_logs() as logs:
        status: ReceiverStatus = await nursery.start(
            partial(serve_sacn_input, port=0), inputs.configs[0], inputs
        )
        dest = address(status)
        good = sacn(CID_A, 1, bytes([1, 2, 3]))
        bad = [
            b"",
            b"garbage",
            good[:-1],  # truncated: lengths no longer match
            good + b"\0",  # trailing byte
            good[:4] + b"ASC-E1.18\0\0\0" + good[16:],  # wrong identifier
        ]
        for datagram in bad * 10:
            sender.sendto(datagram, dest)
        sender.sendto(bytes(MAX_DATAGRAM + 1), dest)  # oversized
        sender.sendto(bytes(9000), dest)
        sender.sendto(good, dest)
        await wait_for(lambda: inputs.merger(1).counters.packets_accepted == 1)
    assert status.malformed == 50
    assert status.oversized == 2
    assert status.state == "listening"
    assert inputs.get(1).slots == padded(1, 2, 3)
    warnings = [e for e in logs if e["log_level"] == "warning"]
    # Rate limited: one line per kind per interval, not one per datagram.
    assert [e["event"] for e in warnings] == [
        "malformed input datagrams dropped",
        "oversized input datagrams dropped",
    ]
    assert warnings[0]["protocol"] == "sacn"
    assert warnings[0]["suppressed"] == 0
    assert "error" in warnings[0]


async def test_source_timeout_with_an_injected_clock(
    nursery: trio.Nursery, sender: socket.socket
) -> None:
    now = [100.0]
    inputs = InputUniverses(
        [InputConfig("sacn", (5,), bind_address="127.0.0.1", source_timeout_s=1.0)],
        clock=lambda: now[0],
    )
    status: ReceiverStatus = await nursery.start(
        partial(serve_sacn_input, port=0), inputs.configs[0], inputs
    )
    sender.sendto(sacn(CID_A, 5, bytes([42])), address(status))
    await wait_for(lambda: inputs.merger(5).counters.packets_accepted == 1)
    assert inputs.snapshot()[5].active
    assert inputs.snapshot(101.0)[5].slots == padded(42)
    now[0] = 101.5
    assert not inputs.snapshot()[5].active
    assert inputs.snapshot()[5].slots == bytes(SLOTS)


async def test_artnet_unicast(nursery: trio.Nursery, sender: socket.socket) -> None:
    others: list[tuple[Any, tuple[str, int]]] = []
    cfg = InputConfig("artnet", (1, 0x0424), bind_address="127.0.0.1", artnet_priority=100)
    inputs = InputUniverses([cfg])
    serve = partial(serve_artnet_input, port=0, on_other=lambda p, a: others.append((p, a)))
    status: ReceiverStatus = await nursery.start(serve, cfg, inputs)
    dest = address(status)
    sender.sendto(ArtDmx(0, bytes([1, 2, 3]), sequence=1).to_bytes(), dest)  # 0:0:0 → 1
    sender.sendto(ArtDmx(0x0423, bytes([9, 9]), sequence=1).to_bytes(), dest)  # Net 4 → 0x424
    sender.sendto(ArtDmx(5, bytes([1, 1])).to_bytes(), dest)  # not received
    sender.sendto(ArtPoll().to_bytes(), dest)
    sender.sendto(ArtSync().to_bytes(), dest)
    sender.sendto(b"Art-Net\x00\x00\x97\x00\x0e" + bytes(7), dest)  # OpTimeCode: not ours
    sender.sendto(b"Art-Net\x00\x00\x50\x00\x0e", dest)  # truncated ArtDmx
    await wait_for(lambda: status.datagrams == 7)
    assert inputs.get(1).slots == padded(1, 2, 3, 0)
    (source,) = inputs.get(1).sources
    assert (source.protocol, source.source_id, source.priority) == ("artnet", "127.0.0.1", 100)
    assert inputs.get(0x0424).slots == padded(9, 9)
    assert [type(p).__name__ for p, _ in others] == ["ArtPoll", "ArtSync"]
    assert others[0][1] == sender.getsockname()
    assert status.ignored_universe == 1
    assert status.ignored_other == 1
    assert status.malformed == 1


async def test_artnet_and_sacn_merge_in_one_input_universe(
    nursery: trio.Nursery, sender: socket.socket
) -> None:
    configs = [
        InputConfig("sacn", (1,), bind_address="127.0.0.1"),
        InputConfig("artnet", (1,), bind_address="127.0.0.1", artnet_priority=100),
    ]
    inputs = InputUniverses(configs)
    await nursery.start(partial(serve_inputs, ports={"sacn": 0, "artnet": 0}), inputs)
    sacn_status, artnet_status = inputs.receivers
    assert (sacn_status.protocol, artnet_status.protocol) == ("sacn", "artnet")
    sender.sendto(sacn(CID_A, 1, bytes([200, 0, 50])), address(sacn_status))
    sender.sendto(ArtDmx(0, bytes([0, 100, 60, 7])).to_bytes(), address(artnet_status))
    await wait_for(lambda: inputs.merger(1).counters.packets_accepted == 2)
    result = inputs.get(1)
    assert result.slots == padded(200, 100, 60, 7)
    assert sorted(s.protocol for s in result.sources) == ["artnet", "sacn"]
    # Now a higher-priority sACN source takes over outright.
    sender.sendto(sacn(CID_B, 1, bytes([1]), priority=150), address(sacn_status))
    await wait_for(lambda: inputs.merger(1).counters.packets_accepted == 3)
    assert inputs.get(1).slots == padded(1)

    health = input_health(inputs)
    assert [r["state"] for r in health["receivers"]] == ["listening", "listening"]
    assert health["universes"][0]["universe"] == 1
    assert health["universes"][0]["winning_priority"] == 150
    metrics = input_metrics(inputs)
    assert metrics["trocadero_input_packets_accepted_total"] == 3
    assert metrics["trocadero_input_sources"] == 3
    assert metrics['trocadero_input_healthy{protocol="sacn",bind="127.0.0.1:0"}'] == 1.0


def multicast_on_loopback() -> str | None:
    """None if this kernel delivers multicast over lo, else why not."""
    try:
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
        ):
            rx.bind(("0.0.0.0", 0))
            group = socket.inet_aton("239.255.254.253")
            rx.setsockopt(
                socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group + socket.inet_aton("127.0.0.1")
            )
            rx.settimeout(1.0)
            tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
            tx.sendto(b"probe", ("239.255.254.253", rx.getsockname()[1]))
            rx.recv(16)
    except OSError as exc:
        return f"multicast on lo is not available here: {exc}"
    return None


async def test_sacn_multicast_join_on_loopback(nursery: trio.Nursery) -> None:
    reason = multicast_on_loopback()
    if reason is not None:
        # Some container runtimes refuse multicast on lo; the unicast tests above cover the
        # receive path, and the olad interop test covers multicast over a veth pair.
        pytest.skip(reason)
    cfg = InputConfig("sacn", (1, 256), bind_address="0.0.0.0", interface_address="127.0.0.1")
    inputs = InputUniverses([cfg])
    status: ReceiverStatus = await nursery.start(partial(serve_sacn_input, port=0), cfg, inputs)
    await wait_for(lambda: status.groups_joined == 2)
    assert status.groups_failed == 0
    assert status.healthy
    assert status.bound is not None
    port = status.bound[1]
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other,
    ):
        # Another socket joins universe 3's group; with IP_MULTICAST_ALL off, the receiver
        # (bound to 0.0.0.0 on the same port) must not get that group's traffic.
        other.bind(("127.0.0.1", 0))
        other.setsockopt(
            socket.IPPROTO_IP,
            socket.IP_ADD_MEMBERSHIP,
            socket.inet_aton(multicast_address(3)) + socket.inet_aton("127.0.0.1"),
        )
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        tx.sendto(sacn(CID_A, 3, bytes([33])), (multicast_address(3), port))
        tx.sendto(sacn(CID_A, 1, bytes([11])), (multicast_address(1), port))
        tx.sendto(sacn(CID_A, 256, bytes([22])), (multicast_address(256), port))  # 239.255.1.0
        await wait_for(lambda: inputs.merger(256).counters.packets_accepted == 1)
        await wait_for(lambda: inputs.merger(1).counters.packets_accepted == 1)
    assert inputs.get(1).slots == padded(11)
    assert inputs.get(256).slots == padded(22)
    assert status.datagrams == 2  # the group joined only by `other` never arrived
    assert status.ignored_universe == 0


def igmp_max_memberships() -> int:
    return int(Path("/proc/sys/net/ipv4/igmp_max_memberships").read_text())


async def test_more_groups_than_one_socket_may_join(nursery: trio.Nursery) -> None:
    # Linux: net.ipv4.igmp_max_memberships (default 20) groups per socket.
    reason = multicast_on_loopback()
    if reason is not None:
        pytest.skip(reason)
    limit = igmp_max_memberships()
    universes = tuple(range(1, 2 * limit + 6))
    cfg = InputConfig("sacn", universes, interface_address="127.0.0.1")
    inputs = InputUniverses([cfg])
    status: ReceiverStatus = await nursery.start(partial(serve_sacn_input, port=0), cfg, inputs)
    await wait_for(lambda: status.groups_joined == len(universes))
    assert status.groups_failed == 0
    assert status.join_sockets == 3
    assert status.bound is not None
    port = status.bound[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        for u in universes:
            tx.sendto(sacn(CID_A, u, bytes([u])), (multicast_address(u), port))
        await wait_for(
            lambda: all(inputs.merger(u).counters.packets_accepted == 1 for u in universes)
        )
    assert all(inputs.get(u).slots == padded(u) for u in universes)


async def test_failed_multicast_join_is_reported_and_unicast_still_works(
    nursery: trio.Nursery, sender: socket.socket
) -> None:
    cfg = InputConfig("sacn", (1, 2), bind_address="127.0.0.1", interface_address=TEST_NET)
    inputs = InputUniverses([cfg])
    with capture_logs() as logs:
        status: ReceiverStatus = await nursery.start(partial(serve_sacn_input, port=0), cfg, inputs)
        await wait_for(lambda: status.groups_failed == 2)
    assert not status.healthy
    assert status.state == "listening"
    errors = [e for e in logs if e["log_level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["failed"] == 2
    sender.sendto(sacn(CID_A, 2, bytes([5])), address(status))
    await wait_for(lambda: inputs.merger(2).counters.packets_accepted == 1)


async def test_bind_failure_is_retried_not_raised(nursery: trio.Nursery) -> None:
    cfg = InputConfig("artnet", (1,), bind_address=TEST_NET)
    inputs = InputUniverses([cfg])
    with capture_logs() as logs:
        status: ReceiverStatus = await nursery.start(
            partial(serve_artnet_input, port=0), cfg, inputs
        )
    assert status.state == "failing"
    assert status.bound is None
    assert TEST_NET in status.last_error
    assert [e["event"] for e in logs] == ["input cannot listen; retrying"]
    assert not input_health(inputs)["receivers"][0]["healthy"]


def test_input_universes_rejects_invalid_configs() -> None:
    with pytest.raises(ValueError, match=r"inputs\[0\]\.universes"):
        InputUniverses([InputConfig("sacn", ())])
    with pytest.raises(ValueError, match="already listens"):
        InputUniverses([InputConfig("sacn", (1,)), InputConfig("sacn", (2,))])


def test_wrong_protocol_for_the_receiver() -> None:
    inputs = InputUniverses([InputConfig("artnet", (1,))])

    async def main() -> None:
        with pytest.raises(ValueError, match="needs an sacn input"):
            await serve_sacn_input(inputs.configs[0], inputs)

    trio.run(main)


# -------------------------------------------------------------------------------------------
# Config


def test_input_config_validation() -> None:
    assert InputConfig("sacn", (1, 63999)).validate() == []
    assert InputConfig("artnet", (1, 32768)).validate() == []
    assert InputConfig("sacn", (1,), interface_address="10.0.0.2").validate() == []
    problems = InputConfig("artnet", (0, 32769, 5, 5), bind_address="x", interface_address="y")
    assert problems.validate() == [
        "universes: artnet input universes must be within 1..32768 (got 0)",
        "universes: universe 5 is listed twice",
        "bind_address: not an IPv4 address (got 'x')",
        "interface_address: not an IPv4 address (got 'y')",
        "interface_address: only sACN joins multicast groups (got 'y' for protocol 'artnet')",
    ]
    assert InputConfig("sacn", tuple(range(1, 1026))).validate() == [
        "universes: at most 1024 per input (got 1025)"
    ]
    assert InputConfig("artnet", (1, 16)).wire_universes == (0, 15)
    assert InputConfig("sacn", (1, 16)).wire_universes == (1, 16)


def test_validate_inputs_across_entries() -> None:
    ok = [
        InputConfig("sacn", (1, 2)),
        InputConfig("artnet", (1,)),
        InputConfig("sacn", (3,), bind_address="127.0.0.1"),
    ]
    assert validate_inputs(ok) == []
    assert validate_inputs(
        [InputConfig("sacn", (1,)), InputConfig("artnet", (1,), source_timeout_s=5.0)]
    ) == [
        "inputs[1].source_timeout_s: universe 1 is also in inputs[0] with source_timeout_s "
        "2.5; one universe has one merge (got 5)"
    ]


@dataclass(frozen=True)
class Root:
    """Stands in for `Config` until the lead adds `inputs` to it."""

    inputs: tuple[InputConfig, ...] = field(default=())


def test_input_config_from_toml() -> None:
    root = parse_toml(
        Root,
        '[[inputs]]\nprotocol = "artnet"\nuniverses = [1, 2]\nartnet_priority = 90\n',
        source="t.toml",
    )
    assert root.inputs == (InputConfig("artnet", (1, 2), artnet_priority=90),)
    with pytest.raises(ConfigError) as err:
        parse_toml(Root, '[[inputs]]\nprotocol = "dmx"\n', source="t.toml")
    assert err.value.problems == [
        "t.toml: inputs[0].protocol: must be one of 'sacn', 'artnet' (got 'dmx')"
    ]
