"""Rule documents: every problem named by its path; documents round-trip."""

from __future__ import annotations

from typing import Any

import pytest

from trocadero.core.errors import InvalidDocument
from trocadero.core.rules import parse_rule, rule_doc
from trocadero.core.rules.model import Compare, Flag, Go, Override, SunWindow, TimeWindow

FULL: dict[str, Any] = {
    "name": "stairs-night",
    "description": "presence on the stairs after sunset",
    "priority": 3,
    "when": {
        "all": [
            {"sensor": "stairs", "key": "occupancy", "is": True, "stale_s": 300},
            {"sun": "after_sunset", "offset_s": -1800},
            {
                "any": [
                    {"time": {"from": "22:00", "until": "06:00", "days": ["fri", "sat"]}},
                    {"not": {"schedule_plays": "evening"}},
                ]
            },
            {"sensor": "roof", "key": "lux", "op": "<", "value": 50, "hysteresis": 10},
            {"sensor": "touch:stairs", "key": "count", "op": ">=", "value": 1},
        ]
    },
    "debounce_s": 2,
    "min_on_s": 30,
    "min_off_s": 5,
    "cooldown_s": 60,
    "on_rise": [
        {"go": "stairs"},
        {"goto": "facade", "cue": "2.5", "fade": 1},
        {"override": ["stairs"], "rgb": [65535, 0, 0], "ttl_s": 10},
        {"celebrate": "gold", "duration_s": 20, "canvases": ["facade"]},
        {"master": "grand", "level": 0.8},
        {"follow": "canopy", "sensor": "roof", "key": "lux", "in_min": 0, "in_max": 500},
    ],
    "on_fall": [{"release": "stairs", "fade": 3}],
}


def test_full_document_parses_and_round_trips() -> None:
    rule = parse_rule(FULL)
    assert (rule.name, rule.priority, rule.cooldown_s) == ("stairs-night", 3, 60)
    items = rule.condition.items  # type: ignore[union-attr]
    assert items[0] == Flag("stairs", "occupancy", True, 300.0)
    assert items[1] == SunWindow("sunset", "sunrise", -1800.0, 0.0)
    assert items[2].items[0] == TimeWindow(22 * 60, 6 * 60, (4, 5))  # type: ignore[union-attr]
    assert items[3] == Compare("roof", "lux", "<", 50.0, 10.0)
    assert rule.on_rise[0] == Go("stairs")
    assert rule.on_rise[2] == Override(("stairs",), 10.0, None, (65535, 0, 0))
    again = parse_rule(rule_doc(rule))
    assert again == rule
    assert rule_doc(again) == rule_doc(rule)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"when": {"sensor": "s", "key": "v", "op": "~", "value": 1}},
            "rule.when.op: expected one of < <= > >= == != (or 'is' for a presence) (got '~')",
        ),
        (
            {"when": {"all": [{"sensor": "s", "key": "v", "is": "yes"}]}},
            "rule.when.all[0].is: expected true or false (got 'yes')",
        ),
        (
            {"when": {"time": {"from": "25:00", "until": "06:00"}}},
            "rule.when.time.from: expected a wall-clock time HH:MM (got '25:00')",
        ),
        (
            {"when": {"sun": "at_noon"}},
            "rule.when.sun: expected one of after_sunset, before_sunrise, after_sunrise,"
            " before_sunset (or an object) (got 'at_noon')",
        ),
        (
            {"when": {"any": [{"bogus": 1}]}},
            "rule.when.any[0]: expected one of all, any, not, sensor, touch, presence, blobs,"
            " time, sun,"
            " schedule_plays (got {'bogus': 1})",
        ),
        (
            {"on_rise": []},
            "rule.on_rise: expected a non-empty array of at most 32 actions (got [])",
        ),
        (
            {"on_rise": [{"master": "grand", "level": 2}]},
            "rule.on_rise[0].level: must be between 0 and 1 (got 2)",
        ),
        (
            {"on_rise": [{"override": ["x"], "ttl_s": 5}]},
            "rule.on_rise[0]: give either a look or an rgb colour",
        ),
        ({"debounce_s": -1}, "rule.debounce_s: must be between 0 and 604800 (got -1)"),
        (
            {"colour": "red"},
            "rule.colour: unknown key (known: cooldown_s, debounce_s,"
            " description, enabled, name, on_fall, on_rise, priority, when, min_off_s, min_on_s)",
        ),
    ],
)
def test_problems_name_their_path(change: dict[str, Any], problem: str) -> None:
    doc = {"name": "r", "when": {"all": []}, "on_rise": [{"go": "x"}]} | change
    with pytest.raises(InvalidDocument) as caught:
        parse_rule(doc)
    if problem.startswith("rule.colour"):
        assert caught.value.problems[0].startswith("rule.colour: unknown key (known: ")
    else:
        assert problem in caught.value.problems


def test_every_problem_is_listed_and_the_name_must_match() -> None:
    with pytest.raises(InvalidDocument) as caught:
        parse_rule(
            {
                "name": "a",
                "when": {"sensor": "bad name!", "key": "v", "is": True},
                "on_rise": [{"go": ""}],
            },
            name="b",
        )
    assert caught.value.problems == [
        "rule.name: must be 'b' (got 'a')",
        "rule.when.sensor: expected a name: 1-64 letters, digits, '_', '.', ':' or '-'"
        " (got 'bad name!')",
        "rule.on_rise[0].go: expected a name: 1-64 letters, digits, '_', '.', ':' or '-' (got '')",
    ]
    assert parse_rule({"when": {"all": []}, "on_rise": [{"go": "x"}]}, name="b").name == "b"
