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
from typing import Protocol

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from trocadero import __version__
from trocadero.config.schema import TracingConfig
from trocadero.core import correlation
from trocadero.core.tracing import Attributes, Span

__all__ = ["OtelTracer", "open_tracer"]

# Across the gateway process and through events: W3C trace context, the traceparent only.
_PROPAGATOR = TraceContextTextMapPropagator()
_TRACEPARENT = "traceparent"


class _Sent(Protocol):
    """A frame as the output thread sent it (`frame_probe.SentFrame`)."""

    @property
    def number(self) -> int: ...
    @property
    def deadline_ns(self) -> int: ...
    @property
    def sent_ns(self) -> int: ...
    @property
    def frames_sent(self) -> int: ...
    @property
    def exact(self) -> bool: ...


class _Handed(Protocol):
    def follow(self, on_sent: Callable[[_Sent], None], on_lost: Callable[[str], None]) -> None: ...


class WireFollower(Protocol):
    """The daemon's GO→wire watch (`wire_watch.WireWatch`; tracing is a lower layer)."""

    def handed(self, handed_ns: int) -> _Handed | None: ...


class OtelTracer:
    """`core.tracing.Tracer` over an SDK TracerProvider."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("trocadero", __version__)
        self.watch: WireFollower | None = None  # the daemon's GO→wire watch

    @contextmanager
    def span(self, name: str, attributes: Attributes, *, server: bool = False) -> Iterator[Span]:
        kind = trace.SpanKind.SERVER if server else trace.SpanKind.INTERNAL
        with self.tracer.start_as_current_span(name, kind=kind, attributes=attributes) as span:
            yield span

    @contextmanager
    def span_from(self, name: str, attributes: Attributes, parent: str) -> Iterator[Span]:
        context = _PROPAGATOR.extract({_TRACEPARENT: parent})
        with self.tracer.start_as_current_span(name, context, attributes=attributes) as span:
            yield span

    def record(
        self, name: str, attributes: Attributes, parent: str, start_ns: int, end_ns: int
    ) -> None:
        context = _PROPAGATOR.extract({_TRACEPARENT: parent})
        span = self.tracer.start_span(name, context, attributes=attributes, start_time=start_ns)
        span.end(end_time=end_ns)

    def traceparent(self) -> str | None:
        if not trace.get_current_span().is_recording():
            return None
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get(_TRACEPARENT)

    def hand_over(self, changed: Callable[[], bool]) -> bool:
        recording = trace.get_current_span().is_recording()
        start_ns, handed_ns = time.time_ns(), time.monotonic_ns()
        if not changed():
            return False
        handed = None if self.watch is None else self.watch.handed(handed_ns)
        if handed is not None and recording:  # not sampled or no render thread: no span
            span = self.tracer.start_span("frame", attributes=_request(), start_time=start_ns)
            handed.follow(partial(_end_frame, span, handed_ns), partial(_lose_frame, span))
        return True

    def shutdown(self) -> None:
        self.provider.shutdown()  # flushes what the batch processor holds


def _request() -> Attributes:
    rid = correlation.current()
    return {"trocadero.request_id": rid} if rid else {}


def _lose_frame(span: trace.Span, why: str) -> None:
    span.set_status(trace.StatusCode.ERROR, why)
    span.end()


def _end_frame(span: trace.Span, handed_ns: int, sent: _Sent) -> None:
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
