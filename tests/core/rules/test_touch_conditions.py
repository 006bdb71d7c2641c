"""Touch conditions: "touch on surface X" and "touch in a region of canvas Y", parsed with
their problems named, written back, and evaluated from `touch:frame` touches."""

from __future__ import annotations

from typing import Any

import pytest

from trocadero.core.errors import InvalidDocument
from trocadero.core.rules import RuleEngine, TouchFrame, parse_rule, rule_doc
from trocadero.core.rules.model import Touched

from .test_engine import SITE, T0, edges


def engine(when: dict[str, Any]) -> RuleEngine:
    doc = {"name": "t", "when": when, "on_rise": [{"go": "x"}], "on_fall": [{"release": "x"}]}
    return RuleEngine(SITE, [parse_rule(doc)])


def test_parse_and_round_trip() -> None:
    doc = {"touch": {"canvas": "stairs", "region": [10, 0, 20, 5]}}
    rule = parse_rule({"name": "t", "when": doc, "on_rise": [{"go": "x"}]})
    assert rule.condition == Touched(None, "stairs", (10.0, 0.0, 20.0, 5.0))
    assert rule_doc(rule)["when"] == {
        "touch": {"canvas": "stairs", "region": [10.0, 0.0, 20.0, 5.0]}
    }
    assert parse_rule(rule_doc(rule)) == rule


@pytest.mark.parametrize(
    ("touch", "problem"),
    [
        ({}, "rule.when.touch: name a surface, a canvas, or both"),
        ({"surface": "p", "region": [0, 0, 1, 1]}, "rule.when.touch.region: a region is in"),
        ({"canvas": "c", "region": [0, 0, 1]}, "rule.when.touch.region: expected [x, y, w, h]"),
        ({"canvas": "c", "region": [0, 0, 0, 1]}, "width and height must be more than 0"),
        ({"canvas": "c", "where": 1}, "rule.when.touch.where: unknown key"),
    ],
)
def test_problems_name_their_path(touch: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidDocument) as info:
        parse_rule({"name": "t", "when": {"touch": touch}, "on_rise": [{"go": "x"}]})
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_touch_on_a_surface_rises_and_falls() -> None:
    e = engine({"touch": {"surface": "panel"}})
    assert edges(e.feed(TouchFrame("other", "stairs", ((1.0, 1.0),)), T0)) == []
    assert edges(e.feed(TouchFrame("panel", "stairs", ((1.0, 1.0),)), T0 + 1)) == ["rise"]
    assert edges(e.feed(TouchFrame("panel", "stairs", ()), T0 + 2)) == ["fall"]
    assert e.why("t")["readings"][0] == {"touch": "panel", "touches": 0, "ok": False}


def test_touch_in_a_region_of_a_canvas() -> None:
    e = engine({"touch": {"canvas": "stairs", "region": [100, 0, 50, 10]}})
    assert edges(e.feed(TouchFrame("panel", "stairs", ((99.0, 5.0),)), T0)) == []
    assert edges(e.feed(TouchFrame("panel", "facade", ((120.0, 5.0),)), T0 + 1)) == []
    assert edges(e.feed(TouchFrame("panel", "stairs", ((99.0, 5.0), (120.0, 5.0))), T0 + 2)) == [
        "rise"
    ]
    assert e.why("t")["readings"][0]["touches"] == 1
    assert edges(e.feed(TouchFrame("panel", "stairs", ((150.0, 5.0),)), T0 + 3)) == ["fall"]


def test_rule_test_takes_touches() -> None:
    """POST /api/rules/test's readings may be touches (through the service's parser)."""
    from trocadero.core.rule_service import _reading

    frame, at = _reading({"touch": "panel", "canvas": "stairs", "points": [[1, 2]]}, "r", 5.0)
    assert (frame, at) == (TouchFrame("panel", "stairs", ((1.0, 2.0),)), 5.0)
    with pytest.raises(InvalidDocument, match=r"r.points\[0\]: expected \[x, y\]"):
        _reading({"touch": "panel", "canvas": "stairs", "points": [[1]]}, "r", 5.0)
