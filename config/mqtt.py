"""The MQTT client for site sensors (`[mqtt]`, `[[mqtt.sensors]]`).

Secrets are never inline: the password is read from `password_file` (e.g. a systemd
credential) or the environment variable `password_env` when the client connects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal

from .fields import setting

PayloadShape = Literal["json", "onoff", "number", "zigbee2mqtt"]

# The same names `sensor:data` accepts (core/interactions.py).
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_SENSORS: Final = 256


def filter_problem(topic_filter: str) -> str | None:
    """Why `topic_filter` is not a valid MQTT topic filter, or None."""
    if not topic_filter:
        return "a topic filter is at least one character"
    if len(topic_filter.encode()) > 0xFFFF:
        return "a topic filter is at most 65535 bytes"
    if "\x00" in topic_filter:
        return "a topic filter holds no NUL"
    levels = topic_filter.split("/")
    for n, level in enumerate(levels):
        if "#" in level and (level != "#" or n != len(levels) - 1):
            return "'#' must be a whole level and the last"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None


@dataclass(frozen=True, slots=True)
class MqttSensorConfig:
    """One named sensor fed by the messages on a topic filter."""

    name: str = field(metadata={"doc": "the sensor's name in sensor:data", "max_length": 64})
    topic: str = field(metadata={"doc": "topic filter; + and # wildcards allowed"})
    payload: PayloadShape = setting(
        "json",
        "payload shape: json (a value at `path`), onoff (Home Assistant ON/OFF), number,"
        " zigbee2mqtt (a JSON object: every number, true/false or ON/OFF key is a reading)",
    )
    path: str = setting(
        "", "json: dotted path of the value in the document, e.g. state.temperature"
    )
    reading: str = setting(
        "",
        "the reading's name (json, onoff, number); empty = the path's last part, or 'state'"
        " (onoff) / 'value' (number)",
        max_length=64,
    )
    qos: int = setting(0, "subscription QoS (0 or 1)", minimum=0, maximum=1)

    def validate(self) -> list[str]:
        problems: list[str] = []
        if not _NAME.match(self.name):
            problems.append(f"name: 1-64 letters, digits, '_', '.', ':' or '-' (got {self.name!r})")
        if (why := filter_problem(self.topic)) is not None:
            problems.append(f"topic: {why} (got {self.topic!r})")
        if self.payload == "json" and not self.path:
            problems.append("path: required for payload 'json' (e.g. 'occupancy')")
        if self.path and self.payload != "json":
            problems.append(f"path: only for payload 'json' (got {self.path!r})")
        if self.path and any(not part for part in self.path.split(".")):
            problems.append(f"path: dotted names with no empty part (got {self.path!r})")
        if self.reading and self.payload == "zigbee2mqtt":
            problems.append("reading: zigbee2mqtt takes the readings' names from the keys")
        if self.reading and not _NAME.match(self.reading):
            problems.append(f"reading: not a valid reading name (got {self.reading!r})")
        return problems

    @property
    def reading_name(self) -> str:
        if self.reading:
            return self.reading
        if self.payload == "json":
            return self.path.rsplit(".", 1)[-1]
        return "state" if self.payload == "onoff" else "value"


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """The MQTT client: off by default (no broker is contacted unless configured)."""

    enabled: bool = setting(False, "connect to the broker and listen to the sensors")
    host: str = setting("127.0.0.1", "broker host name or address")
    port: int = setting(0, "broker port; 0 = 1883, or 8883 with tls", minimum=0, maximum=65535)
    tls: bool = setting(False, "TLS to the broker (server certificate verified)")
    ca_file: str = setting(
        "", "tls: CA bundle the broker's certificate is checked against; empty = the system's"
    )
    cert_file: str = setting("", "tls: client certificate (PEM), for brokers that require one")
    key_file: str = setting("", "tls: the client certificate's key; empty = in cert_file")
    server_name: str = setting("", "tls: name the certificate must carry; empty = host")
    username: str = setting("", "user name; empty = none")
    password_file: str = setting("", "file holding the password (trailing newline ignored)")
    password_env: str = setting("", "environment variable holding the password")
    client_id: str = setting("", "client identifier; empty = trocadero-<host name>", max_length=128)
    keep_alive_s: int = setting(30, "keep-alive: a ping this often", minimum=1, maximum=65535)
    connect_timeout_s: float = setting(
        10.0, "longest wait for the TCP/TLS connection and CONNACK", minimum=0.1, maximum=300.0
    )
    availability_topic: str = setting(
        "trocadero/availability",
        "retained 'online' here once connected; the broker publishes the will 'offline' when"
        " the daemon vanishes, and the daemon does on a clean stop",
    )
    max_packet_bytes: int = setting(
        256 << 10,
        "largest packet accepted (told to the broker); larger closes the connection",
        minimum=64,
        maximum=268_435_460,
    )
    reconnect_min_s: float = setting(
        0.5,
        "first reconnect delay (doubles per failure, with jitter)",
        minimum=0.01,
        maximum=600.0,
    )
    reconnect_max_s: float = setting(30.0, "longest reconnect delay", minimum=0.01, maximum=3600.0)
    malformed_log_interval_s: float = setting(
        60.0,
        "a topic's malformed payloads are logged at most once per this",
        minimum=0.0,
        maximum=86400.0,
    )
    sensors: tuple[MqttSensorConfig, ...] = field(default=())

    def validate(self) -> list[str]:
        problems: list[str] = []
        if self.password_file and self.password_env:
            problems.append("password_file: give password_file or password_env, not both")
        if (self.password_file or self.password_env) and not self.username:
            problems.append("username: required when a password is configured")
        if not self.tls:
            for key in ("ca_file", "cert_file", "key_file", "server_name"):
                if getattr(self, key):
                    problems.append(f"{key}: only with tls = true (got {getattr(self, key)!r})")
        if self.key_file and not self.cert_file:
            problems.append("key_file: needs cert_file")
        if self.availability_topic and (any(c in self.availability_topic for c in "+#\x00")):
            problems.append(
                f"availability_topic: a topic name, no wildcards (got {self.availability_topic!r})"
            )
        if self.reconnect_min_s > self.reconnect_max_s:
            problems.append(
                f"reconnect_min_s: must not exceed reconnect_max_s (got {self.reconnect_min_s:g}"
                f" > {self.reconnect_max_s:g})"
            )
        if len(self.sensors) > MAX_SENSORS:
            problems.append(f"sensors: at most {MAX_SENSORS} (got {len(self.sensors)})")
        seen: set[str] = set()
        for n, sensor in enumerate(self.sensors):
            if sensor.name in seen:
                problems.append(f"sensors[{n}].name: {sensor.name!r} is configured twice")
            seen.add(sensor.name)
        return problems

    @property
    def broker_port(self) -> int:
        return self.port or (8883 if self.tls else 1883)
