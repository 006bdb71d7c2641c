"""Prometheus text exposition (format 0.0.4) for a flat set of gauges and counters."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"'
_LABELS = re.compile(rf"^\{{{_LABEL}(,{_LABEL})*\}}$")


def render_prometheus(samples: Mapping[str, float]) -> str:
    """One `name{labels} value` line per sample; `_total` families are typed as counters."""
    lines: list[str] = []
    typed: set[str] = set()
    for key in sorted(samples):
        name, brace, labels = key.partition("{")
        if not _NAME.match(name) or (brace and not _LABELS.match(brace + labels)):
            raise ValueError(f"invalid Prometheus metric name {key!r}")
        kind = "counter" if name.endswith("_total") else "gauge"
        value = float(samples[key])
        text = (
            "NaN"
            if math.isnan(value)
            else repr(value)
            if math.isfinite(value)
            else ("+Inf" if value > 0 else "-Inf")
        )
        if name not in typed:  # one TYPE line per metric family, before its first sample
            typed.add(name)
            lines.append(f"# TYPE {name} {kind}")
        lines.append(f"{key} {text}")
    return "\n".join(lines) + "\n"
