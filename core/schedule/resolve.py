"""Who plays where, and why: precedence per canvas, the "now" view, the timeline.

At an instant, the candidates are the occurrences that have started (less than the look-back
horizon ago) and not ended. Each claims canvases: a look entry the canvases of its look (or
those of them it names), a cue-list or cue entry every canvas its cue list uses — a cue list
plays as a whole. Precedence, the same on every canvas:

1. the higher `priority`;
2. then the narrowest date range (a one-day entry beats a weekly one beats an open-ended one);
3. then the later start (the occurrence that began last);
4. then the newer entry (higher id), then the name, so that the result never depends on order.

Candidates are taken strongest first: a look takes every canvas it claims that is still free;
a cue list only if all its canvases are still free (otherwise it is beaten everywhere, and its
canvases go to the next candidates). Disabled entries are listed, beaten by "disabled".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from trocadero.config.schema import SiteConfig
from trocadero.config.show import CueListDef, LookDef

from ..model import ScheduleEntry
from .clock import iso, zone
from .occurrences import Occurrence, Timing


@dataclass(frozen=True, slots=True)
class ShowIndex:
    """What the schedule needs of the show: the canvases of each look and cue list."""

    looks: Mapping[str, frozenset[str]] = field(default_factory=dict)
    lists: Mapping[str, frozenset[str]] = field(default_factory=dict)
    cues: Mapping[str, tuple[Decimal, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, looks: Iterable[LookDef], cue_lists: Iterable[CueListDef]) -> ShowIndex:
        look_canvases = {lk.name: frozenset(s.canvas for s in lk.canvases) for lk in looks}
        lists: dict[str, frozenset[str]] = {}
        cues: dict[str, tuple[Decimal, ...]] = {}
        for cl in cue_lists:
            used: set[str] = set()
            for cue in cl.cues:
                used |= look_canvases.get(cue.look, frozenset())
            lists[cl.name] = frozenset(used)
            cues[cl.name] = tuple(sorted(c.number for c in cl.cues))
        return cls(look_canvases, lists, cues)

    @property
    def canvases(self) -> frozenset[str]:
        return frozenset().union(*self.looks.values(), *self.lists.values())

    def claims(self, entry: ScheduleEntry) -> tuple[frozenset[str], str]:
        """(canvases the entry competes for, "" or why it cannot play)."""
        if entry.target_kind == "look":
            covered = self.looks.get(entry.target)
            if covered is None:
                return frozenset(), f'no look "{entry.target}"'
            chosen = covered & set(entry.canvases) if entry.canvases else covered
            return chosen, "" if chosen else f'look "{entry.target}" covers none of its canvases'
        used = self.lists.get(entry.target)
        if used is None:
            return frozenset(), f'no cue list "{entry.target}"'
        if entry.target_kind == "cue" and entry.cue not in self.cues.get(entry.target, ()):
            return frozenset(), f'no cue {entry.cue} in cue list "{entry.target}"'
        if not used:
            return frozenset(), f'cue list "{entry.target}" shows no look'
        return used, ""

    def problems(self, entry: ScheduleEntry) -> list[str]:
        """What an edit must fix before it is stored (canvases the target does not have)."""
        if not entry.canvases:
            return []
        if entry.target_kind != "look":
            return [
                "canvases: a cue list plays as a whole on the canvases its cues use; leave"
                f" canvases empty (got {list(entry.canvases)})"
            ]
        covered = self.looks.get(entry.target, frozenset())
        missing = [c for c in entry.canvases if c not in covered]
        if missing:
            return [f'canvases: look "{entry.target}" does not cover {", ".join(missing)}']
        return []


@dataclass(frozen=True, slots=True)
class Candidate:
    occurrence: Occurrence
    width: float  # days in the entry's date range (inf: unbounded)
    canvases: frozenset[str]

    @property
    def entry(self) -> ScheduleEntry:
        return self.occurrence.entry

    @property
    def rank(self) -> tuple[int, float, datetime, int, str]:
        e = self.entry
        return (e.priority, -self.width, self.occurrence.start, e.id, e.name)

    @property
    def whole(self) -> bool:
        """A cue list (or a cue of one): all its canvases or none."""
        return self.entry.target_kind != "look"


@dataclass(frozen=True, slots=True)
class Beaten:
    candidate: Candidate
    by: Candidate | None
    rule: str  # priority | date_range | start | entry | whole_list | disabled
    reason: str


@dataclass(frozen=True, slots=True)
class CanvasVerdict:
    winner: Candidate | None
    beaten: tuple[Beaten, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    at: datetime
    canvases: Mapping[str, CanvasVerdict]
    skipped: tuple[tuple[ScheduleEntry, str], ...] = ()

    def winners(self) -> list[Candidate]:
        """Each winning candidate once, strongest first."""
        seen: dict[tuple[int, str, datetime], Candidate] = {}
        for v in self.canvases.values():
            if v.winner is not None:
                seen.setdefault(v.winner.occurrence.key, v.winner)
        return sorted(seen.values(), key=lambda c: c.rank, reverse=True)


@dataclass(frozen=True, slots=True)
class Segment:
    start: datetime
    end: datetime
    winner: Candidate | None


@dataclass(frozen=True, slots=True)
class Transition:
    at: datetime
    canvas: str
    before: Candidate | None
    after: Candidate | None


@dataclass(frozen=True, slots=True)
class Timeline:
    start: datetime
    end: datetime
    segments: Mapping[str, tuple[Segment, ...]]
    transitions: tuple[Transition, ...]


def _days(width: float) -> str:
    return "unbounded" if math.isinf(width) else f"{width:g} day{'s' if width != 1 else ''}"


def why(loser: Candidate, winner: Candidate, tz: ZoneInfo) -> tuple[str, str]:
    """(rule, reason) for `winner` beating `loser` on a canvas."""
    lo, w = loser.entry, winner.entry
    if lo.id == w.id and lo.name == w.name:
        started = iso(winner.occurrence.start, tz)
        return "start", f"a later occurrence of the same entry started at {started}"
    if lo.priority != w.priority:
        return "priority", f"lower priority ({lo.priority} < {w.priority})"
    if loser.width != winner.width:
        return (
            "date_range",
            f"same priority ({w.priority}), wider date range"
            f" ({_days(loser.width)} against {_days(winner.width)})",
        )
    if loser.occurrence.start != winner.occurrence.start:
        return (
            "start",
            f"same priority and date range, started earlier"
            f" ({iso(loser.occurrence.start, tz)} against {iso(winner.occurrence.start, tz)})",
        )
    return "entry", "same priority, date range and start: the newer entry wins"


class Schedule:
    """Entries compiled for a site and a show; every question is asked at given instants."""

    def __init__(
        self,
        entries: Iterable[ScheduleEntry],
        site: SiteConfig,
        show: ShowIndex,
        horizon: timedelta,
        canvases: Sequence[str] = (),
    ) -> None:
        self.site = site
        self.tz = zone(site.timezone)
        self.show = show
        self.horizon = horizon
        self.canvas_names = tuple(canvases) or tuple(sorted(show.canvases))
        self.timings: list[tuple[Timing, frozenset[str]]] = []
        skipped: list[tuple[ScheduleEntry, str]] = []
        for entry in sorted(entries, key=lambda e: e.name):
            claims, problem = show.claims(entry)
            try:
                timing = Timing(entry, site)
            except ValueError as exc:  # stored before a rule changed; say so, do not crash
                skipped.append((entry, f"cannot be expanded: {exc}"))
                continue
            if problem:
                skipped.append((entry, problem))
                continue
            self.timings.append((timing, claims))
        self.skipped = tuple(skipped)

    # --- candidates -----------------------------------------------------------------------------

    def pool(self, lo: datetime, hi: datetime) -> list[Candidate]:
        """Every occurrence that could be playing at some instant in [lo, hi)."""
        out: list[Candidate] = []
        for timing, claims in self.timings:
            for occ in timing.occurrences(lo - self.horizon, hi):
                if occ.end is None or occ.end > lo:
                    out.append(Candidate(occ, timing.width, claims))
        return out

    def _live(self, c: Candidate, at: datetime) -> bool:
        return c.occurrence.active(at) and at - c.occurrence.start < self.horizon

    def verdict(self, at: datetime, pool: Sequence[Candidate] | None = None) -> Verdict:
        if pool is None:
            pool = self.pool(at, at + timedelta(microseconds=1))
        live = sorted((c for c in pool if self._live(c, at)), key=lambda c: c.rank, reverse=True)
        holder: dict[str, Candidate] = {}
        beaten: dict[str, list[Beaten]] = {}

        def lose(canvas: str, b: Beaten) -> None:
            beaten.setdefault(canvas, []).append(b)

        for c in live:
            if not c.entry.enabled:
                continue
            taken = sorted(x for x in c.canvases if x in holder)
            if c.whole and taken:
                first = holder[taken[0]]
                reason = why(c, first, self.tz)[1]
                for canvas in sorted(c.canvases):
                    if canvas in holder:
                        r, text = why(c, holder[canvas], self.tz)
                        lose(canvas, Beaten(c, holder[canvas], r, text))
                    else:
                        lose(
                            canvas,
                            Beaten(
                                c,
                                first,
                                "whole_list",
                                f"a cue list plays as a whole, and canvas {taken[0]} went to"
                                f' "{first.entry.name}" ({reason})',
                            ),
                        )
                continue
            for canvas in sorted(c.canvases):
                if canvas in holder:
                    r, text = why(c, holder[canvas], self.tz)
                    lose(canvas, Beaten(c, holder[canvas], r, text))
                else:
                    holder[canvas] = c
        for c in live:
            if not c.entry.enabled:
                for canvas in sorted(c.canvases):
                    lose(canvas, Beaten(c, None, "disabled", "the entry is disabled"))
        names = sorted(set(self.canvas_names) | set(holder) | set(beaten))
        verdicts = {n: CanvasVerdict(holder.get(n), tuple(beaten.get(n, ()))) for n in names}
        return Verdict(at, verdicts, self.skipped)

    # --- time -----------------------------------------------------------------------------------

    def _bounds(self, pool: Iterable[Candidate], lo: datetime, hi: datetime) -> list[datetime]:
        """Instants in (lo, hi] at which the verdict may change."""
        found: set[datetime] = set()
        for c in pool:
            o = c.occurrence
            for at in (o.start, o.end, o.start + self.horizon):
                if at is not None and lo < at <= hi:
                    found.add(at)
        return sorted(found)

    def evaluate(self, at: datetime, until: datetime) -> tuple[Verdict, datetime | None]:
        """The verdict at `at` and the next instant up to `until` at which it may change (one
        expansion for both: what the runtime asks at every wake-up)."""
        pool = self.pool(at, until)
        bounds = self._bounds(pool, at, until)
        return self.verdict(at, pool), (bounds[0] if bounds else None)

    def next_change(self, after: datetime, until: datetime) -> datetime | None:
        """The first instant after `after` (up to `until`) at which something may change."""
        bounds = self._bounds(self.pool(after, until), after, until)
        return bounds[0] if bounds else None

    def timeline(self, lo: datetime, hi: datetime) -> Timeline:
        pool = self.pool(lo, hi)
        instants = [lo, *(b for b in self._bounds(pool, lo, hi) if b < hi)]
        segments: dict[str, list[Segment]] = {}
        transitions: list[Transition] = []
        current: dict[str, Candidate | None] = {}
        for at in instants:
            verdict = self.verdict(at, pool)
            for canvas in sorted(set(self.canvas_names) | set(verdict.canvases)):
                cv = verdict.canvases.get(canvas)
                winner = cv.winner if cv is not None else None
                before = current.get(canvas)
                same = (before is None and winner is None) or (
                    before is not None
                    and winner is not None
                    and before.occurrence.key == winner.occurrence.key
                )
                runs = segments.setdefault(canvas, [])
                if runs and same:
                    continue
                if runs:
                    runs[-1] = Segment(runs[-1].start, at, runs[-1].winner)
                    transitions.append(Transition(at, canvas, before, winner))
                runs.append(Segment(at, hi, winner))
                current[canvas] = winner
        return Timeline(
            lo, hi, {c: tuple(s) for c, s in sorted(segments.items())}, tuple(transitions)
        )


# --- plain documents (the REST layer's JSON) ----------------------------------------------------


def candidate_doc(c: Candidate, tz: ZoneInfo) -> dict[str, Any]:
    o, e = c.occurrence, c.entry
    return {
        "entry": {
            "id": e.id,
            "name": e.name,
            "priority": e.priority,
            "target_kind": e.target_kind,
            "target": e.target,
            "cue": None if e.cue is None else str(e.cue),
        },
        "day": o.day.isoformat(),
        "start": iso(o.start, tz),
        "end": None if o.end is None else iso(o.end, tz),
        "sun": None if o.sun is None else iso(o.sun, tz),
        "anchor": e.anchor,
        "date_range_days": None if math.isinf(c.width) else c.width,
        "canvases": sorted(c.canvases),
        "notes": list(o.notes),
    }


def verdict_doc(v: Verdict, tz: ZoneInfo) -> dict[str, Any]:
    canvases: dict[str, Any] = {}
    for name, cv in v.canvases.items():
        canvases[name] = {
            "winner": None if cv.winner is None else candidate_doc(cv.winner, tz),
            "beaten": [
                {
                    **candidate_doc(b.candidate, tz),
                    "rule": b.rule,
                    "reason": b.reason,
                    "by": None if b.by is None else b.by.entry.name,
                }
                for b in cv.beaten
            ],
        }
    return {
        "at": iso(v.at, tz),
        "timezone": tz.key,
        "canvases": canvases,
        "playing": [candidate_doc(c, tz) for c in v.winners()],
        "skipped": [{"entry": e.name, "id": e.id, "reason": r} for e, r in v.skipped],
    }


def timeline_doc(t: Timeline, tz: ZoneInfo) -> dict[str, Any]:
    def name(c: Candidate | None) -> str | None:
        return None if c is None else c.entry.name

    return {
        "from": iso(t.start, tz),
        "to": iso(t.end, tz),
        "timezone": tz.key,
        "canvases": {
            canvas: [
                {
                    "start": iso(s.start, tz),
                    "end": iso(s.end, tz),
                    "entry": name(s.winner),
                    "occurrence": None if s.winner is None else candidate_doc(s.winner, tz),
                }
                for s in segs
            ]
            for canvas, segs in t.segments.items()
        },
        "transitions": [
            {"at": iso(x.at, tz), "canvas": x.canvas, "from": name(x.before), "to": name(x.after)}
            for x in t.transitions
        ],
    }
