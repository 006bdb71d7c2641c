"""Trigger rules in the store (both backends): put, get, list, delete, the show file's
round trip, and the audit origin "rule" the migration admits."""

from __future__ import annotations

from typing import Any

import pytest

from trocadero.config.show import ShowDef
from trocadero.core.rules import parse_rule, rule_doc
from trocadero.core.storage import NotFound, Storage, ValidationError, showfile

NIGHT: dict[str, Any] = {
    "name": "stairs-night",
    "when": {
        "all": [
            {"sensor": "stairs", "key": "occupancy", "is": True, "stale_s": 300},
            {"sun": "after_sunset", "offset_s": -1800},
        ]
    },
    "debounce_s": 2,
    "cooldown_s": 60,
    "on_rise": [{"go": "main"}],
    "on_fall": [{"release": "main", "fade": 3}],
}
DIM = {
    "name": "dim",
    "when": {"sensor": "roof", "key": "lux", "op": ">", "value": 800, "hysteresis": 50},
    "on_rise": [{"master": "grand", "level": 0.4}],
}


async def test_put_get_list_delete(store: Storage) -> None:
    night = parse_rule(NIGHT)
    assert await store.rules.put_rule(night) is True
    assert await store.rules.put_rule(parse_rule(DIM)) is True
    assert await store.rules.get_rule("stairs-night") == night
    changed = parse_rule(NIGHT | {"enabled": False})
    assert await store.rules.put_rule(changed) is False  # replaced
    assert [r.name for r in await store.rules.list_rules()] == ["dim", "stairs-night"]
    assert (await store.rules.get_rule("stairs-night")).enabled is False
    await store.rules.delete_rule("dim")
    with pytest.raises(NotFound, match='no rule "dim"'):
        await store.rules.get_rule("dim")
    with pytest.raises(NotFound):
        await store.rules.delete_rule("dim")


async def test_show_export_import_round_trip(store: Storage, default_show: ShowDef) -> None:
    await store.show.replace_show(default_show, ())
    await store.rules.put_rule(parse_rule(NIGHT))
    await store.rules.put_rule(parse_rule(DIM))
    doc = await store.show.export_show()
    assert [r["name"] for r in doc["rules"]] == ["dim", "stairs-night"]
    assert doc["rules"][1] == rule_doc(parse_rule(NIGHT))
    text = showfile.dumps(doc)
    await store.rules.delete_rule("dim")
    await store.show.import_show(showfile.loads(text))
    assert showfile.dumps(await store.show.export_show()) == text
    # A file without "rules" (older) keeps the stored ones; an empty list clears them.
    await store.show.import_show({k: v for k, v in doc.items() if k != "rules"})
    assert len(await store.rules.list_rules()) == 2
    await store.show.import_show(doc | {"rules": []})
    assert await store.rules.list_rules() == []


async def test_import_refuses_bad_rules_naming_them(store: Storage, default_show: ShowDef) -> None:
    await store.show.replace_show(default_show, ())
    doc = await store.show.export_show()
    bad = dict(DIM, when={"sensor": "roof", "key": "lux", "op": "~", "value": 1})
    with pytest.raises(ValidationError) as info:
        await store.show.import_show(doc | {"rules": [NIGHT, bad, NIGHT]})
    assert info.value.problems == [
        "rules[1 \"dim\"].when.op: expected one of < <= > >= == != (or 'is' for a presence)"
        " (got '~')",
        'rules: rule "stairs-night" is listed twice',
    ]
    assert await store.rules.list_rules() == []


async def test_audit_accepts_the_rule_origin(store: Storage) -> None:
    await store.audit.append_audit(
        actor="rule:stairs-night",
        role="operator",
        origin="rule",
        action="cue.go",
        target="main",
        detail={"outcome": "done"},
        address="",
    )
    page = await store.audit.list_audit(origin="rule")
    assert [(e.actor, e.origin) for e in page.items] == [("rule:stairs-night", "rule")]
