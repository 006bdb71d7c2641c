"""The cost of metrics and of tracing: the same GOs through the real daemon with neither,
with /metrics scraped every second, and with tracing on, in one run, side by side.

    ./dev bench tracing_cost                  # 150 GOs per phase at 44 Hz (~1.5 min)
    ./dev bench tracing_cost --gos 400

Each phase starts a fresh daemon on the GO-latency show (benches/go_latency.py: one sACN
universe to a loopback receiver that timestamps packets in the kernel) and sends the same GOs
over REST. Phase "scraped" has a Prometheus stand-in GET /metrics once a second throughout
(Prometheus scrapes every 15-60 s: this is the harsh case; the histograms and counters are
kept in every phase, a scrape is what formats them). Phase "traced" exports every span
(sample ratio 1) over OTLP/HTTP to a collector in this process that reads and drops the
bodies, so export costs what it would against a real one on the same host. Printed per
phase and as its difference from "off":
- frame clock: the output thread's deadline lateness p99 over the phase (its own histogram);
- GO → wire p99: from just before the request to the first packet carrying the GO;
- REST verb: the GO's reply time, p50/p99.
Targets (issue 22), each phase against "off": frame clock Δ p99 ≤ 0.05 ms, GO → wire Δ p99
≤ 1 ms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benches.go_latency import SHOW, daemon_config, send_gos, wire_latencies
from tests.daemon_harness import running_daemon
from tests.sacn_capture import Capture


class _Sink(BaseHTTPRequestHandler):
    spans_bytes = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        _Sink.spans_bytes += len(body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class Phase:
    name: str
    clock_p99_ms: float
    wire: np.ndarray
    rest: np.ndarray


def _scrape(base: str, done: threading.Event, count: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=5.0) as client:
        while not done.wait(1.0):
            r = client.get("/metrics")
            assert r.status_code == 200, r.text
            count[0] += 1


def run_phase(name: str, tracing: str, gos: int, rate: float, *, scrape: bool = False) -> Phase:
    rx = Capture()
    rx.start()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "show.toml").write_text(SHOW)
        extra = daemon_config(tmp_path / "show.toml", rx.port, rate, tracing)
        with running_daemon(tmp_path, extra, env={"OTEL_BSP_SCHEDULE_DELAY": "500"}) as daemon:
            daemon.wait_healthy()
            time.sleep(0.5)
            done, scrapes = threading.Event(), [0]
            scraper = threading.Thread(target=_scrape, args=(daemon.base, done, scrapes))
            if scrape:
                scraper.start()
            sent, replies = send_gos(daemon, gos)
            time.sleep(0.2)
            done.set()
            if scrape:
                scraper.join()
                assert scrapes[0] > 0
            clock_p99_us = float(daemon.health()["clock"]["lateness_us"]["p99"])
    rx.close()
    return Phase(name, clock_p99_us / 1e3, wire_latencies(rx, sent), np.array(replies))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--gos", type=int, default=150)
    ap.add_argument("--rate", type=float, default=44.0)
    args = ap.parse_args()
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    on = (
        "[tracing]\nenabled = true\n"
        f'endpoint = "http://127.0.0.1:{sink.server_address[1]}/v1/traces"\n'
    )
    off = run_phase("off", "", args.gos, args.rate)
    scraped = run_phase("scraped", "", args.gos, args.rate, scrape=True)
    traced = run_phase("traced", on, args.gos, args.rate)
    sink.shutdown()
    print(f"Metrics and tracing cost over {args.gos} GOs per phase at {args.rate:g} Hz (REST)")
    print(f"  {'':8} {'clock p99':>10} {'GO→wire p50':>12} {'p99':>8} {'REST p50':>9} {'p99':>8}")
    rows = []
    for p in (off, scraped, traced):
        w50, w99 = np.percentile(p.wire, [50, 99])
        r50, r99 = np.percentile(p.rest, [50, 99])
        rows.append((p.clock_p99_ms, w99, r50, r99))
        print(
            f"  {p.name:8} {p.clock_p99_ms:8.3f}ms {w50:10.2f}ms {w99:6.2f}ms"
            f" {r50:7.2f}ms {r99:6.2f}ms"
        )
    met = True
    for i, label in ((1, "scraped-off"), (2, "traced-off")):
        d_clock, d_wire = rows[i][0] - rows[0][0], rows[i][1] - rows[0][1]
        d_rest50, d_rest99 = rows[i][2] - rows[0][2], rows[i][3] - rows[0][3]
        print(
            f"  {label:11} clock Δp99 {d_clock:+.3f} ms (target ≤ 0.05)   GO→wire Δp99"
            f" {d_wire:+.2f} ms (target ≤ 1)   REST Δp50 {d_rest50:+.2f} ms Δp99"
            f" {d_rest99:+.2f} ms"
        )
        met = met and d_clock <= 0.05 and d_wire <= 1.0
    print(f"  spans exported: {_Sink.spans_bytes} bytes of OTLP protobuf")
    print(f"  {'MET' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
