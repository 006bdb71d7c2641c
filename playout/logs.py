"""structlog set-up: JSON lines for journald, readable console output on a TTY.

Every line carries `subsystem`; stdlib loggers (Hypercorn's) are routed through the same
processors so nothing escapes the format.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from trocadero.config import LoggingConfig

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _stdlib_subsystem(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Lines from stdlib loggers (hypercorn.error, …) name their origin as the subsystem.
    record = event.get("_record")
    if "subsystem" not in event and record is not None:
        event["subsystem"] = record.name
    return event


def configure_logging(cfg: LoggingConfig, stream: TextIO | None = None) -> None:
    """Install the process-wide logging configuration."""
    out = stream if stream is not None else sys.stdout
    console = cfg.format == "console" or (cfg.format == "auto" and out.isatty())
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if console
        else structlog.processors.JSONRenderer()
    )
    level = _LEVELS[cfg.level]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _stdlib_subsystem],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([] if console else [structlog.processors.format_exc_info]),
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def get_logger(subsystem: str) -> structlog.stdlib.BoundLogger:
    """A logger whose every line names `subsystem`."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(subsystem=subsystem)
    return logger
