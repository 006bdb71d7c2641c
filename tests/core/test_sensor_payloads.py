"""Sensor payload shapes → readings, and why a payload is refused."""

from __future__ import annotations

import pytest

from trocadero.config.mqtt import MqttSensorConfig
from trocadero.core.sensor_payloads import MalformedPayload, decode_payload


def sensor(payload: str, path: str = "", reading: str = "") -> MqttSensorConfig:
    return MqttSensorConfig("s", "t", payload, path, reading)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("config", "payload", "readings"),
    [
        (
            sensor("zigbee2mqtt"),
            b'{"occupancy": true, "illuminance": 31, "battery": 97,'
            b' "update": {"state": "idle"}, "device": "x", "state": "ON"}',
            {"occupancy": True, "illuminance": 31.0, "battery": 97.0, "state": True},
        ),
        (sensor("onoff"), b"ON", {"state": True}),
        (sensor("onoff", reading="occupied"), b" off\n", {"occupied": False}),
        (sensor("number"), b"21.5", {"value": 21.5}),
        (
            sensor("json", "state.temperature"),
            b'{"state": {"temperature": 19}}',
            {"temperature": 19.0},
        ),
        (sensor("json", "occupancy", "present"), b'{"occupancy": false}', {"present": False}),
    ],
)
def test_shapes(config: MqttSensorConfig, payload: bytes, readings: dict[str, object]) -> None:
    assert decode_payload(config, payload) == readings


@pytest.mark.parametrize(
    ("config", "payload", "why"),
    [
        (sensor("zigbee2mqtt"), b"[1, 2]", "expected a JSON object"),
        (sensor("zigbee2mqtt"), b'{"device": "x"}', "no number"),
        (sensor("zigbee2mqtt"), b"{", "not JSON"),
        (sensor("onoff"), b"maybe", "expected ON or OFF"),
        (sensor("number"), b"nan", "finite"),
        (sensor("number"), b"twelve", "expected a number"),
        (sensor("number"), b"\xff", "not UTF-8"),
        (sensor("json", "a.b"), b'{"a": 1}', "no 'a.b'"),
        (sensor("json", "a"), b'{"a": "text"}', "expected a number"),
        (sensor("json", "a"), b"[" * 100_000, "not JSON"),
    ],
)
def test_malformed(config: MqttSensorConfig, payload: bytes, why: str) -> None:
    with pytest.raises(MalformedPayload, match=why):
        decode_payload(config, payload)
