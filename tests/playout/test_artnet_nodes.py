"""Art-Net node discovery on real loopback sockets (ephemeral ports), with injected time for
the table. Fake nodes and pollers are plain UDP sockets speaking `protocols.artnet`."""

from __future__ import annotations

import socket
from collections.abc import Callable
from functools import partial
from ipaddress import IPv4Address

import pytest
import trio
from structlog.testing import capture_logs

from trocadero.playout.artnet_nodes import (
    ArtNetDiscovery,
    NodeTable,
    discovery_health,
    serve_artnet_discovery,
)
from trocadero.protocols.artnet import (
    ARTPOLL_REPLY_SIZE,
    OP_POLL_REPLY,
    POLL_REPLY_ON_CHANGE,
    STATUS2_PORT_ADDRESS_15BIT,
    STYLE_CONTROLLER,
    ArtPoll,
    ArtPollReply,
    ArtSync,
    decode_artnet,
)

MAC = bytes.fromhex("0050c2aabbcc")


def node_reply(ip: str = "127.0.0.1", bind_index: int = 1, **kw: object) -> ArtPollReply:
    """Net 1 / Sub-Net 2, outputs on ports 1-2 (universes 3, 4), an input on port 3
    (universe 7) and a non-DMX output on port 4 (not listed)."""
    fields: dict[str, object] = {
        "ip": IPv4Address(ip),
        "short_name": "FakeNode",
        "long_name": "Fake pixel controller",
        "node_report": "#0001 [0001] ok",
        "version_info": 0x0102,
        "net_switch": 1,
        "sub_switch": 2,
        "oem": 0x1234,
        "esta_manufacturer": 0x7FF0,
        "num_ports": 4,
        "port_types": bytes([0x80, 0x80, 0x40, 0x85]),
        "sw_out": bytes([3, 4, 0, 9]),
        "sw_in": bytes([0, 0, 7, 0]),
        "mac": MAC,
        "bind_index": bind_index,
    }
    fields.update(kw)
    return ArtPollReply(**fields)  # type: ignore[arg-type]


async def wait_for(predicate: Callable[[], bool]) -> None:
    """Poll until `predicate` holds (the sockets deliver in the background); fail after 5 s."""
    with trio.fail_after(5):
        while True:
            if predicate():
                return
            await trio.sleep(0.01)


async def bound_udp() -> tuple[trio.socket.SocketType, int]:
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    return sock, int(sock.getsockname()[1])


async def fake_node(
    sock: trio.socket.SocketType, reply_to: int | None, seen: list[ArtPoll]
) -> None:
    """Answer each ArtPoll with `node_reply()`, to the poll's source (or port `reply_to`)."""
    while True:
        data, address = await sock.recvfrom(2048)
        packet = decode_artnet(data)
        if isinstance(packet, ArtPoll):
            seen.append(packet)
            port = address[1] if reply_to is None else reply_to
            await sock.sendto(node_reply().to_bytes(), (address[0], port))


# -------------------------------------------------------------------------------------------
# Against a fake node


@pytest.mark.parametrize("own_listener", [False, True], ids=["reply-to-source", "reply-to-6454"])
async def test_fake_node_is_discovered(own_listener: bool) -> None:
    node_sock, node_port = await bound_udp()
    discovery = ArtNetDiscovery(bind_address="127.0.0.1")
    polls: list[ArtPoll] = []
    with node_sock:
        async with trio.open_nursery() as nursery:
            serve = partial(
                serve_artnet_discovery,
                discovery,
                poll_targets=["127.0.0.1"],
                interval_s=0.05,
                port=0,
                poll_port=node_port,
                own_listener=own_listener,
                listen_address="127.0.0.1",
            )
            await nursery.start(serve)
            # Nodes reply either to the poll's source port or to the Art-Net port (our listener).
            reply_to = discovery.listener[1] if discovery.listener else None
            nursery.start_soon(fake_node, node_sock, reply_to, polls)
            await wait_for(lambda: len(discovery.table) == 1)
            nodes = discovery.table.nodes(discovery.clock())
            health = discovery_health(discovery)
            nursery.cancel_scope.cancel()

    poll = polls[0]
    assert poll.flags == POLL_REPLY_ON_CHANGE  # talk to me on change, no diagnostics
    assert poll.target_top is not None  # the 22-byte Art-Net 4 form
    [node] = nodes
    assert node["ip"] == "127.0.0.1"
    assert node["bind_index"] == 1
    assert node["short_name"] == "FakeNode"
    assert node["long_name"] == "Fake pixel controller"
    assert node["node_report"] == "#0001 [0001] ok"
    assert node["mac"] == "00:50:c2:aa:bb:cc"
    assert (node["firmware"], node["oem"], node["esta_manufacturer"]) == (0x0102, 0x1234, 0x7FF0)
    assert node["outputs"] == [
        {"port": 1, "port_address": 0x0123},
        {"port": 2, "port_address": 0x0124},
    ]
    assert node["inputs"] == [{"port": 3, "port_address": 0x0127}]
    assert health["state"] == "polling"
    assert health["healthy"] is True
    assert health["nodes"] == 1
    assert health["polls_sent"] >= 1
    assert health["replies_received"] >= 1
    assert health["last_error"] == ""
    assert (health["listener"] is not None) == own_listener
    assert discovery.send_address is None  # closed on exit


async def test_artpoll_to_listener_gets_our_reply() -> None:
    discovery = ArtNetDiscovery(bind_address="127.0.0.1", reply_port=None, mac=MAC)
    poller, _ = await bound_udp()
    with poller:
        async with trio.open_nursery() as nursery:
            serve = partial(
                serve_artnet_discovery,
                discovery,
                poll_targets=[],
                port=0,
                own_listener=True,
                listen_address="127.0.0.1",
            )
            await nursery.start(serve)
            assert discovery.listener is not None
            sent_from = discovery.send_address
            await poller.sendto(ArtPoll(flags=POLL_REPLY_ON_CHANGE).to_bytes(), discovery.listener)
            with trio.fail_after(5):
                data, address = await poller.recvfrom(2048)
            await poller.sendto(ArtPoll().to_bytes(), discovery.listener)
            with trio.fail_after(5):
                second, _ = await poller.recvfrom(2048)
            nursery.cancel_scope.cancel()

    assert len(data) == ARTPOLL_REPLY_SIZE == 239
    assert data[8:10] == OP_POLL_REPLY.to_bytes(2, "little")
    assert address == sent_from  # replies leave from the send socket, not from the listener
    reply = decode_artnet(data)
    assert isinstance(reply, ArtPollReply)
    assert reply.ip == IPv4Address("127.0.0.1")
    assert reply.short_name == "Trocadero"
    assert reply.long_name == "Trocadero LED playout"
    assert reply.node_report == "#0001 [0001] Trocadero running"
    assert reply.style == STYLE_CONTROLLER
    assert reply.status2 & STATUS2_PORT_ADDRESS_15BIT
    assert reply.num_ports == 0
    assert reply.mac == MAC
    second_reply = decode_artnet(second)
    assert isinstance(second_reply, ArtPollReply)
    assert second_reply.node_report == "#0001 [0002] Trocadero running"
    assert discovery.counters.polls_received == 2
    assert discovery.counters.replies_sent == 2


async def test_own_poll_is_not_answered() -> None:
    discovery = ArtNetDiscovery(bind_address="127.0.0.1")
    async with trio.open_nursery() as nursery:
        serve = partial(
            serve_artnet_discovery,
            discovery,
            poll_targets=[],
            port=0,
            own_listener=True,
            listen_address="127.0.0.1",
        )
        await nursery.start(serve)
        assert discovery.listener is not None
        discovery.poll(["127.0.0.1"], discovery.listener[1])  # as a broadcast loops back
        await wait_for(lambda: discovery.counters.own_polls == 1)
        nursery.cancel_scope.cancel()
    assert discovery.counters.replies_sent == 0
    assert len(discovery.table) == 0


async def test_malformed_datagrams_are_counted_not_raised() -> None:
    discovery = ArtNetDiscovery(bind_address="127.0.0.1")
    sender, _ = await bound_udp()
    bad_ports = bytearray(node_reply().to_bytes())
    bad_ports[173] = 5  # NumPorts 5
    with sender, capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            serve = partial(
                serve_artnet_discovery,
                discovery,
                poll_targets=[],
                port=0,
                own_listener=True,
                listen_address="127.0.0.1",
            )
            await nursery.start(serve)
            assert discovery.listener is not None
            for data in (bytes(bad_ports), b"Art-Net\x00\x00\x21short", b"junk", bytes(2000)):
                await sender.sendto(data, discovery.listener)
            await sender.sendto(node_reply().to_bytes(), discovery.listener)
            await wait_for(lambda: discovery.counters.datagrams == 5 and len(discovery.table) == 1)
            nursery.cancel_scope.cancel()
    assert discovery.counters.malformed == 4
    assert discovery.table.replies == 1
    assert sum(e["event"] == "malformed artnet datagrams dropped" for e in logs) == 1


# -------------------------------------------------------------------------------------------
# The `on_other` path (packets from the Art-Net input's socket)


async def test_on_other_path() -> None:
    now = [100.0]
    discovery = ArtNetDiscovery(bind_address="127.0.0.1", clock=lambda: now[0])
    poller, poller_port = await bound_udp()
    discovery.reply_port = poller_port
    with poller:
        assert discovery.open()
        discovery.on_other(node_reply(), ("127.0.0.1", 6454))
        discovery.on_other(ArtSync(), ("127.0.0.1", 6454))
        discovery.handle_packet(ArtPoll(), ("127.0.0.1", 40000), now[0])
        with trio.fail_after(5):
            data, _ = await poller.recvfrom(2048)
        discovery.close()
    reply = decode_artnet(data)
    assert isinstance(reply, ArtPollReply)
    assert reply.short_name == "Trocadero"
    [node] = discovery.table.nodes(now[0])
    assert node["source"] == "127.0.0.1:6454"
    assert [p["port_address"] for p in node["outputs"]] == [0x0123, 0x0124]
    assert discovery.counters.ignored == 1  # the ArtSync
    assert discovery.counters.replies_sent == 1


def test_reply_before_socket_open_and_rate_limit() -> None:
    discovery = ArtNetDiscovery(bind_address="127.0.0.1", reply_port=9)
    # handle_packet opens the send socket on demand; replies to a closed UDP port still "send".
    for _ in range(25):
        discovery.handle_packet(ArtPoll(), ("127.0.0.1", 40000), 5.0)
    assert discovery.counters.replies_sent == 20
    assert discovery.counters.replies_suppressed == 5
    discovery.handle_packet(ArtPoll(), ("127.0.0.1", 40000), 6.5)
    assert discovery.counters.replies_sent == 21
    discovery.close()


# -------------------------------------------------------------------------------------------
# The table, with injected time


def test_nodes_expire_after_silence() -> None:
    table = NodeTable(expiry_s=10.0)
    table.update(node_reply("10.0.0.2"), ("10.0.0.2", 6454), now=0.0)
    table.update(node_reply("10.0.0.1"), ("10.0.0.1", 6454), now=5.0)
    assert [n["ip"] for n in table.nodes(9.0)] == ["10.0.0.1", "10.0.0.2"]  # sorted by IP
    assert [n["ip"] for n in table.nodes(10.0)] == ["10.0.0.1", "10.0.0.2"]
    assert [n["ip"] for n in table.nodes(10.5)] == ["10.0.0.1"]
    table.update(node_reply("10.0.0.1"), ("10.0.0.1", 6454), now=12.0)  # still talking
    [node] = table.nodes(21.0)
    assert node["first_seen_s_ago"] == 16.0
    assert node["last_seen_s_ago"] == 9.0
    assert node["replies"] == 2
    assert table.nodes(22.5) == []
    assert table.expired == 2


def test_ip_sorting_is_numeric_and_bind_index_is_part_of_the_key() -> None:
    table = NodeTable()
    for ip in ("10.0.0.10", "10.0.0.9"):
        table.update(node_reply(ip), (ip, 6454), 0.0)
    table.update(node_reply("10.0.0.9", bind_index=2, sw_out=bytes([5, 6, 0, 0])), ("x", 1), 0.0)
    table.update(node_reply("10.0.0.9", bind_index=0), ("10.0.0.9", 6454), 0.0)  # 0 == root
    rows = [(n["ip"], n["bind_index"]) for n in table.nodes(0.0)]
    assert rows == [("10.0.0.9", 1), ("10.0.0.9", 2), ("10.0.0.10", 1)]


def test_reply_without_ip_uses_source_address() -> None:
    table = NodeTable()
    table.update(node_reply("0.0.0.0"), ("10.1.2.3", 6454), 0.0)
    assert table.nodes(0.0)[0]["ip"] == "10.1.2.3"


def test_table_is_bounded() -> None:
    table = NodeTable(max_nodes=2, expiry_s=10.0)
    assert table.update(node_reply("10.0.0.1"), ("10.0.0.1", 6454), 0.0)
    assert table.update(node_reply("10.0.0.2"), ("10.0.0.2", 6454), 5.0)
    assert not table.update(node_reply("10.0.0.3"), ("10.0.0.3", 6454), 6.0)
    assert table.update(node_reply("10.0.0.2"), ("10.0.0.2", 6454), 6.0)  # known: updated
    assert table.rejected_full == 1
    # Once 10.0.0.1 has expired, a new node takes its place.
    assert table.update(node_reply("10.0.0.3"), ("10.0.0.3", 6454), 11.0)
    assert [n["ip"] for n in table.nodes(11.0)] == ["10.0.0.2", "10.0.0.3"]
    with pytest.raises(ValueError, match="max_nodes"):
        NodeTable(max_nodes=0)


# -------------------------------------------------------------------------------------------
# Errors never raise


def test_send_errors_logged_once_per_change_and_recover() -> None:
    # Linux's local routing table makes 127.255.255.255 a broadcast address of `lo`: sending
    # to it needs SO_BROADCAST (EACCES without), which the send socket sets.
    discovery = ArtNetDiscovery(bind_address="127.0.0.1")
    assert discovery.open()
    assert discovery.send_socket is not None
    target = ["127.255.255.255"]
    with capture_logs() as logs:
        assert discovery.poll(target, port=9) == 1
        discovery.send_socket.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 0)
        assert discovery.poll(target, port=9) == 0
        assert discovery.poll(target, port=9) == 0
        health = discovery_health(discovery, 0.0)
        discovery.send_socket.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        assert discovery.poll(target, port=9) == 1
        assert discovery.poll(["127.0.0.1"], port=0) == 0  # EINVAL (port 0): another target
    discovery.close()
    assert health["state"] == "failing"
    assert not health["healthy"]
    assert health["poll_errors"] == 2
    assert health["failing_targets"] == ["ArtPoll 127.255.255.255:9"]
    assert "Permission denied" in health["last_error"]
    events = [e["event"] for e in logs]
    assert events.count("artnet send failed; retrying") == 2  # once per target and change
    assert events.count("artnet send recovered") == 1
    assert events.count("artnet discovery failing; retrying") == 2
    assert events.count("artnet discovery recovered") == 1
    after = discovery_health(discovery, 0.0)
    assert after["failing_targets"] == ["ArtPoll 127.0.0.1:0"]
    assert after["polls_sent"] == 2


async def test_unusable_bind_address_is_retried_not_raised() -> None:
    discovery = ArtNetDiscovery(bind_address="192.0.2.1")  # TEST-NET-1: not a local address
    async with trio.open_nursery() as nursery:
        serve = partial(serve_artnet_discovery, discovery, poll_targets=["127.0.0.1"], port=0)
        await nursery.start(serve)
        assert discovery.state == "failing"
        assert "bind 192.0.2.1" in discovery.last_error
        nursery.cancel_scope.cancel()
    assert discovery.counters.polls_sent == 0
