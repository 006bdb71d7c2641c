"""Session fuzzing of the MQTT edge, time-boxed (`TROCADERO_FUZZ_SECONDS`, default 40 s, of
which this takes a third): the test is the broker, a hostile one (`HostileBroker` in
`tests/session_fuzz.py`), sending mutated broker packets to the daemon's MQTT client. The
frame clock never stops, no failure is contained, the client's subsystem never crashes, and
it keeps reconnecting: every case's protocol error closes one connection, nothing more."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from tests.daemon_harness import running_daemon
from tests.session_fuzz import HostileBroker, describe_report

SECONDS = float(os.environ.get("TROCADERO_FUZZ_SECONDS", "40")) / 3


def test_hostile_broker_never_stops_the_clock(tmp_path: Path) -> None:
    seed = int(os.environ.get("TROCADERO_FUZZ_SEED", "1"))
    with HostileBroker(seed=seed) as broker:
        extra = (
            f"[mqtt]\nenabled = true\nport = {broker.port}\nkeep_alive_s = 1\n"
            "connect_timeout_s = 0.5\nreconnect_min_s = 0.01\nreconnect_max_s = 0.05\n"
            "max_packet_bytes = 65536\n"
            '[[mqtt.sensors]]\nname = "z"\ntopic = "zigbee2mqtt/+"\npayload = "zigbee2mqtt"\n'
            '[[mqtt.sensors]]\nname = "lux"\ntopic = "site/#"\npayload = "number"\n'
            '[[mqtt.sensors]]\nname = "ha"\ntopic = "homeassistant/#"\npayload = "onoff"\n'
        )
        with running_daemon(tmp_path, extra) as d, httpx.Client(base_url=d.base) as http:
            d.wait_healthy()
            report = broker.run(http, SECONDS, alive=lambda: d.proc.poll() is None)
            print(f"seed {seed}\n{describe_report(report)}")
            assert not report.findings, f"{describe_report(report)}\n{d.log()[-4000:]}"
            mqtt = d.health()["mqtt"]
    assert broker.sessions > 20, broker.sessions  # it kept reconnecting
    assert broker.connects_seen == broker.sessions  # each connection began with a CONNECT
    assert mqtt["protocol_errors"] > 0  # the mutations were seen as such
    assert mqtt["connects"] > 0  # and the good sessions connected
    assert mqtt["readings"] > 0
    assert mqtt["malformed_payloads"] > 0
