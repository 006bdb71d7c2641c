"""Configuration: frozen typed dataclasses, the TOML loader, the embedded defaults."""

from .loader import (
    ConfigError,
    RawSchedules,
    load_config,
    load_default_config,
    load_default_show,
    load_show,
    parse_config,
    parse_toml,
    read_default_show,
    read_show,
)
from .schema import (
    ClockConfig,
    Config,
    DebugConfig,
    LoggingConfig,
    RenderConfig,
    ShowConfig,
    StateConfig,
    TracingConfig,
    WebConfig,
)

__all__ = [
    "ClockConfig",
    "Config",
    "ConfigError",
    "DebugConfig",
    "LoggingConfig",
    "RawSchedules",
    "RenderConfig",
    "ShowConfig",
    "StateConfig",
    "TracingConfig",
    "WebConfig",
    "load_config",
    "load_default_config",
    "load_default_show",
    "load_show",
    "parse_config",
    "parse_toml",
    "read_default_show",
    "read_show",
]
