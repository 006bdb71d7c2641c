"""Trigger rules for every interface: stored and edited through the store (roles, audit),
kept live in a `RuleEngine`, and their fires carried out through the command layer as the
actor "rule:<name>" (origin "rule": audited under the rule's name; its cue lists run at the
ladder's "rules" level). `playout/rules.py` feeds it readings and ticks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final

import structlog

from trocadero.config.schema import SiteConfig

from .blobs import Blob
from .commands import Actor, Controller, audit
from .errors import InvalidDocument, NotFoundError
from .interactions import Interactions
from .model import SunEvent
from .permissions import require
from .playback.plan import LookRef
from .rules import Fire, Reading, Rule, RuleEngine, Site, TouchFrame, parse_rule, rule_doc
from .rules.model import Action, Celebrate, Follow, Go, Goto, Master, Override, Release
from .rules.parse import action_doc
from .schedule.clock import zone
from .schedule.sun import sun_time
from .statistics import counter, detail, gauge
from .storage.audit import AuditStore
from .storage.rules import RuleStore

__all__ = ["RuleService", "RuleStatistics", "site_of"]

EDIT: Final = "show.edit"  # rules are edited like looks and cue lists
READ: Final = "read"
log = structlog.get_logger("rules")


def site_of(config: SiteConfig) -> Site:
    """The site's wall clock and sun (core.schedule.sun) for conditions."""

    def sun(event: SunEvent, day: date) -> float:
        return sun_time(
            config.latitude, config.longitude, config.timezone, event, day
        ).at.timestamp()

    return Site(zone(config.timezone), sun)


@dataclass(frozen=True, slots=True)
class RuleStatistics:
    """Section `rules` of /healthz, `trocadero_rules_*` in /metrics."""

    rules: int = field(metadata=gauge())
    enabled: int = field(metadata=gauge())
    readings: int = field(metadata=counter())
    fires: int = field(metadata=counter())
    actions: int = field(metadata=counter())
    errors: int = field(metadata=counter())  # actions that failed (logged, never raised)
    last_fire: str = field(metadata=detail())  # "rule:edge at <unix s>"
    last_error: str = field(metadata=detail())


@dataclass
class _Stats:
    readings: int = 0
    blob_frames: int = 0
    fires: int = 0
    actions: int = 0
    errors: int = 0
    last_fire: str = ""
    last_error: str = ""


def _playing(controller: Controller) -> frozenset[str]:
    """What the schedule plays now: its looks and the cue lists running at its level."""
    e = controller.engine
    looks = {n.look for n in e.schedule_targets.values() if isinstance(n, LookRef)}
    lists = {
        name
        for name, level in e.levels.items()
        if level == "schedule" and (pb := e.lists.get(name)) is not None and pb.current is not None
    }
    return frozenset(looks | lists)


class RuleService:
    def __init__(
        self,
        store: RuleStore,
        audit_log: AuditStore,
        controller: Controller,
        interactions: Interactions,
        site: Site,
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.audit_log = audit_log
        self.controller = controller
        self.interactions = interactions
        self.site = site
        self.wall = wall
        self.engine = RuleEngine(site, playing=lambda: _playing(controller))
        self.stats = _Stats()

    async def load(self) -> None:
        self.engine.set_rules(await self.store.list_rules())

    def statistics(self) -> RuleStatistics:
        s = self.stats
        rules = self.engine.rules.values()
        return RuleStatistics(
            len(rules),
            sum(r.enabled for r in rules),
            s.readings,
            s.fires,
            s.actions,
            s.errors,
            s.last_fire,
            s.last_error,
        )

    # --- queries --------------------------------------------------------------------------

    def _rule(self, name: str) -> Rule:
        rule = self.engine.rules.get(name)
        if rule is None:
            raise NotFoundError(f'no rule "{name}"')
        return rule

    def all(self, actor: Actor) -> list[dict[str, Any]]:
        require(actor, READ, "read the rules")
        return [
            rule_doc(r) | {"state": self.engine.why(r.name)}
            for r in sorted(self.engine.rules.values(), key=lambda r: r.name)
        ]

    def get(self, actor: Actor, name: str) -> dict[str, Any]:
        require(actor, READ, "read the rules")
        return rule_doc(self._rule(name))

    def why(self, actor: Actor, name: str) -> dict[str, Any]:
        require(actor, READ, "read the rules")
        self._rule(name)
        return self.engine.why(name)

    # --- edits ----------------------------------------------------------------------------

    def check(self, rule: Rule) -> list[str]:
        """What the rule names that the show does not have (cue lists, looks, canvases)."""
        e = self.controller.engine
        problems: list[str] = []
        for edge, actions in (("on_rise", rule.on_rise), ("on_fall", rule.on_fall)):
            for i, a in enumerate(actions):
                where = f"rule.{edge}[{i}]"
                if isinstance(a, Go | Goto | Release) and a.cue_list not in e.lists:
                    problems.append(f'{where}: no cue list "{a.cue_list}"')
                looks = [a.look] if isinstance(a, Override | Celebrate) and a.look else []
                problems += [f'{where}.look: no look "{lk}"' for lk in looks if lk not in e.looks]
                canvases = list(a.canvases or ()) if isinstance(a, Override | Celebrate) else []
                if isinstance(a, Master | Follow) and a.target != "grand":
                    canvases.append(a.target)
                problems += [
                    f'{where}: no canvas "{c}"' for c in canvases if c not in e.canvas_names
                ]
        return problems

    async def put(self, actor: Actor, name: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        require(actor, EDIT, "edit rules")
        rule = parse_rule(doc, name=name)
        problems = self.check(rule)
        if problems:
            raise InvalidDocument(problems)
        created = await self.store.put_rule(rule)
        self.engine.put(rule)
        await audit(self.audit_log, actor, "rule.put", name, created=created)
        return {"outcome": "created" if created else "done", "created": created}

    async def delete(self, actor: Actor, name: str) -> dict[str, Any]:
        require(actor, EDIT, "edit rules")
        await self.store.delete_rule(name)
        self.engine.remove(name)
        await audit(self.audit_log, actor, "rule.delete", name)
        return {"outcome": "done"}

    async def enable(self, actor: Actor, name: str, on: bool) -> dict[str, Any]:
        require(actor, EDIT, "edit rules")
        rule = self._rule(name)
        if rule.enabled == on:
            return {"outcome": "unchanged"}
        changed = parse_rule(rule_doc(rule) | {"enabled": on})
        await self.store.put_rule(changed)
        self.engine.put(changed)
        await audit(self.audit_log, actor, "rule.enable" if on else "rule.disable", name)
        return {"outcome": "done"}

    def test(
        self,
        actor: Actor,
        doc: Mapping[str, Any],
        readings: Sequence[Mapping[str, Any]],
        at: float | None,
    ) -> dict[str, Any]:
        """Evaluate a rule document (saved or not) against `readings` at `at` (Unix s;
        default now) in an engine of its own: nothing acts, nothing is stored."""
        require(actor, READ, "test rules")
        rule = parse_rule(doc, name=str(doc.get("name") or "draft"))  # a draft may be unnamed
        t = self.wall() if at is None else at
        engine = RuleEngine(self.site, [rule], playing=lambda: _playing(self.controller))
        fires: list[Fire] = []
        for i, r in enumerate(readings):
            reading, when = _reading(r, f"readings[{i}]", t)
            fires += engine.feed(reading, when)
        fires += engine.feed(None, t)
        return {
            "problems": self.check(rule),
            "fires": [_fire_doc(f) for f in fires],
            "state": engine.why(rule.name),
        }

    # --- running --------------------------------------------------------------------------

    async def feed(self, reading: Reading | TouchFrame | None) -> list[Fire]:
        """A reading or a surface's touches (None: a tick) now; every fire carried out
        (failures counted)."""
        if reading is not None:
            self.stats.readings += 1
        fires = self.engine.feed(reading, self.wall())
        for f in fires:
            await self.carry_out(f)
        return fires

    async def feed_blobs(self, camera: str, blobs: tuple[Blob, ...]) -> list[Fire]:
        """A camera's blobs of one frame, now; every fire carried out."""
        self.stats.blob_frames += 1
        fires = self.engine.feed_blobs(camera, blobs, self.wall())
        for f in fires:
            await self.carry_out(f)
        return fires

    async def carry_out(self, fire: Fire) -> None:
        who = Actor(f"rule:{fire.rule}", "operator", "rule")
        if fire.edge != "follow":
            self.stats.fires += 1
            self.stats.last_fire = f"{fire.rule}:{fire.edge} at {fire.at:.3f}"
            log.info("rule fired", rule=fire.rule, edge=fire.edge, because=list(fire.because))
        for action in fire.actions:
            try:
                await self._act(who, action, fire)
                self.stats.actions += 1
            except Exception as exc:  # an action refused must not stop the others, nor us
                self.stats.errors += 1
                self.stats.last_error = f"{fire.rule}: {action_doc(action)}: {exc}"
                log.warning(
                    "rule action failed", rule=fire.rule, action=action_doc(action), error=str(exc)
                )

    async def _act(self, who: Actor, a: Action, fire: Fire) -> None:
        c = self.controller
        if isinstance(a, Go):
            await c.go(who, a.cue_list)
        elif isinstance(a, Goto):
            await c.goto(who, a.cue_list, Decimal(a.cue), a.fade)
        elif isinstance(a, Release):
            await c.release(who, a.cue_list, a.fade)
        elif isinstance(a, Override):
            await c.add_override(
                who,
                dict.fromkeys(a.canvases, (a.look, a.rgb)),
                ttl=a.ttl_s,
                priority=fire.priority,
                fade_in=a.fade_in,
                fade_out=a.fade_out,
            )
        elif isinstance(a, Celebrate):
            await self.interactions.celebrate(
                who, a.look, duration=a.duration_s, canvases=a.canvases
            )
        elif isinstance(a, Master):
            if fire.edge == "follow":
                await c.follow_master(who, a.target, a.level)
            else:
                await c.set_master(who, a.target, a.level)


def _at(doc: Mapping[str, Any], where: str, t: float) -> float:
    at = doc.get("at", t)
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
        raise InvalidDocument([f"{where}.at: expected Unix seconds (got {at!r})"])
    return float(at)


def _touches(doc: Mapping[str, Any], where: str, t: float) -> tuple[TouchFrame, float]:
    surface, canvas, points = doc.get("touch"), doc.get("canvas"), doc.get("points")
    if not isinstance(surface, str) or not isinstance(canvas, str) or not isinstance(points, list):
        raise InvalidDocument([f"{where}: expected {{touch, canvas, points, at?}}"])
    found: list[tuple[float, float]] = []
    for i, p in enumerate(points[:256]):
        if not (
            isinstance(p, list)
            and len(p) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in p)
            and all(math.isfinite(v) for v in p)
        ):
            raise InvalidDocument([f"{where}.points[{i}]: expected [x, y] in canvas pixels"])
        found.append((float(p[0]), float(p[1])))
    return TouchFrame(surface, canvas, tuple(found)), _at(doc, where, t)


def _reading(doc: Mapping[str, Any], where: str, t: float) -> tuple[Reading | TouchFrame, float]:
    if not isinstance(doc, Mapping):
        raise InvalidDocument([f"{where}: expected an object"])
    if "touch" in doc:
        return _touches(doc, where, t)
    sensor, values = doc.get("sensor"), doc.get("values")
    if not isinstance(sensor, str) or not isinstance(values, Mapping):
        raise InvalidDocument([f"{where}: expected {{sensor, values, at?}}"])
    for k, v in values.items():
        if not isinstance(v, bool | int | float):
            raise InvalidDocument([f"{where}.values.{k}: expected a number or true/false"])
    plain = {k: v if isinstance(v, bool) else float(v) for k, v in values.items()}
    return Reading(sensor, plain), _at(doc, where, t)


def _fire_doc(f: Fire) -> dict[str, Any]:
    return {"edge": f.edge, "at": f.at, "actions": [action_doc(a) for a in f.actions]}
