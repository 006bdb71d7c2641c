"""/metrics through prometheus-client: one private registry per daemon (tests start many).

Two kinds of figures meet here:

- the subsystems' statistics (`core/statistics.py`), read at scrape time by
  `StatisticsCollector`, the same dataclasses /healthz is made of, so the two cannot drift;
- latency histograms observed as things happen (`Metrics.render`, `.http`, …), with buckets
  that resolve the frame clock (25 µs … 100 ms). One observe costs about a microsecond: they
  are observed once per frame, request or query, never per universe.

The output thread's deadline lateness is kept by the native clock itself (a lock-free
histogram in Rust); `NativeHistogramCollector` reads it at scrape time, so the output thread
never calls into Python.
"""

from __future__ import annotations

import gc
import platform
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, cast

from prometheus_client import (
    CollectorRegistry,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from .statistics import PREFIX, Sample, samples_of

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

# Seconds: from a quarter of the output thread's typical lateness to four frame periods.
LATENCY_BUCKETS: Final = (
    25e-6,
    50e-6,
    100e-6,
    250e-6,
    500e-6,
    1e-3,
    2.5e-3,
    5e-3,
    10e-3,
    25e-3,
    50e-3,
    100e-3,
)


class StatisticsCollector(Collector):
    """The statistics dataclass `read()` returns, as metric families, at scrape time."""

    def __init__(
        self,
        read: Callable[[], DataclassInstance],
        show: Callable[[], dict[str, str]],
        *,
        prefix: str = PREFIX,
    ) -> None:
        self._read = read
        self._show = show
        self._prefix = prefix

    def collect(self) -> Iterable[Metric]:
        yield from families(samples_of(self._read(), self._prefix))
        info = InfoMetricFamily(f"{self._prefix}_show", "The show being played (/healthz show).")
        info.add_metric([], self._show())
        yield info


def families(samples: Sequence[Sample]) -> Iterator[Metric]:
    """Samples grouped into families (in first-seen order); samples of one family with the
    same labels add up (e.g. malformed + oversized datagrams)."""
    grouped: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    first: dict[str, Sample] = {}
    for s in samples:
        family = grouped.setdefault(s.name, {})
        family[s.labels] = family.get(s.labels, 0.0) + s.value
        first.setdefault(s.name, s)
    for name, values in grouped.items():
        s = first[name]
        names = [k for k, _ in next(iter(values))]
        doc = f"/healthz {s.path}"
        metric: CounterMetricFamily | GaugeMetricFamily
        if s.counter:
            metric = CounterMetricFamily(name, doc, labels=names)
        else:
            metric = GaugeMetricFamily(name, doc, labels=names)
        for labels, value in values.items():
            metric.add_metric([v for _, v in labels], value)
        yield metric


# A histogram kept natively: bounds (ns) → (cumulative counts at each, count, sum in ns).
NativeReader = Callable[[list[int]], tuple[list[int], int, int]]
_BOUNDS_NS: Final = [round(b * 1e9) for b in LATENCY_BUCKETS]


class NativeHistogramCollector(Collector):
    """A histogram kept natively, exposed in seconds at LATENCY_BUCKETS."""

    def __init__(self, name: str, doc: str, read: NativeReader) -> None:
        self._name, self._doc, self._read = name, doc, read

    def collect(self) -> Iterable[Metric]:
        below, total, sum_ns = self._read(_BOUNDS_NS)
        pairs = zip(LATENCY_BUCKETS, below, strict=True)
        buckets = [(repr(b), float(n)) for b, n in pairs]  # `le` as the library spells it
        buckets.append(("+Inf", float(total)))
        yield HistogramMetricFamily(self._name, self._doc, buckets=buckets, sum_value=sum_ns / 1e9)


class _RenderTimes(Collector):
    """Render time from whichever renderer runs: the native render thread's own histogram
    when there is one, else the Python renderer's observations."""

    def __init__(self, observed: Histogram, native: Callable[[], NativeReader | None]) -> None:
        self._observed, self._native = observed, native

    def collect(self) -> Iterable[Metric]:
        read = self._native()
        if read is None:
            return self._observed.collect()
        return NativeHistogramCollector(RENDER, _RENDER_DOC, read).collect()


RENDER: Final = f"{PREFIX}_render_duration_seconds"
_RENDER_DOC: Final = "Time to render one frame (all canvases)."


@dataclass(frozen=True, slots=True)
class Metrics:
    """One daemon's registry and the histograms its subsystems observe into."""

    registry: CollectorRegistry
    render: Histogram  # one frame's render by the Python renderer (the native one: its own)
    gc_pause: Histogram  # labels: generation
    http: Histogram  # labels: method, route (the route's template, never the raw path)
    socket: Histogram  # labels: op (a known operation, or "unknown")
    store_query: Histogram  # one store call (SQLite: on its worker thread)
    go_to_wire: Histogram  # a command's plan handed over → its frame sent (wire_watch.py)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def create_metrics(
    version: str,
    native_version: str,
    native_render: Callable[[], NativeReader | None] = lambda: None,
) -> Metrics:
    """A fresh registry holding build info and the histograms (the daemon registers its
    statistics and the output thread's lateness on `registry`)."""
    # `_created` series double every counter and histogram for a figure PromQL does not
    # need (the flag is the library's, process-wide; nothing else here wants them).
    cast(Callable[[], None], disable_created_metrics)()  # (untyped in the library)
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)  # process_cpu_seconds_total, resident memory, fds

    def histogram(name: str, doc: str, labels: Sequence[str] = ()) -> Histogram:
        return Histogram(
            f"{PREFIX}_{name}", doc, labels, buckets=LATENCY_BUCKETS, registry=registry
        )

    build = InfoMetricFamily(f"{PREFIX}_build", "The running build.")
    build.add_metric(
        [],
        {"version": version, "native": native_version, "python": platform.python_version()},
    )
    registry.register(_Fixed([build]))
    render = Histogram(RENDER, _RENDER_DOC, buckets=LATENCY_BUCKETS, registry=None)
    registry.register(_RenderTimes(render, native_render))
    return Metrics(
        registry=registry,
        render=render,
        gc_pause=histogram("gc_pause_seconds", "Python garbage collection pauses.", ["generation"]),
        http=histogram(
            "http_request_duration_seconds",
            "REST and UI requests, from arrival to the end of the response.",
            ["method", "route"],
        ),
        socket=histogram(
            "socket_request_duration_seconds", "Socket API requests, by operation.", ["op"]
        ),
        store_query=histogram(
            "store_query_duration_seconds",
            "One store call: SQLite on its worker thread, PostgreSQL through its loop.",
        ),
        go_to_wire=histogram(
            "go_to_wire_seconds",
            "From a command's plan handed to the render thread to the frame carrying it sent.",
        ),
    )


class _Fixed(Collector):
    """Families that never change (build info)."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics


@contextmanager
def gc_pauses(histogram: Histogram) -> Iterator[None]:
    """Time every garbage collection (gc.callbacks, process-wide) while inside."""
    children = {g: histogram.labels(generation=str(g)) for g in range(3)}
    started = [0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter_ns()
        elif started[0]:
            children[info["generation"]].observe((time.perf_counter_ns() - started[0]) / 1e9)

    gc.callbacks.append(callback)
    try:
        yield
    finally:
        gc.callbacks.remove(callback)
