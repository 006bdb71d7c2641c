"""A contributor's per-canvas transitions (a cue list, the parks, one scripted override).

Each canvas has a lane: what it faded from (`base`, frozen at the moment of the change), what
it fades to (`target`), when (`start`, on the track's own clock) and how (`Timing`). A change
in the middle of a fade freezes the current mix as the new base, so nothing jumps: the new
fade starts from exactly what was on stage. Pausing a track stops its clock, which freezes
every lane's progress (and any follow/hang timer measured on it) exactly where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from trocadero.config.show import FadeCurve

from .curves import progress
from .plan import UNDER, Node, TimedFade, cap_depth, fade, timed_fade

MAX_DEPTH = 3  # nested frozen fades per canvas (see plan.cap_depth)


@dataclass(frozen=True, slots=True)
class Timing:
    up: float = 0.0
    down: float = 0.0
    delay: float = 0.0
    curve: FadeCurve = "linear"

    @property
    def end(self) -> float:
        return self.delay + max(self.up, self.down)


SNAP = Timing(0.0, 0.0, 0.0, "snap")


def even(seconds: float, curve: FadeCurve = "linear") -> Timing:
    """One time for everything (BACK, a fade override, a release)."""
    return Timing(seconds, seconds, 0.0, curve)


@dataclass(frozen=True, slots=True)
class Lane:
    base: Node
    target: Node
    start: float  # on the track clock
    timing: Timing

    def weights(self, elapsed: float) -> tuple[float, float]:
        tm = self.timing
        return (
            progress(tm.curve, elapsed, tm.delay, tm.up),
            progress(tm.curve, elapsed, tm.delay, tm.down),
        )


class Track:
    def __init__(self) -> None:
        self.lanes: dict[str, Lane] = {}
        self._offset = 0.0  # track clock = frame time - offset (grows by each pause)
        self._paused_at: float | None = None

    # --- the track clock ----------------------------------------------------------------

    def clock(self, t: float) -> float:
        return (self._paused_at if self._paused_at is not None else t) - self._offset

    def frame_time(self, track_t: float) -> float:
        """Frame time at which the (running) track clock reads `track_t`."""
        return track_t + self._offset

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self, t: float) -> bool:
        if self._paused_at is not None:
            return False
        self._paused_at = t
        return True

    def resume(self, t: float) -> bool:
        if self._paused_at is None:
            return False
        self._offset += t - self._paused_at
        self._paused_at = None
        return True

    # --- lanes ---------------------------------------------------------------------------

    def node(self, canvas: str, t: float, *, timed: bool = False) -> Node | None:
        """The canvas's mix now; None where this track does not touch the canvas. `timed`:
        the fade with its timing (a TimedFade) instead of its weights at `t`."""
        lane = self.lanes.get(canvas)
        if lane is None:
            return None
        if timed:
            tm = lane.timing
            timing = TimedFade(
                lane.base,
                lane.target,
                self._offset,
                lane.start,
                self._paused_at,
                tm.delay,
                tm.up,
                tm.down,
                tm.curve,
            )
            return timed_fade(lane.base, lane.target, timing, t)
        up, down = lane.weights(self.clock(t) - lane.start)
        return fade(lane.base, lane.target, up, down)

    def retarget(
        self,
        t: float,
        targets: Mapping[str, Node],
        timing: Callable[[str], Timing],
        *,
        release_others: bool,
    ) -> None:
        """Fade the canvases in `targets` to their new nodes from wherever they are now; with
        `release_others`, every other canvas of this track fades to UNDER (let go)."""
        now = self.clock(t)
        canvases: Iterable[str] = set(targets) | (set(self.lanes) if release_others else set())
        for canvas in sorted(canvases):
            current = self.node(canvas, t)
            target = targets.get(canvas, UNDER)
            if current is None and target is UNDER:
                continue
            base = cap_depth(current if current is not None else UNDER, MAX_DEPTH)
            self.lanes[canvas] = Lane(base, target, now, timing(canvas))

    def settle(self, t: float) -> bool:
        """Drop lanes that have finished fading back to UNDER (the track let them go);
        whether any was dropped."""
        now = self.clock(t)
        dropped = False
        for canvas, lane in list(self.lanes.items()):
            if lane.target is UNDER and now - lane.start >= lane.timing.end:
                del self.lanes[canvas]
                dropped = True
        return dropped

    def fading(self, t: float) -> bool:
        now = self.clock(t)
        return any(now - lane.start < lane.timing.end for lane in self.lanes.values())

    def clear(self) -> None:
        self.lanes.clear()
        self._paused_at = None
