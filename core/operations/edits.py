"""Undo of a show edit (README.md "Undo of the last edit"): what the caller's last edit was,
and reverting it through the command layer (so the store validates it, the engine and
renderer see it, and the audit log records it as "edit.undo").

An undo reverts the caller's newest edit not undone yet; repeated, it walks back through
their earlier ones (the history keeps 200 rows in all). It is refused (conflict, 409) when
the object changed since that edit, and when there is nothing to undo. An undo is not itself
recorded, so it cannot be undone."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, Final

from trocadero.config.show import CueDef, CueListDef, LookDef

from ..codec import from_plain, to_plain
from ..commands import Result
from ..edits import EditNote, EditRecord, changed_since, entry_doc
from ..errors import ConflictError, InvalidDocument, NotFoundError
from ..permissions import Actor
from .playback import OUTCOME, reply
from .spec import Operation, Rest, Services

__all__ = ["NOTHING_TO_UNDO", "OPERATIONS"]

NOTHING_TO_UNDO: Final = "nothing to undo"


def summary(rec: EditRecord) -> dict[str, Any]:
    """What an undo would revert, as the UI says it."""
    change = "created" if rec.before is None else "deleted" if rec.after is None else "changed"
    return {
        "id": rec.id,
        "kind": rec.kind,
        "name": rec.key,
        "change": change,
        "actor": rec.actor,
        "at": rec.at.isoformat(),
    }


def _same(current: Any, recorded: Any) -> bool:
    """The stored object is what the edit left (both as the history stores them)."""
    if current is None or recorded is None:
        return current is None and recorded is None
    return bool(json.loads(json.dumps(to_plain(current))) == recorded)


def _decoded(cls: type[Any], doc: Any) -> Any:
    parsed, problems = from_plain(cls, doc)
    if parsed is None:
        raise InvalidDocument(problems)
    return parsed


async def _maybe(coro: Any) -> Any:
    try:
        return await coro
    except NotFoundError:
        return None


def _changed_since(rec: EditRecord) -> ConflictError:
    # Checked here for a clear refusal before the command layer runs; the store checks it
    # again in the undoing write's transaction (core/storage/history.py), which is the guard.
    return ConflictError(changed_since(rec.kind, rec.key))


async def _revert_schedule(s: Services, actor: Actor, rec: EditRecord, note: EditNote) -> Result:
    """A schedule entry, known by its name: put back, deleted, or made again (a new id)."""
    service = s.schedule
    if service is None:
        raise ConflictError("the schedule is not available here: undo refused")
    current = next((e for e in service.entries.values() if e.name == rec.key), None)
    if not _same(None if current is None else entry_doc(current), rec.after):
        raise _changed_since(rec)
    if current is None:
        made = await service.create(actor, rec.before, note=note)
        return Result("done", {"entry": made.id})
    if rec.before is None:
        await service.delete(actor, current.id, note=note)
        return Result("done", {"entry": current.id})
    await service.update(actor, current.id, rec.before, partial=False, note=note)
    return Result("done", {"entry": current.id})


async def _revert(s: Services, actor: Actor, rec: EditRecord) -> Result:
    note = EditNote(actor.name, undoes=rec.id)
    if rec.kind == "schedule":
        return await _revert_schedule(s, actor, rec, note)
    control, store = s.control(), s.store_show()
    if rec.kind == "look":
        if not _same(await _maybe(store.get_look(rec.key)), rec.after):
            raise _changed_since(rec)
        if rec.before is None:
            return await control.delete_look(actor, rec.key, note=note)
        return await control.put_look(actor, _decoded(LookDef, rec.before), note=note)
    if rec.kind == "cue_list":
        if not _same(await _maybe(store.get_cue_list(rec.key)), rec.after):
            raise _changed_since(rec)
        if rec.before is None:
            return await control.delete_cue_list(actor, rec.key, note=note)
        return await control.put_cue_list(actor, _decoded(CueListDef, rec.before), note=note)
    # One cue: put back that cue alone, whatever else its list holds now.
    list_name, number_text = rec.key.rsplit("/", 1)
    number = Decimal(number_text)
    current: CueListDef | None = await _maybe(store.get_cue_list(list_name))
    if current is None:
        raise ConflictError(f'cue list "{list_name}" was deleted since that edit: undo refused')
    found = next((c for c in current.cues if c.number == number), None)
    if not _same(found, rec.after):
        raise _changed_since(rec)
    cues = [c for c in current.cues if c.number != number]
    if rec.before is not None:
        cues.append(_decoded(CueDef, rec.before))
    cues.sort(key=lambda c: c.number)
    note = replace(note, cue=number)
    return await control.put_cue_list(actor, replace(current, cues=tuple(cues)), note=note)


async def _last(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    rec = await s.store_show().last_edit(actor.name)
    return {"edit": None if rec is None else summary(rec)}


async def _undo(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    rec = await s.store_show().last_edit(actor.name)
    if rec is None:
        raise ConflictError(NOTHING_TO_UNDO)
    out = reply(await _revert(s, actor, rec))
    return {**out, "undone": summary(rec)}


_EDIT: Final = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": ["look", "cue_list", "cue", "schedule"]},
        "name": {"type": "string", "description": 'the name, or "list/number" for a cue'},
        "change": {"type": "string", "enum": ["created", "changed", "deleted"]},
        "actor": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
    },
    "required": ["id", "kind", "name", "change", "actor", "at"],
}

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "edit.last",
        "the caller's last show edit that an undo would revert (null: none)",
        "read",
        (),
        _last,
        {
            "type": "object",
            "properties": {"edit": {"oneOf": [_EDIT, {"type": "null"}]}},
            "required": ["edit"],
        },
        Rest("GET", "/api/edits/last"),
        needs=("show",),
        action="read the show",
    ),
    Operation(
        "edit.undo",
        "revert the caller's last show edit (409 when it changed since, or nothing to undo)",
        "show.edit",
        (),
        _undo,
        {
            **OUTCOME,
            "properties": {**OUTCOME["properties"], "undone": _EDIT},
        },
        Rest("POST", "/api/edits/undo"),
        needs=("show", "controller"),
        action="undo show edits",
        snapshot=lambda a, r: f'undo: {r["undone"]["kind"]} "{r["undone"]["name"]}"',
    ),
)
