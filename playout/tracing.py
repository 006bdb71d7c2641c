"""Tracing in the daemon: off by default, and then nothing of OpenTelemetry is imported
(`playout/otel.py` is loaded here, lazily, only for `[tracing] enabled = true`). The GO→wire
watch (`wire_watch.py`) is always on; a tracer follows its "frame" spans through it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import trio

from trocadero.config.schema import TracingConfig
from trocadero.core import tracing

from .frame_probe import FrameProbe
from .logs import get_logger
from .wire_watch import WireWatch

if TYPE_CHECKING:
    from .otel import OtelTracer

__all__ = ["follow_frames", "start_tracing", "start_wire_watch", "stop_tracing"]

log = get_logger("tracing")
_active: OtelTracer | None = None
_watch: WireWatch | None = None


def start_wire_watch(observe: Callable[[float], None], nursery: trio.Nursery) -> WireWatch:
    """The GO→wire watch, observing into `observe` (seconds), its task in `nursery`."""
    global _watch
    watch = WireWatch(observe)
    _watch = watch
    tracing.follow(watch)
    nursery.start_soon(watch.run)
    return watch


def start_tracing(cfg: TracingConfig) -> None:
    """Install the tracer when `cfg.enabled` (after `start_wire_watch`)."""
    global _active
    if not cfg.enabled:
        return
    from .otel import open_tracer  # the SDK and exporter load only now

    tracer = open_tracer(cfg)
    tracer.watch = _watch  # "frame" spans ride on the GO→wire watch
    _active = tracer
    tracing.install(tracer)
    log.info(
        "tracing on",
        endpoint=cfg.endpoint,
        service_name=cfg.service_name,
        sample_ratio=cfg.sample_ratio,
    )


def stop_tracing() -> None:
    """Uninstall the tracer and the GO→wire watch and flush what is still queued for export
    (at shut-down: the exporter's last request may block for its timeout, nothing else runs
    by then)."""
    global _active, _watch
    tracer, _active, _watch = _active, None, None
    tracing.install(None)
    tracing.follow(None)
    if tracer is not None:
        tracer.shutdown()


def follow_frames(probe: FrameProbe | None) -> None:
    """Where GO→wire and "frame" spans learn what went out (None: no native render thread
    any more)."""
    if _watch is not None:
        _watch.probe = probe
