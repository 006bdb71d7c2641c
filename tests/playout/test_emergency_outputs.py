"""The emergency look reaches every kind of output within about a frame while the daemon's
Python side is wedged inside one C call that holds the GIL (`/debug/fault/block-python?gil=
hold`): sACN and Art-Net (loopback receivers), Enttec DMX USB Pro and Open DMX (a pty standing
in for the USB-serial port). Each output is fed by the native output thread, which reads the
emergency input itself and applies the overlay; Open DMX through its native writer thread, with
no Python in the per-frame path."""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.daemon_harness import running_daemon
from tests.playout.test_playback_daemon import SHOW
from tests.sacn_capture import Capture

RED = b"\xff\x00\x00"
ENTTEC_MESSAGE = 518  # 0x7E, 6, len LSB, len MSB, start code, 512 slots, 0xE7
OPEN_DMX_FRAME = 513  # start code, 512 slots


@dataclass
class Received:
    """(receive time ns CLOCK_REALTIME, first three slots of show universe 1) per frame."""

    frames: list[tuple[int, bytes]] = field(default_factory=list)
    halt: threading.Event = field(default_factory=threading.Event)


def _artnet(rx: Received, sock: socket.socket) -> None:
    while not rx.halt.is_set():
        try:
            data = sock.recv(1024)
        except TimeoutError:
            continue
        # ArtDmx (opcode 0x5000, little-endian) for Port-Address 0 (= show universe 1).
        if data[:8] == b"Art-Net\0" and data[8:10] == b"\x00\x50" and data[14:16] == b"\0\0":
            rx.frames.append((time.time_ns(), bytes(data[18:21])))


def _serial(rx: Received, master: int, size: int, slots_at: int) -> None:
    buf = bytearray()
    while not rx.halt.is_set():
        if not select.select([master], [], [], 0.1)[0]:
            continue
        try:
            buf += os.read(master, 65536)
        except (BlockingIOError, OSError):
            continue
        now = time.time_ns()
        while len(buf) >= size:
            rx.frames.append((now, bytes(buf[slots_at : slots_at + 3])))
            del buf[:size]


@contextmanager
def receiver(kind: str) -> Iterator[tuple[str, Callable[[], list[tuple[int, bytes]]]]]:
    """(the [[outputs]] table for `kind`, the frames received so far)."""
    rx = Received()
    head = f'[[outputs]]\nname = "probe"\nprotocol = "{kind}"\nuniverses = "1"\n'
    if kind == "sacn":
        with Capture() as cap:
            yield (
                head + f'destinations = ["127.0.0.1:{cap.port}"]\n',
                lambda: [(p.rx_ns, p.slots[:3]) for p in list(cap.packets) if p.universe == 1],
            )
        return
    threads: list[threading.Thread] = []
    closers: list[Callable[[], None]] = []
    if kind == "artnet":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.1)
        closers.append(sock.close)
        threads.append(threading.Thread(target=_artnet, args=(rx, sock), daemon=True))
        table = head + f'destinations = ["127.0.0.1:{sock.getsockname()[1]}"]\n'
    else:
        master, slave = os.openpty()
        os.set_blocking(master, False)
        closers += [lambda: os.close(master), lambda: os.close(slave)]
        size, at = (ENTTEC_MESSAGE, 5) if kind == "enttec-pro" else (OPEN_DMX_FRAME, 1)
        threads.append(threading.Thread(target=_serial, args=(rx, master, size, at), daemon=True))
        table = head + f'device = "{os.ttyname(slave)}"\n'
    for t in threads:
        t.start()
    try:
        yield table, lambda: list(rx.frames)
    finally:
        rx.halt.set()
        for t in threads:
            t.join()
        for close in closers:
            close()


@pytest.mark.parametrize("kind", ["sacn", "artnet", "enttec-pro", "open-dmx"])
def test_emergency_reaches_every_output_while_the_gil_is_held(tmp_path: Path, kind: str) -> None:
    trigger = tmp_path / "fire-alarm"
    trigger.write_text("0\n")
    (tmp_path / "show.toml").write_text(SHOW)
    with receiver(kind) as (table, frames):
        extra = (
            f'[show]\npath = "{tmp_path / "show.toml"}"\n[debug]\nfault_injection = true\n'
            f'[emergency]\ninput_path = "{trigger}"\n{table}'
        )
        with running_daemon(tmp_path, extra) as d:
            health = d.wait_healthy()
            assert [o["protocol"] for o in health["outputs"]] == [kind]
            deadline = time.monotonic() + 10
            while len(frames()) < 10:
                assert time.monotonic() < deadline, f"{kind}: no frames"
                time.sleep(0.02)
            assert frames()[-1][1] == b"\0\0\0"  # no cue running: black
            blocked: dict[str, int] = {}

            def block() -> None:
                blocked["start"] = time.time_ns()
                d.post("/debug/fault/block-python?seconds=3&gil=hold", timeout=15)
                blocked["end"] = time.time_ns()

            blocker = threading.Thread(target=block)
            blocker.start()
            time.sleep(1.0)  # the Trio thread now sits in one C call holding the GIL
            t_alarm = time.time_ns()
            trigger.write_text("1\n")
            blocker.join()
            after = [f for f in frames() if f[0] > t_alarm]
            red = [f for f in after if f[1] == RED]
            assert red, f"{kind}: the emergency never reached the output"
            # While Python was still wedged, and within about a frame of the input changing
            # (frames counted, not wall time): at most the frame already on its way, and for
            # Open DMX the one its writer took just before the output thread's deadline.
            assert red[0][0] < blocked["end"], f"{kind}: only after Python was released"
            before_red = [f for f in after if f[0] < red[0][0]]
            assert len(before_red) <= (2 if kind == "open-dmx" else 1), (kind, len(before_red))
            # ...and stays: every frame after the first red one is red.
            assert all(f[1] == RED for f in after if f[0] >= red[0][0])
            assert d.stop()[0] == 0
