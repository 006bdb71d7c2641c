"""One cue list's playback: the playhead, GO/BACK/GOTO/FIRE/LOAD/RELEASE/TOP/PAUSE/RESUME,
follow and hang, link and loop. Cue-only (state) cues: a cue shows its look on the canvases
the look covers and lets go of the list's other canvases.

Timers are on the list's track clock, so PAUSE freezes fades and follow/hang alike, and an
auto-GO happens at its exact time (not at the next frame), keeping later fades exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from trocadero.config.show import CueDef, CueListDef, LookDef

from ..errors import InvalidArgument, NotFoundError
from .plan import UNDER, Htp, LookRef, Node
from .track import Timing, Track, even


class Outcome(StrEnum):
    DONE = "done"
    DEBOUNCED = "debounced"  # a second GO inside the debounce window
    END_OF_LIST = "end-of-list"  # GO with nothing standing by
    RESUMED = "resumed"  # GO on a paused list resumes it
    UNCHANGED = "unchanged"


class PlaybackError(InvalidArgument):
    """A verb the engine cannot carry out as asked (bad input: a cue number, a level)."""


class UnknownName(PlaybackError, NotFoundError):
    """A verb that names something that does not exist (a cue list, canvas, look, override)."""


@dataclass(frozen=True, slots=True)
class Auto:
    """An auto-GO due when the track clock reads `due`."""

    kind: str  # "follow" | "hang"
    due: float
    source: Decimal


class ListPlayback:
    def __init__(self, defn: CueListDef, looks: Mapping[str, LookDef]) -> None:
        self.track = Track()
        self.looks = looks
        self.current: Decimal | None = None
        self.previous: Decimal | None = None  # the cue the current one faded from
        self.pending: Decimal | None = None
        self.auto: Auto | None = None
        self.activity = float("-inf")  # frame time of the last change (LTP order)
        self.last_manual_go = float("-inf")
        self.loops: dict[Decimal, int] = {}
        self.override: Timing | None = None  # BACK / GOTO fade / RELEASE time in force
        self.defn = defn
        self.cues: dict[Decimal, CueDef] = {}
        self.order: list[Decimal] = []
        self.redefine(defn)
        self.pending = self.order[0] if self.order else None

    @property
    def name(self) -> str:
        return self.defn.name

    def redefine(self, defn: CueListDef) -> None:
        """The list was edited: new cue data applies from the next GO; the playhead stays.
        Something stands by whenever there is a cue after the current one: a list created
        empty and then given cues stands by on its first, one at its end on a cue added
        after it."""
        self.defn = defn
        self.cues = {c.number: c for c in defn.cues}
        self.order = sorted(self.cues)
        if self.pending is None or self.pending not in self.cues:
            self.pending = self._next_after(self.current)

    def cue(self, number: Decimal) -> CueDef:
        cue = self.cues.get(number)
        if cue is None:
            raise PlaybackError(f'cue list "{self.name}" has no cue {number}')
        return cue

    # --- sequencing ---------------------------------------------------------------------

    def _next_after(self, number: Decimal | None) -> Decimal | None:
        if number is None:
            return self.order[0] if self.order else None
        cue = self.cues.get(number)
        if (
            cue is not None
            and cue.link is not None
            and cue.link in self.cues
            and (cue.loop == 0 or self.loops.get(number, 0) < cue.loop)
        ):
            return cue.link
        later = [n for n in self.order if n > number]
        return later[0] if later else None

    def _previous_of(self, number: Decimal) -> Decimal | None:
        earlier = [n for n in self.order if n < number]
        return earlier[-1] if earlier else None

    # --- what the list shows ------------------------------------------------------------

    def targets(self, cue: CueDef) -> dict[str, Node]:
        look = self.looks.get(cue.look) if cue.look else None
        if look is None:
            return {}
        out: dict[str, Node] = {}
        for stack in look.canvases:
            node: Node = LookRef(look.name)
            out[stack.canvas] = Htp(UNDER, node) if self.defn.mode == "htp" else node
        return out

    @staticmethod
    def timing_of(cue: CueDef, canvas: str) -> Timing:
        for part in cue.parts:
            if canvas in part.canvases:
                return Timing(part.up_fade, part.down_fade, part.delay, part.curve)
        return Timing(cue.up_fade, cue.down_fade, cue.delay, cue.curve)

    def node(self, canvas: str, t: float, *, timed: bool = False) -> Node | None:
        return self.track.node(canvas, t, timed=timed)

    # --- verbs --------------------------------------------------------------------------

    def _play(
        self, t: float, number: Decimal, *, override: Timing | None, auto: bool, moves: bool
    ) -> None:
        cue = self.cue(number)
        if self.track.paused:
            self.track.resume(t)
        self.track.retarget(
            t,
            self.targets(cue),
            (lambda c: override) if override is not None else (lambda c: self.timing_of(cue, c)),
            release_others=True,
        )
        self.previous, self.current = self.current, number
        self.override = override
        self.activity = t
        if moves:
            following = self._next_after(number)
            if following is not None and following == cue.link:
                self.loops[number] = self.loops.get(number, 0) + 1
            self.pending = following
        now = self.track.clock(t)
        if auto and cue.follow is not None:
            self.auto = Auto("follow", now + cue.follow, number)
        elif auto and cue.hang is not None:
            end = override.end if override is not None else cue.fade_end
            self.auto = Auto("hang", now + end + cue.hang, number)
        else:
            self.auto = None

    def go(self, t: float, *, debounce: float = 0.0, manual: bool = True) -> Outcome:
        if self.track.paused:
            self.track.resume(t)
            self.activity = t
            return Outcome.RESUMED
        if manual:
            if t - self.last_manual_go < debounce:
                return Outcome.DEBOUNCED
            self.last_manual_go = t
        if self.pending is None:
            return Outcome.END_OF_LIST
        self._play(t, self.pending, override=None, auto=True, moves=True)
        return Outcome.DONE

    def back(self, t: float, fade: float | None = None) -> Outcome:
        if self.current is None:
            return Outcome.UNCHANGED
        timing = even(self.defn.back_fade if fade is None else fade)
        earlier = self._previous_of(self.current)
        if earlier is None:
            self.release(t, timing.up)
            return Outcome.DONE
        self._play(t, earlier, override=timing, auto=False, moves=True)
        return Outcome.DONE

    def goto(self, t: float, number: Decimal, fade: float | None = None) -> Outcome:
        self._play(t, number, override=None if fade is None else even(fade), auto=True, moves=True)
        return Outcome.DONE

    def fire(self, t: float, number: Decimal, fade: float | None = None) -> Outcome:
        """Out of sequence: plays the cue, leaves the standby where it was."""
        self._play(
            t, number, override=None if fade is None else even(fade), auto=False, moves=False
        )
        if self.pending == number:
            self.pending = self._next_after(number)
        return Outcome.DONE

    def load(self, number: Decimal) -> Outcome:
        self.cue(number)
        self.pending = number
        return Outcome.DONE

    def release(self, t: float, fade: float) -> Outcome:
        if not self.track.lanes and self.current is None:
            return Outcome.UNCHANGED
        if self.track.paused:
            self.track.resume(t)
        timing = even(fade)
        self.track.retarget(t, {}, lambda c: timing, release_others=True)
        self.previous, self.current = self.current, None
        self.override = timing
        self.pending = self.order[0] if self.order else None
        self.auto = None
        self.activity = t
        return Outcome.DONE

    def top(self, t: float, fade: float | None = None) -> Outcome:
        """Back to the first cue, played (with its own times unless `fade` is given)."""
        self.loops.clear()
        if not self.order:
            return Outcome.UNCHANGED
        return self.goto(t, self.order[0], fade)

    def pause(self, t: float) -> Outcome:
        return Outcome.DONE if self.track.pause(t) else Outcome.UNCHANGED

    def resume(self, t: float) -> Outcome:
        if self.track.resume(t):
            self.activity = t
            return Outcome.DONE
        return Outcome.UNCHANGED

    # --- time passing -------------------------------------------------------------------

    def due_time(self) -> float | None:
        """Frame time of the pending auto-GO (None while paused or none is set)."""
        if self.auto is None or self.track.paused:
            return None
        return self.track.frame_time(self.auto.due)

    def fire_auto(self) -> bool:
        """Run the due auto-GO at its exact time; False if there is none."""
        when = self.due_time()
        if when is None:
            return False
        self.auto = None
        if self.pending is None:
            return False
        self._play(when, self.pending, override=None, auto=True, moves=True)
        return True

    def progress(self, t: float) -> float:
        """0..1: how far the current transition is (1 when settled)."""
        elapsed, remaining = self.fade_times(t)
        end = elapsed + remaining
        return 1.0 if end <= 0 else max(0.0, min(1.0, elapsed / end))

    def fade_times(self, t: float) -> tuple[float, float]:
        """(elapsed, remaining) seconds of the current transition, on the list's own clock
        (a paused list's stand still); (0, 0) with nothing on stage."""
        now = self.track.clock(t)
        spans = [(now - lane.start, lane.timing.end) for lane in self.track.lanes.values()]
        if not spans:
            return 0.0, 0.0
        elapsed = max(0.0, max(s[0] for s in spans))
        end = max(s[1] for s in spans)
        return min(elapsed, end), max(0.0, end - elapsed)
