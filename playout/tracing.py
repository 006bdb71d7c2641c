"""Tracing in the daemon: off by default, and then nothing of OpenTelemetry is imported
(`playout/otel.py` is loaded here, lazily, only for `[tracing] enabled = true`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from trocadero.config.schema import TracingConfig
from trocadero.core import tracing

from .frame_probe import FrameProbe
from .logs import get_logger

if TYPE_CHECKING:
    from .otel import OtelTracer

__all__ = ["follow_frames", "start_tracing", "stop_tracing"]

log = get_logger("tracing")
_active: OtelTracer | None = None


def start_tracing(cfg: TracingConfig, nursery: trio.Nursery) -> None:
    """Install the tracer (its frame watcher in `nursery`) when `cfg.enabled`."""
    global _active
    if not cfg.enabled:
        return
    from .otel import open_tracer  # the SDK and exporter load only now

    tracer = open_tracer(cfg)
    _active = tracer
    tracing.install(tracer)
    nursery.start_soon(tracer.watch_frames)
    log.info(
        "tracing on",
        endpoint=cfg.endpoint,
        service_name=cfg.service_name,
        sample_ratio=cfg.sample_ratio,
    )


def stop_tracing() -> None:
    """Uninstall the tracer and flush what is still queued for export (at shut-down: the
    exporter's last request may block for its timeout, nothing else runs by then)."""
    global _active
    tracer, _active = _active, None
    tracing.install(None)
    if tracer is not None:
        tracer.shutdown()


def follow_frames(probe: FrameProbe | None) -> None:
    """Where "frame" spans learn what went out (None: no native render thread any more)."""
    if _active is not None:
        _active.probe = probe
