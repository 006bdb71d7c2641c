"""The MQTT client for site sensors (`[mqtt]`): the sans-IO client (`protocols/mqtt.py`) over a
Trio TCP or TLS stream.

One connection at a time: connect (MQTT 5, falling back to 3.1.1 when the broker refuses
level 5), subscribe to every configured sensor's topic, publish a retained "online" on the
availability topic (the will says "offline"), then read. Each message on a sensor's topic is
decoded (`core/sensor_payloads.py`) and published as `sensor:data` through
`Interactions.sensor` under the `mqtt` system actor. A malformed payload is counted and
logged at most once per topic per `malformed_log_interval_s`; it never ends the connection.

A lost connection, a refused CONNECT or a malformed packet (`ProtocolError`, logged with its
byte offset) closes the connection and reconnects after a delay that doubles per failure
(`reconnect_min_s` … `reconnect_max_s`) with jitter, so a fleet of daemons does not return
in step after a broker restart. Run under the supervisor (`mqtt`), optional: the lighting
never waits for the broker.
"""

from __future__ import annotations

import os
import random
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import trio

from trocadero.config import ConfigError
from trocadero.config.mqtt import MqttConfig, MqttSensorConfig
from trocadero.core.containment import leaf
from trocadero.core.interactions import InvalidInput
from trocadero.core.permissions import Actor
from trocadero.core.sensor_payloads import MalformedPayload, Readings, decode_payload
from trocadero.core.statistics import counter, detail, gauge
from trocadero.protocols.mqtt import (
    ClientSettings,
    Connected,
    ConnectRefused,
    Event,
    Message,
    MqttClient,
    ProtocolError,
    ProtocolLevel,
    ServerDisconnect,
    Subscribed,
    Will,
)
from trocadero.protocols.mqtt_topics import matches

from .logs import get_logger

log = get_logger("mqtt")

MQTT_ACTOR: Final = Actor("mqtt", "admin", "system")
_TOPIC_CACHE: Final = 4096  # topic → sensors matched, remembered for this many topics
_LOGGED_TOPICS: Final = 4096  # topics whose last malformed-payload log time is kept

SensorSink = Callable[[Actor, str, Readings], object]  # Interactions.sensor
Alert = Callable[[str, str], object]  # EventBus.alert(source, text)
Flush = Callable[[], Awaitable[None]]
Outcome = Literal["fallback", "ended"]


class ConnectionLost(Exception):
    pass


class Refused(Exception):
    pass


_CONNECTION_ENDS: Final = (
    ConnectionLost,
    ProtocolError,
    OSError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
)


@dataclass(frozen=True, slots=True)
class MqttStatistics:
    """The MQTT client, section `mqtt` of /healthz and `trocadero_mqtt_*` in /metrics."""

    connected: bool
    broker: str = field(metadata=detail())
    protocol_level: int = field(metadata=gauge())  # 5, 4 (3.1.1), or 0 while disconnected
    connects: int = field(metadata=counter())
    reconnects: int = field(metadata=counter())  # connects after the first
    messages: int = field(metadata=counter())  # PUBLISH packets received
    readings: int = field(metadata=counter())  # sensor:data events published
    unmatched: int = field(metadata=counter())  # on no configured sensor's topic
    malformed_payloads: int = field(metadata=counter())
    protocol_errors: int = field(metadata=counter())
    last_error: str = field(metadata=detail())


@dataclass
class MqttStats:
    broker: str
    connected: bool = False
    level: int = 0
    connects: int = 0
    messages: int = 0
    readings: int = 0
    unmatched: int = 0
    malformed: int = 0
    protocol_errors: int = 0
    last_error: str = ""

    def statistics(self) -> MqttStatistics:
        return MqttStatistics(
            connected=self.connected,
            broker=self.broker,
            protocol_level=self.level if self.connected else 0,
            connects=self.connects,
            reconnects=max(0, self.connects - 1),
            messages=self.messages,
            readings=self.readings,
            unmatched=self.unmatched,
            malformed_payloads=self.malformed,
            protocol_errors=self.protocol_errors,
            last_error=self.last_error,
        )


def _why(exc: BaseException) -> str:
    """The error's text and its cause's (a TLS failure is a BrokenResourceError from SSLError)."""
    text, cause = str(exc), exc.__cause__
    if cause is not None:
        text = f"{text}: {cause}" if text else str(cause)
    return text or type(exc).__name__


def read_password(cfg: MqttConfig, environ: Mapping[str, str]) -> bytes | None:
    """The broker password from its file or environment variable (ConfigError naming the key)."""
    if cfg.password_file:
        try:
            return Path(cfg.password_file).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise ConfigError(
                [f"mqtt.password_file: cannot read {cfg.password_file}: {exc.strerror or exc}"]
            ) from exc
    if cfg.password_env:
        value = environ.get(cfg.password_env)
        if value is None:
            raise ConfigError([f"mqtt.password_env: ${cfg.password_env} is not set"])
        return value.encode()
    return None


def tls_context(cfg: MqttConfig) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(cafile=cfg.ca_file or None)
        if cfg.cert_file:
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file or None)
    except (OSError, ssl.SSLError) as exc:
        key = "mqtt.cert_file" if cfg.cert_file and "cert" in str(exc).lower() else "mqtt.ca_file"
        raise ConfigError([f"{key}: {exc}"]) from exc
    return ctx


def backoff_delay(failures: int, low: float, high: float, rng: random.Random) -> float:
    """Doubling per failure, capped, then jittered down to half: never in step with others."""
    base = min(high, low * 2 ** min(30, max(0, failures - 1)))
    return float(base * rng.uniform(0.5, 1.0))


class MqttSensors:
    def __init__(
        self,
        cfg: MqttConfig,
        sensor: SensorSink,
        *,
        alert: Alert | None = None,
        environ: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.cfg = cfg
        self.sensor = sensor
        self.alert = alert
        self.environ = dict(os.environ if environ is None else environ)
        self.rng = rng or random.Random()
        self.stats = MqttStats(f"{cfg.host}:{cfg.broker_port}")
        self.client_id = cfg.client_id or f"trocadero-{socket.gethostname()}"[:64]
        self._routes: dict[str, tuple[MqttSensorConfig, ...]] = {}
        self._logged: dict[str, float] = {}
        self._level: ProtocolLevel = 5
        self._was_connected = False  # the last session got as far as CONNACK

    # -- messages → readings -------------------------------------------------------------

    def sensors_for(self, topic: str) -> tuple[MqttSensorConfig, ...]:
        found = self._routes.get(topic)
        if found is None:
            found = tuple(s for s in self.cfg.sensors if matches(s.topic, topic))
            if len(self._routes) >= _TOPIC_CACHE:
                self._routes.clear()
            self._routes[topic] = found
        return found

    def on_message(self, message: Message) -> None:
        self.stats.messages += 1
        sensors = self.sensors_for(message.topic)
        if not sensors:
            self.stats.unmatched += 1
            return
        for sensor in sensors:
            try:
                self.sensor(MQTT_ACTOR, sensor.name, decode_payload(sensor, message.payload))
            except (MalformedPayload, InvalidInput) as exc:
                self._malformed(message.topic, sensor.name, str(exc))
            else:
                self.stats.readings += 1

    def _malformed(self, topic: str, sensor: str, why: str) -> None:
        self.stats.malformed += 1
        now = trio.current_time()
        last = self._logged.get(topic)
        if last is not None and now - last < self.cfg.malformed_log_interval_s:
            return
        if len(self._logged) >= _LOGGED_TOPICS:
            self._logged.clear()
        self._logged[topic] = now
        log.warning(
            "malformed sensor payload ignored",
            topic=topic[:200],
            sensor=sensor,
            error=why,
            malformed_total=self.stats.malformed,
            next_log_after_s=self.cfg.malformed_log_interval_s,
        )

    # -- the connection ------------------------------------------------------------------

    def settings(self, password: bytes | None) -> ClientSettings:
        cfg = self.cfg
        will = None
        if cfg.availability_topic:
            will = Will(cfg.availability_topic, b"offline", qos=1, retain=True)
        return ClientSettings(
            client_id=self.client_id,
            keep_alive_s=cfg.keep_alive_s,
            level=self._level,
            username=cfg.username or None,
            password=password,
            will=will,
            max_packet_size=cfg.max_packet_bytes,
        )

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        password = read_password(self.cfg, self.environ)  # a ConfigError names the key
        ctx = tls_context(self.cfg) if self.cfg.tls else None
        task_status.started()  # the lighting never waits for the broker
        failures = 0
        while True:
            outcome: Outcome = "ended"
            try:
                outcome = await self._session(password, ctx)
            except ProtocolError as exc:
                self.stats.protocol_errors += 1
                self._lost(f"protocol error: {exc}", packet=exc.packet, offset=exc.offset)
            except (Refused, ConnectionLost) as exc:
                self._lost(str(exc))
            except trio.TooSlowError:
                self._lost(f"no answer within {self.cfg.connect_timeout_s:g} s")
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._lost(f"connection failed: {_why(exc)}")
            finally:
                self.stats.connected = False
            if outcome == "fallback":
                continue  # at once, at the level the broker asked for
            if self.alert is not None and (self._was_connected or failures == 0):
                # Once per outage: when a session is lost, or the first attempt fails.
                self.alert("mqtt", f"MQTT broker {self.stats.broker}: {self.stats.last_error}")
            # Each new connection tries MQTT 5 first again: a broker may have been upgraded,
            # and one refused CONNECT is cheap next to a reconnect's backoff.
            self._level = 5
            failures = 1 if self._was_connected else failures + 1
            cfg = self.cfg
            delay = backoff_delay(failures, cfg.reconnect_min_s, cfg.reconnect_max_s, self.rng)
            log.info("reconnecting", after_s=round(delay, 3), failures=failures)
            await trio.sleep(delay)

    def _lost(self, why: str, **detail: object) -> None:
        self.stats.last_error = why
        log.error("MQTT connection closed", broker=self.stats.broker, error=why, **detail)

    async def _open(self, ctx: ssl.SSLContext | None) -> trio.abc.Stream:
        cfg = self.cfg
        tcp = await trio.open_tcp_stream(cfg.host, cfg.broker_port)
        if ctx is None:
            return tcp
        stream = trio.SSLStream(tcp, ctx, server_hostname=cfg.server_name or cfg.host)
        try:
            await stream.do_handshake()
        except BaseException:
            await trio.aclose_forcefully(tcp)
            raise
        return stream

    async def _session(self, password: bytes | None, ctx: ssl.SSLContext | None) -> Outcome:
        """One connection, until it is lost (raises) or the broker asks for 3.1.1."""
        cfg = self.cfg
        self._was_connected = False
        with trio.fail_after(cfg.connect_timeout_s):
            stream = await self._open(ctx)
        async with stream:
            client = MqttClient(self.settings(password))
            lock = trio.StrictFIFOLock()

            async def flush() -> None:
                async with lock:
                    data = client.data_to_send()
                    if data:
                        await stream.send_all(data)

            client.connect()
            await flush()
            with trio.fail_after(cfg.connect_timeout_s):
                answer, after = await self._connack(stream, client)
            if isinstance(answer, ConnectRefused):
                if answer.try_level is not None:
                    log.warning(
                        "broker refused MQTT 5; reconnecting with MQTT 3.1.1",
                        broker=self.stats.broker,
                        reason=answer.reason,
                    )
                    self._level = answer.try_level
                    return "fallback"
                raise Refused(f"broker refused the connection: {answer.reason}")
            # What came in the same read as the CONNACK (a DISCONNECT ends it here).
            self._handle(after)
            if client.state != "connected":
                raise ConnectionLost("broker closed the session after CONNACK")
            keep_alive = answer.server_keep_alive or cfg.keep_alive_s
            filters: dict[str, int] = {}
            for s in cfg.sensors:  # one filter shared by sensors: subscribed once
                filters[s.topic] = max(filters.get(s.topic, 0), s.qos)
            if filters:
                client.subscribe(sorted(filters.items()))
            if cfg.availability_topic:
                client.publish(cfg.availability_topic, b"online", qos=1, retain=True)
            await flush()
            self.stats.connects += 1
            self.stats.connected = self._was_connected = True
            self.stats.level = answer.level
            log.info(
                "MQTT connected",
                broker=self.stats.broker,
                protocol="5" if answer.level == 5 else "3.1.1",
                subscriptions=len(filters),
                keep_alive_s=keep_alive,
                connects=self.stats.connects,
            )
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._pinger, client, flush, keep_alive)
                    await self._reader(stream, client, flush)
            except BaseExceptionGroup as group:
                # The reader's or the pinger's one error, as itself: serve() knows it.
                lost, rest = group.split(_CONNECTION_ENDS)
                if lost is not None and rest is None:
                    raise leaf(lost) from None
                raise
            finally:
                if client.state == "connected":
                    await self._goodbye(client, flush)
            return "ended"

    async def _goodbye(self, client: MqttClient, flush: Flush) -> None:
        """On a clean stop: "offline" (retained) and DISCONNECT, so the will is not needed."""
        with trio.CancelScope(shield=True), trio.move_on_after(1.0):
            try:
                if self.cfg.availability_topic:
                    client.publish(self.cfg.availability_topic, b"offline", qos=0, retain=True)
                client.disconnect()
                await flush()
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # the connection is going anyway

    async def _connack(
        self, stream: trio.abc.Stream, client: MqttClient
    ) -> tuple[Connected | ConnectRefused, list[Event]]:
        """The CONNACK's answer, and the events that came after it in the same read."""
        while True:
            data = await stream.receive_some(65536)
            if not data:
                raise ConnectionLost("broker closed the connection before CONNACK")
            events = client.receive(data)
            if events:  # the client refuses anything before CONNACK: it is the first
                answer = events[0]
                if not isinstance(answer, Connected | ConnectRefused):
                    raise ConnectionLost(f"expected CONNACK, got {type(answer).__name__}")
                return answer, events[1:]

    async def _reader(self, stream: trio.abc.Stream, client: MqttClient, flush: Flush) -> None:
        while True:
            data = await stream.receive_some(65536)
            if not data:
                raise ConnectionLost("broker closed the connection")
            self._handle(client.receive(data))
            await flush()  # PUBACKs

    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Message):
                self.on_message(event)
            elif isinstance(event, Subscribed):
                self._subscribed(event)
            elif isinstance(event, ServerDisconnect):
                said = f": {event.reason}" if event.reason else ""
                raise ConnectionLost(f"broker disconnected (reason 0x{event.code:02x}{said})")

    def _subscribed(self, event: Subscribed) -> None:
        topics = sorted({s.topic for s in self.cfg.sensors})
        refused = [t for t, code in zip(topics, event.granted, strict=False) if code >= 0x80]
        if refused:
            text = f"broker refused the subscription to {', '.join(refused)}"
            log.error(text, broker=self.stats.broker)
            if self.alert is not None:
                self.alert("mqtt", text)

    async def _pinger(self, client: MqttClient, flush: Flush, keep_alive: int) -> None:
        while True:
            await trio.sleep(keep_alive)
            if client.pings_outstanding:
                raise ConnectionLost(f"no PINGRESP within the keep-alive ({keep_alive} s)")
            client.ping()
            await flush()
