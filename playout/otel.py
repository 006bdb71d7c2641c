"""OpenTelemetry behind `core.tracing` (docs/tracing.md). Imported only when
`[tracing] enabled`: the default path loads none of it.

Spans go to a BatchSpanProcessor, whose own thread exports them over OTLP/HTTP (protobuf);
nothing here runs on the output or render threads. The "frame" span of a command starts when
its plan is handed to the render thread and is ended by `FrameWatch` (a Trio task) once the
output thread reports that frame sent (frame number and CLOCK_MONOTONIC send time).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import trio
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from trocadero import __version__
from trocadero.config.schema import TracingConfig
from trocadero.core import correlation
from trocadero.core.tracing import Attributes, Span

from .frame_probe import FrameProbe, SentFrame
from .logs import get_logger

__all__ = ["OtelTracer", "open_tracer"]

log = get_logger("tracing")

# A frame not seen on the wire within this long is ended with an error (the output stalled).
FRAME_TIMEOUT_S = 2.0
POLL_S = 0.001


@dataclass
class _Pending:
    span: trace.Span
    handed_ns: int  # CLOCK_MONOTONIC
    plan: int  # the number of the plan that carries the command
    drawn: tuple[int, int] | None = None  # (frame number, deadline ns) once rendered


class OtelTracer:
    """`core.tracing.Tracer` over an SDK TracerProvider."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("trocadero", __version__)
        self.probe: FrameProbe | None = None
        self.pending: deque[_Pending] = deque(maxlen=256)
        self.wake = trio.Event()

    @contextmanager
    def span(self, name: str, attributes: Attributes, *, server: bool = False) -> Iterator[Span]:
        kind = trace.SpanKind.SERVER if server else trace.SpanKind.INTERNAL
        with self.tracer.start_as_current_span(name, kind=kind, attributes=attributes) as span:
            yield span

    def hand_over(self, changed: Callable[[], bool]) -> bool:
        probe = self.probe
        if probe is None or not trace.get_current_span().is_recording():
            return changed()  # no native render thread to follow, or not sampled
        start_ns, handed_ns = time.time_ns(), time.monotonic_ns()
        if not changed():
            return False
        span = self.tracer.start_span("frame", attributes=_request(), start_time=start_ns)
        self.pending.append(_Pending(span, handed_ns, probe.plan_number()))
        self.wake.set()
        return True

    async def watch_frames(self) -> None:
        """End each pending "frame" span when its frame was sent (until cancelled). It runs
        in the daemon's nursery: a failure here ends the pending spans, never the daemon."""
        while True:
            await self.wake.wait()
            self.wake = trio.Event()
            while self.pending:
                await trio.sleep(POLL_S)
                try:
                    self._settle(time.monotonic_ns())
                except Exception as exc:
                    log.exception("frame spans abandoned", pending=len(self.pending))
                    while self.pending:
                        span = self.pending.popleft().span
                        span.set_status(trace.StatusCode.ERROR, f"frame watch failed: {exc}")
                        span.end()

    def _settle(self, now: int) -> None:
        probe = self.probe
        assert probe is not None  # nothing is pending without one
        while self.pending:
            p = self.pending[0]
            if p.drawn is None:
                p.drawn = probe.drawn(p.plan)
            sent = None if p.drawn is None else probe.sent(*p.drawn)
            if sent is None:
                if now - p.handed_ns > FRAME_TIMEOUT_S * 1e9:
                    p.span.set_status(trace.StatusCode.ERROR, "the frame was not seen on the wire")
                    p.span.end()
                    self.pending.popleft()
                    continue
                return
            _end_frame(p, sent)
            self.pending.popleft()

    def shutdown(self) -> None:
        self.provider.shutdown()  # flushes what the batch processor holds


def _request() -> Attributes:
    rid = correlation.current()
    return {"trocadero.request_id": rid} if rid else {}


def _end_frame(p: _Pending, sent: SentFrame) -> None:
    span = p.span
    span.set_attribute("trocadero.frame.number", sent.number)
    span.set_attribute("trocadero.frame.deadline_ns", sent.deadline_ns)
    span.set_attribute("trocadero.frame.sent_ns", sent.sent_ns)
    span.set_attribute("trocadero.frame.frames_sent", sent.frames_sent)
    span.set_attribute("trocadero.frame.send_time_exact", sent.exact)
    span.set_attribute("trocadero.frame.to_wire_ms", (sent.sent_ns - p.handed_ns) / 1e6)
    # The span's clock is the wall clock: the monotonic send time, moved onto it.
    wall_ns = time.time_ns() - (time.monotonic_ns() - sent.sent_ns)
    span.add_event("sent", timestamp=wall_ns, attributes={"trocadero.frame.number": sent.number})
    span.end(end_time=wall_ns)


def open_tracer(cfg: TracingConfig) -> OtelTracer:
    resource = Resource.create({SERVICE_NAME: cfg.service_name, SERVICE_VERSION: __version__})
    provider = TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(cfg.sample_ratio)),
        resource=resource,
        shutdown_on_exit=False,  # the daemon shuts it down (flushing) on its way out
    )
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=cfg.endpoint, timeout=5.0))
    )
    return OtelTracer(provider)
