"""Debian's olad (OLA 0.10.9) in the interop namespace: config, start, patch, read back, stop.

Quirks this works around (all seen with 0.10.9):

- With ``ip`` empty, the E1.31 and Art-Net plugins bind the first non-loopback interface
  (``v1`` here, not ``v0``), so both configs name 10.99.0.1 explicitly.
- olad enables every plugin that has no config file; the ones we do not test get
  ``enabled = false`` (the list is the set of ola-*.conf files olad 0.10.9 writes on first run).
- Art-Net: one node handles one Net/Sub-Net (``net``/``subnet`` in ola-artnet.conf); the
  Port-Address's low nibble is the OLA universe id modulo 16 of the patched universe.
- E1.31: the OLA universe id is the E1.31 universe number.
- ``ola_streaming_client -d`` connects, sends one frame and exits; in our runs olad put only
  some of those frames on the wire. Keep one client running and feed it lines on stdin
  instead (`stream_dmx`).
- E1.31 output is sent on change only (no keep-alive), with source name "<host>-OLA Server",
  priority 100 and the universe's real slot count (3 slots -> a 129-byte packet, no padding).
- Once an E1.31 input port joins a group, olad's E1.31 socket has IP_MULTICAST_LOOP off, so its
  output never loops back to local listeners (see `netns` for how we receive it anyway).
- olad honours stream-terminated packets at once ("CID … sent a termination for universe U"
  in its log at ``-l 3``), so a new source takes over without the 2.5 s source timeout.
- Without avahi, olad retries DNS-SD registration forever and logs each attempt, hence
  ``--no-register-with-dns-sd``.
"""

from __future__ import annotations

import json
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .netns import NetNs, stop_process_group, wait_for
from .scenario import ARTNET_NET, ARTNET_SUBNET, OLAD_ADDRESS

OLAD = "olad"
OLAD_USER = "olad"
HTTP = "http://127.0.0.1:9090"
E131_DEVICE = "E1.31 (DMX over ACN)"
ARTNET_DEVICE = "ArtNet"
START_TIMEOUT = 20.0

DISABLED_PLUGINS = (
    "dummy", "espnet", "ftdidmx", "gpio", "karate", "kinet", "milinst", "opendmx",
    "openpixelcontrol", "osc", "pathport", "renard", "sandnet", "shownet", "spi",
    "stageprofi", "uartdmx", "usbdmx", "usbserial",
)  # fmt: skip

_DEVICE = re.compile(r"^Device (\d+): (.*?)(?: \[([\d.]+)\])?$")
_PORT = re.compile(r"^\s+port (\d+), (IN|OUT)\b(.*)$")
_PATCHED = re.compile(r"patched to universe (\d+)")


@dataclass
class Port:
    index: int
    direction: str  # "IN" or "OUT"
    universe: int | None


@dataclass
class Device:
    id: int
    name: str
    address: str | None
    ports: list[Port] = field(default_factory=list)


def parse_dev_info(text: str) -> dict[str, Device]:
    """`ola_dev_info` output, by device name."""
    devices: dict[str, Device] = {}
    current: Device | None = None
    for line in text.splitlines():
        if m := _DEVICE.match(line):
            current = Device(int(m[1]), m[2], m[3])
            devices[current.name] = current
        elif (m := _PORT.match(line)) and current is not None:
            patched = _PATCHED.search(m[3])
            current.ports.append(Port(int(m[1]), m[2], int(patched[1]) if patched else None))
    return devices


def write_config(confdir: Path) -> None:
    """olad's config directory: E1.31 and Art-Net on 10.99.0.1, everything else disabled."""
    for plugin in DISABLED_PLUGINS:
        (confdir / f"ola-{plugin}.conf").write_text("enabled = false\n")
    (confdir / "ola-e131.conf").write_text(
        "enabled = true\n"
        f"ip = {OLAD_ADDRESS}\n"
        "input_ports = 5\n"
        "output_ports = 5\n"
        "ignore_preview = true\n"
        "prepend_hostname = true\n"
        "revision = 0.46\n"
    )
    (confdir / "ola-artnet.conf").write_text(
        "enabled = true\n"
        f"ip = {OLAD_ADDRESS}\n"
        f"net = {ARTNET_NET}\n"
        f"subnet = {ARTNET_SUBNET}\n"
        "output_ports = 4\n"
        "use_loopback = false\n"
    )


class Olad:
    """A running olad inside `ns`."""

    def __init__(self, ns: NetNs, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.ns = ns
        self.proc = proc
        self.log = log

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no olad log)"
        return "\n".join(text.splitlines()[-lines:])

    def devices(self) -> dict[str, Device]:
        result = self.ns.run("ola_dev_info", check=False, timeout=10)
        return parse_dev_info(result.stdout) if result.returncode == 0 else {}

    def device(self, name: str) -> Device:
        devices = self.devices()
        if name not in devices:
            pytest.fail(f"olad has no device {name!r}: {sorted(devices)}\n{self.log_tail()}")
        return devices[name]

    def patch(self, device: str, port: int, universe: int, *, input: bool) -> None:
        """`ola_patch` a port to an OLA universe and check that it took."""
        dev = self.device(device)
        args = ["ola_patch", "-d", str(dev.id), "-p", str(port), "-u", str(universe)]
        self.ns.run(*args, *(["-i"] if input else []), timeout=10)
        direction = "IN" if input else "OUT"
        ports = [
            p for p in self.device(device).ports if (p.index, p.direction) == (port, direction)
        ]
        if not ports or ports[0].universe != universe:
            pytest.fail(
                f"`{' '.join(args)}` did not patch {device} {direction} port {port}: {ports}"
            )

    def get_dmx(self, universe: int) -> bytes | None:
        """The universe's current slots from olad's HTTP API (None if HTTP does not answer)."""
        result = self.ns.run(
            "curl", "-s", "--max-time", "2", f"{HTTP}/get_dmx?u={universe}", check=False
        )
        if result.returncode != 0:
            return None
        try:
            dmx = json.loads(result.stdout)["dmx"]
        except (ValueError, KeyError, TypeError):
            return None
        return bytes(dmx)

    def wait_for_dmx(self, universe: int, expected: bytes, timeout: float = 15) -> None:
        """Poll `get_dmx` until the universe holds `expected`; fail with what it held."""
        last: list[bytes | None] = [None]

        def probe() -> bool | None:
            last[0] = self.get_dmx(universe)
            return True if last[0] == expected else None

        if wait_for(probe, timeout, interval=0.2) is None:
            got = last[0]
            detail = "no answer" if got is None else f"{len(got)} slots, first {list(got[:12])}"
            pytest.fail(
                f"olad universe {universe} never held our data (expected {len(expected)} slots, "
                f"first {list(expected[:12])}; got {detail})\n{self.log_tail()}"
            )

    def wait_for_log(self, text: str, timeout: float = 10) -> None:
        """Poll olad's log until it contains `text`."""

        def probe() -> bool | None:
            return True if text in self.log.read_text(errors="replace") else None

        if wait_for(probe, timeout, interval=0.2) is None:
            pytest.fail(f"olad never logged {text!r}:\n{self.log_tail()}")

    @contextmanager
    def stream_dmx(self, universe: int) -> Iterator[subprocess.Popen[str]]:
        """`ola_streaming_client -u universe` reading comma-separated frames from its stdin."""
        proc = subprocess.Popen(
            self.ns.cmd("ola_streaming_client", "-u", str(universe)),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            if proc.stdin is not None:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
            stop_process_group(proc)


def _drop_privileges() -> list[str] | None:
    """argv prefix that runs the rest as user olad, or None (no such user, or no tool).

    setpriv execs olad directly, so a SIGTERM reaches it at once; runuser (the fallback)
    forwards it, then waits 2 s before killing its child.
    """
    try:
        user = pwd.getpwnam(OLAD_USER)
    except KeyError:
        return None
    if shutil.which("setpriv"):
        ids = [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
        return ["setpriv", *ids, "--reset-env", "--"]
    if shutil.which("runuser"):
        return ["runuser", "-u", OLAD_USER, "--"]
    return None


@contextmanager
def running_olad(ns: NetNs) -> Iterator[Olad]:
    """Start olad in `ns` on a fresh config directory; stop it and remove the directory after."""
    if shutil.which(OLAD) is None:
        pytest.fail("olad is not installed: `./dev test` installs it (Debian package `ola`)")
    as_olad = _drop_privileges()
    confdir = Path(tempfile.mkdtemp(prefix="trocadero-olad-"))  # /tmp: traversable by olad
    log = confdir / "olad.log"
    argv = [OLAD, "-c", str(confdir), "-l", "3", "--no-register-with-dns-sd"]
    if as_olad is None:
        print(
            f"WARNING: no user {OLAD_USER!r} (or neither setpriv nor runuser): olad runs as root",
            file=sys.stderr,
        )
    else:
        argv = [*as_olad, *argv]
    olad: Olad | None = None
    try:
        write_config(confdir)
        if as_olad is not None:
            record = pwd.getpwnam(OLAD_USER)
            for path in (confdir, *confdir.iterdir()):
                shutil.chown(path, record.pw_uid, record.pw_gid)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ns.cmd(*argv), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        olad = Olad(ns, proc, log)
        _wait_started(olad)
        yield olad
    finally:
        if olad is not None:
            stop_process_group(olad.proc)
        shutil.rmtree(confdir, ignore_errors=True)


def _wait_started(olad: Olad) -> None:
    def ready() -> bool | None:
        if olad.proc.poll() is not None:
            pytest.fail(f"olad exited with {olad.proc.returncode}:\n{olad.log_tail()}")
        devices = olad.devices()
        if E131_DEVICE in devices and ARTNET_DEVICE in devices:
            return True
        return None

    if wait_for(ready, START_TIMEOUT, interval=0.2) is None:
        pytest.fail(
            f"olad did not bring up its E1.31 and Art-Net devices within {START_TIMEOUT} s:\n"
            f"{olad.log_tail()}"
        )
    for name in (E131_DEVICE, ARTNET_DEVICE):
        address = olad.device(name).address
        if address != OLAD_ADDRESS:
            pytest.fail(f"olad's {name} device bound {address}, not {OLAD_ADDRESS}")
    if wait_for(lambda: olad.get_dmx(1), START_TIMEOUT, interval=0.2) is None:
        pytest.fail(f"olad's HTTP server ({HTTP}) does not answer:\n{olad.log_tail()}")
