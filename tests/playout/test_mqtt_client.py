"""The MQTT subsystem's parts that need no broker: the password's sources, the backoff,
messages routed to sensors, malformed payloads counted and logged once per topic per
interval (on Trio's mock clock)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import structlog
import trio
import trio.testing

from trocadero.config import ConfigError, parse_config
from trocadero.core.permissions import Actor
from trocadero.core.sensor_payloads import Readings
from trocadero.playout.mqtt import MqttSensors, backoff_delay, read_password
from trocadero.protocols.mqtt import Message

CONFIG = parse_config(
    "[mqtt]\nenabled = true\nmalformed_log_interval_s = 60.0\n"
    '[[mqtt.sensors]]\nname = "z"\ntopic = "zigbee2mqtt/+"\npayload = "zigbee2mqtt"\n'
    '[[mqtt.sensors]]\nname = "all"\ntopic = "#"\npayload = "number"\n',
    source="test",
).mqtt


def message(topic: str, payload: bytes) -> Message:
    return Message(topic, payload, 0, False, False, None)


def test_password_from_file_or_environment(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_bytes(b"s3cret\n")
    cfg = parse_config(f'[mqtt]\nusername = "u"\npassword_file = "{secret}"\n', source="x").mqtt
    assert read_password(cfg, {}) == b"s3cret"
    cfg = parse_config('[mqtt]\nusername = "u"\npassword_env = "PW"\n', source="x").mqtt
    assert read_password(cfg, {"PW": "from-env"}) == b"from-env"
    with pytest.raises(ConfigError, match=r"mqtt.password_env: \$PW is not set"):
        read_password(cfg, {})
    missing = f'[mqtt]\nusername = "u"\npassword_file = "{tmp_path}/none"\n'
    with pytest.raises(ConfigError, match=r"mqtt\.password_file: cannot read"):
        read_password(parse_config(missing, source="x").mqtt, {})


def test_backoff_doubles_caps_and_jitters() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, 0.5, 8.0, rng) for n in range(1, 9)]
    for n, d in enumerate(delays, start=1):
        ceiling = min(8.0, 0.5 * 2 ** (n - 1))
        assert ceiling / 2 <= d <= ceiling
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered


def test_routing_and_malformed_payloads_logged_once_per_topic() -> None:
    seen: list[tuple[str, Readings]] = []

    def sink(actor: Actor, sensor: str, values: Readings) -> None:
        assert actor.name == "mqtt"
        seen.append((sensor, values))

    sensors = MqttSensors(CONFIG, sink)

    async def run() -> list[str]:
        with structlog.testing.capture_logs() as logs:
            sensors.on_message(message("zigbee2mqtt/a", b'{"occupancy": true}'))
            sensors.on_message(message("site/lux", b"12"))
            for _ in range(3):
                sensors.on_message(message("site/lux", b"dark"))
            await trio.sleep(61)
            sensors.on_message(message("site/lux", b"dark"))
        return [x["topic"] for x in logs if x["event"] == "malformed sensor payload ignored"]

    logged = trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))
    # Per topic: the first, then the one a minute later.
    assert logged == ["zigbee2mqtt/a", "site/lux", "site/lux"]
    # "zigbee2mqtt/a" matches both sensors: "all" (a number) refuses the JSON.
    assert seen == [("z", {"occupancy": True}), ("all", {"value": 12.0})]
    stats = sensors.stats.statistics()
    assert (stats.messages, stats.readings, stats.malformed_payloads) == (6, 2, 5)
