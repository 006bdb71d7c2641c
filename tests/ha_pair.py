"""Two real daemons as a hot-standby pair on loopback (tests/playout/test_ha_pair.py,
benches/failover.py): one PostgreSQL, heartbeats through a relay the test can cut, and one
receiver that sees both nodes' Art-Net and sACN (each node sends from its own loopback
address, 127.0.0.2 / 127.0.0.3, so a datagram says who sent it)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.daemon_harness import Daemon, running_daemon
from tests.ports import free_udp_port

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
NODES = {"a": "127.0.0.2", "b": "127.0.0.3"}

SHOW = """
name = "ha test"
[[canvases]]
name = "c"
width = 170
height = 1
[[fixture_types]]
name = "linear"
gamma = 1.0
[[fixtures]]
name = "c-strip"
canvas = "c"
type = "linear"
pixels = 170
universe = 1
[[looks]]
name = "white"
canvases = [{ canvas = "c", layers = [{ source = "solid", params = { colour = "#ffffff" } }] }]
[[cue_lists]]
name = "main"
cues = [{ number = "1", look = "white", up_fade = 0.0 }]
[[cue_lists]]
name = "slow"
cues = [{ number = "1", look = "white", up_fade = 8.0 }]
"""


@dataclass(frozen=True, slots=True)
class Datagram:
    rx_ns: int  # kernel receive time, CLOCK_REALTIME
    node: str  # "a" or "b", from the source address
    kind: str  # "artnet" or "sacn"
    priority: int  # sACN only
    sequence: int
    terminated: bool  # sACN Stream_Terminated
    level: int  # slot 1
    rgb: bytes  # slots 1-3


class Receiver(threading.Thread):
    """Every Art-Net and sACN data packet on one loopback port, with its sender."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.got: list[Datagram] = []
        self._halt = threading.Event()
        self._by_ip = {ip: name for name, ip in NODES.items()}

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                data, anc, _flags, addr = self.sock.recvmsg(1024, socket.CMSG_SPACE(16))
            except TimeoutError:
                continue
            node = self._by_ip.get(addr[0])
            ts = next(
                (
                    sec * 1_000_000_000 + nsec
                    for level, kind, cdata in anc
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS
                    for sec, nsec in [struct.unpack("qq", cdata[:16])]
                ),
                None,
            )
            if node is None or ts is None:
                continue
            if data.startswith(b"Art-Net\0") and data[8:10] == b"\x00\x50":
                self.got.append(
                    Datagram(ts, node, "artnet", 0, data[12], False, data[18], data[18:21])
                )
            elif len(data) > 125 and data[21] == 0x04:
                self.got.append(
                    Datagram(
                        ts,
                        node,
                        "sacn",
                        data[108],
                        data[111],
                        bool(data[112] & 0x40),
                        data[126],
                        data[126:129],
                    )
                )

    def since(self, t_ns: int, kind: str | None = None) -> list[Datagram]:
        return [d for d in list(self.got) if d.rx_ns >= t_ns and (kind is None or d.kind == kind)]

    def senders(self, t_ns: int, kind: str) -> set[str]:
        return {d.node for d in self.since(t_ns, kind)}

    def close(self) -> None:
        self._halt.set()
        self.join()
        self.sock.close()

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Relay(threading.Thread):
    """The heartbeat link between the nodes, through the test: each node's peer address is
    one end of the relay; `cut` drops every datagram (the link is down, PostgreSQL is not)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.ends = {n: socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for n in NODES}
        for s in self.ends.values():
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.05)
        self.targets: dict[str, tuple[str, int]] = {}  # node → its heartbeat bind
        self.cut = False
        self._halt = threading.Event()

    def port_to(self, node: str) -> int:
        """The port that node's *peer* sends to: delivered to `node`."""
        port: int = self.ends[node].getsockname()[1]
        return port

    def run(self) -> None:
        while not self._halt.is_set():
            for node, sock in self.ends.items():
                try:
                    data = sock.recv(2048)
                except TimeoutError:
                    continue
                if not self.cut and node in self.targets:
                    sock.sendto(data, self.targets[node])

    def close(self) -> None:
        self._halt.set()
        self.join()
        for s in self.ends.values():
            s.close()


def node_config(
    name: str,
    show: Path,
    dsn: str,
    receiver_port: int,
    bind_port: int,
    peer_port: int,
    preference: str,
    interval_s: float = 0.05,
    misses: int = 4,
) -> str:
    ip = NODES[name]
    return (
        f'[show]\npath = "{show}"\n'
        f'[storage]\nbackend = "postgres"\npostgres_dsn = "{dsn}"\n'
        f'[ha]\nnode_name = "{name}"\nbind = "127.0.0.1:{bind_port}"\n'
        f'peer = "127.0.0.1:{peer_port}"\nrole_preference = "{preference}"\n'
        f"heartbeat_interval_s = {interval_s}\nheartbeat_misses = {misses}\n"
        f'[[outputs]]\nname = "art"\nprotocol = "artnet"\nuniverses = "1"\n'
        f'destinations = ["127.0.0.1:{receiver_port}"]\nbind_address = "{ip}"\n'
        f'[[outputs]]\nname = "sacn"\nprotocol = "sacn"\nuniverses = "1"\npriority = 100\n'
        f'destinations = ["127.0.0.1:{receiver_port}"]\nbind_address = "{ip}"\n'
    )


@dataclass
class PairRig:
    receiver: Receiver
    relay: Relay
    nodes: dict[str, Daemon]
    configs: dict[str, tuple[Path, str]]  # node → (its directory, its extra config)
    stack: ExitStack

    def restart(self, node: str) -> Daemon:
        """Start `node` again (after it was killed) on its own state directory."""
        home, extra = self.configs[node]
        self.nodes[node] = self.stack.enter_context(running_daemon(home, extra))
        self.nodes[node].wait_healthy()
        return self.nodes[node]

    def ha(self, node: str) -> dict[str, object]:
        section: dict[str, object] = self.nodes[node].health()["ha"]
        return section

    def leader(self) -> str | None:
        found = [
            n
            for n in self.nodes
            if self.nodes[n].proc.poll() is None and self.ha(n)["role"] == "leader"
        ]
        return found[0] if len(found) == 1 else None

    def wait_for(self, what: str, check: object, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if callable(check) and check():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def pair_rig(tmp_path: Path, dsn: str, **timing: float) -> Iterator[PairRig]:
    """Node a (prefers primary) then node b (standby), a leading once both are up."""
    show = tmp_path / "show.toml"
    show.write_text(SHOW)
    with ExitStack() as stack:
        receiver = Receiver()
        receiver.start()
        stack.callback(receiver.close)
        relay = Relay()
        binds = {n: free_udp_port() for n in NODES}  # the heartbeat sockets are UDP
        relay.targets = {n: ("127.0.0.1", binds[n]) for n in NODES}
        relay.start()
        stack.callback(relay.close)
        nodes: dict[str, Daemon] = {}
        configs: dict[str, tuple[Path, str]] = {}
        for name, preference in (("a", "primary"), ("b", "standby")):
            other = "b" if name == "a" else "a"
            extra = node_config(
                name,
                show,
                dsn,
                receiver.port,
                binds[name],
                relay.port_to(other),
                preference,
                **timing,  # type: ignore[arg-type]
            )
            home = tmp_path / name
            home.mkdir()
            configs[name] = (home, extra)
            nodes[name] = stack.enter_context(running_daemon(home, extra))
            nodes[name].wait_healthy()
        rig = PairRig(receiver, relay, nodes, configs, stack)
        rig.wait_for("a to lead", lambda: rig.leader() == "a")
        yield rig
