"""The native render plan: the show drawn by a Rust thread that never needs the GIL.

Python keeps everything that decides *what* to show (the engine, the looks, the sources'
tables); `trocadero_rt.NativeRenderer` draws it for every deadline of the frame clock:
- each built look stack is handed over once (`add_stack`), its layers as native sources
  (the pure functions of frame time: gradients, chase, noise, plasma), as a buffer drawn
  once (static sources), or as a slot Python keeps filling (video, live feeds, the
  templates with no native port — their frames may repeat, the building's never do);
- the engine's composition goes over as a plan (`set_plan`) whenever it changes, with fades
  that carry their timing (`Engine.compose(timed=True)`), so the plan stays exact until the
  next GO, follow, TTL, park or master.

`Renderer` (numpy + Cython, on the calling thread) stays the reference: the tests render
the same show both ways and compare frames.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import trocadero_rt
from numpy.typing import NDArray

from trocadero.core.playback.plan import (
    BLACK,
    EMERGENCY_LOOK,
    HOLD,
    UNDER,
    Fade,
    Htp,
    LookRef,
    Node,
    Solid,
    TimedFade,
    level16,
)

from .renderer import Layer, LookStack, Renderer
from .sources.base import LayerSource
from .sources.chase import Chase
from .sources.gradients import Gradient
from .sources.noise import Noise
from .sources.plasma import Plasma

NodeSpec = tuple[Any, ...]


NATIVE_KINDS = (Gradient, Chase, Noise, Plasma)


def _static(source: LayerSource) -> bool:
    """The output never changes with time (drawn once). Only the pure sources are asked
    their frame key (still at speed 0): others' keys follow decoders and feeds."""
    if not source.animated:
        return True
    return isinstance(source, NATIVE_KINDS) and source.frame_key(0.0) is None


def source_spec(source: LayerSource, slot: trocadero_rt.RenderSlot | None) -> NodeSpec:
    """How the render thread draws `source`: natively from its tables, or from `slot`."""
    if _static(source):
        return ("static",)
    if isinstance(source, Gradient):
        return (
            "shift",
            source._pos.tobytes(),
            source._lut.tobytes(),
            source.speed,
            source._span,
            source._cycle,
        )
    if isinstance(source, Chase):
        return (
            "chase",
            source._grid.tobytes(),
            source._table.tobytes(),
            tuple(float(v) for v in source.colour),
            tuple(float(v) for v in source.background),
            source.speed,
            float(source.bar),
            source.direction in ("left", "up"),
            source.horizontal,
        )
    if isinstance(source, Noise):
        return (
            "noise",
            source._ix.astype(np.int64).tobytes(),
            source._fx.astype(np.float64).tobytes(),
            source._fy32.tobytes(),
            source._bands,
            len(source._lat_x),
            len(source._lat_y),
            source.seed,
            source.speed,
            source._lut.tobytes(),
        )
    if isinstance(source, Plasma):
        return (
            "plasma",
            source._kx.tobytes(),
            source._ky.tobytes(),
            source._ax.tobytes(),
            source._cb.tobytes(),
            source._sb.tobytes(),
            source._sr.tobytes(),
            source._cr.tobytes(),
            source._gain,
            source.speed,
            source._lut.tobytes(),
        )
    if slot is None:
        raise ValueError(f"{source.kind}: not drawn natively and no slot given")
    return ("slot", slot)


def native_kind(source: LayerSource) -> str:
    """ "static", a native kind, or "slot" (fed by Python each frame)."""
    return str(source_spec(source, trocadero_rt.RenderSlot())[0])


@dataclass
class FedLayer:
    """A layer Python draws and hands over through a slot."""

    layer: Layer
    slot: trocadero_rt.RenderSlot


@dataclass
class NativeStack:
    id: int
    fed: list[FedLayer] = field(default_factory=list)


class NativeScene:
    """The renderer's stacks and plans, mirrored into a `trocadero_rt.NativeRenderer`."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        patch = renderer.patch
        self.canvas_names = tuple(renderer.canvases)
        canvases = []
        for c in renderer.canvases.values():
            m = c.cmap
            canvases.append((m.width, m.height, m.rgb_offset, m.rgbw_offset, m.intensity_offset))
        self.native = trocadero_rt.NativeRenderer(
            canvases,
            patch.source_length,
            np.ascontiguousarray(patch.src_index, dtype=np.int32).tobytes(),
            np.ascontiguousarray(patch.lut_id, dtype=np.uint8).tobytes(),
            np.ascontiguousarray(patch.luts, dtype=np.uint8).tobytes(),
        )
        self._stacks: dict[int, NativeStack] = {}  # by id() of the LookStack
        self._owners: dict[int, LookStack] = {}  # keeps the LookStack alive while mirrored
        self._next_id = 1
        self._retired: list[int] = []  # dropped stacks, removed with the next plan
        self.plan_number = 0  # of the last plan handed to the render thread
        renderer.stack_dropped = self._dropped
        for c in renderer.canvases.values():
            for stack in c.stacks.values():
                self._mirror(c.cmap.name, stack)

    # --- stacks ---------------------------------------------------------------------------

    def _mirror(self, canvas: str, stack: LookStack) -> int:
        known = self._stacks.get(id(stack))
        if known is not None:
            return known.id
        entry = NativeStack(self._next_id)
        self._next_id += 1
        layers = []
        for layer in stack.layers:
            slot = None
            if not _static(layer.source):
                slot = trocadero_rt.RenderSlot()
            spec = source_spec(layer.source, slot)
            if spec[0] == "static":
                layer.source.render(0.0, layer.buffer)
            elif spec[0] == "slot":
                assert slot is not None
                entry.fed.append(FedLayer(layer, slot))
            layers.append((spec, int(layer.mode), layer.opacity, layer.buffer.tobytes()))
        self.native.add_stack(entry.id, self.canvas_names.index(canvas), layers)
        self._stacks[id(stack)] = entry
        self._owners[id(stack)] = stack
        return entry.id

    def _dropped(self, stack: LookStack) -> None:
        """A look was edited or its content changed: its slots are no longer fed; the
        native stack goes when the next plan (drawing the rebuilt one) does, in the same
        frame, so the canvas never shows a frame of black in between."""
        entry = self._stacks.pop(id(stack), None)
        self._owners.pop(id(stack), None)
        if entry is not None:
            self._retired.append(entry.id)

    def fed_layers(self) -> Iterator[FedLayer]:
        for entry in self._stacks.values():
            yield from entry.fed

    def feed(self, t: float) -> int:
        """Draw the slot-fed layers for frame time `t` and hand them over; returns how many
        changed."""
        changed = 0
        for fed in list(self.fed_layers()):
            if fed.layer.source.render(t, fed.layer.buffer):
                fed.slot.write(fed.layer.buffer.tobytes())
                changed += 1
        return changed

    # --- plans ----------------------------------------------------------------------------

    def _nodes(self, canvas: str, plan: Node) -> tuple[list[NodeSpec], int]:
        nodes: list[NodeSpec] = []
        memo: dict[int, int] = {}

        def emit(node: Node) -> int:
            key = id(node)
            if key in memo:
                return memo[key]
            spec: NodeSpec
            if isinstance(node, LookRef):
                stack = self.renderer.stack_for(canvas, node.look)
                spec = ("black",) if stack is None else ("look", self._mirror(canvas, stack))
            elif isinstance(node, Solid):
                spec = ("solid", node.r, node.g, node.b)
            elif node is HOLD:
                spec = ("hold",)
            elif isinstance(node, Fade):
                a, b = emit(node.a), emit(node.b)
                spec = ("fade", a, b, level16(node.up), level16(node.down))
            elif isinstance(node, TimedFade):
                a, b = emit(node.a), emit(node.b)
                spec = (
                    "timed",
                    a,
                    b,
                    node.offset,
                    node.start,
                    node.paused_at,
                    node.delay,
                    node.up,
                    node.down,
                    node.curve,
                )
            elif isinstance(node, Htp):
                a, b = emit(node.a), emit(node.b)
                spec = ("htp", a, b)
            else:  # BLACK, or UNDER left unbound
                assert node is BLACK or node is UNDER, node
                spec = ("black",)
            nodes.append(spec)
            memo[key] = len(nodes) - 1
            return memo[key]

        root = emit(plan)
        return nodes, root

    def set_plans(self, plans: Mapping[str, Node], grand: int, masters: Mapping[str, int]) -> None:
        """Hand over each canvas's plan (timed or plain) with the masters."""
        canvases = []
        for name in self.canvas_names:
            plan = plans.get(name, self.renderer.canvases[name].plan)
            nodes, root = self._nodes(name, plan)
            exempt = plan == LookRef(EMERGENCY_LOOK)
            canvases.append((nodes, root, masters.get(name, 65535), exempt))
        # Its number: the render thread reports the frame first drawn with it (tracing).
        self.plan_number = self.native.set_plan(canvases, grand)
        for stack_id in self._retired:
            self.native.remove_stack(stack_id)
        self._retired.clear()

    def set_masters(self, grand: int, masters: Mapping[str, int]) -> None:
        self.native.set_masters(grand, [masters.get(n, 65535) for n in self.canvas_names])

    def render(self, t: float) -> tuple[NDArray[np.uint8], NDArray[np.uint16]]:
        """Draw frame time `t` on this thread (tests, tools): (universes, source vector)."""
        frame, source, _ = self.native.render(t)
        return np.frombuffer(frame, dtype=np.uint8), np.frombuffer(source, dtype=np.uint16)

    def close(self) -> None:
        self.native.stop()
        if self.renderer.stack_dropped == self._dropped:
            self.renderer.stack_dropped = None
