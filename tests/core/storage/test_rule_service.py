"""The rule service over a real store and the real command layer: edits audited, fires carried
out as rule:<name> (GO at the rules level, an override at the rule's priority, a celebration,
a master following a reading without an audit entry per step), a failing action counted and
the others still done, a rule naming what the show lacks refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from trocadero.config.show import CanvasLayersDef, CueDef, CueListDef, LookDef
from trocadero.core.commands import Actor, Controller
from trocadero.core.errors import InvalidDocument
from trocadero.core.interactions import Interactions
from trocadero.core.model import SunEvent
from trocadero.core.playback.ladder import Engine
from trocadero.core.rule_service import RuleService
from trocadero.core.rules import Reading, Site
from trocadero.core.storage import Storage

ADMIN = Actor("alice", "admin", "ui")
T0 = 1_796_000_000.0


def no_sun(event: SunEvent, day: date) -> float:
    return 0.0


def service(store: Storage, clock: list[float]) -> RuleService:
    looks = {n: LookDef(name=n, canvases=(CanvasLayersDef(canvas="a"),)) for n in ("red", "gold")}
    cue = CueDef(number=Decimal(1), look="red", up_fade=0.0, down_fade=0.0)
    engine = Engine(
        ("a", "b"), looks=looks, cue_lists=(CueListDef(name="night", priority=10, cues=(cue,)),)
    )
    controller = Controller(engine, now=lambda: clock[0] - T0, audit=store.audit)
    published: list[tuple[str, Any]] = []
    moments = Interactions(controller, lambda topic, doc: published.append((topic, doc)))
    return RuleService(
        store.rules,
        store.audit,
        controller,
        moments,
        Site(ZoneInfo("Europe/Paris"), no_sun),
        wall=lambda: clock[0],
    )


async def audit_of(store: Storage, actor: str) -> list[tuple[str, str]]:
    page = await store.audit.list_audit(actor=actor, limit=50)
    return [(e.action, e.target) for e in reversed(page.items)]


async def test_fires_act_through_the_command_layer(store: Storage) -> None:
    clock = [T0]
    svc = service(store, clock)
    doc = {
        "priority": 7,
        "when": {"sensor": "door", "key": "open", "is": True},
        "on_rise": [
            {"go": "night"},
            {"goto": "night", "cue": "9"},  # no such cue: counted, the rest still done
            {"override": ["b"], "rgb": [1, 2, 3], "ttl_s": 30},
            {"celebrate": "gold", "duration_s": 5},
        ],
        "on_fall": [{"release": "night", "fade": 0}],
    }
    assert (await svc.put(ADMIN, "door", doc))["created"] is True
    await svc.feed(Reading("door", {"open": True}))
    e = svc.controller.engine
    assert e.levels["night"] == "rules"
    assert e.contenders("a", 0.0)[0]["level"] == "override"  # the celebration, on top
    overrides = sorted((o.priority, o.owner) for o in e.overrides.values())
    assert overrides == [(7, "rule:door"), (100, "rule:door")]
    stats = svc.statistics()
    assert (stats.fires, stats.actions, stats.errors) == (1, 3, 1)
    assert stats.last_error.startswith("door: {'goto': 'night', 'cue': '9'}: ")
    clock[0] += 1
    await svc.feed(Reading("door", {"open": False}))
    assert await audit_of(store, "rule:door") == [
        ("cue.go", "night"),
        ("override.add", "ov1"),
        ("override.add", "ov2"),
        ("cue.release", "night"),
    ]
    assert await audit_of(store, "alice") == [("rule.put", "door")]


async def test_follow_sets_a_master_without_an_audit_entry_per_step(store: Storage) -> None:
    clock = [T0]
    svc = service(store, clock)
    doc = {
        "when": {"all": []},
        "on_rise": [{"follow": "a", "sensor": "roof", "key": "lux", "in_min": 0, "in_max": 200}],
    }
    await svc.put(ADMIN, "meter", doc)
    for i, lux in enumerate((50, 100, 150, 400)):
        clock[0] = T0 + i
        await svc.feed(Reading("roof", {"lux": lux}))
        assert svc.controller.engine.canvas_masters["a"] == min(1.0, lux / 200)
    assert await audit_of(store, "rule:meter") == []
    assert svc.why(ADMIN, "meter")["fires"] == 1


async def test_edits_checked_enabled_disabled_deleted(store: Storage) -> None:
    svc = service(store, [T0])
    with pytest.raises(InvalidDocument) as caught:
        await svc.put(
            ADMIN,
            "bad",
            {
                "when": {"all": []},
                "on_rise": [{"go": "nope"}, {"master": "roof", "level": 1}, {"celebrate": "gone"}],
            },
        )
    assert caught.value.problems == [
        'rule.on_rise[0]: no cue list "nope"',
        'rule.on_rise[1]: no canvas "roof"',
        'rule.on_rise[2].look: no look "gone"',
    ]
    await svc.put(ADMIN, "r", {"when": {"all": []}, "on_rise": [{"go": "night"}]})
    assert (await svc.enable(ADMIN, "r", False))["outcome"] == "done"
    assert (await store.rules.get_rule("r")).enabled is False
    assert (await svc.enable(ADMIN, "r", False))["outcome"] == "unchanged"
    await svc.feed(None)
    assert svc.statistics().fires == 0
    await svc.enable(ADMIN, "r", True)
    await svc.feed(None)
    assert svc.statistics().fires == 1
    await svc.delete(ADMIN, "r")
    assert await store.rules.list_rules() == []
    assert [a for a, _ in await audit_of(store, "alice")] == [
        "rule.put",
        "rule.disable",
        "rule.enable",
        "rule.delete",
    ]
    viewer = Actor("v", "viewer", "ui")
    with pytest.raises(Exception, match="may not edit rules"):
        await svc.put(viewer, "x", {"when": {"all": []}, "on_rise": [{"go": "night"}]})
    assert svc.test(viewer, {"when": {"all": []}, "on_rise": [{"go": "night"}]}, [], T0)[
        "fires"
    ] == [{"edge": "rise", "at": T0, "actions": [{"go": "night"}]}]
