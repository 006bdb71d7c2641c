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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trocadero.config.show import LayerDef, LookDef, ShowDef
from trocadero.core.patch import UNIVERSE_BYTES, CanvasMap, CompiledPatch
from trocadero.core.playback.plan import (
    BLACK,
    EMERGENCY_LOOK,
    HOLD,
    IDLE_LOOK,
    Fade,
    Htp,
    LookRef,
    Node,
    Solid,
    level16,
)
from trocadero.native import kernels
from trocadero.native.kernels import BlendMode

from .sources import (
    SOURCES,
    CanvasContext,
    LayerSource,
    SourceContext,
    SourceError,
    build_source,
)

FULL = 65535
BLEND_MODES: Mapping[str, BlendMode] = {
    "normal": BlendMode.NORMAL,
    "add": BlendMode.ADD,
    "multiply": BlendMode.MULTIPLY,
    "screen": BlendMode.SCREEN,
    "max": BlendMode.MAX,
}


def copy(dst: NDArray[np.uint16], src: NDArray[np.uint16]) -> None:
    """dst = src through a kernel, not numpy: numpy drops the GIL for large copies, and the
    render thread would then wait for it back (up to a switch interval) after each one."""
    kernels.blend(dst, src, BlendMode.NORMAL, FULL)


def resolve_paths(ld: LayerDef, base_dir: Path | None) -> Mapping[str, Any]:
    """A layer's parameters with relative file parameters (images) made relative to the show
    file's folder `base_dir`."""
    spec = SOURCES.get(ld.source)
    if spec is None or base_dir is None:
        return ld.params
    params = dict(ld.params)
    for name, value in ld.params.items():
        p = spec.params.get(name)
        if p is not None and p.type == "path" and isinstance(value, str) and value:
            params[name] = str(base_dir / value)
    return params


class ShowError(ValueError):
    """The show's looks cannot be built; `problems` names canvas, layer and parameter."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


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


class LookStack:
    """One look's layer stack on one canvas, with its own buffers (drawn once per frame)."""

    def __init__(self, layers: list[Layer], shape: tuple[int, int, int]) -> None:
        self.layers = layers
        self.buffer = np.zeros(shape, dtype=np.uint16)
        self.drawn = -1  # frame number of the last draw

    def draw(self, t: float, frame: int) -> NDArray[np.uint16]:
        if self.drawn == frame:
            return self.buffer
        self.drawn = frame
        for layer in self.layers:
            layer.source.render(t, layer.buffer)
        out = self.buffer
        if not self.layers:
            kernels.scale(out, 0)
            return out
        bottom = self.layers[0]
        if bottom.mode in (BlendMode.NORMAL, BlendMode.ADD, BlendMode.SCREEN, BlendMode.MAX) and (
            bottom.opacity == FULL
        ):
            # Onto black these modes all yield the layer itself: a copy, not a blend.
            copy(out, bottom.buffer)
        else:
            kernels.scale(out, 0)
            kernels.blend(out, bottom.buffer, bottom.mode, bottom.opacity)
        for layer in self.layers[1:]:
            if layer.opacity:
                kernels.blend(out, layer.buffer, layer.mode, layer.opacity)
        return out


@dataclass
class CanvasRenderer:
    """One canvas: the plan it draws this frame and its views into the shared source vector."""

    cmap: CanvasMap
    context: CanvasContext
    stacks: dict[str, LookStack]
    master: int
    rgb: NDArray[np.uint16]  # (h, w, 3) view into the source vector
    rgbw: NDArray[np.uint16] | None
    intensity: NDArray[np.uint16] | None
    plan: Node = BLACK
    exempt: bool = False  # this frame shows the emergency look: no master applies
    flat_rgb: NDArray[np.uint16] = field(init=False)
    show_master: int = field(init=False)
    last: NDArray[np.uint16] = field(init=False)  # the previous composition, for HOLD
    _pool: list[NDArray[np.uint16]] = field(init=False, default_factory=list)
    _black: NDArray[np.uint16] = field(init=False)

    def __post_init__(self) -> None:
        self.flat_rgb = self.rgb.reshape(-1)
        self.show_master = self.master
        self.last = np.zeros_like(self.rgb)
        self._black = np.zeros_like(self.rgb)

    @property
    def layers(self) -> list[Layer]:
        """The idle look's layers (what the canvas shows with nothing else playing)."""
        stack = self.stacks.get(IDLE_LOOK)
        return [] if stack is None else stack.layers

    def _scratch(self, i: int) -> NDArray[np.uint16]:
        while len(self._pool) <= i:
            self._pool.append(np.zeros_like(self.rgb))
        return self._pool[i]

    def compose(
        self, t: float, frame: int, stack_for: Callable[[str, str], LookStack | None]
    ) -> tuple[int, int]:
        """Draw the plan into the canvas; returns (ns drawing looks, ns mixing)."""
        clock = time.perf_counter_ns
        drawing = 0
        memo: dict[int, NDArray[np.uint16]] = {}
        used = 0
        t0 = clock()

        def ev(node: Node) -> NDArray[np.uint16]:
            nonlocal drawing, used
            key = id(node)
            if key in memo:
                return memo[key]
            out: NDArray[np.uint16]
            if isinstance(node, LookRef):
                stack = stack_for(self.cmap.name, node.look)
                if stack is None:
                    out = self._black
                else:
                    d0 = clock()
                    out = stack.draw(t, frame)
                    drawing += clock() - d0
            elif isinstance(node, Fade):
                a, b = ev(node.a), ev(node.b)
                out = self._scratch(used)
                used += 1
                kernels.crossfade_split(out, a, b, level16(node.up), level16(node.down))
            elif isinstance(node, Htp):
                a, b = ev(node.a), ev(node.b)
                out = self._scratch(used)
                used += 1
                copy(out, a)
                kernels.blend(out, b, BlendMode.MAX, FULL)
            elif isinstance(node, Solid):
                out = self._scratch(used)
                used += 1
                out[...] = (node.r, node.g, node.b)
            elif node is HOLD:
                out = self.last
            else:  # BLACK, or UNDER left unbound
                out = self._black
            memo[key] = out
            return out

        copy(self.rgb, ev(self.plan))
        copy(self.last, self.rgb)
        return drawing, clock() - t0 - drawing

    def apply_master(self, grand: int) -> None:
        if self.exempt:
            return
        level = kernels.combine_levels(grand, self.master)
        if level != FULL:
            kernels.scale(self.rgb, level)

    def derive_planes(self) -> None:
        if self.rgbw is not None:
            kernels.rgb_to_rgbw(self.rgbw, self.rgb)
        if self.intensity is not None:
            np.max(self.rgb, axis=2, out=self.intensity)


class Renderer:
    """Renders the whole show into the universe buffer the frame clock publishes.

    Each canvas draws a plan (`core.playback.plan`): by default its idle look; the playback
    engine sets new plans every frame with `set_plans`. Looks are built per canvas on first
    use and kept until `forget_look` (an edited look is rebuilt on its next use). Every source
    it builds gets `sources` (content files, live feeds, alerts; a bare context when None).
    """

    def __init__(
        self,
        show: ShowDef,
        patch: CompiledPatch,
        *,
        base_dir: Path | None = None,
        sources: SourceContext | None = None,
    ) -> None:
        self.base_dir = base_dir
        self.sources = SourceContext() if sources is None else sources
        self.patch = patch
        self.source = np.zeros(patch.source_length, dtype=np.uint16)
        self.universes = np.zeros(patch.frame_bytes, dtype=np.uint8)
        self.grand_master = level16(show.grand_master)
        self.show_grand_master = self.grand_master  # what a released console returns to
        self.times = StageTimes()
        self.frame = 0
        self.looks: dict[str, Mapping[str, Sequence[LayerDef]]] = {}
        for look in show.looks:
            self.looks[look.name] = {c.canvas: c.layers for c in look.canvases}
        self.build_errors: dict[tuple[str, str], str] = {}
        # Told when a built stack is dropped (the native render plan mirrors the stacks).
        self.stack_dropped: Callable[[LookStack], None] | None = None
        self.generation = 0  # bumped whenever built stacks are dropped (looks edited)
        problems: list[str] = []
        known = set(patch.canvases)
        special = ((IDLE_LOOK, "idle", show.idle), (EMERGENCY_LOOK, "emergency", show.emergency))
        for key, label, stacks in special:
            for c in stacks:
                if c.canvas not in known:
                    problems.append(f'{label}: canvas "{c.canvas}" is not defined')
            self.looks[key] = {c.canvas: c.layers for c in stacks}
        for look in show.looks:
            for c in look.canvases:
                if c.canvas not in known:
                    problems.append(f'looks["{look.name}"]: canvas "{c.canvas}" is not defined')
        masters = {c.name: c.master for c in show.canvases}
        self.canvases: dict[str, CanvasRenderer] = {}
        for name, cmap in patch.canvases.items():
            self.canvases[name] = self._canvas(cmap, masters.get(name, 1.0))
        # Every look is built once up front, so a bad parameter is a start-up error (named)
        # and the first GO does not pay for building it.
        for look_name, per_canvas in self.looks.items():
            for canvas in per_canvas:
                if canvas in self.canvases:
                    self._build(canvas, look_name, problems)
        if problems:
            raise ShowError(problems)
        for name, canvas_renderer in self.canvases.items():
            idle = name in self.looks[IDLE_LOOK]
            canvas_renderer.plan = LookRef(IDLE_LOOK) if idle else BLACK

    def _canvas(self, cmap: CanvasMap, master: float) -> CanvasRenderer:
        h, w = cmap.height, cmap.width
        context = CanvasContext(
            name=cmap.name,
            width=w,
            height=h,
            pixel_fixture=cmap.pixel_fixture,
            pixel_universe=cmap.pixel_universe,
            fixture_names=self.patch.fixture_names,
        )
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
        return CanvasRenderer(cmap, context, {}, level16(master), rgb, rgbw, intensity)

    def _build(self, canvas: str, look: str, problems: list[str]) -> LookStack | None:
        c = self.canvases[canvas]
        layer_defs = self.looks.get(look, {}).get(canvas)
        if layer_defs is None:
            return None
        label = {IDLE_LOOK: "idle", EMERGENCY_LOOK: "emergency"}.get(look, f'looks["{look}"]')
        h, w = c.cmap.height, c.cmap.width
        layers: list[Layer] = []
        for i, ld in enumerate(layer_defs):
            try:
                source = build_source(ld.source, self._resolve_paths(ld), c.context, self.sources)
            except SourceError as exc:
                where = f'{label}["{canvas}"].layers[{i}] ({ld.source})'
                problems.extend(f"{where}: {line}" for line in str(exc).splitlines())
                continue
            buffer = np.zeros((h, w, 3), dtype=np.uint16)
            layers.append(Layer(source, BLEND_MODES[ld.blend], level16(ld.opacity), buffer))
        stack = LookStack(layers, (h, w, 3))
        c.stacks[look] = stack
        return stack

    def stack_for(self, canvas: str, look: str) -> LookStack | None:
        c = self.canvases[canvas]
        stack = c.stacks.get(look)
        if stack is None and look in self.looks:
            problems: list[str] = []
            stack = self._build(canvas, look, problems)
            if problems:  # checked when the look was stored; never stop a frame for it
                self.build_errors[(canvas, look)] = "; ".join(problems)
        return stack

    def check_look(self, look: LookDef) -> list[str]:
        """Problems building `look` on this show's canvases (nothing is kept)."""
        problems: list[str] = []
        for stack in look.canvases:
            c = self.canvases.get(stack.canvas)
            if c is None:
                problems.append(f'canvases: canvas "{stack.canvas}" is not defined')
                continue
            for i, ld in enumerate(stack.layers):
                try:
                    build_source(ld.source, self._resolve_paths(ld), c.context, self.sources)
                except SourceError as exc:
                    where = f'canvases["{stack.canvas}"].layers[{i}] ({ld.source})'
                    problems.extend(f"{where}: {line}" for line in str(exc).splitlines())
        return problems

    def set_look(self, look: LookDef) -> None:
        """A look was stored or edited: it is (re)built on its next use."""
        self.forget_look(look.name)
        self.looks[look.name] = {c.canvas: c.layers for c in look.canvases}

    def forget_look(self, name: str) -> None:
        self.looks.pop(name, None)
        self.rebuild_looks([name])

    def rebuild_looks(self, names: Sequence[str]) -> None:
        """Drop the built stacks of these looks (they are rebuilt from their definitions on
        next use: e.g. a video layer opens its asset's newly approved version)."""
        self.generation += 1
        for name in names:
            for c in self.canvases.values():
                stack = c.stacks.pop(name, None)
                if stack is not None:
                    if self.stack_dropped is not None:
                        self.stack_dropped(stack)
                    # A video's decoding thread or a live feed's decoder would run on for good.
                    for layer in stack.layers:
                        layer.source.close()

    def set_plans(self, plans: Mapping[str, Node]) -> None:
        for name, plan in plans.items():
            c = self.canvases.get(name)
            if c is not None:
                c.plan = plan
                c.exempt = plan == LookRef(EMERGENCY_LOOK)

    def _resolve_paths(self, ld: LayerDef) -> Mapping[str, Any]:
        return resolve_paths(ld, self.base_dir)

    def render(self, t: float) -> StageTimes:
        """Render frame time `t` (seconds) into `self.universes`; return the stage times."""
        clock = time.perf_counter_ns
        times = StageTimes()
        self.frame += 1
        for c in self.canvases.values():
            drawing, mixing = c.compose(t, self.frame, self.stack_for)
            times.sources += drawing
            times.composite += mixing
        t3 = clock()
        for c in self.canvases.values():
            c.apply_master(self.grand_master)
        t4 = clock()
        for c in self.canvases.values():
            c.derive_planes()
        t5 = clock()
        self.patch.gather(self.source, self.universes)
        t6 = clock()
        times.masters, times.planes, times.gather = t4 - t3, t5 - t4, t6 - t5
        self.times = times
        return times

    def emergency_frame(self) -> tuple[bytes, list[tuple[int, int]]]:
        """The emergency looks rendered once (static, no master) as a whole universe frame,
        and the byte ranges of the slots they drive: what the output thread sends while the
        emergency latch is set, whatever Python is doing."""
        looks = self.looks[EMERGENCY_LOOK]
        saved = {name: (c.plan, c.exempt) for name, c in self.canvases.items()}
        self.set_plans({name: LookRef(EMERGENCY_LOOK) for name in looks})
        try:
            self.render(0.0)
            frame = self.universes.tobytes()
        finally:
            for name, (plan, exempt) in saved.items():
                self.canvases[name].plan, self.canvases[name].exempt = plan, exempt
        ranges: list[tuple[int, int]] = []
        for fx in self.patch.fixtures.values():
            if fx.canvas not in looks:
                continue
            for universe, first, last in fx.ranges:
                base = self.patch.universe_index[universe] * UNIVERSE_BYTES
                ranges.append((base + first - 1, base + last))
        ranges.sort()
        merged: list[tuple[int, int]] = []
        for lo, hi in ranges:
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        return frame, merged

    def canvas_rgb(self, name: str) -> NDArray[np.uint16]:
        """The composed (post-master) canvas, (h, w, 3) uint16; a view, valid until next frame."""
        return self.canvases[name].rgb
