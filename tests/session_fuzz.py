"""Stateful fuzzing of the daemon's sessions, through the real code paths.

Not the parsers alone (those are fuzzed in `native/rust/fuzz` and `tests/protocols`): whole
sessions over real sockets into a real daemon, so what the sessions *do* with what they parse
(echo it, store it, act on it) is exercised through the Rust binding, the gateway, the store
and the socket API.

- MDVR signaling: a valid V101 for an allowed id (most of the time), then captured device
  messages (positions, alarms, status, file queries, V100) with fresh times, mutated field by
  field (empty, oversize, control and non-UTF-8 bytes, `#`, huge and non-finite numbers, bad
  times) or byte by byte, with right or wrong length prefixes, split across writes at random.
- MDVR signaling over UDP (`[mdvr] udp`): the same sessions, one datagram per message.
- MDVR media: registrations and M1/M2 packets, mutated.
- Socket API: length-prefixed msgpack requests for every op with arguments of every wrong
  type (deep nesting, 2**70, NaN, bytes, long strings), random bodies, bad prefixes.

The property, checked twice a second and at the end: the daemon answers `/healthz`, its frame
clock keeps advancing, no session failure was *contained* (a contained failure means a
session raised: a bug even if the building stayed lit), and the stored data reads back
(`/api/mdvr/*`, the show, SQLite's integrity check). Findings carry the recent inputs; each
confirmed one is replayed alone to find its reproducer, which becomes a regression vector.

Used by `tests/fault/test_session_fuzz.py` (time-boxed, in CI) and
`benches/fuzz_sessions.py` (long runs; prints executions per second and findings).
"""

from __future__ import annotations

import contextlib
import random
import socket
import sqlite3
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgpack

from tests.protocols import mdvr_vectors as v
from trocadero.core.operations import OPERATIONS, SESSION_OPS
from trocadero.protocols.mqtt import encode_varint

DEVICE_IDS = tuple(f"FZ{n:03d}" for n in range(32))

# Device-originated captures (V-keywords): what a vehicle sends after registering.
DEVICE_MESSAGES: tuple[bytes, ...] = tuple(
    m for m in v.ALL_TEXT if m[9:].split(b",")[1:2] and m[9:].split(b",")[1].startswith(b"V")
)

NASTY: tuple[bytes, ...] = (
    b"",
    b"x" * 17,
    b"9" * 33,
    b"y" * 300,
    b"z" * 5000,
    b"\x00",
    b"\x01\x02\x7f",
    b"\xff\xfe\xfd",
    "é€".encode(),
    b"#",
    b",",
    b"99999999999999999999999",
    b"-9223372036854775809",
    b"-1",
    b"nan",
    b"inf",
    b"-inf",
    b"1e308",
    b"0x10",
    b"170915 10500",
    b"991399 999999",
    b"000000 000000",
    b"xx",
    b"  ",
    b"|||||",
    b"A0000",
    b"FFFFFFFFFFFFFFFFFFFF",
    b"V101",
    b"C100",
)

# Every op of the socket API (the table's own names: a new op is fuzzed without an edit here).
SOCKET_OPS = [*(op.name for op in OPERATIONS), *SESSION_OPS]
SOCKET_ARGS = [
    "canvas",
    "look",
    "rgb",
    "fade",
    "canvases",
    "ttl",
    "priority",
    "fade_in",
    "fade_out",
    "id",
    "target",
    "level",
    "on",
    "duration_s",
    "sensor",
    "values",
    "at",
    "limit",
    "cursor",
    "name",
    "list",
    "cue",
    "topics",
]


def now_text() -> bytes:
    return datetime.now(UTC).strftime("%y%m%d %H%M%S").encode()


def text_frame(fields: Sequence[bytes], *, length_ok: bool = True, rng: random.Random) -> bytes:
    body = b"," + b",".join(fields)
    n = len(body) if length_ok else rng.choice([0, len(body) + 7, len(body) - 3, 9999])
    return b"$$dc" + b"%04d" % max(0, min(9999, n)) + body + b"#"


def fields_of(frame: bytes) -> list[bytes]:
    """serial, keyword, device, workstation, time, content… of a captured frame."""
    return frame[9:-1].split(b",")


def registration(device_id: str, rng: random.Random) -> bytes:
    f = fields_of(v.E2_V101)
    f[0] = str(rng.randrange(1, 10_000)).encode()
    f[2] = device_id.encode()
    f[4] = now_text()
    return text_frame(f, rng=rng)


def device_message(device_id: str, rng: random.Random) -> list[bytes]:
    f = fields_of(rng.choice(DEVICE_MESSAGES))
    f[0] = str(rng.randrange(1, 10_000)).encode()
    if len(f) > 2:
        f[2] = device_id.encode()
    if len(f) > 4:
        f[4] = now_text()
    return f


def mutate_fields(f: list[bytes], rng: random.Random) -> list[bytes]:
    f = list(f)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        op = rng.random()
        i = rng.randrange(len(f)) if f else 0
        if op < 0.55 and f:
            f[i] = rng.choice(NASTY) if rng.random() < 0.85 else rng.randbytes(rng.randrange(40))
        elif op < 0.65 and f:
            del f[i]
        elif op < 0.75:
            f.insert(i, rng.choice(NASTY))
        elif op < 0.85 and len(f) > 1:
            f[1] = b"V%03d" % rng.randrange(1000)  # another keyword, same fields
        elif len(f) > 4:
            f[4] = rng.choice(NASTY[19:25])  # a bad time where the time goes
    return f


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    op = rng.random()
    if op < 0.4 and b:
        for _ in range(rng.randrange(1, 6)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif op < 0.6:
        del b[rng.randrange(len(b) + 1) :]
    elif op < 0.8:
        at = rng.randrange(len(b) + 1)
        b[at:at] = rng.choice(NASTY) or b"#"
    else:
        b += data[: rng.randrange(len(data) + 1)]
    return bytes(b)


def signaling_case(rng: random.Random) -> list[bytes]:
    device_id = rng.choice(DEVICE_IDS) if rng.random() < 0.9 else "ZZ" + str(rng.randrange(99))
    out: list[bytes] = []
    if rng.random() < 0.8:
        out.append(registration(device_id, rng))
    for _ in range(rng.randrange(1, 7)):
        f = device_message(device_id, rng)
        if rng.random() < 0.75:
            f = mutate_fields(f, rng)
        frame = text_frame(f, length_ok=rng.random() < 0.85, rng=rng)
        if rng.random() < 0.15:
            frame = mutate_bytes(frame, rng)
        out.append(frame)
    if rng.random() < 0.1:
        out.insert(rng.randrange(len(out) + 1), rng.randbytes(rng.randrange(1, 2000)))
    return out


def media_case(rng: random.Random) -> list[bytes]:
    out: list[bytes] = []
    if rng.random() < 0.6:
        f = fields_of(v.E4_V102)
        f[2] = rng.choice(DEVICE_IDS).encode()
        if rng.random() < 0.7:
            f = mutate_fields(f, rng)
        out.append(text_frame(f, rng=rng))
    for _ in range(rng.randrange(0, 4)):
        out.append(mutate_bytes(v.M1_FEEDBACK_OK, rng))
    if not out or rng.random() < 0.2:
        out.append(rng.randbytes(rng.randrange(1, 600)))
    return out


def nasty_value(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if r < 0.1 and depth < 3:
        return [nasty_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if r < 0.2 and depth < 3:
        return {rng.choice(SOCKET_ARGS): nasty_value(rng, depth + 1) for _ in range(3)}
    return rng.choice(
        [
            None,
            True,
            -1,
            0,
            2**63 - 1,
            -(2**63),
            2**64 - 1,
            1.5,
            float("nan"),
            float("inf"),
            -0.0,
            1e308,
            "",
            "facade",
            "main",
            "x" * 70_000,
            "\x00",
            "1e30",
            "2.5",
            b"\xff\x00",
            [],
            {},
            [0, 0, 0],
            [65535, 0, 0],
            {"facade": {"look": "celebration"}},
        ]
    )


def deep(depth: int) -> bytes:
    """msgpack of `depth` nested one-element arrays (the packer itself refuses past 512)."""
    return b"\x91" * depth + b"\x00"


def socket_case(rng: random.Random) -> list[bytes]:
    out: list[bytes] = []
    for _ in range(rng.randrange(1, 6)):
        r = rng.random()
        if r < 0.75:
            args = {rng.choice(SOCKET_ARGS): nasty_value(rng) for _ in range(rng.randrange(4))}
            doc: Any = {"id": rng.randrange(1000), "op": rng.choice(SOCKET_OPS), "args": args}
            if rng.random() < 0.1:
                doc = rng.choice([[], "op", 7, {"op": 1}, {"op": "go", "args": [1]}])
            body = msgpack.packb(doc, use_bin_type=True)
            if rng.random() < 0.05:  # a request whose args nest thousands deep
                op = msgpack.packb({"id": 1, "op": "status"}, use_bin_type=True)
                body = b"\x83" + op[1:] + msgpack.packb("args") + deep(rng.choice([600, 5000]))
            out.append(struct.pack(">I", len(body)) + body)
        elif r < 0.9:
            body = rng.randbytes(rng.randrange(1, 200))
            out.append(struct.pack(">I", len(body)) + body)
        else:
            out.append(struct.pack(">I", rng.choice([0, 1 << 30, 2**32 - 1, 70_000])))
    return out


@dataclass
class Finding:
    kind: str  # "contained", "stalled", "unanswered", "exited", "store"
    detail: str
    recent: list[tuple[str, list[bytes]]] = field(default_factory=list)
    reproducer: tuple[str, list[bytes]] | None = None


@dataclass
class Report:
    executions: int = 0
    seconds: float = 0.0
    by_target: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.executions / self.seconds if self.seconds else 0.0


@dataclass
class Target:
    """Where the daemon under test listens."""

    base_url: str
    token: str
    signaling_port: int
    media_port: int
    socket_path: Path | None
    database: Path | None  # SQLite file, checked for integrity at the end
    alive: Callable[[], bool]
    udp: bool = False  # the gateway also takes signaling datagrams ([mdvr] udp)


def send_case(address: Any, chunks: Sequence[bytes], rng: random.Random, family: int) -> None:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(2.0)
            s.connect(address)
            for chunk in chunks:
                if len(chunk) > 2 and rng.random() < 0.3:  # split writes at random
                    cut = rng.randrange(1, len(chunk))  # seeded: a replay splits alike
                    s.sendall(chunk[:cut])
                    s.sendall(chunk[cut:])
                else:
                    s.sendall(chunk)
            # Half-close: the daemon reads every message we sent, acts on it, sees the end
            # and closes; reading to that end paces each case to the daemon's own work.
            s.shutdown(socket.SHUT_WR)
            s.settimeout(1.0)
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass
    except OSError:
        pass  # refused, reset, closed on us: the daemon's right


def send_datagrams(address: tuple[str, int], chunks: Sequence[bytes]) -> None:
    """Each chunk as one datagram from one source port (one UDP "session"), then a moment
    for the replies, which are read and dropped."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.02)
        for chunk in chunks:
            with contextlib.suppress(OSError):  # over 64 KiB, or an ICMP error: its loss
                s.sendto(chunk[:65_000], address)
        with contextlib.suppress(OSError):
            while s.recv(65_536):
                pass


class SessionFuzzer:
    def __init__(self, target: Target, *, seed: int, workers: int = 6) -> None:
        self.target = target
        self.seed = seed
        self.workers = workers
        self.http = httpx.Client(
            base_url=target.base_url,
            headers={"Authorization": f"Bearer {target.token}"},
            timeout=10.0,
        )
        self.recent: deque[tuple[str, list[bytes]]] = deque(maxlen=64)
        self.lock = threading.Lock()

    def __enter__(self) -> SessionFuzzer:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get("/healthz").json()
        return body

    def _one(self, kind: str, chunks: list[bytes], rng: random.Random) -> None:
        t = self.target
        if kind == "socket" and t.socket_path is not None:
            send_case(str(t.socket_path), chunks, rng, socket.AF_UNIX)
        elif kind == "udp":
            send_datagrams(("127.0.0.1", t.signaling_port), chunks)
        else:
            port = t.media_port if kind == "media" else t.signaling_port
            send_case(("127.0.0.1", port), chunks, rng, socket.AF_INET)

    def case(self, rng: random.Random) -> tuple[str, list[bytes]]:
        r = rng.random()
        if r < 0.15 and self.target.socket_path is not None:
            return "socket", socket_case(rng)
        if r < 0.3:
            return "media", media_case(rng)
        if r < 0.4 and self.target.udp:
            return "udp", signaling_case(rng)  # the same sessions, a datagram per message
        return "signaling", signaling_case(rng)

    def run(self, seconds: float, *, on_progress: Callable[[Report], None] | None = None) -> Report:
        report = Report()
        baseline = self.health()
        contained = baseline["containment"]["total"]
        frames = baseline["clock"]["frames_sent"]
        stop = threading.Event()
        t0 = time.monotonic()

        def worker(n: int) -> None:
            rng = random.Random(self.seed * 1000 + n)
            while not stop.is_set():
                kind, chunks = self.case(rng)
                with self.lock:
                    self.recent.append((kind, chunks))
                    report.executions += 1
                    report.by_target[kind] = report.by_target.get(kind, 0) + 1
                self._one(kind, chunks, rng)

        with ThreadPoolExecutor(self.workers) as pool:
            futures = [pool.submit(worker, n) for n in range(self.workers)]
            try:
                while time.monotonic() - t0 < seconds:
                    time.sleep(0.5)
                    contained, frames = self._check(report, contained, frames)
                    if on_progress is not None:
                        on_progress(report)
                    if any(f.kind in ("exited", "unanswered") for f in report.findings):
                        break
            finally:
                stop.set()
                for f in futures:
                    f.result()
        report.seconds = time.monotonic() - t0
        time.sleep(0.25)  # the last check may have been a moment ago: let frames pass
        self._check(report, contained, frames)
        self._check_store(report)
        for finding in report.findings:
            if finding.kind == "contained":
                finding.reproducer = self.reproduce(finding)
        return report

    def _check(self, report: Report, contained: int, frames: int) -> tuple[int, int]:
        if not self.target.alive():
            report.findings.append(Finding("exited", "the daemon exited", list(self.recent)))
            return contained, frames
        try:
            h = self.health()
        except httpx.HTTPError as exc:
            report.findings.append(Finding("unanswered", str(exc), list(self.recent)))
            return contained, frames
        if h["clock"]["frames_sent"] <= frames or h["status"] != "ok":
            report.findings.append(
                Finding("stalled", f"frame clock not advancing: {h['clock']}", list(self.recent))
            )
        total = h["containment"]["total"]
        if total > contained:
            edges = {k: e["last_error"] for k, e in h["containment"]["edges"].items()}
            report.findings.append(Finding("contained", str(edges), list(self.recent)))
        return total, h["clock"]["frames_sent"]

    def _check_store(self, report: Report) -> None:
        """Stored data still reads back whole through the API (and SQLite's own check)."""
        for path in (
            "/api/mdvr/devices",
            "/api/mdvr/alarms?limit=500",
            "/api/mdvr/files",
            "/api/cue-lists",
            "/api/looks",
            "/api/playback",
        ):
            try:
                r = self.http.get(path)
                r.json()
            except (httpx.HTTPError, ValueError) as exc:
                report.findings.append(Finding("store", f"{path}: {exc}"))
                continue
            if r.status_code != 200:
                report.findings.append(Finding("store", f"{path}: {r.status_code} {r.text[:200]}"))
        db = self.target.database
        if db is not None and db.exists():
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                report.findings.append(Finding("store", f"SQLite integrity_check: {result}"))

    def reproduce(self, finding: Finding) -> tuple[str, list[bytes]] | None:
        """Replay the finding's recent inputs one at a time: the first that makes the
        contained count move is its reproducer."""
        for kind, chunks in finding.recent:
            if self._reproduces(kind, chunks):
                return kind, self._minimise(kind, chunks)
        return None

    def _reproduces(self, kind: str, chunks: list[bytes]) -> bool:
        before = self.health()["containment"]["total"]
        self._one(kind, chunks, random.Random(0))
        time.sleep(0.05)
        return bool(self.health()["containment"]["total"] > before)

    def _minimise(self, kind: str, chunks: list[bytes]) -> list[bytes]:
        """Drop chunks one at a time while the rest still reproduces."""
        i = 0
        while i < len(chunks) and len(chunks) > 1:
            shorter = chunks[:i] + chunks[i + 1 :]
            if self._reproduces(kind, shorter):
                chunks = shorter
            else:
                i += 1
        return chunks


def describe_report(report: Report) -> str:
    lines = [
        f"executions: {report.executions} in {report.seconds:.1f} s"
        f" ({report.per_second:.0f}/s) {report.by_target}",
        f"findings: {len(report.findings)}",
    ]
    for f in report.findings:
        lines.append(f"  {f.kind}: {f.detail[:500]}")
        if f.reproducer is not None:
            lines.append(f"    reproducer ({f.reproducer[0]}): {f.reproducer[1]!r}"[:2000])
    return "\n".join(lines)


# --- MQTT: the broker side as a hostile peer ---------------------------------------------------
#
# Here the daemon is the client: it connects to us. Each connection gets one case: the packets
# a broker sends (CONNACK, SUBACK, PUBLISH of sensor payloads good and bad, PUBACK, PINGRESP,
# DISCONNECT), often mutated byte by byte, truncated, given huge lengths or unknown
# properties, split across writes at random; then the connection is closed. The daemon's
# client must drop each bad connection (a protocol error, never a crash of its subsystem or
# a contained failure), reconnect, and the frame clock must never stop.

MQTT_TOPICS = ("zigbee2mqtt/fuzz", "site/fuzz/lux", "homeassistant/binary_sensor/x/state", "a/b")
MQTT_PAYLOADS: tuple[bytes, ...] = (
    b'{"occupancy": true, "illuminance": 12}',
    b"ON",
    b"OFF",
    b"21.5",
    b'{"state": {"v": 1}}',
    b"{" * 2000,
    b"\xff\xfe",
    b"",
    b'{"' + b"k" * 100 + b'": 1}',
    b'{"a": 1e999}',
    *NASTY,
)


def _mqtt_packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + encode_varint(len(body)) + body


def _mqtt_string(text: bytes) -> bytes:
    return struct.pack(">H", len(text)) + text


def mqtt_broker_packets(rng: random.Random) -> list[bytes]:
    """A plausible broker session (MQTT 5), before mutation."""
    refuse = rng.random() < 0.05
    connack = (
        b"\x00\x84\x00"
        if refuse
        else b"\x00\x00"
        + rng.choice(
            (b"\x00", b"\x03\x13\x00\x01", b"\x05\x26\x00\x00\x00\x00", b"\x03\x21\x00\x0a")
        )
    )
    packets = [_mqtt_packet(0x20, connack)]
    if rng.random() < 0.8:  # three filters subscribed: three codes (QoS 0, 1, or refused)
        codes = bytes(rng.choice((0, 1, 0x80)) for _ in range(3))
        packets.append(_mqtt_packet(0x90, b"\x00\x01\x00" + codes))
    if rng.random() < 0.5:
        packets.append(_mqtt_packet(0x40, b"\x00\x02"))  # the "online" publish's PUBACK
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if r < 0.75:
            qos = rng.choice((0, 0, 1))
            head = _mqtt_string(rng.choice(MQTT_TOPICS).encode())
            if qos:
                head += struct.pack(">H", rng.randint(1, 0xFFFF))
            props = rng.choice((b"\x00", b"\x02\x01\x01", b"\x05\x0b\x80\x80\x80\x01", b"\x01\x7f"))
            first = 0x30 | qos << 1 | rng.randint(0, 1)
            packets.append(_mqtt_packet(first, head + props + rng.choice(MQTT_PAYLOADS)))
        elif r < 0.85:
            packets.append(b"\xd0\x00")
        elif r < 0.9:
            packets.append(_mqtt_packet(0xE0, b"\x8b\x00"))
        elif r < 0.95:
            packets.append(b"\x30\xff\xff\xff\x7f")  # announces 256 MiB
        else:
            packets.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))))
    return packets


def mqtt_broker_case(rng: random.Random) -> list[bytes]:
    """The session's bytes, mutated more often than not, in random chunks; an empty chunk
    means: read what the client sends now."""
    packets = mqtt_broker_packets(rng)
    if rng.random() < 0.7:
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(packets))
            packets[i] = mutate_bytes(packets[i], rng)
    chunks: list[bytes] = []
    # The CONNACK, then b"" (wait for the client's SUBSCRIBE, as a broker would), the rest.
    for data in (packets[0], b"".join(packets[1:])):
        at = 0
        while at < len(data):
            n = rng.choice((1, 2, 7, 64, len(data)))
            chunks.append(data[at : at + n])
            at += n
        chunks.append(b"")
    return chunks[:-1]


class HostileBroker:
    """Listens where the daemon's `[mqtt]` connects; serves one case per connection."""

    def __init__(self, *, seed: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port: int = self.sock.getsockname()[1]
        self.rng = random.Random(seed)
        self.sessions = 0
        self.connects_seen = 0  # connections whose first packet was a CONNECT
        self.recent: deque[tuple[str, list[bytes]]] = deque(maxlen=64)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> HostileBroker:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1.0)
                with contextlib.suppress(OSError):
                    first = conn.recv(65_536)
                    if first[:1] == b"\x10":
                        self.connects_seen += 1
                    chunks = mqtt_broker_case(self.rng)
                    self.recent.append(("mqtt", chunks))
                    for chunk in chunks:
                        if chunk:
                            conn.sendall(chunk)
                        else:  # the client's SUBSCRIBE, if it still talks to us
                            conn.settimeout(0.2)
                            with contextlib.suppress(TimeoutError):
                                conn.recv(65_536)
                    conn.settimeout(0.1)
                    with contextlib.suppress(TimeoutError):
                        while conn.recv(65_536):  # let the daemon answer, or hang up first
                            pass
            self.sessions += 1

    def run(self, http: httpx.Client, seconds: float, alive: Callable[[], bool]) -> Report:
        """Serve cases for `seconds`, checking the daemon twice a second."""
        report = Report()
        base = http.get("/healthz").json()
        contained, frames = base["containment"]["total"], base["clock"]["frames_sent"]
        crashes = base["subsystems"]["mqtt"]["crashes"]
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            time.sleep(0.5)
            if not alive():
                report.findings.append(Finding("exited", "the daemon exited", list(self.recent)))
                break
            try:
                h = http.get("/healthz").json()
            except httpx.HTTPError as exc:
                report.findings.append(Finding("unanswered", str(exc), list(self.recent)))
                break
            if h["clock"]["frames_sent"] <= frames or h["status"] != "ok":
                report.findings.append(Finding("stalled", str(h["clock"]), list(self.recent)))
            if h["containment"]["total"] > contained:
                report.findings.append(
                    Finding("contained", str(h["containment"]), list(self.recent))
                )
            if h["subsystems"]["mqtt"]["crashes"] > crashes:
                error = h["subsystems"]["mqtt"]["last_error"]
                report.findings.append(
                    Finding("contained", f"mqtt crashed: {error}", list(self.recent))
                )
            contained, frames = h["containment"]["total"], h["clock"]["frames_sent"]
            crashes = h["subsystems"]["mqtt"]["crashes"]
        report.seconds = time.monotonic() - t0
        report.executions = self.sessions
        report.by_target = {"mqtt": self.sessions}
        return report
