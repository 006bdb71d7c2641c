"""Prometheus text exposition (format 0.0.4) for a flat set of gauges and counters."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def render_prometheus(samples: Mapping[str, float]) -> str:
    """One `name value` line per sample; names ending in `_total` are typed as counters."""
    lines: list[str] = []
    for name in sorted(samples):
        if not _NAME.match(name):
            raise ValueError(f"invalid Prometheus metric name {name!r}")
        kind = "counter" if name.endswith("_total") else "gauge"
        value = float(samples[name])
        text = (
            "NaN"
            if math.isnan(value)
            else repr(value)
            if math.isfinite(value)
            else ("+Inf" if value > 0 else "-Inf")
        )
        lines.append(f"# TYPE {name} {kind}")
        lines.append(f"{name} {text}")
    return "\n".join(lines) + "\n"
