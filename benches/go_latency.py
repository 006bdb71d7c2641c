"""GO latency: from a GO command to the first packet on the wire carrying the new cue's first
fade step, through the real daemon, the REST API and sACN on loopback.

    ./dev bench go_latency                 # 1,000 GOs at 44 Hz (~3 min)
    ./dev bench go_latency --gos 200 --rate 30
    ./dev bench go_latency --via socket    # the same through the show-script socket API

The daemon runs a one-canvas show (one universe, gamma 1 so the first step of a fade from
black is visible in 8 bits) with a cue list whose two cues alternate white and black with a
0.1 s linear fade (cue 2 links back to cue 1), GO debounce off. The
bench holds one keep-alive HTTP connection, and for each GO notes CLOCK_REALTIME just before
the request is written; a receiver thread timestamps every sACN packet in the kernel
(SO_TIMESTAMPNS, the same clock). The latency of a GO is the first packet after it whose
slot has left the previous cue's level. GOs are spaced 0.15-0.25 s apart at random, so they
fall uniformly within the frame period.

A GO lands somewhere in the period, and the output thread sends on the period's deadlines,
so even a zero-cost path has latency uniform in [0, period]: the target is p99 ≤ one period
+ 2 ms. Printed: p50/p99/max, the period, and p99 minus the period.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.daemon_harness import AUTH_UNLIMITED, Daemon, running_daemon
from tests.sacn_capture import Capture
from trocadero.client import Client

SHOW = """
name = "GO latency bench"
[[canvases]]
name = "c"
width = 170
height = 1
[[fixture_types]]
name = "linear"
gamma = 1.0
[[fixtures]]
name = "strip"
canvas = "c"
type = "linear"
pixels = 170
universe = 1
[[looks]]
name = "white"
canvases = [{ canvas = "c", layers = [{ source = "solid", params = { colour = "#ffffff" } }] }]
[[looks]]
name = "black"
canvases = [{ canvas = "c", layers = [{ source = "solid", params = { colour = "#000000" } }] }]
[[cue_lists]]
name = "bench"
cues = [
  { number = "1", look = "white", up_fade = 0.1, down_fade = 0.1 },
  { number = "2", look = "black", up_fade = 0.1, down_fade = 0.1, link = "1" },
]
"""


def daemon_config(show_path: Path, rx_port: int, rate: float, extra: str = "") -> str:
    """The bench daemon's config: the show above, one sACN output to the receiver."""
    return (
        f'[show]\npath = "{show_path}"\n[clock]\nrate_hz = {rate}\n'
        "[playback]\ngo_debounce_s = 0.0\n"
        f'[[outputs]]\nname = "bench"\nprotocol = "sacn"\nuniverses = "1"\n'
        f'destinations = ["127.0.0.1:{rx_port}"]\n'
        # 1,000 GOs from one account: the per-user rate limit would refuse most of them.
        + AUTH_UNLIMITED
        + "login_attempts_per_minute = 1000\n"
        + extra.replace("\\n", "\n")
        + "\n"
    )


def send_gos(
    daemon: Daemon, gos: int, script: Client | None = None, seed: int = 1
) -> tuple[list[tuple[int, int]], list[float]]:
    """`gos` GOs 0.15-0.25 s apart: (realtime ns before each, level before it), and each
    one's reply time in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=5)
    sent: list[tuple[int, int]] = []
    replies: list[float] = []
    level = 0
    rng = random.Random(seed)
    for _ in range(gos):
        t0 = time.time_ns()
        if script is not None:
            body = script.go("bench")
            if body.get("outcome") != "done":
                raise SystemExit(f"GO failed: {body}")
        else:
            conn.request("POST", "/api/cue-lists/bench/go", body=b"{}", headers=daemon.headers())
            resp = conn.getresponse()
            body = json.loads(resp.read())
            if resp.status != 200 or body.get("outcome") != "done":
                raise SystemExit(f"GO failed: {resp.status} {body}")
        replies.append((time.time_ns() - t0) / 1e6)
        sent.append((t0, level))
        level = 255 - level
        time.sleep(rng.uniform(0.15, 0.25))
    conn.close()
    return sent, replies


def wire_latencies(rx: Capture, sent: list[tuple[int, int]]) -> np.ndarray:
    """Per GO, ms from just before the request to the first packet that left the level the
    slot had before it."""
    packets = [(p.rx_ns, p.slots[0]) for p in rx.packets if p.universe == 1]
    times = np.array([p[0] for p in packets], dtype=np.int64)
    latencies = []
    for t0, before in sent:
        i = int(np.searchsorted(times, t0, side="right"))
        while i < len(packets) and packets[i][1] == before:
            i += 1
        if i < len(packets):
            latencies.append((packets[i][0] - t0) / 1e6)
    return np.array(latencies)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--gos", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=44.0)
    ap.add_argument(
        "--via", choices=("rest", "socket"), default="rest", help="REST or the socket API"
    )
    ap.add_argument(
        "--config", default="", help='extra daemon config, e.g. "[render]\\nthread = false"'
    )
    args = ap.parse_args()
    rx = Capture()
    rx.start()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "show.toml").write_text(SHOW)
        extra = daemon_config(tmp_path / "show.toml", rx.port, args.rate, args.config)
        with running_daemon(tmp_path, extra) as daemon:
            daemon.wait_healthy()
            script = Client(daemon.health()["socket"]["path"]) if args.via == "socket" else None
            time.sleep(0.5)
            sent, _ = send_gos(daemon, args.gos, script)
            time.sleep(0.2)
    rx.close()
    lat = wire_latencies(rx, sent)
    period = 1000.0 / args.rate
    p50, p99 = np.percentile(lat, [50, 99])
    print(
        f"GO latency via {args.via} over {len(lat)} GOs at {args.rate:g} Hz"
        f" (period {period:.2f} ms)"
    )
    print(
        f"  p50 {p50:.2f} ms   p99 {p99:.2f} ms   max {lat.max():.2f} ms   min {lat.min():.2f} ms"
    )
    print(f"  p99 - period = {p99 - period:+.2f} ms   (target: p99 <= period + 2 ms)")
    hist = np.histogram(lat, bins=[0, 5, 10, 15, 20, 22.7, 25, 30, 50])
    print(
        "  histogram (ms):",
        list(zip(hist[1][:-1].round(1).tolist(), hist[0].tolist(), strict=False)),
    )
    print(f"  {'MET' if p99 <= period + 2.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
