"""The render thread against a busy Python thread: what the GIL costs a frame.

    ./dev bench render_thread [--frames 200]

In this process: the default show's renderer (five canvases, ~860 universes, its sources
animated) rendered at 44 Hz in a thread of its own while another thread runs pure Python flat
out (the worst a busy Trio thread can do: it always wants the GIL). Three ways, in the same
run, per frame: wall time, CPU time of the render thread, and the difference (waiting for the
GIL or a core):

- "kernels drop the GIL, 5 ms switch": how a render thread behaves with nothing done about it
  (every kernel and numpy copy gives the GIL away, and each time it takes up to a switch
  interval to get it back);
- "kernels hold the GIL, 5 ms switch";
- "kernels hold the GIL, 0.2 ms switch": what the daemon's render thread does
  (playout/frames.py `render_thread`).

And the floor: the same renders with no busy thread at all.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trocadero.config import load_default_config
from trocadero.native import kernels
from trocadero.playout.showload import load_configured_show

RATE_HZ = 44.0


def measure(frames: int, *, busy: bool, hold: bool, switch_s: float) -> tuple[float, float, float]:
    """Median wall, CPU and p99 wall (ms) per frame."""
    show = load_configured_show(load_default_config())
    renderer = show.renderer
    for look in show.show.looks:
        renderer.set_look(look)
    stop = threading.Event()

    def spin() -> None:
        x = 0
        while not stop.is_set():
            x += 1

    walls: list[float] = []
    cpus: list[float] = []

    def render() -> None:
        kernels.hold_gil(hold)
        previous = sys.getswitchinterval()
        sys.setswitchinterval(switch_s)
        try:
            for i in range(frames + 10):
                w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
                renderer.render(i / RATE_HZ)
                if i >= 10:  # first frames build stacks and warm caches
                    walls.append((time.perf_counter_ns() - w0) / 1e6)
                    cpus.append((time.thread_time_ns() - c0) / 1e6)
                time.sleep(1 / RATE_HZ)
        finally:
            sys.setswitchinterval(previous)
            kernels.hold_gil(False)

    spinner = threading.Thread(target=spin)
    if busy:
        spinner.start()
    worker = threading.Thread(target=render)
    worker.start()
    worker.join()
    stop.set()
    if busy:
        spinner.join()
    return (
        float(np.median(walls)),
        float(np.median(cpus)),
        float(np.percentile(walls, 99)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    if kernels.IMPLEMENTATION != "cython":
        print("the Cython kernels are not built: nothing to compare")
        return 1
    rows = [
        ("no busy thread (floor)", False, True, 0.005),
        ("kernels drop the GIL, 5 ms switch", True, False, 0.005),
        ("kernels hold the GIL, 5 ms switch", True, True, 0.005),
        ("kernels hold the GIL, 0.2 ms switch", True, True, 0.0002),
    ]
    print(f"default show, {args.frames} frames at {RATE_HZ:g} Hz in a render thread")
    print(f"{'':38} {'wall p50 ms':>12} {'cpu p50 ms':>11} {'wall p99 ms':>12}")
    results = {}
    for name, busy, hold, switch in rows:
        wall, cpu, p99 = measure(args.frames, busy=busy, hold=hold, switch_s=switch)
        results[name] = wall
        print(f"{name:38} {wall:12.2f} {cpu:11.2f} {p99:12.2f}")
    floor = results[rows[0][0]]
    ours = results[rows[3][0]]
    naive = results[rows[1][0]]
    print(
        f"ours vs the floor: {ours / floor:.2f}x; the naive thread vs ours: {naive / ours:.1f}x"
        f" (period {1000 / RATE_HZ:.1f} ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
