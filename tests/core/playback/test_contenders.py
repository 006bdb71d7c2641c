"""`Engine.contenders`: who has something on a canvas, top (what shows) first: the order
`compose` merges them in (emergency > park > overrides > rule lists > cue lists > schedule
> idle)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trocadero.config.show import CanvasLayersDef, CueDef, CueListDef, LookDef
from trocadero.core.playback.ladder import Engine
from trocadero.core.playback.persist import restore, snapshot
from trocadero.core.playback.plan import EMERGENCY_LOOK, IDLE_LOOK, LookRef, Solid

LOOKS = {n: LookDef(name=n, canvases=(CanvasLayersDef(canvas="a"),)) for n in ("red", "blue")}


def cue_list(name: str, priority: int, look: str) -> CueListDef:
    cue = CueDef(number=Decimal(1), look=look, up_fade=0.0, down_fade=0.0)
    return CueListDef(name=name, priority=priority, cues=(cue,))


def engine(**kw: Any) -> Engine:
    return Engine(
        ("a", "b"),
        looks=LOOKS,
        cue_lists=(cue_list("low", 50, "red"), cue_list("high", 200, "blue")),
        idle_canvases=("a",),
        emergency_canvases=("a",),
        **kw,
    )


def levels(e: Engine, canvas: str = "a", t: float = 10.0) -> list[tuple[str, Any]]:
    return [(c["level"], c.get("name")) for c in e.contenders(canvas, t)]


def test_nothing_playing_leaves_the_idle_look_or_the_safe_state() -> None:
    e = engine(safe_state="hold")
    assert e.contenders("a", 0.0) == [{"level": "idle", "what": {"look": IDLE_LOOK}}]
    assert e.contenders("b", 0.0) == [{"level": "safe state", "what": None, "name": "hold"}]


def test_the_whole_ladder_top_first() -> None:
    e = engine()
    e.go("high", 1.0)
    e.go("low", 2.0)  # later, but a lower priority: still under "high"
    oid = e.add_override(3.0, {"a": LookRef("red")}, ttl=100.0, owner="script")
    e.park("a", 4.0, Solid(1, 2, 3), owner="alice")
    e.set_schedule_looks(5.0, {"a": LookRef("blue")}, 0.0)
    e.set_emergency(True)
    ladder = e.contenders("a", 10.0)
    assert [(c["level"], c.get("name")) for c in ladder] == [
        ("emergency", None),
        ("park", None),
        ("override", oid),
        ("cue list", "high"),
        ("cue list", "low"),
        ("schedule", None),
        ("idle", None),
    ]
    assert ladder[0]["what"] == {"look": EMERGENCY_LOOK}
    assert ladder[1] == {
        "level": "park",
        "what": {"rgb": [1, 2, 3]},
        "by": "alice",
        "for_s": 6.0,
    }
    assert ladder[2]["by"] == "script"
    assert ladder[3] == {
        "level": "cue list",
        "what": {"look": "blue"},
        "name": "high",
        "priority": 200,
        "cue": "1",
    }
    assert ladder[5]["what"] == {"look": "blue"}
    # Canvas b: no emergency look, no idle look, nothing playing on it.
    assert levels(e, "b") == [("safe state", "black")]


def test_a_released_park_leaves_the_ladder() -> None:
    e = engine()
    e.go("low", 0.0)
    e.park("a", 1.0, LookRef("blue"))
    assert levels(e)[0] == ("park", None)
    e.unpark("a", 2.0, fade=1.0)
    e.tick(2.5)
    assert levels(e)[0] == ("park", None)  # still letting go
    assert e.contenders("a", 2.5)[0]["what"] is None
    revision = e.revision
    e.tick(3.0)
    assert levels(e) == [("cue list", "low"), ("idle", None)]
    # Gone from the ladder is a change of state (the UI is told).
    assert e.revision > revision


def test_equal_priorities_latest_change_on_top() -> None:
    e = Engine(
        ("a",),
        looks=LOOKS,
        cue_lists=(cue_list("one", 100, "red"), cue_list("two", 100, "blue")),
    )
    e.go("two", 1.0)
    e.go("one", 2.0)
    assert levels(e) == [("cue list", "one"), ("cue list", "two"), ("safe state", "black")]


def test_a_rule_list_covers_cue_lists_of_any_priority_and_an_override_covers_it() -> None:
    e = engine()
    e.go("high", 1.0)  # an operator's list, priority 200
    e.go("low", 2.0, level="rules", by="rule:door")  # a trigger rule's, priority 50: above
    assert levels(e) == [("rule list", "low"), ("cue list", "high"), ("idle", None)]
    assert e.contenders("a", 3.0)[0]["by"] == "rule:door"  # which rule holds the canvas
    assert e.compose(3.0)["a"] == LookRef("red")
    oid = e.add_override(3.0, {"a": LookRef("blue")}, ttl=100.0, owner="rule:door")
    assert levels(e)[:2] == [("override", oid), ("rule list", "low")]
    e.go("low", 4.0)  # an operator's GO takes the list back to the cue-list level
    assert e.levels["low"] == "cues"
    assert "by" not in e.contenders("a", 5.0)[1]


def test_a_rule_list_keeps_its_level_across_a_restart() -> None:
    e = engine()
    e.go("low", 1.0, level="rules", by="rule:door")
    doc = snapshot(e, 2.0, 1000.0)
    again = engine()
    restore(again, doc, 5.0, 1003.0)
    assert again.levels["low"] == "rules"
    assert levels(again)[0] == ("rule list", "low")
    assert again.contenders("a", 6.0)[0]["by"] == "rule:door"
