"""Frame rendering: layer stacks → canvases → masters → RGBW/intensity planes → universes.

Everything per frame runs in native kernels over buffers allocated once here:
- each layer renders into its own persistent uint16 buffer (static sources skip the work),
- the stack composites bottom to top straight into the canvas's slice of one shared
  "source vector" (the compiled patch's layout), so the final gather is a single
  kernel call for all universes,
- grand master x canvas master is one `scale` pass per canvas,
- the gather applies each fixture type's gamma/curve/white-balance LUT while mapping.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trocadero.config.show import LayerDef, ShowDef
from trocadero.core.patch import CanvasMap, CompiledPatch
from trocadero.native import kernels
from trocadero.native.kernels import BlendMode

from .sources import SOURCES, CanvasContext, LayerSource, SourceError, build_source

FULL = 65535
BLEND_MODES: Mapping[str, BlendMode] = {
    "normal": BlendMode.NORMAL,
    "add": BlendMode.ADD,
    "multiply": BlendMode.MULTIPLY,
    "screen": BlendMode.SCREEN,
    "max": BlendMode.MAX,
}


class ShowError(ValueError):
    """The show's looks cannot be built; `problems` names canvas, layer and parameter."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def level16(fraction: float) -> int:
    """0..1 → 0..65535, rounded."""
    return max(0, min(FULL, round(fraction * FULL)))


@dataclass
class Layer:
    source: LayerSource
    mode: BlendMode
    opacity: int  # 0..65535
    buffer: NDArray[np.uint16]


@dataclass
class StageTimes:
    """Nanoseconds spent in each stage of the last frame."""

    sources: int = 0
    composite: int = 0
    masters: int = 0
    planes: int = 0
    gather: int = 0

    @property
    def total(self) -> int:
        return self.sources + self.composite + self.masters + self.planes + self.gather


@dataclass
class CanvasRenderer:
    """One canvas: its layer stack and its views into the shared source vector."""

    cmap: CanvasMap
    context: CanvasContext
    layers: list[Layer]
    master: int
    rgb: NDArray[np.uint16]  # (h, w, 3) view into the source vector
    rgbw: NDArray[np.uint16] | None
    intensity: NDArray[np.uint16] | None
    flat_rgb: NDArray[np.uint16] = field(init=False)
    show_master: int = field(init=False)

    def __post_init__(self) -> None:
        self.flat_rgb = self.rgb.reshape(-1)
        self.show_master = self.master

    def render_sources(self, t: float) -> None:
        for layer in self.layers:
            layer.source.render(t, layer.buffer)

    def composite(self) -> None:
        if not self.layers:
            self.rgb.fill(0)
            return
        bottom = self.layers[0]
        if bottom.mode in (BlendMode.NORMAL, BlendMode.ADD, BlendMode.SCREEN, BlendMode.MAX) and (
            bottom.opacity == FULL
        ):
            # Onto black these modes all yield the layer itself: a copy, not a blend.
            np.copyto(self.rgb, bottom.buffer)
        else:
            self.rgb.fill(0)
            kernels.blend(self.rgb, bottom.buffer, bottom.mode, bottom.opacity)
        for layer in self.layers[1:]:
            if layer.opacity:
                kernels.blend(self.rgb, layer.buffer, layer.mode, layer.opacity)

    def apply_master(self, grand: int) -> None:
        level = kernels.combine_levels(grand, self.master)
        if level != FULL:
            kernels.scale(self.rgb, level)

    def derive_planes(self) -> None:
        if self.rgbw is not None:
            kernels.rgb_to_rgbw(self.rgbw, self.rgb)
        if self.intensity is not None:
            np.max(self.rgb, axis=2, out=self.intensity)


class Renderer:
    """Renders the whole show into the universe buffer the frame clock publishes."""

    def __init__(
        self, show: ShowDef, patch: CompiledPatch, *, base_dir: Path | None = None
    ) -> None:
        self.base_dir = base_dir
        self.patch = patch
        self.source = np.zeros(patch.source_length, dtype=np.uint16)
        self.universes = np.zeros(patch.frame_bytes, dtype=np.uint8)
        self.grand_master = level16(show.grand_master)
        self.show_grand_master = self.grand_master  # what a released console returns to
        self.times = StageTimes()
        looks = {look.canvas: look.layers for look in show.looks}
        masters = {c.name: c.master for c in show.canvases}
        problems: list[str] = []
        known = set(patch.canvases)
        for canvas in looks:
            if canvas not in known:
                problems.append(f'looks: canvas "{canvas}" is not defined')
        self.canvases: dict[str, CanvasRenderer] = {}
        for name, cmap in patch.canvases.items():
            renderer = self._canvas(cmap, looks.get(name, ()), masters.get(name, 1.0), problems)
            if renderer is not None:
                self.canvases[name] = renderer
        if problems:
            raise ShowError(problems)

    def _canvas(
        self, cmap: CanvasMap, layer_defs: Sequence[LayerDef], master: float, problems: list[str]
    ) -> CanvasRenderer | None:
        h, w = cmap.height, cmap.width
        context = CanvasContext(
            name=cmap.name,
            width=w,
            height=h,
            pixel_fixture=cmap.pixel_fixture,
            pixel_universe=cmap.pixel_universe,
            fixture_names=self.patch.fixture_names,
        )
        layers: list[Layer] = []
        for i, ld in enumerate(layer_defs):
            try:
                source = build_source(ld.source, self._resolve_paths(ld), context)
            except SourceError as exc:
                where = f'looks["{cmap.name}"].layers[{i}] ({ld.source})'
                problems.extend(f"{where}: {line}" for line in str(exc).splitlines())
                continue
            buffer = np.zeros((h, w, 3), dtype=np.uint16)
            layers.append(Layer(source, BLEND_MODES[ld.blend], level16(ld.opacity), buffer))
        n = h * w
        view = self.source
        rgb = view[cmap.rgb_offset : cmap.rgb_offset + 3 * n].reshape(h, w, 3)
        rgbw = (
            None if cmap.rgbw_offset is None else view[cmap.rgbw_offset : cmap.rgbw_offset + 4 * n]
        )
        intensity = (
            None
            if cmap.intensity_offset is None
            else view[cmap.intensity_offset : cmap.intensity_offset + n].reshape(h, w)
        )
        return CanvasRenderer(cmap, context, layers, level16(master), rgb, rgbw, intensity)

    def _resolve_paths(self, ld: LayerDef) -> Mapping[str, Any]:
        """Relative file parameters (images) are relative to the show file's folder."""
        spec = SOURCES.get(ld.source)
        if spec is None or self.base_dir is None:
            return ld.params
        params = dict(ld.params)
        for name, value in ld.params.items():
            p = spec.params.get(name)
            if p is not None and p.type == "path" and isinstance(value, str) and value:
                params[name] = str(self.base_dir / value)
        return params

    def render(self, t: float) -> StageTimes:
        """Render frame time `t` (seconds) into `self.universes`; return the stage times."""
        clock = time.perf_counter_ns
        times = StageTimes()
        t0 = clock()
        for c in self.canvases.values():
            c.render_sources(t)
        t1 = clock()
        for c in self.canvases.values():
            c.composite()
        t2 = clock()
        for c in self.canvases.values():
            c.apply_master(self.grand_master)
        t3 = clock()
        for c in self.canvases.values():
            c.derive_planes()
        t4 = clock()
        self.patch.gather(self.source, self.universes)
        t5 = clock()
        times.sources, times.composite, times.masters = t1 - t0, t2 - t1, t3 - t2
        times.planes, times.gather = t4 - t3, t5 - t4
        self.times = times
        return times

    def canvas_rgb(self, name: str) -> NDArray[np.uint16]:
        """The composed (post-master) canvas, (h, w, 3) uint16; a view, valid until next frame."""
        return self.canvases[name].rgb
