"""Trigger rules through the real daemon: readings posted to the sensor API make a rule GO a
cue list (seen on the wire, at the "rules" level, audited under the rule's name); a light
meter flapping around its threshold gives exactly the expected GOs (hysteresis and debounce);
/healthz counts the fires; a rule whose action fails is counted, and the daemon goes on; a
Zigbee2MQTT presence sensor through a real Mosquitto does the same, its flapping debounced."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.daemon_harness import Daemon, free_port, running_daemon, write_config
from tests.mosquitto_server import Mosquitto
from tests.sacn_capture import Capture

SHOW = """
name = "rules test"
[[canvases]]
name = "c"
width = 170
height = 1
[[fixture_types]]
name = "linear"
gamma = 1.0
[[fixtures]]
name = "c-strip"
canvas = "c"
type = "linear"
pixels = 170
universe = 1
[[looks]]
name = "white"
canvases = [{ canvas = "c", layers = [{ source = "solid", params = { colour = "#ffffff" } }] }]
[[cue_lists]]
name = "night"
cues = [{ number = "1", look = "white", up_fade = 0.0 }]
"""

RULE: dict[str, Any] = {
    "when": {"sensor": "roof", "key": "lux", "op": "<", "value": 50, "hysteresis": 10},
    "debounce_s": 0.5,
    "on_rise": [{"go": "night"}],
    "on_fall": [{"release": "night", "fade": 0}],
}


def start(tmp_path: Path, capture: Capture) -> Daemon:
    (tmp_path / "show.toml").write_text(SHOW)
    port = free_port()
    cfg = write_config(
        tmp_path / "trocadero.toml",
        port,
        tmp_path / "state",
        f'[show]\npath = "{tmp_path / "show.toml"}"\n'
        f'[[outputs]]\nname = "s"\nprotocol = "sacn"\nuniverses = "1"\n'
        f'destinations = ["127.0.0.1:{capture.port}"]\n',
    )
    with open(tmp_path / "daemon.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trocadero", "run", "--config", str(cfg)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    daemon = Daemon(proc, port, tmp_path / "daemon.log")
    daemon.wait_healthy()
    return daemon


def wait(what: Callable[[], bool], text: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, text
        time.sleep(0.02)


def wire_level(capture: Capture, after_ns: int) -> int | None:
    """Slot 1 of universe 1 in the newest packet received after `after_ns`."""
    found = [p for p in list(capture.packets) if p.universe == 1 and p.rx_ns > after_ns]
    return found[-1].slots[0] if found else None


def lux(daemon: Daemon, value: float) -> None:
    r = daemon.post("/api/sensors/roof", json={"values": {"lux": value}}, timeout=5)
    assert r.status_code == 202, r.text


def rule_goes(daemon: Daemon) -> list[str]:
    r = daemon.get("/api/audit", params={"actor": "rule:dusk", "limit": 100}, timeout=5)
    assert r.status_code == 200, r.text
    return [e["action"] for e in reversed(r.json()["items"]) if e["origin"] == "rule"]


def test_readings_make_a_rule_go_a_cue_list_on_the_wire(tmp_path: Path) -> None:
    with Capture() as capture:
        d = start(tmp_path, capture)
        try:
            r = d.put("/api/rules/dusk", json=RULE, timeout=5)
            assert r.status_code == 201, r.text
            assert d.put("/api/rules/dusk", json=RULE, timeout=5).status_code == 200
            lux(d, 400)
            time.sleep(0.3)
            assert wire_level(capture, time.time_ns() - 100_000_000) == 0  # dark: nothing plays

            posted = time.time_ns()
            lux(d, 20)
            wait(lambda: wire_level(capture, posted) == 255, "the rule's GO never reached the wire")
            state = d.get("/api/playback", timeout=5).json()
            (night,) = [s for s in state["lists"] if s["name"] == "night"]
            assert (night["level"], night["current"]) == ("rules", "1")
            top = state["ladder"]["c"][0]
            assert (top["level"], top["name"], top["by"]) == ("rule list", "night", "rule:dusk")
            why = d.get("/api/rules/dusk/why", timeout=5).json()
            assert why["on"] is True
            assert why["readings"][0] | {"age_s": 0} == {
                "sensor": "roof",
                "key": "lux",
                "value": 20.0,
                "age_s": 0,
                "ok": True,
            }

            # Flapping between 45 and 58: within the hysteresis band, nothing changes.
            for value in (45, 58, 47, 59, 44, 55, 49, 58):
                lux(d, value)
                time.sleep(0.05)
            # Above 60, but for less than the debounce: nothing either.
            lux(d, 75)
            time.sleep(0.2)
            lux(d, 40)
            time.sleep(0.8)
            assert rule_goes(d) == ["cue.go"]
            # Above 60 for good: one release; dark again: one more GO.
            released = time.time_ns()
            lux(d, 90)
            wait(lambda: wire_level(capture, released) == 0, "the rule's release never showed")
            lux(d, 10)
            wait(lambda: rule_goes(d) == ["cue.go", "cue.release", "cue.go"], str(rule_goes(d)))
            time.sleep(1.0)
            assert rule_goes(d) == ["cue.go", "cue.release", "cue.go"]

            health = d.get("/healthz", timeout=5).json()
            assert health["rules"]["fires"] == 3
            assert health["rules"]["errors"] == 0
            assert health["rules"]["last_fire"].startswith("dusk:rise at ")
            metrics = d.get("/metrics", timeout=5).text
            assert "trocadero_rules_fires_total 3.0" in metrics
            assert "trocadero_rules_rules 1.0" in metrics

            # A rule whose action fails (the list has no cue 7): counted and logged, the
            # daemon carries on; a rule naming a list the show lacks is refused at once.
            broken = {
                "when": {"sensor": "door", "key": "open", "is": True},
                "on_rise": [{"goto": "night", "cue": "7"}],
            }
            assert d.put("/api/rules/door", json=broken, timeout=5).status_code == 201
            bad = d.put("/api/rules/bad", json=broken | {"on_rise": [{"go": "nope"}]}, timeout=5)
            assert bad.status_code == 400
            assert 'rule.on_rise[0]: no cue list \\"nope\\"' in bad.text
            d.post("/api/sensors/door", json={"values": {"open": True}}, timeout=5)
            wait(lambda: d.get("/healthz", timeout=5).json()["rules"]["errors"] == 1, "no error")
            health = d.get("/healthz", timeout=5).json()["rules"]
            assert health["fires"] == 4
            assert "door" in health["last_error"]
            assert "7" in health["last_error"]
            items = d.get("/api/rules", timeout=5).json()["items"]
            assert [(i["name"], i["state"]["on"]) for i in items] == [
                ("door", True),
                ("dusk", True),
            ]
            assert "rule action failed" in d.log()
        finally:
            assert d.stop()[0] == 0


def test_a_presence_through_mosquitto_goes_a_cue_list_and_flapping_is_debounced(
    tmp_path: Path,
) -> None:
    broker = Mosquitto.start(tmp_path / "mosquitto")
    (tmp_path / "show.toml").write_text(SHOW)
    extra = (
        f'[show]\npath = "{tmp_path / "show.toml"}"\n'
        f"[mqtt]\nenabled = true\nport = {broker.port}\n"
        '[[mqtt.sensors]]\nname = "stairs"\ntopic = "zigbee2mqtt/stairs-pir"\n'
        'payload = "zigbee2mqtt"\n'
    )
    try:
        with Capture() as capture:
            outputs = (
                '[[outputs]]\nname = "s"\nprotocol = "sacn"\nuniverses = "1"\n'
                f'destinations = ["127.0.0.1:{capture.port}"]\n'
            )
            with running_daemon(tmp_path, extra + outputs) as d:
                d.wait_healthy()
                wait(lambda: d.health()["mqtt"]["connected"], "no MQTT connection", 15)
                rule = {
                    "when": {"sensor": "stairs", "key": "occupancy", "is": True},
                    "debounce_s": 0.5,
                    "on_rise": [{"go": "night"}],
                    "on_fall": [{"release": "night", "fade": 0}],
                }
                r = d.put("/api/rules/stairs", json=rule, timeout=5)
                assert r.status_code == 201, r.text
                # A PIR flapping every 0.1 s: never steady for the debounce, nothing fires.
                for i in range(10):
                    broker.publish(
                        "zigbee2mqtt/stairs-pir", f'{{"occupancy": {str(i % 2 == 0).lower()}}}'
                    )
                    time.sleep(0.1)
                time.sleep(0.8)
                assert d.get("/api/rules/stairs/why", timeout=5).json()["fires"] == 0
                posted = time.time_ns()
                broker.publish("zigbee2mqtt/stairs-pir", '{"occupancy": true}')
                wait(lambda: wire_level(capture, posted) == 255, "the GO never reached the wire")
                latency_s = (time.time_ns() - posted) / 1e9
                assert latency_s < 2.0  # 0.5 s debounce + a tick + a frame, with slack
                left = time.time_ns()
                broker.publish("zigbee2mqtt/stairs-pir", '{"occupancy": false}')
                wait(lambda: wire_level(capture, left) == 0, "the release never reached the wire")
                r = d.get("/api/audit", params={"actor": "rule:stairs", "limit": 10}, timeout=5)
                actions = [e["action"] for e in reversed(r.json()["items"])]
                assert actions == ["cue.go", "cue.release"]
                assert d.stop()[0] == 0
    finally:
        broker.stop()
