"""Soak: the real daemon under the whole load for a chosen time, reported per interval.

    ./dev bench soak                                   # 2,000 vehicles, 10 min, 60 s rows
    ./dev bench soak --vehicles 500 --minutes 30 --interval 120
    ./dev bench soak --vehicles 0 --minutes 5          # the control plane alone
    ./dev bench soak --load-nice 10                    # the clients yield the CPU, as remote ones

Load, all at once: the default show (moving looks on five canvases, ~800 universes at 44 Hz)
with one sACN output of universe 1 to a loopback receiver that timestamps packets in the
kernel; N simulated vehicles (`trocadero mdvr-sim`, 1 position/s each) on the MDVR gateway;
50 REST pollers and 10 WebSocket preview clients (benches/control_plane.py's load process);
a playback verb client in its own process (PUT /api/masters/grand, 10/s); and a cue GO on
the default cue list every `--go-every` seconds from this process.

Per interval it prints: late renders (deadlines without a fresh frame, by cause: started
late, too slow, waited for the GIL/CPU) and where the period went; output lateness on the
wire (p99/max against the fitted 44 Hz grid); the daemon's RSS and open descriptors, and its
MDVR gateway process's beside them; positions stored and dropped; GO latency. At the end: the
verb client's p50/p99 beside its floor (the same PUT, from the same client, to a do-nothing
stdlib HTTP server under the same load) and each
target of issue 14 (late renders ≤ 0.1 % with vehicles, ≤ 0.01 % without; verb p99 ≤ 10 ms;
RSS flat within 2 % after warm-up; no descriptor growth; output p99 ≤ 0.1 ms) as MET/NOT MET.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benches.control_plane import floor_server, load_process, wire_lateness
from tests.daemon_harness import AUTH_UNLIMITED, Daemon, free_port, running_daemon
from tests.sacn_capture import Capture


def proc_status(pid: int) -> tuple[int, int]:
    """(RSS in KiB, open descriptors) of a process."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return rss, len(list(Path(f"/proc/{pid}/fd").iterdir()))


def soak_config(
    rx_port: int, sig: int, media: int, vehicles: int, extra: str = "", seconds: float = 600.0
) -> str:
    ids = ", ".join(f'"{n:05d}"' for n in range(1, vehicles + 1))
    mdvr = (
        f'[mdvr]\nenabled = true\nbind_address = "127.0.0.1"\nsignaling_port = {sig}\n'
        f"media_port = {media}\nallowed_devices = [{ids}]\n"
        f"max_unregistered_per_address = {vehicles + 100}\n"
        if vehicles
        else ""
    )
    return (
        f'[[outputs]]\nname = "soak"\nprotocol = "sacn"\nuniverses = "1"\n'
        f'destinations = ["127.0.0.1:{rx_port}"]\n'
        + AUTH_UNLIMITED
        # the load's tokens must outlive the run (the default 15 min would turn the second
        # half of a 30-minute soak into 401s)
        + f"access_ttl_s = {min(86400, int(seconds) + 900)}\n"
        + mdvr
        + extra
    )


def go(daemon: Daemon, cue_list: str) -> float:
    """One GO's latency (ms); a GO that gets no answer in 30 s counts as 30 s."""
    t0 = time.perf_counter()
    try:
        r = daemon.post(f"/api/cue-lists/{cue_list}/go", timeout=30.0)
    except httpx.HTTPError as exc:
        print(f"GO failed: {exc!r}", file=sys.stderr)
        return 30_000.0
    ms = (time.perf_counter() - t0) * 1e3
    if r.status_code != 200:
        print(f"GO refused: {r.status_code} {r.text[:200]}", file=sys.stderr)
    return ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vehicles", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds per row")
    parser.add_argument("--go-every", type=float, default=5.0)
    parser.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="minutes before the RSS baseline (per-device state fills up: a window of 64"
        " report times per vehicle takes a minute at 1 position/s)",
    )
    parser.add_argument(
        "--load-nice",
        type=int,
        default=0,
        help="CPU niceness of the vehicle simulator and the pollers/preview clients: on site"
        " they are other machines, here they share the daemon's two cores (the verb client"
        " and the floor server stay at 0)",
    )
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--ws", type=int, default=10)
    parser.add_argument(
        "--config", default="", help='extra daemon config, e.g. "[render]\\nthread = false"'
    )
    parser.add_argument(
        "--objects",
        action="store_true",
        help="also print which object types grew between the first row and the end"
        " (GET /debug/objects: turns on [debug] fault_injection, walks the heap twice)",
    )
    args = parser.parse_args()
    seconds = args.minutes * 60
    sig, media = free_port(), free_port()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, Capture() as rx:
        debug = "[debug]\nfault_injection = true\n" if args.objects else ""
        extra = soak_config(
            rx.port,
            sig,
            media,
            args.vehicles,
            args.config.replace("\\n", "\n") + "\n" + debug,
            seconds,
        )
        objects: list[dict[str, int]] = []
        with running_daemon(Path(tmp), extra) as daemon:
            daemon.wait_healthy()
            pid = daemon.proc.pid
            token = daemon.headers()["Authorization"].split()[1]
            canvases = [c["name"] for c in daemon.get("/api/canvases").json()["canvases"]]
            cue_list = daemon.get("/api/cue-lists").json()["items"][0]["name"]
            sim = None
            if args.vehicles:
                nice = ["nice", "-n", str(args.load_nice)] if args.load_nice else []
                sim = subprocess.Popen(
                    [
                        *nice,
                        sys.executable,
                        "-m",
                        "trocadero",
                        "mdvr-sim",
                        "--port",
                        str(sig),
                        "--devices",
                        str(args.vehicles),
                        "--interval",
                        "1",
                        "--duration",
                        str(seconds + 30),
                        "--no-video",
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )
            load = load_process(
                daemon.port,
                token,
                seconds + 10,
                args.pollers,
                args.ws,
                canvases,
                verbs=False,
                nice=args.load_nice,
            )
            floor_port = free_port()
            floor = floor_server(floor_port)
            time.sleep(0.5)
            timer = load_process(
                daemon.port, token, seconds + 10, 0, 0, canvases, verbs=True, floor_port=floor_port
            )
            time.sleep(10.0)  # fleet registered, clients connected: warm-up not counted
            print(
                f"soak: {args.vehicles} vehicles, {args.pollers} REST pollers, {args.ws}"
                f" WebSocket preview clients, verb client 10/s, GO every {args.go_every:g} s,"
                f" {args.minutes:g} min; simulator and load at nice {args.load_nice}"
            )
            print(
                f"{'t s':>6} {'late':>6} {'late %':>7} {'slow':>5} {'wait':>5} {'wake':>5}"
                f" {'wire p99':>9} {'max ms':>7} {'RSS MiB':>8} {'fds':>5}"
                f" {'pos/s':>7} {'dropped':>8} {'GO p99 ms':>10} {'gw RSS':>7} {'gw fds':>6}"
            )
            t_start = time.monotonic()
            prev = daemon.health()
            while time.monotonic() - t_start < seconds:
                start_packets = len(rx.packets)
                row_end = time.monotonic() + args.interval
                go_ms: list[float] = []
                while time.monotonic() < row_end:
                    go_ms.append(go(daemon, cue_list))
                    time.sleep(max(0.0, min(args.go_every, row_end - time.monotonic())))
                now = daemon.health()
                rx_ns = [p.rx_ns for p in rx.packets[start_packets:] if p.universe == 1]
                wire = wire_lateness(rx_ns) if len(rx_ns) > 10 else (0.0, 0.0, 0.0, 0)
                rss, fds = proc_status(pid)
                # The vehicles' own process (`[mdvr] own_process`): reported beside, not in,
                # the lighting daemon's figures.
                gw_pid = (now.get("mdvr_process") or {}).get("pid")
                gw_rss, gw_fds = proc_status(gw_pid) if gw_pid else (0, 0)
                a, b = prev["render"]["late_renders"], now["render"]["late_renders"]
                frames = now["render"]["frames_rendered"] - prev["render"]["frames_rendered"]
                late = b["total"] - a["total"]
                mc = (now.get("mdvr") or {}).get("counters") or {}
                pc = (prev.get("mdvr") or {}).get("counters") or {}
                row = {
                    "t": round(time.monotonic() - t_start),
                    "late": late,
                    "deadlines": frames + late,
                    "too_slow": b["too_slow"] - a["too_slow"],
                    "waited": b["waited"] - a["waited"],
                    "started_late": b["started_late"] - a["started_late"],
                    "wire_p99": wire[1],
                    "wire_max": wire[2],
                    "rss_kib": rss,
                    "fds": fds,
                    "gw_rss_kib": gw_rss,
                    "gw_fds": gw_fds,
                    "stored_per_s": (mc.get("positions_stored", 0) - pc.get("positions_stored", 0))
                    / args.interval,
                    "dropped": mc.get("positions_dropped", 0),
                    "go_p99": float(np.percentile(go_ms, 99)) if go_ms else 0.0,
                    "share": now["render"]["period_share"],
                    "missed": now["clock"]["missed_deadlines"],
                }
                rows.append(row)
                if args.objects and len(rows) == 1:
                    objects.append(daemon.get("/debug/objects?top=500").json()["objects"])
                print(
                    f"{row['t']:6d} {late:6d} {100 * late / max(1, row['deadlines']):7.3f}"
                    f" {row['too_slow']:5d} {row['waited']:5d} {row['started_late']:5d}"
                    f" {wire[1]:9.3f} {wire[2]:7.3f} {rss / 1024:8.1f} {fds:5d}"
                    f" {row['stored_per_s']:7.0f} {row['dropped']:8d} {row['go_p99']:10.1f}"
                    f" {gw_rss / 1024:7.1f} {gw_fds:6d}",
                    flush=True,
                )
                prev = now
            if args.objects:
                objects.append(daemon.get("/debug/objects?top=500").json()["objects"])
            timer_out, _ = timer.communicate(timeout=seconds + 120)
            floor.terminate()
            floor.wait(timeout=10)
            load.communicate(timeout=seconds + 120)
            if sim is not None:
                sim.terminate()
                sim.communicate(timeout=30)
            final = daemon.health()
    timed = json.loads(timer_out)
    verb, floor_ms = np.asarray(timed["verb_ms"]), np.asarray(timed["floor_ms"])
    late = sum(r["late"] for r in rows)
    deadlines = sum(r["deadlines"] for r in rows)
    share = rows[-1]["share"] if rows else {}
    late_pct = 100 * late / max(1, deadlines)
    late_target = 0.1 if args.vehicles else 0.01
    settled = [r for r in rows if r["t"] >= args.warmup * 60 - 1] or rows[-1:]
    base_rss = settled[0]["rss_kib"] if settled else 0
    rss_dev = max((abs(r["rss_kib"] - base_rss) / base_rss * 100 for r in settled), default=0.0)
    fd_growth = (rows[-1]["fds"] - rows[0]["fds"]) if rows else 0
    gw_base = settled[0]["gw_rss_kib"] if settled else 0
    gw_dev = max(
        (abs(r["gw_rss_kib"] - gw_base) / gw_base * 100 for r in settled if gw_base), default=0.0
    )
    wire_p99 = max((r["wire_p99"] for r in rows), default=0.0)
    verb_p99 = float(np.percentile(verb, 99)) if verb.size else float("nan")
    dropped = rows[-1]["dropped"] if rows else 0

    def verdict(ok: bool) -> str:
        return "MET" if ok else "NOT MET"

    print(
        f"late renders {late} of {deadlines} deadlines ({late_pct:.3f} %; target ≤ {late_target}"
        f" %: {verdict(late_pct <= late_target)}); missed output deadlines"
        f" {final['clock']['missed_deadlines']}"
    )
    if share:
        print(
            f"period spent (last 1,024 frames): wake delay {100 * share['wake_delay']:.1f} %,"
            f" render CPU {100 * share['render_cpu']:.1f} %, waiting while rendering"
            f" {100 * share['render_waiting']:.1f} %"
        )
    print(
        f"verb PUT /api/masters/grand: p50 {np.percentile(verb, 50):.2f} ms, p99"
        f" {verb_p99:.2f} ms, n {verb.size} (target p99 ≤ 10 ms: {verdict(verb_p99 <= 10)})"
    )
    if floor_ms.size:
        # The same client, the same PUT, to a do-nothing stdlib HTTP server beside the daemon:
        # what this machine gives any Python HTTP round trip under the same load.
        floor_p99 = float(np.percentile(floor_ms, 99))
        print(
            f"floor (do-nothing HTTP server, same client and load): p50"
            f" {np.percentile(floor_ms, 50):.2f} ms, p99 {floor_p99:.2f} ms, n {floor_ms.size};"
            f" verb p99 / floor p99 = {verb_p99 / floor_p99:.2f}"
        )
    print(
        f"RSS after {args.warmup:g} min warm-up: max deviation {rss_dev:.2f} %"
        f" (target ≤ 2 %: {verdict(rss_dev <= 2)})"
    )
    print(f"open descriptors: {fd_growth:+d} over the run ({verdict(fd_growth <= 0)})")
    if gw_base:
        print(
            f"gateway process RSS after warm-up: {gw_base / 1024:.1f} MiB, max deviation"
            f" {gw_dev:.2f} %; its descriptors {rows[-1]['gw_fds'] - rows[0]['gw_fds']:+d}"
        )
    print(f"output lateness p99, worst row: {wire_p99:.3f} ms ({verdict(wire_p99 <= 0.1)})")
    if args.vehicles:
        print(f"positions dropped: {dropped} ({verdict(dropped == 0)})")
    if len(objects) == 2:
        first, last = objects
        growth = sorted(((last[k] - first.get(k, 0), k) for k in last), reverse=True)[:15]
        print("live objects grown since the first row:", ", ".join(f"{k} +{n}" for n, k in growth))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
