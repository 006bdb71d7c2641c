"""A private network namespace with a veth pair, so interop traffic never touches a real NIC.

Layout (reference: lighting-protocols.md §2.1, "Interop recipe")::

    namespace trocadero-<pid>
      lo  up
      v0  10.99.0.1/24 brd 10.99.0.255   <- olad and our senders bind here
      v1  10.99.0.2/24 brd 10.99.0.255   <- the veth's far end; our sACN receiver joins here
      route 239.0.0.0/8 dev v0

Why ``accept_local`` on ``v1``: olad turns ``IP_MULTICAST_LOOP`` off on its E1.31 socket as soon
as it joins a group for an input port, so its sACN output only leaves through ``v0`` and comes
back in on ``v1``. Its source address (10.99.0.1) is local to the namespace, and the kernel
drops such packets as martians unless ``net.ipv4.conf.v1.accept_local`` is 1 (with reverse-path
filtering off). Our own senders keep the loopback default, so olad hears them on ``v0``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from .scenario import OLAD_ADDRESS, OLAD_INTERFACE, PEER_ADDRESS, PEER_INTERFACE

IP = "ip"
REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# Runs inside the namespace: create a socket and hand its descriptor back over a Unix socket.
_SOCKET_MAKER = (
    "import socket, sys\n"
    "chan = socket.socket(fileno=int(sys.argv[1]))\n"
    "sock = socket.socket(int(sys.argv[2]), int(sys.argv[3]))\n"
    "socket.send_fds(chan, [b'fd'], [sock.fileno()])\n"
)


@dataclass(frozen=True)
class NetNs:
    """A named network namespace (`ip netns`); commands run in it via ``ip netns exec``."""

    name: str

    def cmd(self, *args: str) -> list[str]:
        """The argv that runs `args` inside the namespace."""
        return [IP, "netns", "exec", self.name, *args]

    def run(
        self, *args: str, timeout: float = 30, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `args` inside the namespace; with `check`, fail the test on a non-zero exit."""
        result = subprocess.run(
            self.cmd(*args), capture_output=True, text=True, timeout=timeout, input=input
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"`{' '.join(args)}` in netns {self.name} exited {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_DGRAM) -> socket.socket:
        """A socket created inside the namespace, usable from this process.

        A socket belongs to the namespace it was created in for its whole life; binding,
        joining groups, sending and receiving then all happen there.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with ours, theirs:
            result = subprocess.run(
                self.cmd(
                    sys.executable,
                    "-c",
                    _SOCKET_MAKER,
                    str(theirs.fileno()),
                    str(family),
                    str(type),
                ),
                pass_fds=(theirs.fileno(),),
                capture_output=True,
                text=True,
                timeout=30,
            )
            if result.returncode != 0:
                pytest.fail(f"could not create a socket in netns {self.name}:\n{result.stderr}")
            _, fds, _, _ = socket.recv_fds(ours, 16, 1)
        return socket.socket(fileno=fds[0])


def require_root(what: str) -> None:
    """Fail (never skip) when the interop tests cannot run here."""
    if os.geteuid() != 0:
        pytest.fail(
            f"{what} needs root (network namespaces, veth pairs): run the tests as root, "
            "e.g. in the development container, or with sudo"
        )
    if shutil.which(IP) is None:
        pytest.fail("`ip` is not installed: `./dev test` installs it (Debian package iproute2)")


def _ip(*args: str) -> None:
    result = subprocess.run([IP, *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")


def _write_sysctl(ns: NetNs, values: dict[str, str]) -> None:
    script = "".join(
        f"echo {value} > /proc/sys/{key.replace('.', '/')} && " for key, value in values.items()
    )
    ns.run("sh", "-c", script + "true")


@contextmanager
def network_namespace(name: str | None = None) -> Iterator[NetNs]:
    """Create the namespace described in the module docstring; delete it afterwards."""
    require_root("the interop network namespace")
    ns = NetNs(name or f"trocadero-{os.getpid()}")
    if Path("/run/netns", ns.name).exists():
        # Left by an earlier run that was killed and happened to have our pid (containers
        # often do): the name is ours, so drop it rather than fail on "File exists".
        subprocess.run([IP, "netns", "del", ns.name], capture_output=True, timeout=30)
    try:
        _ip("netns", "add", ns.name)
    except RuntimeError as exc:
        pytest.fail(
            f"cannot create network namespace {ns.name} ({exc}); the container needs "
            "CAP_SYS_ADMIN and CAP_NET_ADMIN (e.g. docker run --privileged or "
            "--cap-add SYS_ADMIN --cap-add NET_ADMIN)"
        )
    try:
        try:
            _ip("-n", ns.name, "link", "set", "lo", "up")
            veth = ("type", "veth", "peer", "name", PEER_INTERFACE)
            _ip("-n", ns.name, "link", "add", OLAD_INTERFACE, *veth)
            for dev, address in ((OLAD_INTERFACE, OLAD_ADDRESS), (PEER_INTERFACE, PEER_ADDRESS)):
                _ip("-n", ns.name, "addr", "add", f"{address}/24", "brd", "+", "dev", dev)
                _ip("-n", ns.name, "link", "set", dev, "up")
            _ip("-n", ns.name, "route", "add", "239.0.0.0/8", "dev", OLAD_INTERFACE)
        except RuntimeError as exc:
            pytest.fail(f"cannot set up network namespace {ns.name}: {exc}")
        _write_sysctl(
            ns,
            {
                f"net.ipv4.conf.{PEER_INTERFACE}.accept_local": "1",
                "net.ipv4.conf.all.rp_filter": "0",
                f"net.ipv4.conf.{PEER_INTERFACE}.rp_filter": "0",
            },
        )
        yield ns
    finally:
        subprocess.run([IP, "netns", "del", ns.name], capture_output=True, timeout=30)


def stop_process_group(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str], grace: float = 5
) -> None:
    """End the process group that `proc` leads (it was started with start_new_session=True).

    SIGTERM to the group, up to `grace` seconds for the leader to exit, then SIGKILL to the
    group (children such as olad under runuser may outlive the leader). The leader is reaped
    only at the end, so its pid, and with it the group id, cannot be reused in between.
    """
    if proc.returncode is None:
        _signal_group(proc.pid, signal.SIGTERM)
        end = time.monotonic() + grace
        while time.monotonic() < end:
            exited = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if exited is not None:
                break
            time.sleep(0.05)
        _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def wait_for(probe: Callable[[], T | None], timeout: float, interval: float = 0.1) -> T | None:
    """Call `probe` until it returns something other than None, for up to `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None or time.monotonic() >= end:
            return result
        time.sleep(interval)
