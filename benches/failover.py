"""Failover of the hot-standby pair (issue 19, docs/ha.md) measured on the wire: two real
daemons on loopback, one throwaway PostgreSQL, one receiver timestamping every Art-Net and
sACN packet in the kernel.

    ./dev bench failover                 # 20 kills, then one planned handover
    ./dev bench failover --kills 5

Each round: `kill -9` of the leader; the gap per protocol is the longest time the receiver
went without a packet of that protocol from *any* node (Art-Net: the old leader's last to
the standby's first; sACN: the standby was already sending at priority - 1, so this is the
ordinary interval between packets when failover is seamless). The killed node is started
again and joins as standby before the next round. Then one planned handover: sACN frames at
the top priority lost (an interval longer than 1.5 frame periods between priority-100
packets counts as lost frames), and Stream_Terminated packets seen from the old leader.
Standby lag: GO and RELEASE (instant cues) on the leader, each timed from the leader's first
sACN packet showing the change to the standby's (it follows the saved playback state). The
output thread's lateness (each node's /healthz, clock.lateness_us) is printed for both nodes
at the end; the comparison with a single node is not made yet.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from tests.daemon_harness import Daemon, free_port, running_daemon
from tests.ha_pair import NODES, SHOW, Receiver, Relay, node_config
from tests.postgres_server import PostgresServer

PERIOD_MS = 1000 / 44


def _gap_ms(rx: Receiver, t0: int, t1: int, kind: str) -> float:
    times = sorted(d.rx_ns for d in rx.since(t0, kind) if d.rx_ns <= t1)
    return max((b - a for a, b in itertools.pairwise(times)), default=0) / 1e6


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _role(d: Daemon) -> str:
    try:
        return str(d.health()["ha"]["role"])
    except Exception:
        return "down"


def _wait(what: str, check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--lag-rounds", type=int, default=20)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="trocadero-failover-"))
    server = PostgresServer.start(Path(tempfile.mkdtemp(prefix="trocadero-pg-")))
    # SIGTERM (e.g. `timeout`) unwinds like Ctrl-C: the daemons and PostgreSQL are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        dsn = server.create_database("failover")
        show = base / "show.toml"
        show.write_text(SHOW)
        with ExitStack() as stack, Receiver() as rx:
            relay = Relay()
            binds = {n: free_port() for n in NODES}
            relay.targets = {n: ("127.0.0.1", binds[n]) for n in NODES}
            relay.start()
            stack.callback(relay.close)
            nodes: dict[str, Daemon] = {}

            def start(name: str, preference: str) -> None:
                other = "b" if name == "a" else "a"
                extra = node_config(
                    name, show, dsn, rx.port, binds[name], relay.port_to(other), preference
                )
                home = base / name
                home.mkdir(exist_ok=True)
                nodes[name] = stack.enter_context(running_daemon(home, extra))
                nodes[name].wait_healthy()

            start("a", "primary")
            start("b", "standby")
            _wait("a to lead", lambda: _role(nodes["a"]) == "leader")
            gaps: dict[str, list[float]] = {"artnet": [], "sacn": []}
            for k in range(args.kills):
                leader = next(n for n in nodes if _role(nodes[n]) == "leader")
                standby = "b" if leader == "a" else "a"
                _wait("the standby", lambda s=standby: _role(nodes[s]) == "standby")
                time.sleep(0.5)
                t0 = time.time_ns()
                time.sleep(0.2)
                nodes[leader].proc.kill()
                nodes[leader].proc.wait()
                _wait("takeover", lambda s=standby: _role(nodes[s]) == "leader")
                time.sleep(0.3)
                t1 = time.time_ns()
                for kind in gaps:
                    gaps[kind].append(_gap_ms(rx, t0, t1, kind))
                print(
                    f"kill {k + 1:2}: {leader} → {standby}  Art-Net gap"
                    f" {gaps['artnet'][-1]:6.1f} ms  sACN gap {gaps['sacn'][-1]:5.1f} ms",
                    flush=True,
                )
                start(leader, "standby")  # a returning node joins as standby
            # Standby lag: GO (an instant white) and RELEASE (instant) on the leader, each
            # timed from the leader's first sACN packet showing it to the standby's.
            leader = next(n for n in nodes if _role(nodes[n]) == "leader")
            standby = "b" if leader == "a" else "a"
            lags: list[float] = []
            for k in range(args.lag_rounds):
                verb, on = ("go", True) if k % 2 == 0 else ("release", False)
                t0 = time.time_ns()
                nodes[leader].post(f"/api/cue-lists/main/{verb}", timeout=5)
                time.sleep(0.6)
                seen = {
                    n: min(
                        (
                            d.rx_ns
                            for d in rx.since(t0, "sacn")
                            if d.node == n and (d.level == 255) == on  # RELEASE: it fades
                        ),
                        default=None,
                    )
                    for n in (leader, standby)
                }
                first_leader, first_standby = seen[leader], seen[standby]
                if first_leader is not None and first_standby is not None:
                    lags.append((first_standby - first_leader) / 1e6)
            # One planned handover.
            leader = next(n for n in nodes if _role(nodes[n]) == "leader")
            time.sleep(0.5)
            t0 = time.time_ns()
            r = nodes[leader].post("/api/ha/handover", timeout=10)
            time.sleep(0.5)
            t1 = time.time_ns()
            top = sorted(
                d.rx_ns
                for d in rx.since(t0, "sacn")
                if d.rx_ns <= t1 and d.priority == 100 and not d.terminated
            )
            lost = sum(
                max(0, round((b - a) / 1e6 / PERIOD_MS) - 1) for a, b in itertools.pairwise(top)
            )
            terminated = [d for d in rx.since(t0, "sacn") if d.terminated and d.node == leader]
            health = {n: d.health() for n, d in nodes.items()}
        print()
        print(f"failover over {args.kills} kill -9 of the leader (loopback, heartbeat 50 ms x 4):")
        print(f"{'protocol':10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for kind, values in gaps.items():
            print(
                f"{kind:10} {_pct(values, 0.5):8.1f} {_pct(values, 0.99):8.1f} {max(values):8.1f}"
            )
        if lags:
            print(
                f"standby lag (a change on the leader's wire → on the standby's), {len(lags)}"
                f" changes: p50 {_pct(lags, 0.5):.1f} ms, p99 {_pct(lags, 0.99):.1f} ms,"
                f" max {max(lags):.1f} ms"
            )
        print(
            f"planned handover ({r.status_code}): sACN top-priority frames lost {lost},"
            f" Stream_Terminated from the old leader {len(terminated)}"
        )
        for n, h in health.items():
            print(f"node {n}: {h['ha']['role']}, last: {h['ha']['last_transition_reason']}")
            lat = h["clock"]["lateness_us"]
            print(
                f"node {n}: output thread lateness p99 {lat['p99']:.0f} µs, max {lat['max']:.0f} µs"
            )
        return 0
    finally:
        server.stop()
        shutil.rmtree(server.base, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
