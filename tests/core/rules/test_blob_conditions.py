"""Blob conditions: "presence in region" and "blob count in region ≥ N" over a camera's
tracked blobs, parsed from documents (round trip, problems by path) and evaluated by the
engine as frames arrive (regions, staleness, debounce; only blob rules woken by a frame)."""

from __future__ import annotations

from typing import Any

import pytest

from trocadero.core.errors import InvalidDocument
from trocadero.core.rules import RuleEngine, parse_rule, rule_doc
from trocadero.core.rules.model import BlobCount
from trocadero.protocols.blob_wire import Blob

from .test_engine import SITE, T0, edges

STAIRS = [0.5, 0.0, 1.0, 0.5]  # the picture's top right quarter


def at(x: float, y: float, blob_id: int = 1) -> Blob:
    return Blob(blob_id, x, y, 0.05, 0.1, 0.005, 1.0)


def engine(when: dict[str, Any], **doc: Any) -> RuleEngine:
    base: dict[str, Any] = {"name": "r", "when": when, "on_rise": [{"go": "stairs"}]}
    base["on_fall"] = [{"release": "stairs"}]
    return RuleEngine(SITE, [parse_rule(base | doc)])


def test_documents_round_trip() -> None:
    presence = {"presence": "facade", "region": STAIRS}
    r = parse_rule({"name": "p", "when": presence, "on_rise": [{"go": "x"}]})
    assert r.condition == BlobCount("facade", (0.5, 0.0, 1.0, 0.5), ">=", 1, 2.0)
    assert parse_rule(rule_doc(r)) == r
    crowd = {"blobs": "facade", "region": STAIRS, "op": ">=", "count": 3, "stale_s": 5}
    r = parse_rule({"name": "c", "when": {"all": [crowd]}, "on_rise": [{"go": "x"}]})
    assert rule_doc(r)["when"] == {"all": [crowd]}
    assert parse_rule(rule_doc(r)) == r


def test_bad_blob_conditions_are_named_by_path() -> None:
    bad = {
        "any": [
            {"presence": "facade", "region": [0.5, 0, 0.4, 1]},
            {"blobs": "facade", "region": [0, 0, 2, 1], "count": -1},
            {"presence": "facade", "count": 2},
        ]
    }
    with pytest.raises(InvalidDocument) as caught:
        parse_rule({"name": "b", "when": bad, "on_rise": [{"go": "x"}]})
    text = "\n".join(caught.value.problems)
    assert "rule.when.any[0].region: x1 must be right of x0" in text
    assert "rule.when.any[1].region[2]: must be between 0 and 1" in text
    assert "rule.when.any[1].count: expected a whole number" in text
    assert "rule.when.any[2].count: unknown key" in text


def test_presence_in_region_rises_and_falls_with_the_blobs() -> None:
    e = engine({"presence": "facade", "region": STAIRS})
    assert e.feed_blobs("facade", (at(0.2, 0.2),), T0) == []  # outside the region
    fires = e.feed_blobs("facade", (at(0.2, 0.2), at(0.7, 0.3, 2)), T0 + 0.1)
    assert edges(fires) == ["rise"]
    assert fires[0].because[0] == {
        "camera": "facade",
        "region": STAIRS,
        "count": 1,
        "age_s": 0.0,
        "ok": True,
    }
    assert e.feed_blobs("facade", (at(0.7, 0.3, 2),), T0 + 0.2) == []  # still there
    assert edges(e.feed_blobs("facade", (), T0 + 0.3)) == ["fall"]
    assert e.feed_blobs("other", (at(0.7, 0.3),), T0 + 0.4) == []  # another camera


def test_count_in_region_with_debounce() -> None:
    e = engine({"blobs": "facade", "region": [0, 0, 1, 1], "op": ">=", "count": 2}, debounce_s=0.5)
    two = (at(0.1, 0.1), at(0.9, 0.9, 2))
    assert e.feed_blobs("facade", two, T0) == []
    assert e.feed_blobs("facade", (at(0.1, 0.1),), T0 + 0.2) == []  # one left: no rise
    assert e.feed_blobs("facade", two, T0 + 0.3) == []
    assert e.feed_blobs("facade", two, T0 + 0.6) == []  # 0.3 s held: not yet
    assert edges(e.feed_blobs("facade", two, T0 + 0.81)) == ["rise"]


def test_a_camera_gone_quiet_counts_as_nobody() -> None:
    e = engine({"presence": "facade", "region": STAIRS, "stale_s": 1.0})
    assert edges(e.feed_blobs("facade", (at(0.8, 0.2),), T0)) == ["rise"]
    assert e.feed(None, T0 + 0.9) == []
    fires = e.feed(None, T0 + 1.2)  # the tick sees the frame is stale
    assert edges(fires) == ["fall"]
    assert fires[0].because[0]["state"] == "stale (older than 1 s)"


def test_a_frame_wakes_only_the_rules_that_look_at_blobs() -> None:
    sensor = parse_rule(
        {
            "name": "s",
            "when": {"sensor": "door", "key": "open", "is": True},
            "on_rise": [{"go": "x"}],
        }
    )
    blob = parse_rule(
        {"name": "b", "when": {"not": {"presence": "facade"}}, "on_rise": [{"go": "y"}]}
    )
    e = RuleEngine(SITE, [sensor, blob])
    fires = e.feed_blobs("facade", (), T0)
    assert [(f.rule, f.edge) for f in fires] == [("b", "rise")]
    assert e.why("s")["evaluated"] is None
