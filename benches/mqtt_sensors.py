"""Sensor messages through a real Mosquitto into the daemon: messages per second handled, and
what they cost the frame clock, beside a peer measured in the same run.

    ./dev bench mqtt_sensors                      # 50,000 messages, 5 s idle phase
    ./dev bench mqtt_sensors --messages 200000

Mosquitto (Debian's) on loopback; `mosquitto_pub -l` publishes Zigbee2MQTT occupancy
payloads (QoS 0) as fast as the broker takes them. Two subscribers to the same topic: the
daemon (its `[mqtt]` client: each message decoded, validated and published as `sensor:data`)
and the peer, Debian's `mosquitto_sub` (C, libmosquitto, printing each payload to a pipe).
The broker fans every message out to both at once, so both see the same offered load.

Figures: each subscriber's messages per second (first to last message), the daemon's
readings against the messages sent, and the frame clock's lateness on the wire (a loopback
sACN receiver timestamping every packet in the kernel, as `benches/control_plane.py`) idle
and while the messages flow: Δ p99 = loaded p99 - idle p99. Targets (issue 21): at least
5,000 messages/s with the clock's Δ p99 ≤ 0.1 ms.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benches.control_plane import phase, wire_lateness
from tests.daemon_harness import running_daemon
from tests.mosquitto_server import Mosquitto
from tests.sacn_capture import Capture

PAYLOAD = b'{"occupancy": true, "illuminance": 31, "battery": 97, "linkquality": 120}'
TOPIC = "zigbee2mqtt/bench-pir"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    args = parser.parse_args()
    n = args.messages
    with tempfile.TemporaryDirectory() as tmp, Capture() as rx:
        broker = Mosquitto.start(Path(tmp) / "mosquitto")
        try:
            extra = (
                f'[[outputs]]\nname = "bench"\nprotocol = "sacn"\nuniverses = "1"\n'
                f'destinations = ["127.0.0.1:{rx.port}"]\n'
                f"[mqtt]\nenabled = true\nport = {broker.port}\n"
                f'[[mqtt.sensors]]\nname = "pir"\ntopic = "zigbee2mqtt/+"\n'
                'payload = "zigbee2mqtt"\n'
            )
            with running_daemon(Path(tmp), extra) as daemon:
                daemon.wait_healthy()
                deadline = time.monotonic() + 10
                while not daemon.health()["mqtt"]["connected"]:
                    if time.monotonic() > deadline:
                        raise SystemExit("the daemon did not connect to the broker")
                    time.sleep(0.05)
                time.sleep(1.0)
                idle = phase(rx, args.idle_seconds)
                late0 = daemon.health()["clock"]["late_renders"]

                where = ["-h", "127.0.0.1", "-p", str(broker.port), "-t", TOPIC]
                peer = subprocess.Popen(
                    ["mosquitto_sub", *where, "-C", str(n)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(0.5)  # subscribed before the first message
                start_rx = len(rx.packets)
                base = daemon.health()["mqtt"]["readings"]
                t0, wall0 = time.monotonic(), time.time_ns()
                pub = subprocess.run(
                    ["mosquitto_pub", *where, "-l"],
                    input=b"\n".join([PAYLOAD] * n) + b"\n",
                    check=True,
                    capture_output=True,
                    timeout=600,
                )
                t_sent = time.monotonic() - t0
                assert pub.returncode == 0
                peer_seen = sum(1 for _ in peer.stdout or ())  # until its n-th message
                peer.wait(timeout=60)
                t_peer = time.monotonic() - t0
                # The daemon: until its count stops moving.
                last, last_at, wall1 = base, time.monotonic(), time.time_ns()
                while time.monotonic() - last_at < 1.0:
                    got = daemon.health()["mqtt"]["readings"]
                    if got != last:
                        last, last_at, wall1 = got, time.monotonic(), time.time_ns()
                    time.sleep(0.02)
                t_daemon = last_at - t0
                # The frames sent while the messages flowed (publisher start to last reading).
                loaded = [
                    p.rx_ns
                    for p in rx.packets[start_rx:]
                    if p.universe == 1 and wall0 <= p.rx_ns <= wall1
                ]
                health = daemon.health()
                extra_idle = phase(rx, 0.5)  # frames still flowing afterwards
        finally:
            broker.stop()
    readings = last - base
    li, ll = wire_lateness(idle), wire_lateness(loaded)
    print(f"messages: {n:,} Zigbee2MQTT payloads ({len(PAYLOAD)} bytes) at QoS 0 via Mosquitto")
    print(f"publisher done in {t_sent:.2f} s ({n / t_sent:,.0f} msg/s offered)")
    print(f"{'subscriber':34} {'received':>10} {'seconds':>8} {'msg/s':>9}")
    print(
        f"{'peer: mosquitto_sub (C)':34} {peer_seen:10,} {t_peer:8.2f} {peer_seen / t_peer:9,.0f}"
    )
    print(
        f"{'daemon: [mqtt] → sensor:data':34} {readings:10,} {t_daemon:8.2f}"
        f" {readings / t_daemon:9,.0f}"
    )
    print(
        f"daemon / peer: {(readings / t_daemon) / (peer_seen / t_peer):.2f};"
        f" malformed {health['mqtt']['malformed_payloads']}, protocol errors"
        f" {health['mqtt']['protocol_errors']}, reconnects {health['mqtt']['reconnects']}"
    )
    print(f"{'phase':7} {'wire p50 ms':>12} {'p99 ms':>8} {'max ms':>8} {'packets':>8}")
    for name, f in (("idle", li), ("loaded", ll)):
        print(f"{name:7} {f[0]:12.3f} {f[1]:8.3f} {f[2]:8.3f} {f[3]:8d}")
    delta = ll[1] - li[1]
    rate = readings / t_daemon
    print(
        f"clock Δ p99 loaded - idle: {delta:+.3f} ms (target ≤ 0.1 ms: "
        f"{'MET' if delta <= 0.1 else 'NOT MET'}); daemon rate {rate:,.0f}/s (target ≥ 5,000:"
        f" {'MET' if rate >= 5000 else 'NOT MET'}); late renders during the load"
        f" {health['clock']['late_renders'] - late0}; frames after: {len(extra_idle)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
