"""Snapshot operations through the operation table (both backends): every show edit makes a
snapshot with its message; the diff names each look, cue and schedule entry changed; a
rollback restores looks and cues exactly (store and engine) and is audited; a bad import is
refused with the path of the problem and changes nothing; export → import keeps the hash."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from trocadero.config.show import CanvasDef, CueDef, CueListDef
from trocadero.core.codec import to_plain
from trocadero.core.commands import Controller
from trocadero.core.operations import OpError
from trocadero.core.operations.registry import Registry, registry
from trocadero.core.permissions import Actor
from trocadero.core.playback.ladder import Engine
from trocadero.core.snapshot_service import ShowSnapshots
from trocadero.core.snapshots import digest
from trocadero.core.storage import Storage

from .test_show import solid

ANA = Actor("ana", "operator", "api")
VIEWER = Actor("vic", "viewer", "api")


async def _table(store: Storage) -> tuple[Registry, Engine]:
    await store.patch.put_patch((CanvasDef("facade", 8, 1),), (), ())
    engine = Engine(("facade",), looks={}, debounce=0.0)
    controller = Controller(engine, now=lambda: 0.0, audit=store.audit, library=store.show)
    snaps = ShowSnapshots(store, controller)
    ops = registry(controller, show=store.show, audit=store.audit, snapshots=snaps)
    await snaps.record(ANA, "show at start")
    return ops, engine


def _look_doc(colour: str) -> dict[str, Any]:
    return {"label": "Blue hour", "canvases": [to_plain(solid("facade", colour))]}


async def _messages(ops: Registry) -> list[str]:
    page = await ops.call(ANA, "snapshot.list", {})
    return [i["message"] for i in page["items"]]


async def test_edits_snapshot_diff_and_rollback(store: Storage) -> None:
    ops, engine = await _table(store)
    await ops.call(ANA, "look.put", {"name": "blue-hour", "look": _look_doc("#0000ff")})
    await ops.call(ANA, "look.put", {"name": "red", "look": _look_doc("#ff0000")})
    main = CueListDef("main", cues=(CueDef(Decimal(1), look="blue-hour"),))
    await ops.call(ANA, "cue_list.put", {"name": "main", "cue_list": to_plain(main)})
    good = (await ops.call(ANA, "snapshot.list", {"limit": 1}))["items"][0]
    assert good["actor"] == "ana"
    assert good["message"] == 'cue list "main" changed'
    good_look = await ops.call(ANA, "look", {"name": "blue-hour"})
    good_list = await ops.call(ANA, "cue_list", {"name": "main"})

    # Three more edits: a look changed, a cue added and one changed, a look deleted.
    await ops.call(ANA, "look.put", {"name": "blue-hour", "look": _look_doc("#000080")})
    await ops.call(
        ANA, "cue.put", {"list": "main", "cue": "2", "definition": {"look": "blue-hour"}}
    )
    await ops.call(
        ANA,
        "cue.put",
        {"list": "main", "cue": "1", "definition": {"look": "blue-hour", "up_fade": 4.0}},
    )
    await ops.call(ANA, "look.delete", {"name": "red"})
    assert (await _messages(ops))[:4] == [
        'look "red" deleted',
        "cue main/1 changed",
        "cue main/2 changed",
        'look "blue-hour" changed',
    ]

    now = await ops.call(VIEWER, "snapshot.diff", {"from": good["hash"]})
    assert now["changes"] == [
        {"kind": "look", "name": "blue-hour", "change": "changed", "fields": ["canvases"]},
        {"kind": "look", "name": "red", "change": "removed"},
        {"kind": "cue", "name": "main/1", "change": "changed", "fields": ["up_fade"]},
        {"kind": "cue", "name": "main/2", "change": "added"},
    ]
    latest = (await ops.call(ANA, "snapshot.list", {"limit": 1}))["items"][0]["hash"]
    between = await ops.call(VIEWER, "snapshot.diff", {"from": good["hash"], "to": latest})
    assert between["changes"] == now["changes"]

    with pytest.raises(OpError) as refused:
        await ops.call(VIEWER, "snapshot.rollback", {"hash": good["hash"]})
    assert refused.value.code == "forbidden"

    out = await ops.call(ANA, "snapshot.rollback", {"hash": good["hash"]})
    assert out["snapshot"] == good["hash"]
    assert out["restart_required"] is False
    assert {(c["kind"], c["name"], c["change"]) for c in out["changes"]} == {
        ("look", "blue-hour", "changed"),
        ("look", "red", "added"),
        ("cue", "main/1", "changed"),
        ("cue", "main/2", "removed"),
    }
    # The store and the engine both have the show back exactly.
    assert await ops.call(ANA, "look", {"name": "blue-hour"}) == good_look
    assert await ops.call(ANA, "cue_list", {"name": "main"}) == good_list
    assert to_plain(engine.looks["blue-hour"]) == good_look
    assert "red" in engine.looks
    assert to_plain(engine.lists["main"].defn) == good_list
    assert (await ops.call(ANA, "snapshot.diff", {"from": good["hash"]}))["changes"] == []
    newest = (await ops.call(ANA, "snapshot.list", {"limit": 1}))["items"][0]
    assert newest["message"] == f"rolled back to {good['hash'][:12]}"
    assert newest["hash"] == good["hash"]
    assert newest["parent"] == latest
    audit = await store.audit.list_audit(action="snapshot.rollback")
    assert [(e.actor, e.target) for e in audit.items] == [("ana", good["hash"])]

    with pytest.raises(OpError) as unknown:
        await ops.call(ANA, "snapshot.rollback", {"hash": "f" * 64})
    assert unknown.value.code == "not_found"
    with pytest.raises(OpError) as bad:
        await ops.call(ANA, "snapshot.get", {"hash": "xyz"})
    assert bad.value.code == "bad_args"


async def test_bad_import_is_refused_with_the_path_and_changes_nothing(store: Storage) -> None:
    ops, _ = await _table(store)
    await ops.call(ANA, "look.put", {"name": "blue-hour", "look": _look_doc("#0000ff")})
    doc = await ops.call(VIEWER, "show.export", {})
    before = await _messages(ops)
    broken = {**doc, "looks": [{**doc["looks"][0], "canvases": [{"canvas": "nowhere"}]}]}
    broken["cue_lists"] = [{"name": "main", "cues": [{"number": "1", "look": "missing"}]}]
    with pytest.raises(OpError) as refused:
        await ops.call(ANA, "show.import", {"document": broken})
    assert refused.value.code == "bad_args"
    problems = refused.value.detail["problems"]
    assert any("nowhere" in p and p.startswith("looks[0") for p in problems), problems
    assert any("missing" in p and p.startswith("cue_lists[0") for p in problems), problems
    assert await ops.call(VIEWER, "show.export", {}) == doc
    assert await _messages(ops) == before
    assert (await store.audit.list_audit(action="show.import")).items == ()


async def test_export_import_round_trip_keeps_the_hash(store: Storage) -> None:
    ops, engine = await _table(store)
    await ops.call(ANA, "look.put", {"name": "blue-hour", "look": _look_doc("#0000ff")})
    main = CueListDef("main", cues=(CueDef(Decimal("1.5"), look="blue-hour"),))
    await ops.call(ANA, "cue_list.put", {"name": "main", "cue_list": to_plain(main)})
    doc = await ops.call(VIEWER, "show.export", {})
    newest = (await ops.call(ANA, "snapshot.list", {"limit": 1}))["items"][0]["hash"]
    assert digest(doc) == newest

    await ops.call(ANA, "cue_list.delete", {"name": "main"})
    await ops.call(ANA, "look.delete", {"name": "blue-hour"})
    assert "blue-hour" not in engine.looks
    out = await ops.call(ANA, "show.import", {"document": doc})
    assert out["snapshot"] == newest
    assert await ops.call(VIEWER, "show.export", {}) == doc
    assert to_plain(engine.lists["main"].defn) == to_plain(main)
    assert (await _messages(ops))[0] == "show imported"
    assert len((await store.audit.list_audit(action="show.import")).items) == 1


async def test_a_failed_snapshot_does_not_fail_the_stored_edit(
    store: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops, _ = await _table(store)
    snaps = ops.services.snapshots
    assert snaps is not None

    async def broken(*_: object, **__: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store.snapshots, "record", broken)
    # The edit is stored and answered as done; the snapshot's failure is counted (and logged).
    await ops.call(ANA, "look.put", {"name": "blue-hour", "look": _look_doc("#0000ff")})
    assert snaps.failures == 1
    assert (await ops.call(ANA, "look", {"name": "blue-hour"}))["label"] == "Blue hour"
    monkeypatch.undo()
    # The next snapshot carries the whole show, that look included.
    await ops.call(ANA, "look.put", {"name": "red", "look": _look_doc("#ff0000")})
    latest = (await ops.call(ANA, "snapshot.list", {"limit": 1}))["items"][0]
    doc = await ops.call(ANA, "snapshot.get", {"hash": latest["hash"]})
    assert {"blue-hour", "red"} <= {look["name"] for look in doc["document"]["looks"]}


async def test_rules_are_in_the_snapshot_its_diff_and_its_rollback(store: Storage) -> None:
    from trocadero.core.rules import parse_rule

    ops, _ = await _table(store)
    dim = parse_rule(
        {
            "name": "dim",
            "when": {"sensor": "roof", "key": "lux", "op": ">", "value": 800},
            "on_rise": [{"master": "grand", "level": 0.4}],
        }
    )
    await store.rules.put_rule(dim)
    await ops.services.show_snapshots().record(ANA, "rule added")
    with_rule = (await ops.call(ANA, "snapshot.list", {"limit": 1}))["items"][0]["hash"]
    await store.rules.delete_rule("dim")
    changes = (await ops.call(ANA, "snapshot.diff", {"from": with_rule}))["changes"]
    assert changes == [{"kind": "rule", "name": "dim", "change": "removed"}]
    out = await ops.call(ANA, "snapshot.rollback", {"hash": with_rule})
    assert [(c["kind"], c["change"]) for c in out["changes"]] == [("rule", "added")]
    assert await store.rules.get_rule("dim") == dim
