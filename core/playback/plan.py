"""Composition plans: what one canvas shows this frame, as a small tree the renderer draws.

Leaves are looks (a layer stack), a solid colour, black, the canvas's previous output
(`HOLD`) or `UNDER` — whatever the ladder levels below the node's owner compose. Inner nodes
mix: `Fade` moves every value from `a` towards `b` (rising values with the up-fade's weight,
falling ones with the down-fade's), `Htp` keeps the higher of two values.

`evaluate` is the numpy reference the renderer's native path is tested against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trocadero.config.show import FadeCurve
from trocadero.native import kernels_ref

from .curves import progress

FULL = 65535


class Node:
    """Base of plan nodes (frozen dataclasses, compared by value)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class _Leaf(Node):
    kind: str

    def __repr__(self) -> str:
        return self.kind


UNDER = _Leaf("UNDER")
BLACK = _Leaf("BLACK")
HOLD = _Leaf("HOLD")


@dataclass(frozen=True, slots=True)
class LookRef(Node):
    """A named look's layer stack on this canvas (`@idle`, `@emergency` are the show's)."""

    look: str


@dataclass(frozen=True, slots=True)
class Solid(Node):
    """One colour, 16-bit R, G, B (a park from the colour picker)."""

    r: int
    g: int
    b: int


@dataclass(frozen=True, slots=True)
class Fade(Node):
    """`a` → `b`; `up`/`down` are the weights (0..1) of rising and falling values."""

    a: Node
    b: Node
    up: float
    down: float


@dataclass(frozen=True, slots=True)
class TimedFade(Node):
    """A fade that carries its timing instead of its weights (`Engine.compose(timed=True)`):
    the native render plan computes the weights from each frame's time, so a plan stays
    exact until the next discrete change. The track clock reads `(paused_at or t) - offset`;
    the fade started at `start` on it (see `track.Lane`)."""

    a: Node
    b: Node
    offset: float
    start: float
    paused_at: float | None
    delay: float
    up: float
    down: float
    curve: FadeCurve

    def elapsed(self, t: float) -> float:
        return ((self.paused_at if self.paused_at is not None else t) - self.offset) - self.start

    def settled(self, t: float) -> bool:
        """At `t` and ever after, the fade shows `b` alone."""
        since = self.elapsed(t) - self.delay
        return since >= 0 and (self.curve == "snap" or since >= max(self.up, self.down))


@dataclass(frozen=True, slots=True)
class Htp(Node):
    a: Node
    b: Node


IDLE_LOOK = "@idle"
EMERGENCY_LOOK = "@emergency"


def fade(a: Node, b: Node, up: float, down: float) -> Node:
    """A Fade, or one of its ends when the weights make the other invisible."""
    if a == b or (up >= 1.0 and down >= 1.0):
        return b
    if up <= 0.0 and down <= 0.0:
        return a
    return Fade(a, b, up, down)


def timed_fade(a: Node, b: Node, timing: TimedFade, t: float) -> Node:
    """A TimedFade, or `b` when nothing would show of `a` from `t` on."""
    if a == b or timing.settled(t):
        return b
    return timing


def resolve(node: Node, t: float) -> Node:
    """The plan with every TimedFade at time `t` as the plain nodes `compose(t)` gives."""
    if isinstance(node, TimedFade):
        a, b = resolve(node.a, t), resolve(node.b, t)
        elapsed = node.elapsed(t)
        return fade(
            a,
            b,
            progress(node.curve, elapsed, node.delay, node.up),
            progress(node.curve, elapsed, node.delay, node.down),
        )
    if isinstance(node, Fade):
        return Fade(resolve(node.a, t), resolve(node.b, t), node.up, node.down)
    if isinstance(node, Htp):
        return Htp(resolve(node.a, t), resolve(node.b, t))
    return node


def depth(node: Node) -> int:
    """Nesting of fades (each level costs the renderer a mix)."""
    if isinstance(node, Fade):
        return 1 + max(depth(node.a), depth(node.b))
    if isinstance(node, Htp):
        return max(depth(node.a), depth(node.b))
    return 0


def cap_depth(node: Node, limit: int) -> Node:
    """Collapse the innermost fades of a frozen chain (a GO pressed many times within one
    fade) to their heavier end, so the renderer's work per canvas stays bounded."""
    if depth(node) <= limit or not isinstance(node, Fade):
        return node
    a = cap_depth(node.a, limit - 1)
    if depth(a) >= limit and isinstance(a, Fade):
        a = a.b if (a.up + a.down) >= 1.0 else a.a
    return fade(a, node.b, node.up, node.down)


def substitute(node: Node, under: Node) -> Node:
    """`node` with UNDER replaced by `under` (shared, not copied: the tree is a DAG)."""
    if node is UNDER:
        return under
    if isinstance(node, Fade):
        return Fade(substitute(node.a, under), substitute(node.b, under), node.up, node.down)
    if isinstance(node, TimedFade):
        a, b = substitute(node.a, under), substitute(node.b, under)
        return b if a == b else replace(node, a=a, b=b)
    if isinstance(node, Htp):
        return Htp(substitute(node.a, under), substitute(node.b, under))
    return node


def looks_in(node: Node) -> set[str]:
    """Every look the plan draws."""
    if isinstance(node, LookRef):
        return {node.look}
    if isinstance(node, Fade | Htp | TimedFade):
        return looks_in(node.a) | looks_in(node.b)
    return set()


def level16(weight: float) -> int:
    return max(0, min(FULL, round(weight * FULL)))


def evaluate(
    node: Node,
    look: Callable[[str], NDArray[np.uint16]],
    shape: tuple[int, ...],
    hold: NDArray[np.uint16] | None = None,
) -> NDArray[np.uint16]:
    """Reference evaluation with the numpy kernels (a fresh array; UNDER counts as black)."""
    memo: dict[int, NDArray[np.uint16]] = {}

    def ev(n: Node) -> NDArray[np.uint16]:
        key = id(n)
        if key in memo:
            return memo[key]
        out: NDArray[np.uint16]
        if isinstance(n, LookRef):
            out = np.array(look(n.look), dtype=np.uint16).reshape(shape)
        elif isinstance(n, Solid):
            out = np.empty(shape, dtype=np.uint16)
            out[...] = np.array([n.r, n.g, n.b], dtype=np.uint16)
        elif n is HOLD and hold is not None:
            out = hold.copy()
        elif isinstance(n, Fade):
            a, b = ev(n.a), ev(n.b)
            out = np.empty(shape, dtype=np.uint16)
            kernels_ref.crossfade_split(
                out.reshape(-1), a.reshape(-1), b.reshape(-1), level16(n.up), level16(n.down)
            )
        elif isinstance(n, Htp):
            out = np.maximum(ev(n.a), ev(n.b))
        else:  # BLACK, UNDER, HOLD without a previous frame
            out = np.zeros(shape, dtype=np.uint16)
        memo[key] = out
        return out

    return ev(node)


def describe(node: Node, names: Mapping[str, str] | None = None) -> object:
    """A JSON-able description (for the control plane's "what plays and why")."""
    if isinstance(node, LookRef):
        return {"look": (names or {}).get(node.look, node.look)}
    if isinstance(node, Solid):
        return {"solid": [node.r, node.g, node.b]}
    if isinstance(node, Fade):
        return {
            "fade": [describe(node.a, names), describe(node.b, names)],
            "up": round(node.up, 4),
            "down": round(node.down, 4),
        }
    if isinstance(node, Htp):
        return {"htp": [describe(node.a, names), describe(node.b, names)]}
    return repr(node).lower()


def target_doc(node: Node) -> dict[str, Any] | None:
    """A park's or schedule's target in the shape a command gives it (``{"look": name}`` or
    ``{"rgb": [r, g, b]}``); None for any other node."""
    if isinstance(node, LookRef):
        return {"look": node.look}
    if isinstance(node, Solid):
        return {"rgb": [node.r, node.g, node.b]}
    return None
