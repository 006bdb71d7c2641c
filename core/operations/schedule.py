"""Schedule operations (docs/schedule.md): entries (list, create, read, replace, change,
delete, enable, disable), "what plays now and why" at any instant, and the timeline.

Instants (`at`, `from`) are ISO 8601; without an offset they are read on the site's wall
clock (``2026-12-24T21:37``), and a date alone is its midnight. The iCal import, which also
takes a ``text/calendar`` body, stays a route of its own (web/schedule_api.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ..codec import to_plain
from ..permissions import Actor
from ..schedule.clock import MAX_TIMELINE_HOURS, instant
from .args import Arg, Document, Integer, Number, Text
from .spec import Operation, Rest, Services

if TYPE_CHECKING:
    from ..schedule_service import ScheduleService

__all__ = ["OPERATIONS"]

_ENTRY: Final = {"type": "object", "properties": {"entry": {"type": "object"}}}


def _entry_message(change: str) -> Any:
    """The snapshot message of a change to one entry (named as the result has it)."""

    def message(a: Mapping[str, Any], r: Any) -> str:
        entry = r.get("entry") if isinstance(r, Mapping) else None
        name = entry.get("name") if isinstance(entry, Mapping) else None
        return f'schedule entry "{name}" {change}' if name else f"schedule entry {change}"

    return message


def _service(s: Services) -> ScheduleService:
    assert s.schedule is not None  # in a registry only with the schedule
    return s.schedule


async def _entries(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return {"entries": [to_plain(e) for e in _service(s).list(actor)]}


async def _create(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return {"entry": to_plain(await _service(s).create(actor, a["entry"]))}


async def _entry(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return {"entry": to_plain(_service(s).get(actor, a["id"]))}


async def _replace(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return {"entry": to_plain(await _service(s).update(actor, a["id"], a["entry"], partial=False))}


async def _change(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    saved = await _service(s).update(actor, a["id"], a["entry"], partial=True)
    return {"entry": to_plain(saved)}


async def _delete(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    await _service(s).delete(actor, a["id"])
    return {"deleted": a["id"]}


def _switch(on: bool) -> Any:
    async def run(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
        return {"entry": to_plain(await _service(s).set_enabled(actor, a["id"], on))}

    return run


async def _now(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    service = _service(s)
    return await service.why(actor, instant(a["at"], "at", service.tz))


async def _timeline(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    service = _service(s)
    return await service.timeline(actor, instant(a["from"], "from", service.tz), a["hours"])


_ID: Final = Arg("id", Integer(1), required=True, doc="the entry's id")
_DOC: Final = Document("schedule entry")
_NEEDS: Final = ("schedule",)
_ONE: Final = "/api/schedule/{id:int}"

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "schedule",
        "every schedule entry",
        "read",
        (),
        _entries,
        {"type": "object", "properties": {"entries": {"type": "array"}}},
        Rest("GET", "/api/schedule"),
        needs=_NEEDS,
        action="read the schedule",
    ),
    Operation(
        "schedule.create",
        "add a schedule entry (docs/schedule.md)",
        "schedule.edit",
        (Arg("entry", _DOC, required=True),),
        _create,
        _ENTRY,
        Rest("POST", "/api/schedule", status=201, body="entry"),
        needs=_NEEDS,
        action="edit the schedule",
        snapshot=_entry_message("added"),
    ),
    Operation(
        "schedule.entry",
        "one schedule entry",
        "read",
        (_ID,),
        _entry,
        _ENTRY,
        Rest("GET", _ONE),
        needs=_NEEDS,
        action="read the schedule",
    ),
    Operation(
        "schedule.replace",
        "replace a schedule entry",
        "schedule.edit",
        (_ID, Arg("entry", _DOC, required=True)),
        _replace,
        _ENTRY,
        Rest("PUT", _ONE, body="entry"),
        needs=_NEEDS,
        action="edit the schedule",
        snapshot=_entry_message("changed"),
    ),
    Operation(
        "schedule.change",
        "change some fields of a schedule entry",
        "schedule.edit",
        (_ID, Arg("entry", _DOC, required=True)),
        _change,
        _ENTRY,
        Rest("PATCH", _ONE, body="entry"),
        needs=_NEEDS,
        action="edit the schedule",
        snapshot=_entry_message("changed"),
    ),
    Operation(
        "schedule.delete",
        "delete a schedule entry",
        "schedule.edit",
        (_ID,),
        _delete,
        {"type": "object", "properties": {"deleted": {"type": "integer"}}},
        Rest("DELETE", _ONE),
        needs=_NEEDS,
        action="edit the schedule",
        snapshot=lambda a, r: f"schedule entry {a['id']} deleted",
    ),
    Operation(
        "schedule.enable",
        "enable a schedule entry",
        "schedule.edit",
        (_ID,),
        _switch(True),
        _ENTRY,
        Rest("POST", _ONE + "/enable"),
        needs=_NEEDS,
        action="enable or disable schedule entries",
        snapshot=_entry_message("enabled"),
    ),
    Operation(
        "schedule.disable",
        "disable a schedule entry",
        "schedule.edit",
        (_ID,),
        _switch(False),
        _ENTRY,
        Rest("POST", _ONE + "/disable"),
        needs=_NEEDS,
        action="enable or disable schedule entries",
        snapshot=_entry_message("disabled"),
    ),
    Operation(
        "schedule.now",
        "what plays at an instant, and why",
        "read",
        (Arg("at", Text(64), doc="ISO 8601; absent: now"),),
        _now,
        {"type": "object"},
        Rest("GET", "/api/schedule/now"),
        needs=_NEEDS,
        action="read the schedule",
    ),
    Operation(
        "schedule.timeline",
        "what plays over the next hours",
        "read",
        (
            Arg("from", Text(64), doc="ISO 8601; absent: now"),
            Arg("hours", Number(0, MAX_TIMELINE_HOURS), default=24.0),
        ),
        _timeline,
        {"type": "object"},
        Rest("GET", "/api/schedule/timeline"),
        needs=_NEEDS,
        action="read the schedule",
    ),
)
