"""Sensor payloads in the shapes site gateways publish, turned into readings.

- ``json``: a JSON document and a dotted path to one value (``state.temperature``);
- ``onoff``: Home Assistant's ``ON``/``OFF`` (binary sensors; also true/false, 1/0);
- ``number``: a bare number (``21.5``);
- ``zigbee2mqtt``: a JSON object whose every number, true/false or ON/OFF value is a reading
  (``{"occupancy": true, "illuminance": 31, "battery": 97}``); other keys (device info,
  update status) are left out.

A payload that yields no reading raises `MalformedPayload` saying why; the readings are then
checked once more by `Interactions.sensor`, the one validation of sensor data.
"""

from __future__ import annotations

import json
import math
from typing import Final

from trocadero.config.mqtt import MqttSensorConfig

__all__ = ["MalformedPayload", "Readings", "decode_payload"]

Readings = dict[str, float | bool]

_ON: Final = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}
_ON_WORDS: Final = {"ON": True, "OFF": False}


class MalformedPayload(ValueError):
    pass


def _scalar(value: object) -> float | bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and value in _ON_WORDS:
        return _ON_WORDS[value]
    return None


def _text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"not UTF-8 (byte {exc.start})") from None


def _json(payload: bytes) -> object:
    try:
        return json.loads(_text(payload))
    except (ValueError, RecursionError) as exc:
        raise MalformedPayload(f"not JSON: {str(exc)[:80]}") from None


def decode_payload(sensor: MqttSensorConfig, payload: bytes) -> Readings:
    if sensor.payload == "onoff":
        word = _text(payload).lower()
        if word not in _ON:
            raise MalformedPayload(f"expected ON or OFF (got {_text(payload)[:40]!r})")
        return {sensor.reading_name: _ON[word]}
    if sensor.payload == "number":
        text = _text(payload)
        try:
            number = float(text)
        except ValueError:
            raise MalformedPayload(f"expected a number (got {text[:40]!r})") from None
        if not math.isfinite(number):
            raise MalformedPayload(f"expected a finite number (got {text[:40]!r})")
        return {sensor.reading_name: number}
    doc = _json(payload)
    if sensor.payload == "zigbee2mqtt":
        if not isinstance(doc, dict):
            raise MalformedPayload("expected a JSON object")
        readings = {str(k): v for k, raw in doc.items() if (v := _scalar(raw)) is not None}
        if not readings:
            raise MalformedPayload("no number, true/false or ON/OFF value in the object")
        return readings
    value: object = doc
    for part in sensor.path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise MalformedPayload(f"no {sensor.path!r} in the document")
        value = value[part]
    scalar = _scalar(value)
    if scalar is None:
        raise MalformedPayload(f"{sensor.path}: expected a number or true/false")
    return {sensor.reading_name: scalar}
