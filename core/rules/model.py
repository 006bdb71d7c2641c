"""The typed rule: a condition tree, actions on rise and fall, and its timing.

Sources are named strings: a sensor ("stairs-pir"), and later touch surfaces and camera blob
trackers ("touch:stairs", "blob:facade") publishing readings the same way, so a condition
over them needs no new node kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from trocadero.core.model import SunEvent

Op = Literal["<", "<=", ">", ">=", "==", "!="]
OPS: tuple[Op, ...] = ("<", "<=", ">", ">=", "==", "!=")


# --- conditions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare:
    """A numeric reading compared with a value. With `hysteresis` h, `lux < 50` turns true
    below 50 and false again only above 50 + h (and `>` the mirror), so a reading hovering
    at the threshold does not flicker."""

    source: str
    key: str
    op: Op
    value: float
    hysteresis: float = 0.0
    stale_s: float | None = None  # a reading older than this counts as absent (false)


@dataclass(frozen=True, slots=True)
class Flag:
    """A presence / boolean reading (Zigbee2MQTT occupancy, a binary sensor): true when the
    reading is `expect` (numbers: non-zero is true)."""

    source: str
    key: str
    expect: bool = True
    stale_s: float | None = None


@dataclass(frozen=True, slots=True)
class BlobCount:
    """How many of a camera's tracked blobs have their centre in a region (fractions of the
    picture: x0, y0, x1, y1), compared with `count`; "presence in region" is `>= 1`.
    Blobs older than `stale_s` (a camera gone quiet) count as none."""

    camera: str
    region: tuple[float, float, float, float]
    op: Op = ">="
    count: int = 1
    stale_s: float = 2.0


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """From `start` to `end` on the site's wall clock (minutes after midnight); `end` before
    `start` crosses midnight. `days`: weekdays the window *starts* on (0 = Monday; empty:
    every day)."""

    start: int
    end: int
    days: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SunWindow:
    """From a sun event (+ offset) to the next occurrence of another (+ offset): "after
    sunset" is sunset+offset → next sunrise."""

    start: SunEvent
    end: SunEvent
    start_offset_s: float = 0.0
    end_offset_s: float = 0.0


@dataclass(frozen=True, slots=True)
class SchedulePlays:
    """The schedule plays this cue list or look now."""

    name: str


@dataclass(frozen=True, slots=True)
class Touched:
    """Something touches a surface now: on `surface` (None: any), on `canvas` (None: any),
    inside `region` (x, y, w, h in that canvas's pixels; None: anywhere)."""

    surface: str | None = None
    canvas: str | None = None
    region: tuple[float, float, float, float] | None = None


@dataclass(frozen=True, slots=True)
class All:
    items: tuple[Condition, ...]  # empty: always true


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Condition, ...]  # empty: never true


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


Condition = (
    Compare
    | Flag
    | Touched
    | BlobCount
    | TimeWindow
    | SunWindow
    | SchedulePlays
    | All
    | AnyOf
    | Not
)


# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Go:
    cue_list: str


@dataclass(frozen=True, slots=True)
class Goto:
    cue_list: str
    cue: str
    fade: float | None = None


@dataclass(frozen=True, slots=True)
class Release:
    cue_list: str
    fade: float | None = None


@dataclass(frozen=True, slots=True)
class Override:
    """A scripted override with a TTL on some canvases (a look or a colour)."""

    canvases: tuple[str, ...]
    ttl_s: float
    look: str | None = None
    rgb: tuple[int, int, int] | None = None
    fade_in: float = 0.0
    fade_out: float = 0.0


@dataclass(frozen=True, slots=True)
class Celebrate:
    look: str
    duration_s: float = 30.0
    canvases: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Master:
    target: str  # "grand" or a canvas
    level: float


@dataclass(frozen=True, slots=True)
class Follow:
    """While the rule is true, a master follows a reading mapped linearly from
    [in_min, in_max] to [out_min, out_max] (clamped), at most `rate_hz` changes a second."""

    target: str
    source: str
    key: str
    in_min: float
    in_max: float
    out_min: float = 0.0
    out_max: float = 1.0
    rate_hz: float = 4.0


Action = Go | Goto | Release | Override | Celebrate | Master | Follow


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    condition: Condition
    on_rise: tuple[Action, ...]
    on_fall: tuple[Action, ...] = ()
    enabled: bool = True
    priority: int = 0  # higher first when several fire at once; an override's priority
    debounce_s: float = 0.0  # the condition must hold this long to count (either way)
    min_on_s: float = 0.0
    min_off_s: float = 0.0
    cooldown_s: float = 0.0  # after a rise, no new rise for this long
    description: str = ""
