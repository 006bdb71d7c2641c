"""Every source kind by name: what show files, the look validation, ``GET /api/sources`` and
the native render plan look kinds up in. Imports every kind module; none imports it back."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..colour import shown
from .base import CanvasContext, LayerSource, SourceContext, SourceError
from .blob_glow import BlobGlow
from .chase import Chase
from .gradients import LinearGradient, RadialGradient
from .live import MdvrLive
from .noise import Noise
from .plasma import Plasma
from .ripple import TouchRipple
from .solid import Solid
from .still import Image
from .templates import TEMPLATES
from .testpatterns import TestColourBars, TestIdentify, TestUniverse
from .video import Video

_KINDS: tuple[type[LayerSource], ...] = (
    Solid,
    LinearGradient,
    RadialGradient,
    Chase,
    Noise,
    Plasma,
    TestIdentify,
    TestUniverse,
    TestColourBars,
    Image,
    MdvrLive,
    Video,
    TouchRipple,
    BlobGlow,
    *TEMPLATES,
)
SOURCES: Mapping[str, type[LayerSource]] = MappingProxyType({cls.kind: cls for cls in _KINDS})
"""Every source kind by name (the names show files use)."""


def build_source(
    kind: str,
    params: Mapping[str, Any],
    canvas: CanvasContext,
    context: SourceContext | None = None,
) -> LayerSource:
    """A source of `kind` for `canvas` using `context` (a bare one when None); SourceError
    lists every problem (or the known kinds)."""
    cls = SOURCES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        close = difflib.get_close_matches(str(kind), list(SOURCES), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        raise SourceError(
            f"unknown layer source {shown(kind)}{hint} (known: {', '.join(sorted(SOURCES))})"
        )
    return cls(params, canvas, context)


def describe_sources() -> dict[str, Any]:
    """JSON-able schema of every kind: summary, animated, params (type/default/range/doc…)."""
    return {
        kind: {
            "summary": cls.summary,
            "animated": cls.animated,
            "params": {name: spec.describe() for name, spec in cls.params.items()},
        }
        for kind, cls in SOURCES.items()
    }
