"""Blind preview: a look rendered offline for the editor, never on the wire.

Each call builds its own layer stacks (own sources, own buffers) on the show's canvases with
the Python reference compositor (`LookStack`), draws one frame time and box-averages it to the
live previews' size. A video layer waits for its frame (up to `SETTLE_S`) and plays as if
the look started at frame time 0. Nothing of the live `Renderer` is written: not its stacks,
plans, source vector or universes, so the frame clock and the outputs never see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import trio

from trocadero.config.show import LookDef
from trocadero.core.errors import InvalidDocument
from trocadero.core.look_preview import CanvasPixels
from trocadero.core.playback.plan import level16
from trocadero.native import kernels

from .preview import preview_size
from .renderer import BLEND_MODES, Layer, LookStack, Renderer, resolve_paths
from .sources import SourceError, build_source

__all__ = ["LookPreviews"]

SETTLE_S: Final = 1.0  # at most this long for a video layer's first decoded frame
# Each layer holds a canvas-sized buffer: a request body of thousands of tiny layers must not
# become gigabytes (a stored look is drawn by the live renderer, not here).
MAX_LAYERS: Final = 64


class LookPreviews:
    """Renders looks on `renderer`'s canvases (read only: their sizes and fixture maps, the
    content index) to at most `max_size` pixels on the longest side."""

    def __init__(self, renderer: Renderer, *, max_size: int) -> None:
        self._renderer = renderer
        self._max_size = max_size
        # One preview at a time: a technician's typing must not queue up renders.
        self._limiter = trio.CapacityLimiter(1)

    async def __call__(self, look: LookDef, t: float) -> Sequence[CanvasPixels]:
        """`render` in a worker thread (a large canvas takes milliseconds)."""
        return await trio.to_thread.run_sync(self.render, look, t, limiter=self._limiter)

    def render(self, look: LookDef, t: float) -> list[CanvasPixels]:
        """Every canvas `look` covers at frame time `t`; InvalidDocument names each problem."""
        stacks: list[tuple[str, LookStack]] = []
        problems: list[str] = []
        try:
            for stack in look.canvases:
                built = self._build(stack.canvas, look, problems)
                if built is not None:
                    stacks.append((stack.canvas, built))
            if problems:
                raise InvalidDocument(problems)
            return [self._draw(name, stack, t) for name, stack in stacks]
        finally:
            for _, built in stacks:
                for layer in built.layers:
                    layer.source.close()  # a video's decoder thread would run on

    def _build(self, canvas: str, look: LookDef, problems: list[str]) -> LookStack | None:
        c = self._renderer.canvases.get(canvas)
        if c is None:
            known = ", ".join(self._renderer.canvases)
            problems.append(f'canvases: canvas "{canvas}" is not defined (known: {known})')
            return None
        layer_defs = next(s.layers for s in look.canvases if s.canvas == canvas)
        if len(layer_defs) > MAX_LAYERS:
            problems.append(
                f'canvases["{canvas}"].layers: at most {MAX_LAYERS} layers in a blind preview'
                f" (got {len(layer_defs)})"
            )
            return None
        h, w = c.cmap.height, c.cmap.width
        layers: list[Layer] = []
        for i, ld in enumerate(layer_defs):
            params = resolve_paths(ld, self._renderer.base_dir)
            try:
                source = build_source(ld.source, params, c.context, self._renderer.sources)
            except SourceError as exc:
                where = f'canvases["{canvas}"].layers[{i}] ({ld.source})'
                problems.extend(f"{where}: {line}" for line in exc.problems)
                continue
            buffer = np.zeros((h, w, 3), dtype=np.uint16)
            layers.append(Layer(source, BLEND_MODES[ld.blend], level16(ld.opacity), buffer))
        return LookStack(layers, (h, w, 3))

    def _draw(self, canvas: str, stack: LookStack, t: float) -> CanvasPixels:
        c = self._renderer.canvases[canvas]
        h, w = c.cmap.height, c.cmap.width
        for layer in stack.layers:
            layer.source.settle(t, SETTLE_S)
        rgb = stack.draw(t, frame=0)
        w2, h2 = preview_size(w, h, self._max_size)
        out = np.zeros(w2 * h2 * 3, dtype=np.uint8)
        kernels.downscale_preview(out, rgb, h, w, h2, w2)
        return CanvasPixels(canvas, w2, h2, out.tobytes())
