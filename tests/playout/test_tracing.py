"""Tracing and correlation ids against the real daemon (docs/tracing.md).

A test OTLP/HTTP collector (a tiny HTTP server decoding the protobuf with opentelemetry-proto's
own classes) receives the trace of one GO sent with ``X-Request-Id: t-123``: the request span,
the command span, the storage commit and the frame that carried the GO, with its number, all
one trace. The request's JSON log lines and its audit entry carry the id; the socket API
honours its own ``request_id``; and with tracing off (the default) nothing is sent and no
OpenTelemetry module is even imported.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import msgpack
import pytest
import trio
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.daemon_harness import ADMIN_PASSWORD, Daemon, free_port, running_daemon
from tests.ws_client import WsClient
from trocadero.core import correlation
from trocadero.playout.frame_probe import SentFrame
from trocadero.playout.mdvr.sim import SimDevice
from trocadero.playout.otel import OtelTracer
from trocadero.playout.wire_watch import WireWatch
from trocadero.protocols.control_socket import encode

# The harness writes `[logging] format = "json"` and then the extra config: a first line of
# ours lands in that table (debug: the per-request line), the rest in our own tables.
DEBUG_LOGS = f'level = "debug"\n[auth]\nadmin_password = "{ADMIN_PASSWORD}"\n'
NO_SCHEDULE = "[schedule]\nenabled = false\n"
NO_DEBOUNCE = "[playback]\ngo_debounce_s = 0.0\n"  # every GO of the test runs (and is audited)
# The batch processor's export delay, shortened so the test does not wait 5 s for a batch.
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "100"}


class Collector:
    """Accepts POST /v1/traces (OTLP/HTTP, protobuf) and keeps every span it was sent."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.services: dict[bytes, str] = {}  # span id → the service.name that sent it
        self.posts = 0
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = (
                    self.path == "/v1/traces"
                    and self.headers.get("Content-Type") == "application/x-protobuf"
                )
                if ok:
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    with collector.lock:
                        collector.posts += 1
                        for resource in request.resource_spans:
                            service = {
                                kv.key: kv.value.string_value for kv in resource.resource.attributes
                            }.get("service.name", "")
                            for scope in resource.scope_spans:
                                collector.spans.extend(scope.spans)
                                for span in scope.spans:
                                    collector.services[span.span_id] = service
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1/traces"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def snapshot(self) -> list[Span]:
        with self.lock:
            return list(self.spans)

    def wait_for(self, name: str, timeout: float = 10.0) -> list[Span]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            spans = self.snapshot()
            if any(s.name == name for s in spans):
                return spans
            time.sleep(0.05)
        raise AssertionError(f"no {name!r} span; got {[s.name for s in self.snapshot()]}")


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    c.thread.start()
    try:
        yield c
    finally:
        c.server.shutdown()
        c.server.server_close()


def _tracing(c: Collector, enabled: bool = True) -> str:
    return (
        f"[tracing]\nenabled = {'true' if enabled else 'false'}\n"
        f'endpoint = "{c.url}"\nservice_name = "trocadero-test"\n'
    )


def _value(v: AnyValue) -> Any:
    field = v.WhichOneof("value")
    return getattr(v, field) if field else None


def attrs(span: Span) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in span.attributes}


def one(spans: list[Span], name: str) -> Span:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"{name}: {len(found)} spans among {[s.name for s in spans]}"
    return found[0]


def log_lines(d: Daemon) -> list[dict[str, Any]]:
    lines = []
    for line in d.log().splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            lines.append(doc)
    return lines


def test_one_go_is_one_trace_from_the_request_to_the_wire(
    tmp_path: Path, collector: Collector
) -> None:
    extra = DEBUG_LOGS + NO_SCHEDULE + NO_DEBOUNCE + _tracing(collector)
    with running_daemon(tmp_path, extra, env=FAST_EXPORT) as d:
        d.wait_healthy()
        r = d.post("/api/cue-lists/main/go", json={}, headers={"X-Request-Id": "t-123"})
        assert r.status_code == 200, r.text
        assert r.json()["outcome"] == "done"
        assert r.headers["x-request-id"] == "t-123"

        spans = collector.wait_for("frame")
        trace_id = one(spans, "POST /api/cue-lists/{list}/go").trace_id
        spans = collector.wait_for("POST /api/cue-lists/{list}/go")
        mine = [s for s in spans if s.trace_id == trace_id]
        request = one(mine, "POST /api/cue-lists/{list}/go")
        command = one(mine, "command go")
        commit = one(mine, "storage.commit")
        frame = one(mine, "frame")

        # Parent and child: request → command → (commit, frame).
        assert request.parent_span_id == b""
        assert request.kind == Span.SpanKind.SPAN_KIND_SERVER
        assert command.parent_span_id == request.span_id
        assert commit.parent_span_id == command.span_id
        assert frame.parent_span_id == command.span_id

        a = attrs(request)
        assert a["http.route"] == "/api/cue-lists/{list}/go"
        assert a["http.request.method"] == "POST"
        assert a["http.response.status_code"] == 200
        assert a["trocadero.request_id"] == "t-123"
        assert attrs(commit)["trocadero.audit.action"] == "cue.go"

        # The frame: its number and send time, as the output thread reported them.
        f = attrs(frame)
        clock = d.health()
        assert isinstance(f["trocadero.frame.number"], int)
        assert f["trocadero.frame.number"] > 0
        assert f["trocadero.frame.sent_ns"] >= f["trocadero.frame.deadline_ns"]
        assert f["trocadero.frame.frames_sent"] > 0
        # The native threads are not held up by Python: the GO is on the wire within a few
        # periods of 22.7 ms (bounded loosely: the test machine is shared).
        assert 0 < f["trocadero.frame.to_wire_ms"] < 250
        assert f["trocadero.frame.send_time_exact"] is True
        assert f["trocadero.request_id"] == "t-123"
        sent = [e for e in frame.events if e.name == "sent"]
        assert len(sent) == 1
        assert frame.end_time_unix_nano == sent[0].time_unix_nano
        assert frame.start_time_unix_nano < frame.end_time_unix_nano
        assert clock["status"] == "ok"

        # Every log line of the request carries its id; the debug line of the request is one.
        lines = [doc for doc in log_lines(d) if doc.get("request_id") == "t-123"]
        assert any(
            doc["event"] == "request" and doc["path"] == "/api/cue-lists/main/go" for doc in lines
        ), lines

        # The audit entry, found by the id.
        r = d.get("/api/audit", params={"request_id": "t-123"})
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [(e["action"], e["target"], e["request_id"]) for e in items] == [
            ("cue.go", "main", "t-123")
        ]

        # A socket-API request is a trace of its own, with the same children.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(d.health()["socket"]["path"])
        with sock:
            sock.sendall(
                encode({"id": 1, "op": "go", "args": {"list": "main"}, "request_id": "s-9"})
            )
            assert _read_reply(sock)["result"]["outcome"] == "done"
        spans = collector.wait_for("socket go")
        request = one(spans, "socket go")
        assert attrs(request)["rpc.method"] == "go"
        mine = [s for s in spans if s.trace_id == request.trace_id]
        command = one(mine, "command go")
        assert command.parent_span_id == request.span_id
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len([s for s in mine if s.name == "frame"]) < 1:
            time.sleep(0.05)
            mine = [s for s in collector.snapshot() if s.trace_id == request.trace_id]
        frame = one(mine, "frame")
        assert frame.parent_span_id == command.span_id
        assert attrs(frame)["trocadero.request_id"] == "s-9"
        assert attrs(frame)["trocadero.frame.number"] > f["trocadero.frame.number"]


def test_request_ids_unsafe_ones_replaced_and_socket_api(
    tmp_path: Path, collector: Collector
) -> None:
    with running_daemon(tmp_path, NO_DEBOUNCE + _tracing(collector, enabled=False)) as d:
        d.wait_healthy()
        # A header that is not a sane token is replaced by a fresh id (returned).
        for bad in ("a b", "x" * 65, "a\\nb", "t;1"):
            r = d.post("/api/cue-lists/main/go", json={}, headers={"X-Request-Id": bad})
            assert r.status_code == 200, r.text
            rid = r.headers["x-request-id"]
            assert rid != bad
            assert 1 <= len(rid) <= 64
        # No header: one is made; every response has one (errors too).
        r = d.post("/api/cue-lists/no-such-list/go", json={})
        assert r.status_code == 404
        assert r.headers["x-request-id"]
        made = r.headers["x-request-id"]
        assert made != d.post("/api/cue-lists/main/go", json={}).headers["x-request-id"]

        # The socket API: the request's own request_id, in the reply and the audit entry.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(d.health()["socket"]["path"])
        with sock:
            sock.sendall(
                encode({"id": 1, "op": "go", "args": {"list": "main"}, "request_id": "s-1"})
            )
            reply = _read_reply(sock)
            assert reply["ok"] is True, reply
            assert reply["request_id"] == "s-1"
            sock.sendall(encode({"id": 2, "op": "go", "args": {"list": "main"}}))
            generated = _read_reply(sock)["request_id"]
            assert isinstance(generated, str)
            assert generated
        items = d.get("/api/audit", params={"request_id": "s-1"}).json()["items"]
        assert [(e["action"], e["origin"]) for e in items] == [("cue.go", "socket")]
        items = d.get("/api/audit", params={"request_id": generated}).json()["items"]
        assert len(items) == 1

        # Tracing off: nothing was sent to the (configured) collector.
        time.sleep(0.5)
        assert collector.posts == 0


def _read_reply(sock: socket.socket) -> dict[str, Any]:
    head = b""
    while len(head) < 4:
        head += sock.recv(4 - len(head))
    size = int.from_bytes(head, "big")
    body = b""
    while len(body) < size:
        body += sock.recv(size - len(body))
    doc: dict[str, Any] = msgpack.unpackb(body, raw=False)
    return doc


def test_tracing_off_imports_no_opentelemetry() -> None:
    # The daemon's whole module graph (CLI, daemon, web app, socket API) with tracing off.
    code = (
        "import sys\n"
        "import trocadero.playout.cli, trocadero.playout.daemon, trocadero.web.app\n"
        "import trocadero.playout.tracing, trocadero.playout.native_frames\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('opentelemetry'))\n"
        "print(loaded)\n"
        "assert 'trocadero.playout.otel' not in sys.modules\n"
        "assert not loaded\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "[]"


def test_an_mdvr_position_is_one_trace_from_the_gateway_process_to_the_websocket(
    tmp_path: Path, collector: Collector
) -> None:
    sig, media = free_port(), free_port()
    extra = (
        DEBUG_LOGS
        + NO_SCHEDULE
        + _tracing(collector)
        + '[mdvr]\nenabled = true\nown_process = true\nbind_address = "127.0.0.1"\n'
        + f'signaling_port = {sig}\nmedia_port = {media}\nallowed_devices = ["00967"]\n'
    )
    with running_daemon(tmp_path, extra, env=FAST_EXPORT) as d:
        d.wait_healthy()
        access = httpx.post(
            d.base + "/api/auth/login",
            json={"name": "admin", "password": ADMIN_PASSWORD},
            timeout=10,
        ).json()["access_token"]
        ws = WsClient(d.port)
        ws.send({"op": "auth", "token": access})
        assert ws.receive_json()["ok"]
        ws.send({"op": "subscribe", "topics": ["device:position"]})
        device = SimDevice("00967", "127.0.0.1", sig, position_interval_s=0.2)

        async def drive() -> None:
            with trio.move_on_after(1.5):
                await device.run()

        trio.run(drive)
        spans = collector.wait_for("websocket publish")
        spans = collector.wait_for("stored")
        publish = next(s for s in spans if s.name == "websocket publish")
        mine = [s for s in spans if s.trace_id == publish.trace_id]
        position = one(mine, "mdvr position")
        stored = one(mine, "stored")
        ws.close()
    # One trace across the two processes: the position (gateway) → stored, → WebSocket.
    assert position.parent_span_id == b""
    assert stored.parent_span_id == position.span_id
    assert publish.parent_span_id == position.span_id
    assert collector.services[position.span_id] == "trocadero-test.gateway"
    assert collector.services[stored.span_id] == "trocadero-test.gateway"
    assert collector.services[publish.span_id] == "trocadero-test"
    assert attrs(publish)["trocadero.topic"] == "device:position"
    assert attrs(stored)["trocadero.rows"] >= 1


# --- the frame watcher on its own (a probe that plays the native threads) ----------------


class FakeProbe:
    """Plan 7 is drawn for frame 40 after `draw_after` looks; it goes out after `send_after`."""

    def __init__(self, draw_after: int = 2, send_after: int = 2, fail: bool = False) -> None:
        self.draw_after, self.send_after, self.fail = draw_after, send_after, fail
        self.looks = 0

    def plan_number(self) -> int:
        return 7

    def drawn(self, plan: int) -> tuple[int, int] | None:
        assert plan == 7
        self.looks += 1
        if self.fail:
            raise RuntimeError("stats unreadable")
        return (40, 1_000_000) if self.looks > self.draw_after else None

    def sent(self, number: int, deadline_ns: int) -> SentFrame | None:
        self.send_after -= 1
        if self.send_after > 0:
            return None
        return SentFrame(number, deadline_ns, deadline_ns + 120_000, 41, True)


async def settled(watch: WireWatch) -> None:
    with trio.fail_after(2):
        while watch.pending:  # noqa: ASYNC110  (the watcher sets no event when it is done)
            await trio.sleep(0.001)


def _tracer_with(
    probe: FakeProbe,
) -> tuple[OtelTracer, WireWatch, list[float], InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = OtelTracer(provider)
    observed: list[float] = []
    tracer.watch = WireWatch(observed.append)
    tracer.watch.probe = probe  # a stand-in for the native threads
    return tracer, tracer.watch, observed, exporter


async def test_a_frame_span_ends_when_its_frame_was_sent() -> None:
    tracer, watch, observed, exporter = _tracer_with(FakeProbe())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch.run)
        with correlation.bound("w-1"), tracer.span("command go", {}):
            assert tracer.hand_over(lambda: True) is True
        assert tracer.hand_over(lambda: False) is False  # no span unless handed over
        await settled(watch)
        nursery.cancel_scope.cancel()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    frame, command = spans["frame"], spans["command go"]
    assert frame.parent is not None
    assert frame.parent.span_id == command.context.span_id
    assert frame.attributes is not None
    assert frame.attributes["trocadero.frame.number"] == 40
    assert frame.attributes["trocadero.frame.frames_sent"] == 41
    assert frame.attributes["trocadero.request_id"] == "w-1"
    assert [e.name for e in frame.events] == ["sent"]
    assert frame.end_time == frame.events[0].timestamp
    assert len(exporter.get_finished_spans()) == 2
    assert len(observed) == 1  # the same watch observed GO→wire once


async def test_unsampled_commands_are_still_timed_to_the_wire() -> None:
    tracer, watch, observed, exporter = _tracer_with(FakeProbe())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch.run)
        assert tracer.hand_over(lambda: True) is True  # outside any span: not recording
        await settled(watch)
        nursery.cancel_scope.cancel()
    assert exporter.get_finished_spans() == ()
    assert len(observed) == 1


async def test_a_failing_probe_ends_the_pending_spans_not_the_daemon() -> None:
    tracer, watch, observed, exporter = _tracer_with(FakeProbe(fail=True))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch.run)
        with tracer.span("command go", {}):
            tracer.hand_over(lambda: True)
        await settled(watch)
        # The watcher goes on: the next frame is followed again.
        watch.probe = FakeProbe()
        with tracer.span("command back", {}):
            tracer.hand_over(lambda: True)
        await settled(watch)
        nursery.cancel_scope.cancel()
    frames = [s for s in exporter.get_finished_spans() if s.name == "frame"]
    assert [f.status.status_code for f in frames] == [StatusCode.ERROR, StatusCode.UNSET]
    assert "stats unreadable" in (frames[0].status.description or "")
    assert len(observed) == 1
    assert watch.lost == 1
