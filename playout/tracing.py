"""Tracing in the daemon: off by default, and then nothing of OpenTelemetry is imported
(`playout/otel.py` is loaded here, lazily, only for `[tracing] enabled = true`). The GO→wire
watch (`wire_watch.py`) is always on; a tracer follows its "frame" spans through it."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from trocadero.config.schema import TracingConfig
from trocadero.core import tracing

from .logs import get_logger

if TYPE_CHECKING:
    from .otel import OtelTracer, WireFollower

__all__ = ["start_tracing", "stop_tracing"]

log = get_logger("tracing")
_active: OtelTracer | None = None


def start_tracing(
    cfg: TracingConfig, *, watch: WireFollower | None = None, service_suffix: str = ""
) -> None:
    """Install the tracer when `cfg.enabled`, its "frame" spans following the daemon's
    GO→wire `watch`; the MDVR gateway process names itself `service_name` + ".gateway"."""
    global _active
    if not cfg.enabled:
        return
    from .otel import open_tracer  # the SDK and exporter load only now

    if service_suffix:
        cfg = replace(cfg, service_name=cfg.service_name + service_suffix)
    tracer = open_tracer(cfg)
    tracer.watch = watch  # "frame" spans ride on the GO→wire watch
    _active = tracer
    tracing.install(tracer)
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
