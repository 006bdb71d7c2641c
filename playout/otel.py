"""OpenTelemetry behind `core.tracing` (docs/tracing.md). Imported only when
`[tracing] enabled`: the default path loads none of it.

Spans go to a BatchSpanProcessor, whose own thread exports them over OTLP/HTTP (protobuf);
nothing here runs on the output or render threads. The "frame" span of a command starts when
its plan is handed to the render thread and is ended through the daemon's GO→wire watch
(`wire_watch.py`, a Trio task) once the output thread reports that frame sent (frame number
and CLOCK_MONOTONIC send time).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

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

from .frame_probe import SentFrame
from .wire_watch import WireWatch

__all__ = ["OtelTracer", "open_tracer"]


class OtelTracer:
    """`core.tracing.Tracer` over an SDK TracerProvider."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("trocadero", __version__)
        self.watch: WireWatch | None = None  # the daemon's GO→wire watch

    @contextmanager
    def span(self, name: str, attributes: Attributes, *, server: bool = False) -> Iterator[Span]:
        kind = trace.SpanKind.SERVER if server else trace.SpanKind.INTERNAL
        with self.tracer.start_as_current_span(name, kind=kind, attributes=attributes) as span:
            yield span

    def hand_over(self, changed: Callable[[], bool]) -> bool:
        recording = trace.get_current_span().is_recording()
        start_ns, handed_ns = time.time_ns(), time.monotonic_ns()
        if not changed():
            return False
        handed = None if self.watch is None else self.watch.handed(handed_ns)
        if handed is not None and recording:  # not sampled or no render thread: no span
            span = self.tracer.start_span("frame", attributes=_request(), start_time=start_ns)
            handed.on_sent = partial(_end_frame, span, handed_ns)
            handed.on_lost = partial(_lose_frame, span)
        return True

    def shutdown(self) -> None:
        self.provider.shutdown()  # flushes what the batch processor holds


def _request() -> Attributes:
    rid = correlation.current()
    return {"trocadero.request_id": rid} if rid else {}


def _lose_frame(span: trace.Span, why: str) -> None:
    span.set_status(trace.StatusCode.ERROR, why)
    span.end()


def _end_frame(span: trace.Span, handed_ns: int, sent: SentFrame) -> None:
    span.set_attribute("trocadero.frame.number", sent.number)
    span.set_attribute("trocadero.frame.deadline_ns", sent.deadline_ns)
    span.set_attribute("trocadero.frame.sent_ns", sent.sent_ns)
    span.set_attribute("trocadero.frame.frames_sent", sent.frames_sent)
    span.set_attribute("trocadero.frame.send_time_exact", sent.exact)
    span.set_attribute("trocadero.frame.to_wire_ms", (sent.sent_ns - handed_ns) / 1e6)
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
