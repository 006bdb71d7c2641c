"""The MDVR gateway under a fleet: positions stored per second, CPU, and what it does to the
frame clock's output lateness.

    ./dev bench mdvr_gateway                          # 2,000 devices, 1 position/s each, 30 s
    ./dev bench mdvr_gateway --devices 500 --seconds 10 --interval 0.25

In this process: the native frame clock at 44 Hz with a Trio task publishing frames (as in
benches/frame_clock.py) and the gateway (SQLite in a temporary state directory, the daemon's
default). In another process: ``trocadero mdvr-sim`` with N devices, each sending a V114 every
``--interval`` s with its clock advancing 1 s per report (time compressed, so every report has
its own protocol time). Phase "idle": no devices connected. Phase "fleet": all registered and
reporting. Prints messages stored per second, the CPU used by the daemon process (and by the
simulator), the native clock's p50/p99/max lateness and its late renders (deadlines without a
fresh frame from the Trio-task publisher) in both phases. The daemon's own render figures under
a fleet are in benches/soak.py.
Target (issue 7): p99 unchanged within 0.2 ms.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import trio

from trocadero.config.schema import LoggingConfig, MdvrConfig, StorageConfig
from trocadero.core.events import EventBus
from trocadero.core.storage import open_storage
from trocadero.native.clock import FrameClock
from trocadero.playout.logs import configure_logging
from trocadero.playout.mdvr.gateway import MdvrGateway

RATE_HZ = 44.0
FRAME_BYTES = 800 * 512


async def publisher(clock: FrameClock) -> None:
    frame = np.zeros(FRAME_BYTES, dtype=np.uint8)
    while True:
        frame[0] = (int(frame[0]) + 1) & 0xFF
        clock.publish(frame)
        await trio.sleep(1.0 / RATE_HZ)


def lateness(clock: FrameClock) -> dict[str, float]:
    s = clock.stats()
    return {
        "p50": s.lateness_p50_ns / 1e6,
        "p99": s.lateness_p99_ns / 1e6,
        "max": s.lateness_max_ns / 1e6,
        "samples": float(s.lateness_samples),
    }


async def measure(clock: FrameClock, gw: MdvrGateway, seconds: float) -> dict[str, Any]:
    clock.reset_lateness()
    late0, sent0 = clock.stats().late_renders, clock.stats().frames_sent
    stored0, recv0 = gw.stats.positions_stored, gw.stats.positions_received
    cpu0, wall0 = time.process_time(), time.monotonic()
    await trio.sleep(seconds)
    wall = time.monotonic() - wall0
    return {
        "lateness": lateness(clock),
        "stored_per_s": (gw.stats.positions_stored - stored0) / wall,
        "received_per_s": (gw.stats.positions_received - recv0) / wall,
        "cpu_pct": 100 * (time.process_time() - cpu0) / wall,
        # deadlines the output thread found no fresh frame for (the Trio-task publisher here
        # shares the thread with the gateway; the daemon's native render does not — see
        # benches/soak.py for the daemon itself)
        "late": clock.stats().late_renders - late0,
        "frames": clock.stats().frames_sent - sent0,
    }


async def main(devices: int, seconds: float, interval: float) -> int:
    ids = tuple(f"{n:05d}" for n in range(1, devices + 1))
    config = MdvrConfig(
        enabled=True,
        bind_address="127.0.0.1",
        signaling_port=0,
        media_port=0,
        allowed_devices=ids,
        heartbeat_s=30.0,
    )
    clock = FrameClock(RATE_HZ, FRAME_BYTES, realtime_priority=50)
    clock.start()
    fifo = "granted" if clock.stats().realtime else "refused"
    try:
        with tempfile.TemporaryDirectory(prefix="mdvr-bench-") as tmp:
            async with open_storage(StorageConfig(), Path(tmp)) as store:
                gw = MdvrGateway(config, store, EventBus(), Path(tmp) / "files", audit=False)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(publisher, clock)
                    await nursery.start(gw.serve)
                    print(
                        f"frame clock {RATE_HZ:g} Hz ({FRAME_BYTES} B, SCHED_FIFO {fifo}); "
                        f"gateway on SQLite; {devices} devices, a V114 every {interval:g} s each"
                        f" ({devices / interval:,.0f}/s offered), {seconds:g} s per phase"
                    )
                    idle = await measure(clock, gw, seconds)
                    sim = await trio.lowlevel.open_process(
                        [
                            sys.executable, "-m", "trocadero.playout.cli", "mdvr-sim",
                            "--port", str(gw.signaling_port), "--devices", str(devices),
                            "--interval", str(interval), "--clock-step", "1", "--no-video",
                            "--duration", str(seconds * 2 + 60),
                        ],
                        stdout=subprocess.DEVNULL,
                    )  # fmt: skip
                    try:
                        with trio.fail_after(60):
                            while len(gw.links) < devices:  # noqa: ASYNC110 - a counter
                                await trio.sleep(0.1)
                        await trio.sleep(2 * interval)  # past the registration burst
                        fleet = await measure(clock, gw, seconds)
                    finally:
                        sim.terminate()
                        await sim.wait()
                    sim_cpu = _child_cpu()
                    nursery.cancel_scope.cancel()
    finally:
        clock.stop()
    print(f"{'phase':6} {'stored/s':>9} {'recv/s':>9} {'CPU %':>6}  clock lateness ms")
    for name, r in (("idle", idle), ("fleet", fleet)):
        lt = r["lateness"]
        print(
            f"{name:6} {r['stored_per_s']:9,.0f} {r['received_per_s']:9,.0f} {r['cpu_pct']:6.1f}"
            f"  p50 {lt['p50']:.3f}  p99 {lt['p99']:.3f}  max {lt['max']:.3f}"
            f"  ({lt['samples']:.0f} frames); late renders {r['late']} of {r['frames']}"
            f" ({100 * r['late'] / max(1, r['frames']):.2f} %)"
        )
    print(f"simulator process CPU: {sim_cpu:.1f} s over the run")
    stats = gw.stats
    print(
        f"gateway: {stats.registrations} registrations, {stats.positions_stored:,} stored,"
        f" {stats.positions_duplicate} duplicates, {stats.positions_dropped} dropped,"
        f" {gw.flushed} batches"
    )
    delta = fleet["lateness"]["p99"] - idle["lateness"]["p99"]
    ok = delta <= 0.2
    print(f"p99 lateness change {delta:+.3f} ms; target ≤ +0.2 ms: {'MET' if ok else 'NOT MET'}")
    return 0


def _child_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each phase")
    parser.add_argument("--interval", type=float, default=1.0, help="s between a device's V114s")
    args = parser.parse_args()
    configure_logging(LoggingConfig(format="console", level="warning"), sys.stderr)
    raise SystemExit(trio.run(main, args.devices, args.seconds, args.interval))
