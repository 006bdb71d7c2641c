"""sACN output throughput: the native output thread beside the machine's floor and the `sacn`
package, same run, same loopback receiver.

    ./dev bench outputs                          # 100, 800, 4000 universes, ~100 s in all
    ./dev bench outputs --seconds 3              # shorter measurement windows
    ./dev bench outputs --universes 100,4000 --realtime-priority 0

For each universe count N (full 512-slot universes, unicast to one 127.0.0.1 receiver that
never reads: once its 8 MiB buffer is full the kernel drops on arrival, the same for every
sender measured):

* **ours**: a 44 Hz `FrameClock` with one sACN output of N universes, the frame published
  once (the output still copies every universe's slots into its packets every frame). After a
  1 s warm-up it reads, over `--seconds`: the output thread's CPU time per frame and per
  datagram (`thread_cpu_ns` delta / frames, / datagrams; the clock's own wake-up included),
  its share of one core, deadline lateness p99/max and missed deadlines, and drops;
* **floor**: `native/rust/core/examples/sendmmsg_floor.rs` sending the same N datagrams per
  frame at 44 Hz from a bare loop with prebuilt headers (no frame, no templating, no sequence
  numbers), once with plain `sendmmsg` and once with UDP GSO as the output uses it; CPU per
  datagram, same measure (CLOCK_THREAD_CPUTIME_ID).

Then the `sacn` package (1.11, pure Python, a sender thread): its cost per universe sent
(`send_out` timed over all universes) and the largest universe count in a doubling ladder its
own 44 fps sender thread sustains (every universe sent every loop; "sustains" = within 5 % of
the loop rate it reaches with 1 universe, as its sleep-based loop never quite makes 44/s) for
`--seconds`/2 each.

Prints one table and two target lines: CPU per datagram of ours / the floor (GSO floor, as
ours uses GSO; target ≤ 1.5x) and the output thread's share of one core at 4,000 universes
(target < 50 %). Loopback charges the kernel's receive path to the sending thread, so the
absolute figures are higher than towards a NIC; the ratios compare like with like.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trocadero.native.clock import FrameClock

RATE_HZ = 44.0
ROOT = Path(__file__).resolve().parent.parent
RUST = ROOT / "native" / "rust"
FLOOR = RUST / "target" / "release" / "examples" / "sendmmsg_floor"
SO_RCVBUFFORCE = 33
SACN_PORT = 5568
WARMUP_S = 1.0


def sink(port: int = 0) -> socket.socket:
    """A 127.0.0.1 UDP socket that never reads (8 MiB buffer, then kernel drops)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, 8 << 20)
            break
        except OSError:
            continue
    sock.bind(("127.0.0.1", port))
    return sock


@dataclass
class Ours:
    cpu_per_frame_us: float
    cpu_per_packet_ns: float
    core_share: float
    p99_ms: float
    max_ms: float
    missed: int
    drops: int
    realtime: bool


def run_ours(universes: int, dest: str, seconds: float, realtime_priority: int) -> Ours:
    clock = FrameClock(RATE_HZ, universes * 512, realtime_priority=realtime_priority)
    out = clock.add_output(
        protocol="sacn",
        universes=[(i, i + 1) for i in range(universes)],
        destinations=[dest],
        cid=bytes(range(16)),
    )
    clock.publish(np.random.default_rng(1).integers(0, 256, universes * 512, dtype=np.uint8))
    clock.start()
    try:
        time.sleep(WARMUP_S)
        a, ao = clock.stats(), clock.output_stats(out)
        clock.reset_lateness()
        t0 = time.monotonic()
        time.sleep(seconds)
        b, bo = clock.stats(), clock.output_stats(out)
        wall = time.monotonic() - t0
    finally:
        clock.stop()
    cpu = b.thread_cpu_ns - a.thread_cpu_ns
    frames = max(1, b.frames_sent - a.frames_sent)
    packets = max(1, bo.packets_sent - ao.packets_sent)
    return Ours(
        cpu_per_frame_us=cpu / frames / 1e3,
        cpu_per_packet_ns=cpu / packets,
        core_share=cpu / 1e9 / wall,
        p99_ms=b.lateness_p99_ns / 1e6,
        max_ms=b.lateness_max_ns / 1e6,
        missed=b.missed_deadlines - a.missed_deadlines,
        drops=bo.drops - ao.drops,
        realtime=b.realtime,
    )


def build_floor() -> None:
    print("building the sendmmsg floor (cargo, release)...", file=sys.stderr)
    subprocess.run(
        ["cargo", "build", "-q", "-j1", "--release", "--example", "sendmmsg_floor"],
        cwd=RUST / "core",
        check=True,
    )


def run_floor(universes: int, dest: str, seconds: float, gso: int) -> float:
    """CPU ns per datagram of the bare sendmmsg loop."""
    result = subprocess.run(
        [
            str(FLOOR),
            *("--universes", str(universes), "--dest", dest, "--rate", str(RATE_HZ)),
            *("--seconds", str(seconds), "--warmup", str(WARMUP_S), "--gso", str(gso)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(result.stdout)
    return figures["cpu_ns_per_packet"]


def sacn_cost_per_universe(sacn: Any, universes: int = 200) -> float:
    """Thread CPU seconds the `sacn` package spends per universe sent (its send path)."""
    sender = sacn.sACNsender(bind_address="127.0.0.1", bind_port=0, universeDiscovery=False)
    try:
        data = tuple(range(256)) * 2
        outputs = []
        for u in range(1, universes + 1):
            sender.activate_output(u)
            sender[u].multicast = False
            sender[u].destination = "127.0.0.1"
            sender[u].dmx_data = data
            outputs.append(sender[u])
        handler = sender._sender_handler  # the code its sender thread runs per universe
        sent = 0
        t0 = time.thread_time()
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            now = time.time()
            for output in outputs:
                handler.send_out(output, now)
            sent += len(outputs)
        return (time.thread_time() - t0) / sent
    finally:
        sender.stop()


def sacn_sustains(sacn: Any, universes: int, seconds: float) -> float:
    """Loops per second the `sacn` sender thread achieves at fps=44, all universes each loop."""
    import sacn.sending.sender_handler as handler_module  # type: ignore[import-untyped]

    saved = handler_module.SEND_OUT_INTERVAL
    handler_module.SEND_OUT_INTERVAL = 0  # send every universe every loop, like ours
    sender = sacn.sACNsender(
        bind_address="127.0.0.1", bind_port=0, fps=int(RATE_HZ), universeDiscovery=False
    )
    loops: list[float] = []
    handler = sender._sender_handler
    periodic = handler.on_periodic_callback

    def counted(now: float) -> None:
        loops.append(time.monotonic())
        periodic(now)

    handler.on_periodic_callback = counted
    try:
        data = tuple(range(256)) * 2
        for u in range(1, universes + 1):
            sender.activate_output(u)
            sender[u].multicast = False
            sender[u].destination = "127.0.0.1"
            sender[u].dmx_data = data
        sender.start()
        time.sleep(WARMUP_S)
        start = time.monotonic()
        time.sleep(seconds)
        end = time.monotonic()
    finally:
        sender.stop()
        handler_module.SEND_OUT_INTERVAL = saved
    return sum(start <= t < end for t in loops) / (end - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="measurement per run")
    parser.add_argument("--universes", default="100,800,4000")
    parser.add_argument(
        "--realtime-priority",
        type=int,
        default=10,
        help="SCHED_FIFO priority for the output thread (0: don't ask), as the daemon does",
    )
    parser.add_argument("--no-sacn", action="store_true", help="skip the sacn package")
    args = parser.parse_args()
    counts = [int(n) for n in args.universes.split(",")]

    build_floor()
    receiver = sink()
    dest = f"127.0.0.1:{receiver.getsockname()[1]}"
    rows = []
    for n in counts:
        print(f"  {n} universes: ours, floor, floor+GSO ...", file=sys.stderr)
        ours = run_ours(n, dest, args.seconds, args.realtime_priority)
        floor = run_floor(n, dest, args.seconds, gso=0)
        floor_gso = run_floor(n, dest, args.seconds, gso=64)
        rows.append((n, ours, floor, floor_gso))

    sacn_line = "sacn package: skipped"
    if not args.no_sacn:
        try:
            import sacn
        except ImportError:
            sacn_line = "sacn package: not installed (pip install sacn)"
        else:
            print("  sacn package ...", file=sys.stderr)
            try:
                port_sink: socket.socket | None = sink(SACN_PORT)  # it always sends to 5568
            except OSError:
                port_sink = None  # port taken: its packets still go, to whoever listens
            per_universe = sacn_cost_per_universe(sacn)
            estimate = int(1 / RATE_HZ / per_universe)
            # Its loop sleeps `1/fps - work` with time.sleep, so even idle it runs a little
            # under 44/s: it falls behind when it drops 5 % below its own 1-universe rate.
            seconds = max(1.0, args.seconds / 2)
            baseline = sacn_sustains(sacn, 1, seconds)
            sustained, ladder = 0, [f"1: {baseline:.1f}/s"]
            n = 50
            while n <= 6400:
                rate = sacn_sustains(sacn, n, seconds)
                ladder.append(f"{n}: {rate:.1f}/s")
                if rate < 0.95 * baseline:
                    break
                sustained = n
                n *= 2
            if port_sink is not None:
                port_sink.close()
            sacn_line = (
                f"sacn 1.11: {per_universe * 1e6:.1f} µs CPU per universe sent → ~{estimate} "
                f"universes fit a 44 Hz frame; its sender thread sustained {sustained} "
                f"(loops/s at 44 fps: {', '.join(ladder)})"
            )
    receiver.close()

    rt = "SCHED_FIFO" if rows and rows[0][1].realtime else "normal scheduling"
    print(f"\nsACN, 44 Hz, unicast to a loopback receiver; output thread: {rt}")
    head = (
        f"{'universes':>9} | {'ours µs/frame':>13} | {'ours ns/pkt':>11} | "
        f"{'floor ns/pkt':>12} | {'floor+GSO':>9} | {'ours/floor+GSO':>14} | "
        f"{'core %':>6} | {'late p99/max ms':>15} | {'missed':>6} | {'drops':>5}"
    )
    print(head)
    print("-" * len(head))
    for n, ours, floor, floor_gso in rows:
        print(
            f"{n:>9} | {ours.cpu_per_frame_us:>13.0f} | {ours.cpu_per_packet_ns:>11.0f} | "
            f"{floor:>12.0f} | {floor_gso:>9.0f} | {ours.cpu_per_packet_ns / floor_gso:>13.2f}x | "
            f"{ours.core_share * 100:>6.1f} | "
            f"{f'{ours.p99_ms:.2f}/{ours.max_ms:.2f}':>15} | {ours.missed:>6} | {ours.drops:>5}"
        )
    print(sacn_line)
    big = [r for r in rows if r[0] == max(counts)]
    if big:
        n, ours, floor, floor_gso = big[0]
        ratio = ours.cpu_per_packet_ns / floor_gso
        print(
            f"target: ours within 1.5x of the floor's CPU per datagram at {n} universes: "
            f"{ratio:.2f}x ({'met' if ratio <= 1.5 else 'NOT met'}); "
            f"vs the plain sendmmsg floor {ours.cpu_per_packet_ns / floor:.2f}x"
        )
        print(
            f"target: output thread < 50 % of one core at {n} universes: "
            f"{ours.core_share * 100:.1f} % ({'met' if ours.core_share < 0.5 else 'NOT met'}); "
            f"missed deadlines: {ours.missed}"
        )


if __name__ == "__main__":
    main()
