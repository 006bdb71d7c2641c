"""Configuration: frozen typed dataclasses, the TOML loader, the embedded defaults."""

from .loader import ConfigError, load_config, load_default_config, parse_config
from .schema import (
    ClockConfig,
    Config,
    DebugConfig,
    LoggingConfig,
    RenderConfig,
    StateConfig,
    WebConfig,
)

__all__ = [
    "ClockConfig",
    "Config",
    "ConfigError",
    "DebugConfig",
    "LoggingConfig",
    "RenderConfig",
    "StateConfig",
    "WebConfig",
    "load_config",
    "load_default_config",
    "parse_config",
]
