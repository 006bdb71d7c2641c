"""Blind preview: a look rendered for the editor only, never on the wire.

The renderer lives in `playout` (which `core` must not import), so the daemon injects a
`LookPreviewer` into the operation table's services; `core` only knows its shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from trocadero.config.show import LookDef

__all__ = ["CanvasPixels", "LookPreviewer"]


@dataclass(frozen=True, slots=True)
class CanvasPixels:
    """One canvas of a previewed look, downscaled like the live previews."""

    canvas: str
    width: int
    height: int
    rgb: bytes  # width * height * 3, 8-bit, row-major


# (look, frame time in seconds) → its canvases; InvalidDocument names what cannot be built.
LookPreviewer = Callable[[LookDef, float], Awaitable[Sequence[CanvasPixels]]]
