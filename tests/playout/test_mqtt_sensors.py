"""Site sensors over MQTT into the real daemon, through a real Mosquitto: Zigbee2MQTT occupancy
seen as `sensor:data` by WebSocket and socket-API subscribers; malformed payloads counted and
logged once per topic; a broker restart → reconnect, resubscribe, retained state applied;
availability online and offline; TLS with a client certificate; the MQTT 3.1.1 fallback
(against a tiny local server, since Debian's Mosquitto 2.0 cannot be told to refuse MQTT 5)."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.daemon_harness import ADMIN_PASSWORD, Daemon, running_daemon
from tests.mosquitto_server import Mosquitto
from tests.ws_client import WsClient
from trocadero.client import Client

SENSORS = """
[[mqtt.sensors]]
name = "stairs"
topic = "zigbee2mqtt/stairs-pir"
payload = "zigbee2mqtt"
[[mqtt.sensors]]
name = "hall"
topic = "homeassistant/binary_sensor/+/state"
payload = "onoff"
reading = "occupied"
[[mqtt.sensors]]
name = "facade-lux"
topic = "site/lux"
payload = "number"
reading = "lux"
qos = 1
"""


def mqtt_config(port: int, extra: str = "") -> str:
    return (
        f'[mqtt]\nenabled = true\nport = {port}\nclient_id = "trocadero-test"\n'
        f"keep_alive_s = 2\nreconnect_min_s = 0.05\nreconnect_max_s = 0.3\n"
        f'availability_topic = "trocadero/test/availability"\n{extra}{SENSORS}'
    )


def wait_for(what: str, check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def mqtt_health(d: Daemon) -> dict[str, Any]:
    block: dict[str, Any] = d.health()["mqtt"]
    return block


def subscriber(d: Daemon) -> WsClient:
    r = httpx.post(
        d.base + "/api/auth/login", json={"name": "admin", "password": ADMIN_PASSWORD}, timeout=10
    )
    ws = WsClient(d.port, timeout=10.0)
    ws.send({"op": "auth", "token": r.json()["access_token"]})
    assert ws.receive_json()["ok"]
    ws.send({"op": "subscribe", "topics": ["sensor:data"]})
    assert ws.receive_json()["topics"] == ["sensor:data"]
    return ws


def next_reading(ws: WsClient) -> dict[str, Any]:
    event = ws.receive_json()
    assert event["event"] == "sensor:data", event
    data: dict[str, Any] = event["data"]
    return data


def retained(broker: Mosquitto, topic: str) -> str:
    port = str(broker.port)
    out = subprocess.run(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-t", topic, "-C", "1", "-W", "3"],
        capture_output=True,
        check=False,
        timeout=10,
    )
    return out.stdout.decode().strip()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto.start(tmp_path / "mosquitto")
    try:
        yield server
    finally:
        server.stop()


def test_zigbee_occupancy_reaches_subscribers_and_malformed_payloads_are_counted(
    tmp_path: Path, broker: Mosquitto
) -> None:
    with running_daemon(tmp_path, mqtt_config(broker.port)) as d:
        d.wait_healthy()
        wait_for("the MQTT connection", lambda: mqtt_health(d)["connected"])
        assert mqtt_health(d)["protocol_level"] == 5
        assert retained(broker, "trocadero/test/availability") == "online"
        ws = subscriber(d)

        broker.publish("zigbee2mqtt/stairs-pir", '{"occupancy": true, "battery": 97, "x": "y"}')
        reading = next_reading(ws)
        assert reading["sensor"] == "stairs"
        assert reading["values"] == {"occupancy": True, "battery": 97.0}
        assert reading["by"] == "mqtt"

        broker.publish("homeassistant/binary_sensor/hall/state", "OFF")
        assert next_reading(ws)["values"] == {"occupied": False}

        for bad in ("not json", "[1]", '{"occupancy": "maybe"}'):
            broker.publish("zigbee2mqtt/stairs-pir", bad)
        broker.publish("site/lux", "bright")
        broker.publish("site/other", "1")  # on no sensor's topic
        broker.publish("site/lux", "1250")
        reading = next_reading(ws)  # the malformed ones published nothing
        assert (reading["sensor"], reading["values"]) == ("facade-lux", {"lux": 1250.0})

        health = mqtt_health(d)
        assert health["malformed_payloads"] == 4
        assert health["messages"] == 7
        assert health["readings"] == 3
        metrics = d.get("/metrics").text
        assert "trocadero_mqtt_malformed_payloads_total 4.0" in metrics
        assert "trocadero_mqtt_connected 1.0" in metrics
        lines = [json.loads(x) for x in d.log().splitlines() if "malformed sensor" in x]
        # Once per topic per minute: three bad payloads on the stairs topic, one log line.
        assert sorted(x["topic"] for x in lines) == ["site/lux", "zigbee2mqtt/stairs-pir"]
        ws.close()
        assert d.stop()[0] == 0
    assert retained(broker, "trocadero/test/availability") == "offline"


def test_broker_restart_reconnects_resubscribes_and_applies_retained_state(
    tmp_path: Path, broker: Mosquitto
) -> None:
    with running_daemon(tmp_path, mqtt_config(broker.port)) as d:
        d.wait_healthy()
        wait_for("the MQTT connection", lambda: mqtt_health(d)["connected"])
        ws = subscriber(d)
        broker.publish("site/lux", "42", retain=True)
        assert next_reading(ws)["values"] == {"lux": 42.0}
        frames_before = d.health()["clock"]["frames_sent"]

        broker.restart(down_s=0.5)  # retained state is kept (persistence)
        # Resubscribed after the reconnect: the broker hands over the retained reading.
        assert next_reading(ws)["values"] == {"lux": 42.0}
        health = mqtt_health(d)
        assert health["connected"]
        assert health["reconnects"] == 1
        assert health["last_error"]  # the last failure: lost, or refused while it was down
        closed = [json.loads(x) for x in d.log().splitlines() if "MQTT connection closed" in x]
        assert closed[0]["error"] == "broker closed the connection"
        broker.publish("homeassistant/binary_sensor/stairs/state", "ON")
        assert next_reading(ws)["values"] == {"occupied": True}
        assert d.health()["clock"]["frames_sent"] > frames_before  # the lighting never paused
        assert d.health()["subsystems"]["mqtt"]["crashes"] == 0
        alerts = [json.loads(x) for x in d.log().splitlines() if '"alert"' in x]
        # One alert for the outage (the lost session), not one per failed attempt.
        assert [a["alert"] for a in alerts if a.get("subsystem") == "mqtt"] == [
            f"MQTT broker 127.0.0.1:{broker.port}: broker closed the connection"
        ]
        ws.close()


def test_tls_with_a_client_certificate(tmp_path: Path) -> None:
    broker = Mosquitto.start(tmp_path / "mosquitto", tls=True)
    try:
        assert broker.tls is not None
        tls = (
            f'tls = true\nserver_name = "localhost"\nca_file = "{broker.tls.ca}"\n'
            f'cert_file = "{broker.tls.client_cert}"\nkey_file = "{broker.tls.client_key}"\n'
        )
        with running_daemon(tmp_path, mqtt_config(broker.port, tls)) as d:
            d.wait_healthy()
            wait_for("the TLS connection", lambda: mqtt_health(d)["connected"])
            ws = subscriber(d)
            # A show script on the socket API sees the same readings.
            with Client(Path(d.health()["socket"]["path"])) as script:
                events = script.events(["sensor:data"], timeout=10)
                broker.publish("zigbee2mqtt/stairs-pir", '{"occupancy": false}')
                assert next_reading(ws)["values"] == {"occupancy": False}
                event = next(events)
            assert event["event"] == "sensor:data"
            assert event["data"]["values"] == {"occupancy": False}
            assert event["data"]["by"] == "mqtt"
            ws.close()
    finally:
        broker.stop()


def test_a_wrong_ca_is_refused_and_retried(tmp_path: Path, broker: Mosquitto) -> None:
    tls_broker = Mosquitto.start(tmp_path / "tls-broker", tls=True)
    try:
        other = Mosquitto.start(tmp_path / "other", tls=True)  # a CA the broker's cert is not from
        other.stop()
        assert other.tls is not None
        tls = f'tls = true\nserver_name = "localhost"\nca_file = "{other.tls.ca}"\n'
        with running_daemon(tmp_path, mqtt_config(tls_broker.port, tls)) as d:
            d.wait_healthy()
            health = wait_for(
                "a failed attempt", lambda: mqtt_health(d)["last_error"] and mqtt_health(d)
            )
            assert not health["connected"]
            assert "CERTIFICATE_VERIFY_FAILED" in health["last_error"]
            assert d.health()["status"] == "ok"  # the lighting carries on
    finally:
        tls_broker.stop()


# --- the 3.1.1 fallback, against a local server that refuses level 5 --------------------------


def read_packet(conn: socket.socket) -> tuple[int, bytes]:
    first = conn.recv(1)[0]
    length, shift = 0, 0
    while True:
        byte = conn.recv(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    body = b""
    while len(body) < length:
        body += conn.recv(length - len(body))
    return first, body


class Refuses5:
    """Refuses MQTT 5 with CONNACK 0x84, then speaks 3.1.1: checks the credentials, grants
    the subscription and sends one message on a sensor's topic."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.levels: list[int] = []
        self.credentials: list[bytes] = []
        self.subscribed = threading.Event()
        self.go = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        for _ in range(2):
            conn, _addr = self.sock.accept()
            with conn:
                _first, body = read_packet(conn)
                level = body[6]
                self.levels.append(level)
                if level == 5:
                    conn.sendall(b"\x20\x03\x00\x84\x00")  # unsupported protocol version
                    continue
                self.credentials.append(body[-14:])
                conn.sendall(b"\x20\x02\x00\x00")
                first, sub = read_packet(conn)
                assert first == 0x82
                conn.sendall(b"\x90\x05" + sub[:2] + b"\x00\x00\x01")  # three filters
                self.subscribed.set()
                self.go.wait(20)  # the test's subscriber is listening
                topic = b"zigbee2mqtt/stairs-pir"
                payload = b'{"occupancy": true}'
                body = struct.pack(">H", len(topic)) + topic + payload
                conn.sendall(bytes([0x30, len(body)]) + body)
                with contextlib.suppress(OSError, IndexError):
                    while True:  # answer pings until the daemon goes
                        first, _ = read_packet(conn)
                        if first == 0xC0:
                            conn.sendall(b"\xd0\x00")


def test_falls_back_to_mqtt_311_when_the_broker_refuses_5(tmp_path: Path) -> None:
    server = Refuses5()
    extra = 'username = "site"\npassword_env = "TROCADERO_MQTT_PW"\n'
    env = {"TROCADERO_MQTT_PW": "s3cret"}
    with running_daemon(tmp_path, mqtt_config(server.port, extra), env=env) as d:
        d.wait_healthy()
        ws = subscriber(d)
        health = wait_for(
            "the 3.1.1 connection", lambda: mqtt_health(d)["connected"] and mqtt_health(d)
        )
        assert health["protocol_level"] == 4
        assert server.subscribed.wait(10)
        server.go.set()
        reading = next_reading(ws)
        assert (reading["sensor"], reading["values"]) == ("stairs", {"occupancy": True})
        assert server.levels == [5, 4]
        assert server.credentials == [b"\x00\x04site\x00\x06s3cret"]
        assert "broker refused MQTT 5; reconnecting with MQTT 3.1.1" in d.log()
        ws.close()
    server.sock.close()
