"""Art-Net node discovery: periodic ArtPoll, a table of the nodes that reply, our own reply.

Issue 4, item 3. Three parts:

- `NodeTable` (sans-IO): the nodes seen in ArtPollReply packets, keyed by (IP, BindIndex),
  with their names, report, firmware, OEM/ESTA codes, MAC and the Port-Addresses of their DMX
  output and input ports. A node silent for `NODE_EXPIRY_S` (three missed polls + margin)
  expires; the table holds at most `max_nodes` (new nodes beyond that are rejected, counted).
- `ArtNetDiscovery`: the I/O state shared by the poller and the receivers. `handle_packet`
  takes every ArtPoll / ArtPollReply / ArtSync that arrives on port 6454: replies update the
  table, an ArtPoll from someone else is answered with our ArtPollReply (Art-Net 4: every
  device replies, a controller too). `on_other` is the same with the discovery's clock, with
  the signature `serve_artnet_input(on_other=...)` expects.
- `serve_artnet_discovery`: sends ArtPoll every `interval_s` to each poll target (directed
  broadcast addresses, or unicast) and reads what comes back on the sending socket (some
  nodes reply to the poll's source port). With `own_listener` it also listens on
  `0.0.0.0:port` — only when no Art-Net input runs: the input receiver already owns 6454 and,
  since the kernel gives each unicast datagram to one socket of a SO_REUSEPORT group only, a
  second socket would steal part of the input's traffic. With an input, pass
  `discovery.on_other` to it instead.

Sockets: the send socket is bound to (`bind_address`, ephemeral port), never to 6454 (that
would join the SO_REUSEPORT group above). Nodes reply to port 6454 of our IP (Art-Net) or to
the directed broadcast address (olad), both of which reach the 6454 listener.

Our ArtPollReply: Style StController, NumPorts 0 — we are a controller and our output
universes are not "ports" of a node; the discovered nodes are what the control plane lists.
Status2 announces 15-bit Port-Address support. The IP field is `bind_address`, or when that
is the wildcard, the local address the kernel would use to reach the poller. It goes to the
poller's IP at `reply_port` (6454; None = the poll's source port), at most
`MAX_REPLIES_PER_S` per second (an ArtPoll flood does not become a reply flood).

Errors (item 5): send failures (no route, ENETUNREACH, address not up) are logged once per
state change per target, counted, shown by `discovery_health`, and retried at the next poll;
malformed datagrams are counted and logged at most once per `LOG_INTERVAL_S`. Nothing here
raises out of the task.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address
from typing import Any

import trio

from trocadero.core.containment import CONTAINMENT
from trocadero.core.statistics import counter, detail, to_json
from trocadero.protocols.artnet import (
    ARTNET_PORT,
    POLL_REPLY_ON_CHANGE,
    STATUS2_PORT_ADDRESS_15BIT,
    STYLE_CONTROLLER,
    ArtDmx,
    ArtNetError,
    ArtNetUnsupported,
    ArtPoll,
    ArtPollReply,
    ArtSync,
    decode_artnet,
)

from .logs import get_logger

__all__ = [
    "DEFAULT_POLL_TARGETS",
    "MAX_NODES",
    "NODE_EXPIRY_S",
    "POLL_INTERVAL_S",
    "ArtNetDiscovery",
    "DiscoveryStatistics",
    "Node",
    "NodeTable",
    "discovery_health",
    "discovery_statistics",
    "serve_artnet_discovery",
]

log = get_logger("artnet")

POLL_INTERVAL_S = 3.0
NODE_EXPIRY_S = 10.0  # 3 missed polls at 3 s + margin
MAX_NODES = 1024
MAX_DATAGRAM = 1472
MAX_REPLIES_PER_S = 20
LOG_INTERVAL_S = 10.0
RETRY_S = 5.0
DEFAULT_POLL_TARGETS = ("255.255.255.255",)

SHORT_NAME = "Trocadero"
LONG_NAME = "Trocadero LED playout"

_PORT_OUTPUT = 0x80  # PortTypes bit 7: can output data from the Art-Net network
_PORT_INPUT = 0x40  # PortTypes bit 6: can input onto the Art-Net network
_PORT_PROTOCOL = 0x3F  # low bits: protocol, 0 = DMX512
_WILDCARD = ("", "0.0.0.0")

ArtNetOther = ArtPoll | ArtPollReply | ArtSync


# -------------------------------------------------------------------------------------------
# The node table (sans-IO)


def _dmx_port_addresses(reply: ArtPollReply, bit: int, switches: bytes) -> list[dict[str, int]]:
    """[{port, port_address}] of the reply's ports whose PortTypes has `bit` and is DMX512."""
    base = (reply.net_switch << 8) | (reply.sub_switch << 4)
    ports = []
    for i in range(reply.num_ports):
        kind = reply.port_types[i]
        if kind & bit and kind & _PORT_PROTOCOL == 0:
            ports.append({"port": i + 1, "port_address": base | (switches[i] & 0x0F)})
    return ports


@dataclass
class Node:
    """One discovered node (one BindIndex of a device with more than 4 ports)."""

    ip: IPv4Address
    bind_index: int
    source: tuple[str, int]
    reply: ArtPollReply
    first_seen: float
    last_seen: float
    replies: int = 1

    def to_json(self, now: float) -> dict[str, Any]:
        r = self.reply
        return {
            "ip": str(self.ip),
            "bind_index": self.bind_index,
            "source": f"{self.source[0]}:{self.source[1]}",
            "short_name": r.short_name,
            "long_name": r.long_name,
            "node_report": r.node_report,
            "firmware": r.version_info,
            "oem": r.oem,
            "esta_manufacturer": r.esta_manufacturer,
            "mac": ":".join(f"{b:02x}" for b in r.mac),
            "style": r.style,
            "net": r.net_switch,
            "subnet": r.sub_switch,
            "outputs": _dmx_port_addresses(r, _PORT_OUTPUT, r.sw_out),
            "inputs": _dmx_port_addresses(r, _PORT_INPUT, r.sw_in),
            "replies": self.replies,
            "first_seen_s_ago": round(now - self.first_seen, 3),
            "last_seen_s_ago": round(now - self.last_seen, 3),
        }


class NodeTable:
    """Discovered nodes keyed by (IP, BindIndex); BindIndex 0 and 1 both mean the root."""

    def __init__(self, *, max_nodes: int = MAX_NODES, expiry_s: float = NODE_EXPIRY_S) -> None:
        if max_nodes < 1:
            raise ValueError(f"max_nodes must be >= 1, got {max_nodes}")
        self.max_nodes = max_nodes
        self.expiry_s = expiry_s
        self._nodes: dict[tuple[IPv4Address, int], Node] = {}
        self.replies = 0  # ArtPollReply packets taken
        self.rejected_full = 0  # replies of new nodes dropped because the table was full
        self.expired = 0
        self.added = 0

    def __len__(self) -> int:
        return len(self._nodes)

    def update(self, reply: ArtPollReply, source: tuple[str, int], now: float) -> bool:
        """Record a reply; False if it was dropped (new node, table full)."""
        self.replies += 1
        ip = reply.ip if reply.ip != IPv4Address(0) else IPv4Address(source[0])
        key = (ip, max(1, reply.bind_index))
        node = self._nodes.get(key)
        if node is not None:
            node.reply = reply
            node.source = source
            node.last_seen = now
            node.replies += 1
            return True
        if len(self._nodes) >= self.max_nodes:
            self.expire(now)
            if len(self._nodes) >= self.max_nodes:
                self.rejected_full += 1
                return False
        self._nodes[key] = Node(ip, key[1], source, reply, now, now)
        self.added += 1
        log.info(
            "artnet node found",
            ip=str(ip),
            bind_index=key[1],
            short_name=reply.short_name,
            nodes=len(self._nodes),
        )
        return True

    def expire(self, now: float) -> list[Node]:
        """Drop and return the nodes silent for longer than `expiry_s`."""
        gone = [n for n in self._nodes.values() if now - n.last_seen > self.expiry_s]
        for node in gone:
            del self._nodes[(node.ip, node.bind_index)]
            log.info(
                "artnet node lost",
                ip=str(node.ip),
                bind_index=node.bind_index,
                short_name=node.reply.short_name,
                silent_s=round(now - node.last_seen, 1),
            )
        self.expired += len(gone)
        return gone

    def nodes(self, now: float) -> list[dict[str, Any]]:
        """The live nodes, JSON-able, sorted by IP then BindIndex (expired ones are dropped)."""
        self.expire(now)
        return [self._nodes[k].to_json(now) for k in sorted(self._nodes)]


# -------------------------------------------------------------------------------------------
# Discovery state and packet handling


@dataclass
class _Throttled:
    event: str
    interval_s: float = LOG_INTERVAL_S
    last: float = -float("inf")
    suppressed: int = 0

    def warning(self, now: float, **fields: Any) -> None:
        if now - self.last < self.interval_s:
            self.suppressed += 1
            return
        log.warning(self.event, suppressed=self.suppressed, **fields)
        self.last = now
        self.suppressed = 0


@dataclass
class _Counters:
    polls_sent: int = 0
    poll_errors: int = 0
    polls_received: int = 0
    own_polls: int = 0  # our own broadcast ArtPoll looped back (not answered)
    replies_sent: int = 0
    reply_errors: int = 0
    replies_suppressed: int = 0  # over MAX_REPLIES_PER_S
    datagrams: int = 0  # read by discovery's own sockets
    malformed: int = 0
    ignored: int = 0  # ArtDmx, ArtSync, OpCodes not decoded here


def _local_address_towards(ip: str) -> str:
    """The source address the kernel would pick to reach `ip` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((ip, ARTNET_PORT))
        return str(probe.getsockname()[0])


class ArtNetDiscovery:
    """Discovery state: the node table, our identity, the send socket and the counters.

    Create it before the Art-Net input so `on_other` can be handed to `serve_artnet_input`;
    `serve_artnet_discovery` opens the send socket (replies to ArtPoll that arrive before
    that are counted as `reply_errors`).
    """

    def __init__(
        self,
        table: NodeTable | None = None,
        *,
        bind_address: str = "0.0.0.0",
        short_name: str = SHORT_NAME,
        long_name: str = LONG_NAME,
        mac: bytes = bytes(6),
        version_info: int = 0,
        reply_port: int | None = ARTNET_PORT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table if table is not None else NodeTable()
        self.bind_address = bind_address
        self.reply_port = reply_port
        self.clock = clock
        self.counters = _Counters()
        self.state = "starting"  # starting → polling | failing
        self.last_error = ""
        self.listener: tuple[str, int] | None = None  # bound address of the 6454 listener
        self._sock: socket.socket | None = None
        self._send_errors: dict[str, str] = {}  # failing poll target → its error
        self._report_count = 0
        self._reply_window = (-1.0, 0)  # (window start, replies in it)
        self._template = ArtPollReply(
            ip=IPv4Address(0),
            short_name=short_name,
            long_name=long_name,
            version_info=version_info,
            style=STYLE_CONTROLLER,
            mac=mac,
            num_ports=0,
            status2=STATUS2_PORT_ADDRESS_15BIT,
        )
        self._malformed_log = _Throttled("malformed artnet datagrams dropped")
        self._reply_error_log = _Throttled("artnet ArtPollReply send failed")

    # -- sockets ---------------------------------------------------------------------------

    @property
    def failing_targets(self) -> list[str]:
        """The send targets whose last send failed."""
        return sorted(self._send_errors)

    @property
    def send_socket(self) -> socket.socket | None:
        return self._sock

    @property
    def send_address(self) -> tuple[str, int] | None:
        """Local (ip, port) of the send socket, once open."""
        if self._sock is None:
            return None
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def open(self) -> bool:
        """Open the send socket if it is not open; False (logged, retried later) on error."""
        if self._sock is not None:
            return True
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.bind((self.bind_address, 0))
        except OSError as exc:
            sock.close()
            self._set_state("failing", f"bind {self.bind_address}: {exc.strerror or exc}")
            return False
        self._sock = sock
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _set_state(self, state: str, error: str = "") -> None:
        if state != self.state or (error and error != self.last_error):
            if state == "failing":
                log.error("artnet discovery failing; retrying", error=error)
            elif self.state == "failing":
                log.info("artnet discovery recovered")
            self.state = state
        if error:
            self.last_error = error

    def _send(self, data: bytes, target: tuple[str, int], what: str) -> bool:
        """Send one datagram. Poll targets: logged once per change of their error state;
        replies (to whoever polled): throttled, since pollers come and go."""
        if self._sock is None and not self.open():
            return False
        assert self._sock is not None
        key = f"{what} {target[0]}:{target[1]}"
        try:
            self._sock.sendto(data, target)
        except OSError as exc:
            reason = "send buffer full" if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK) else None
            error = f"{key}: {reason or exc.strerror or exc}"
            self.last_error = error
            if what != "ArtPoll":
                self._reply_error_log.warning(self.clock(), target=key, error=error)
            elif self._send_errors.get(key) != error:
                log.warning("artnet send failed; retrying", target=key, error=error)
                self._send_errors[key] = error
            return False
        if self._send_errors.pop(key, ""):
            log.info("artnet send recovered", target=key)
        return True

    # -- polling ---------------------------------------------------------------------------

    def poll(self, targets: Iterable[str], port: int = ARTNET_PORT) -> int:
        """Send one ArtPoll (reply on change, no diagnostics) to each target; how many went."""
        packet = ArtPoll(
            flags=POLL_REPLY_ON_CHANGE,
            target_top=0x7FFF,
            target_bottom=0,
            esta_manufacturer=0,
            oem=0xFFFF,
        ).to_bytes()
        sent = 0
        for target in targets:
            if self._send(packet, (target, port), "ArtPoll"):
                sent += 1
                self.counters.polls_sent += 1
            else:
                self.counters.poll_errors += 1
        if sent:
            self._set_state("polling")
        elif self.state != "failing":
            self._set_state("failing", self.last_error)
        return sent

    # -- receiving -------------------------------------------------------------------------

    def on_other(self, packet: ArtNetOther, address: tuple[str, int]) -> None:
        """`serve_artnet_input(on_other=...)`: `handle_packet` at the discovery's clock."""
        self.handle_packet(packet, address, self.clock())

    def handle_packet(self, packet: object, address: tuple[str, int], now: float) -> None:
        """Take one decoded packet that arrived on an Art-Net socket from `address`."""
        if isinstance(packet, ArtPollReply):
            self.table.update(packet, address, now)
        elif isinstance(packet, ArtPoll):
            self.counters.polls_received += 1
            if self._is_own(address):
                self.counters.own_polls += 1
            else:
                self._reply(address, now)
        else:
            self.counters.ignored += 1  # ArtSync, ArtDmx on our own listener, …

    def _is_own(self, address: tuple[str, int]) -> bool:
        own = self.send_address
        if own is None or address[1] != own[1]:
            return False
        return own[0] in _WILDCARD or address[0] == own[0]

    def reply_packet(self, poller_ip: str) -> ArtPollReply:
        """Our ArtPollReply for a poll from `poller_ip` (advances the report counter)."""
        if self.bind_address in _WILDCARD:
            try:
                ip = IPv4Address(_local_address_towards(poller_ip))
            except OSError:
                ip = IPv4Address(0)
        else:
            ip = IPv4Address(self.bind_address)
        self._report_count = (self._report_count + 1) % 10000
        report = f"#0001 [{self._report_count:04d}] Trocadero running"
        return replace(self._template, ip=ip, node_report=report)

    def _reply(self, address: tuple[str, int], now: float) -> None:
        start, count = self._reply_window
        if now - start >= 1.0:
            start, count = now, 0
        if count >= MAX_REPLIES_PER_S:
            self.counters.replies_suppressed += 1
            return
        self._reply_window = (start, count + 1)
        port = self.reply_port if self.reply_port is not None else address[1]
        data = self.reply_packet(address[0]).to_bytes()
        if self._send(data, (address[0], port), "ArtPollReply"):
            self.counters.replies_sent += 1
        else:
            self.counters.reply_errors += 1

    def datagram(self, data: bytes, address: tuple[str, int], now: float) -> None:
        """Decode and handle one datagram read by discovery's own sockets."""
        self.counters.datagrams += 1
        try:
            packet = decode_artnet(data)
        except ArtNetUnsupported:
            self.counters.ignored += 1
            return
        except ArtNetError as exc:
            self.counters.malformed += 1
            self._malformed_log.warning(
                now,
                source=f"{address[0]}:{address[1]}",
                size=len(data),
                error=str(exc),
                malformed_total=self.counters.malformed,
            )
            return
        if isinstance(packet, ArtDmx):
            self.counters.ignored += 1
            return
        try:
            self.handle_packet(packet, address, now)
        except Exception as exc:  # a bug: this reply is dropped, discovery goes on
            CONTAINMENT.record("artnet_discovery", f"{address[0]}:{address[1]}", exc)


@dataclass(frozen=True, slots=True)
class DiscoveryStatistics:
    state: str = field(metadata=detail())
    healthy: bool
    listener: str | None = field(metadata=detail())
    nodes: int
    polls_sent: int = field(metadata=counter())
    poll_errors: int = field(metadata=counter())
    polls_received: int = field(metadata=counter())
    replies_sent: int = field(metadata=counter())
    reply_errors: int = field(metadata=counter())
    replies_suppressed: int = field(metadata=counter())
    replies_received: int = field(metadata=counter())
    datagrams: int = field(metadata=counter())
    malformed: int = field(metadata=counter())
    ignored: int = field(metadata=counter())
    nodes_rejected_full: int = field(metadata=counter())
    nodes_expired: int = field(metadata=counter())
    failing_targets: tuple[str, ...] = field(metadata=detail())
    last_error: str = field(metadata=detail())


def discovery_statistics(
    discovery: ArtNetDiscovery, now: float | None = None
) -> DiscoveryStatistics:
    """State, counters, node count, last error."""
    table = discovery.table
    now = discovery.clock() if now is None else now
    table.expire(now)
    c = discovery.counters
    return DiscoveryStatistics(
        state=discovery.state,
        healthy=discovery.state == "polling" and not discovery.failing_targets,
        listener=None if (lst := discovery.listener) is None else f"{lst[0]}:{lst[1]}",
        nodes=len(table),
        polls_sent=c.polls_sent,
        poll_errors=c.poll_errors,
        polls_received=c.polls_received,
        replies_sent=c.replies_sent,
        reply_errors=c.reply_errors,
        replies_suppressed=c.replies_suppressed,
        replies_received=table.replies,
        datagrams=c.datagrams,
        malformed=c.malformed,
        ignored=c.ignored,
        nodes_rejected_full=table.rejected_full,
        nodes_expired=table.expired,
        failing_targets=tuple(discovery.failing_targets),
        last_error=discovery.last_error,
    )


def discovery_health(discovery: ArtNetDiscovery, now: float | None = None) -> dict[str, Any]:
    """For /healthz: state, counters, node count, last error."""
    return to_json(discovery_statistics(discovery, now))


# -------------------------------------------------------------------------------------------
# Trio tasks


async def _read_loop(sock: socket.socket, discovery: ArtNetDiscovery) -> None:
    """Read `sock` (non-blocking stdlib socket) forever and hand each datagram on."""
    error_log = _Throttled("artnet receive failed")
    while True:
        await trio.lowlevel.wait_readable(sock)
        while True:
            try:
                data, address = sock.recvfrom(MAX_DATAGRAM + 1)
            except BlockingIOError:
                break
            except OSError as exc:  # e.g. ICMP port unreachable reported on the socket
                error_log.warning(discovery.clock(), error=str(exc))
                break
            now = discovery.clock()
            if len(data) > MAX_DATAGRAM:
                discovery.counters.datagrams += 1
                discovery.counters.malformed += 1
                continue
            discovery.datagram(data, (str(address[0]), int(address[1])), now)


async def _listen(
    discovery: ArtNetDiscovery,
    listen_address: str,
    port: int,
    task_status: trio.TaskStatus[None],
) -> None:
    """Bind `listen_address:port` (SO_REUSEADDR/PORT, retried) and read it forever."""
    started = False
    failing = ""
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if hasattr(socket, "SO_REUSEPORT"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((listen_address, port))
        except OSError as exc:
            sock.close()
            error = f"bind {listen_address}:{port}: {exc.strerror or exc}"
            if error != failing:
                log.error("artnet discovery cannot listen; retrying", error=error)
                failing = error
            discovery.last_error = error
            if not started:
                task_status.started()
                started = True
            await trio.sleep(RETRY_S)
            continue
        with sock:
            host, bound = sock.getsockname()[:2]
            discovery.listener = (str(host), int(bound))
            log.info("artnet discovery listening", address=f"{host}:{bound}")
            if not started:
                task_status.started()
                started = True
            await _read_loop(sock, discovery)


async def serve_artnet_discovery(
    discovery: ArtNetDiscovery,
    *,
    poll_targets: Iterable[str] = DEFAULT_POLL_TARGETS,
    interval_s: float = POLL_INTERVAL_S,
    port: int = ARTNET_PORT,
    poll_port: int | None = None,
    own_listener: bool = False,
    listen_address: str = "0.0.0.0",
    task_status: trio.TaskStatus[ArtNetDiscovery] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Poll every `interval_s`, read replies sent to the poll's source port, expire nodes.

    `port` is the Art-Net port listened on (with `own_listener`); polls go to `poll_port`
    (default: `port`) of each target. Started (`nursery.start` returns the discovery) once the
    sockets had their first try; the first poll is sent right after.
    """
    targets = list(poll_targets)
    dest_port = port if poll_port is None else poll_port
    try:
        async with trio.open_nursery() as nursery:
            if own_listener:
                await nursery.start(_listen, discovery, listen_address, port)
            opened = discovery.open()
            task_status.started(discovery)
            reading = False
            while True:
                if not opened:
                    opened = discovery.open()
                sock = discovery.send_socket
                if sock is not None and not reading:
                    nursery.start_soon(_read_loop, sock, discovery)
                    reading = True
                if opened:
                    discovery.poll(targets, dest_port)
                discovery.table.expire(discovery.clock())
                await trio.sleep(interval_s if opened else min(interval_s, RETRY_S))
    finally:
        discovery.close()
