"""The rule evaluator: readings and ticks in, fires out, deterministic given its inputs and
the times it is fed (no clock of its own).

Per rule: the condition's raw truth, debounced (it must hold `debounce_s` to count, either
way); a rise needs `min_off_s` since the fall and `cooldown_s` since the last rise; a fall
needs `min_on_s` since the rise. While a rule is true its `follow` actions track their
reading (rate-limited).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from trocadero.core.blobs import Blob

from .conditions import Context, Site, TouchFrame, Value, evaluate
from .model import Action, All, AnyOf, BlobCount, Compare, Condition, Follow, Master, Not, Rule

__all__ = ["Fire", "Reading", "RuleEngine", "Site", "TouchFrame"]

Edge = Literal["rise", "fall", "follow"]
FOLLOW_STEP = 0.002  # a master change smaller than this is not worth a command
MAX_READINGS = 10_000  # (source, key) pairs kept; the least recently heard go first


@dataclass(frozen=True, slots=True)
class Reading:
    """One message from a source: its readings by key (as `sensor:data` carries them)."""

    source: str
    values: Mapping[str, Value]


@dataclass(frozen=True, slots=True)
class Fire:
    rule: str
    edge: Edge
    actions: tuple[Action, ...]
    at: float
    priority: int = 0
    because: tuple[Mapping[str, Any], ...] = ()  # the readings the decision saw


@dataclass
class _State:
    raw: bool = False
    raw_since: float = -math.inf
    on: bool = False
    since: float = -math.inf  # of the last rise or fall
    last_fire: float | None = None
    fires: int = 0
    held: str | None = None
    seen: list[dict[str, Any]] = field(default_factory=list)
    latches: dict[Compare, bool] = field(default_factory=dict)
    follow_at: dict[str, float] = field(default_factory=dict)
    follow_level: dict[str, float] = field(default_factory=dict)
    evaluated: float | None = None


class RuleEngine:
    def __init__(
        self,
        site: Site,
        rules: Iterable[Rule] = (),
        *,
        playing: Callable[[], frozenset[str]] = frozenset,
    ) -> None:
        self.site = site
        self.playing = playing
        self.rules: dict[str, Rule] = {}
        self.states: dict[str, _State] = {}
        self.readings: dict[tuple[str, str], tuple[Value, float]] = {}
        self.touches: dict[str, TouchFrame] = {}  # by surface: what is down now
        self.blobs: dict[str, tuple[tuple[Blob, ...], float]] = {}  # camera → (blobs, received)
        self.set_rules(rules)

    # --- the rule set ---------------------------------------------------------------------

    def set_rules(self, rules: Iterable[Rule]) -> None:
        """Replace the rules; one whose definition is unchanged keeps its state."""
        new = {r.name: r for r in rules}
        self.states = {
            n: self.states[n]
            for n, r in new.items()
            if n in self.states and self.rules.get(n) == r and r.enabled
        }
        self.rules = new

    def put(self, rule: Rule) -> None:
        self.set_rules([*(r for n, r in self.rules.items() if n != rule.name), rule])

    def remove(self, name: str) -> None:
        self.set_rules(r for n, r in self.rules.items() if n != name)

    # --- feeding --------------------------------------------------------------------------

    def feed(self, reading: Reading | TouchFrame | None, t: float) -> list[Fire]:
        """A reading or a surface's touches received at `t` (None: a tick, for time
        windows, staleness and timers); the fires it causes, highest priority first."""
        if isinstance(reading, TouchFrame):
            if reading.points:
                self.touches[reading.surface] = reading
            else:
                self.touches.pop(reading.surface, None)
        elif reading is not None:
            for key, value in reading.values.items():
                pair = (reading.source, key)
                self.readings.pop(pair, None)  # re-inserted last: the dict is in hearing order
                self.readings[pair] = (value, t)
            while len(self.readings) > MAX_READINGS:  # a publisher inventing names
                del self.readings[next(iter(self.readings))]
        playing = self.playing()
        fires: list[Fire] = []
        for rule in sorted(self.rules.values(), key=lambda r: (-r.priority, r.name)):
            if rule.enabled:
                fires += self._step(rule, self.states.setdefault(rule.name, _State()), t, playing)
        return fires

    def feed_blobs(self, camera: str, blobs: tuple[Blob, ...], t: float) -> list[Fire]:
        """A camera's blobs of one frame, received at `t`; the fires they cause. Only the
        rules that look at blobs are evaluated (a camera sends 15 frames a second)."""
        if camera not in self.blobs and len(self.blobs) >= MAX_READINGS:
            return []
        self.blobs[camera] = (blobs, t)
        playing = self.playing()
        fires: list[Fire] = []
        for rule in sorted(self.rules.values(), key=lambda r: (-r.priority, r.name)):
            if rule.enabled and _uses_blobs(rule.condition):
                fires += self._step(rule, self.states.setdefault(rule.name, _State()), t, playing)
        return fires

    def _step(self, rule: Rule, st: _State, t: float, playing: frozenset[str]) -> list[Fire]:
        ctx = Context(
            t, self.readings, self.site, playing, st.latches, [], self.touches, self.blobs
        )
        raw = evaluate(rule.condition, ctx)
        st.seen, st.evaluated = ctx.seen, t
        if raw != st.raw:
            st.raw, st.raw_since = raw, t
        because = tuple(ctx.seen)
        out: list[Fire] = []
        st.held = None
        if raw != st.on:
            settled_at = st.raw_since + rule.debounce_s
            minimum = rule.min_off_s if raw else rule.min_on_s
            cooldown_until = (
                st.last_fire + rule.cooldown_s
                if raw and st.last_fire is not None and rule.cooldown_s
                else -math.inf
            )
            if t < settled_at:
                st.held = f"debounce until {settled_at:.3f}"
            elif t < st.since + minimum:
                which = "min_off_s" if raw else "min_on_s"
                st.held = f"{which} until {st.since + minimum:.3f}"
            elif t < cooldown_until:
                st.held = f"cooldown until {cooldown_until:.3f}"
            elif raw:
                st.on, st.since, st.last_fire = True, t, t
                st.fires += 1
                st.follow_level.clear()
                actions = tuple(a for a in rule.on_rise if not isinstance(a, Follow))
                out.append(Fire(rule.name, "rise", actions, t, rule.priority, because))
            else:
                st.on, st.since = False, t
                if rule.on_fall:
                    out.append(Fire(rule.name, "fall", rule.on_fall, t, rule.priority, because))
        if st.on:
            out += self._follow(rule, st, t)
        return out

    def _follow(self, rule: Rule, st: _State, t: float) -> list[Fire]:
        out: list[Fire] = []
        for f in rule.on_rise:
            if not isinstance(f, Follow):
                continue
            found = self.readings.get((f.source, f.key))
            if found is None:
                continue
            x = min(1.0, max(0.0, (float(found[0]) - f.in_min) / (f.in_max - f.in_min)))
            level = round(f.out_min + x * (f.out_max - f.out_min), 4)
            last = st.follow_level.get(f.target)
            if last is not None and abs(level - last) < FOLLOW_STEP:
                continue
            if t - st.follow_at.get(f.target, -math.inf) < 1.0 / f.rate_hz:
                continue  # rate-limited: a later tick sends the newest level
            st.follow_level[f.target], st.follow_at[f.target] = level, t
            seen = ({"sensor": f.source, "key": f.key, "value": found[0]},)
            out.append(
                Fire(rule.name, "follow", (Master(f.target, level),), t, rule.priority, seen)
            )
        return out

    # --- questions ------------------------------------------------------------------------

    def why(self, name: str) -> dict[str, Any]:
        """The rule's live state: its truth and since when, the raw condition, the last
        fire, what holds it (debounce, minimum times, cooldown) and the readings it saw."""
        rule = self.rules[name]
        st = self.states.get(name, _State())
        return {
            "name": name,
            "enabled": rule.enabled,
            "on": st.on,
            "since": None if math.isinf(st.since) else st.since,
            "condition": st.raw,
            "condition_since": None if math.isinf(st.raw_since) else st.raw_since,
            "last_fire": st.last_fire,
            "fires": st.fires,
            "held": st.held,
            "evaluated": st.evaluated,
            "readings": list(st.seen),
        }


def _uses_blobs(c: Condition) -> bool:
    if isinstance(c, BlobCount):
        return True
    if isinstance(c, All | AnyOf):
        return any(_uses_blobs(i) for i in c.items)
    if isinstance(c, Not):
        return _uses_blobs(c.item)
    return False
