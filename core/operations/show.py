"""Show operations: looks, cue lists and cues read from the store and written through the
command layer (so the engine, the renderer, the audit log and the store stay in step), the
audit log, and the interactions (celebrations, sensor data)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from trocadero.config.fields import PAGE_DEFAULT, PAGE_MAX
from trocadero.config.show import CueDef, CueListDef, LookDef

from ..codec import from_plain, to_plain
from ..edits import EditNote
from ..errors import InvalidArgument, InvalidDocument, NotFoundError
from ..permissions import Actor
from .args import Arg, Document, Integer, Name, Names, Number, Readings, Text, Timestamp
from .playback import OUTCOME, reply
from .spec import Operation, Rest, Services

__all__ = ["OPERATIONS"]

PAGE: Final = {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "next": {"type": ["string", "null"], "description": "cursor of the next page"},
    },
    "required": ["items", "next"],
}
_PAGING: Final = (
    Arg("limit", Integer(1, PAGE_MAX), default=PAGE_DEFAULT),
    Arg("cursor", Text(), doc="the previous page's next"),
)
_NAME: Final = Arg("name", Name(), required=True)
_LIST: Final = Arg("list", Name(), required=True, doc="cue list")
_CUE: Final = Arg("cue", Name(), required=True, doc='cue number, e.g. "12.5"')


def _page(page: Any) -> dict[str, Any]:
    return {"items": [to_plain(i) for i in page.items], "next": page.next}


def _decoded(cls: type[Any], doc: Mapping[str, Any]) -> Any:
    parsed, problems = from_plain(cls, doc)
    if parsed is None:
        raise InvalidDocument(problems)
    return parsed


def _named(doc: Mapping[str, Any], key: str, value: str, what: str) -> dict[str, Any]:
    """`doc` with its `key` set to `value` (the URL's, or the op's argument): a document that
    names something else is refused rather than silently renamed."""
    out = dict(doc)
    out.setdefault(key, value)
    if out[key] != value:
        raise InvalidArgument(f"{what}.{key}: must be {value!r} (got {out[key]!r})")
    return out


async def _edit(coro: Any) -> Any:
    """Run a show edit; the renderer's or engine's complaints about the document are its
    problems (400 with each), a missing name stays a not-found."""
    try:
        return reply(await coro)
    except (NotFoundError, InvalidDocument):
        raise
    except InvalidArgument as exc:
        raise InvalidDocument(str(exc).splitlines()) from exc


def _cue_number(text: str) -> Any:
    from ..validate import cue_number

    return cue_number({"cue": text}, "cue")


async def _looks(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return _page(await s.store_show().list_looks(limit=a["limit"], cursor=a["cursor"]))


async def _look(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return to_plain(await s.store_show().get_look(a["name"]))


async def _look_put(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    look = _decoded(LookDef, _named(a["look"], "name", a["name"], "look"))
    return await _edit(s.control().put_look(actor, look))


async def _look_delete(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return reply(await s.control().delete_look(actor, a["name"]))


async def _look_preview(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    # An unsaved look may have no name yet: the preview does not need one.
    doc = dict(a["look"])
    if not doc.get("name"):
        doc["name"] = "(preview)"
    look = _decoded(LookDef, doc)
    canvases = await s.previewer()(look, a["t"])
    return {
        "t": a["t"],
        "canvases": [
            {
                "canvas": c.canvas,
                "width": c.width,
                "height": c.height,
                "rgb": base64.b64encode(c.rgb).decode("ascii"),
            }
            for c in canvases
        ],
    }


async def _cue_lists(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    # Headers: a page of lists never carries their cues (one list's are `cue_list`), so
    # nothing here says a list is empty when it is not.
    page = await s.store_show().list_cue_lists(limit=a["limit"], cursor=a["cursor"])
    headers = [{k: v for k, v in to_plain(i).items() if k != "cues"} for i in page.items]
    return {"items": headers, "next": page.next}


async def _cue_list(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return to_plain(await s.store_show().get_cue_list(a["name"]))


async def _cue_list_put(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    cue_list = _decoded(CueListDef, _named(a["cue_list"], "name", a["name"], "cue_list"))
    return await _edit(s.control().put_cue_list(actor, cue_list))


async def _cue_list_delete(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return reply(await s.control().delete_cue_list(actor, a["name"]))


async def _find_cue(s: Services, a: Mapping[str, Any]) -> tuple[CueListDef, CueDef | None, Any]:
    number = _cue_number(a["cue"])
    current: CueListDef = await s.store_show().get_cue_list(a["list"])
    return current, next((c for c in current.cues if c.number == number), None), number


async def _cue(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    _, found, number = await _find_cue(s, a)
    if found is None:
        raise NotFoundError(f'no cue {number} in cue list "{a["list"]}"')
    return to_plain(found)


async def _cue_put(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    # One cue, edited in place: the list is rewritten through the command layer, so the
    # engine, the store and the audit log see one cue-list change.
    current, found, number = await _find_cue(s, a)
    doc = dict(a["definition"])
    doc.setdefault("number", str(number))
    parsed: CueDef = _decoded(CueDef, doc)
    if parsed.number != number:
        raise InvalidArgument(f"cue.number: must be {number} (got {doc['number']!r})")
    others = tuple(c for c in current.cues if c.number != number)
    cues = tuple(sorted((*others, parsed), key=lambda c: c.number))
    note = EditNote(actor.name, cue=number)  # the history records this cue's change
    out = await _edit(s.control().put_cue_list(actor, replace(current, cues=cues), note=note))
    return {**out, "created": found is None}


async def _cue_delete(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    current, found, number = await _find_cue(s, a)
    if found is None:
        raise NotFoundError(f'no cue {number} in cue list "{a["list"]}"')
    others = tuple(c for c in current.cues if c.number != number)
    note = EditNote(actor.name, cue=number)
    return reply(await s.control().put_cue_list(actor, replace(current, cues=others), note=note))


async def _audit(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return _page(
        await s.store_audit().list_audit(
            limit=a["limit"],
            cursor=a["cursor"],
            actor=a["actor"],
            action=a["action"],
            origin=a["origin"],
            since=a["since"],
            until=a["until"],
            request_id=a["request_id"],
        )
    )


async def _celebrate(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return await s.moments().celebrate(
        actor,
        a["look"],
        duration=a["duration_s"],
        canvases=a["canvases"],
        fade_in=a["fade_in"],
        fade_out=a["fade_out"],
        priority=a["priority"],
    )


async def _sensor(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return s.moments().sensor(actor, a["sensor"], a["values"], a["at"])


_LOOK_DOC: Final = Document("look", {"canvases": {"type": "array", "items": {"type": "object"}}})
_LIST_DOC: Final = Document(
    "cue list",
    {
        "priority": {"type": "integer"},
        "mode": {"type": "string", "enum": ["ltp", "htp"]},
        "cues": {"type": "array", "items": {"type": "object"}},
    },
)
_EDITED: Final = {**OUTCOME}
_PREVIEW: Final = {
    "type": "object",
    "properties": {
        "t": {"type": "number", "description": "the frame time rendered (s)"},
        "canvases": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "canvas": {"type": "string"},
                    "width": {"type": "integer"},
                    "height": {"type": "integer"},
                    "rgb": {
                        "type": "string",
                        "description": "base64 of width x height x 3 bytes (8-bit RGB rows)",
                    },
                },
                "required": ["canvas", "width", "height", "rgb"],
            },
        },
    },
    "required": ["t", "canvases"],
}

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "looks",
        "the stored looks, a page at a time",
        "read",
        _PAGING,
        _looks,
        PAGE,
        Rest("GET", "/api/looks"),
        needs=("show",),
        action="read the show",
    ),
    Operation(
        "look",
        "one stored look",
        "read",
        (_NAME,),
        _look,
        {"type": "object"},
        Rest("GET", "/api/looks/{name}"),
        needs=("show",),
        action="read the show",
    ),
    Operation(
        "look.put",
        "create or replace a look (docs/show-file.md)",
        "show.edit",
        (_NAME, Arg("look", _LOOK_DOC, required=True)),
        _look_put,
        _EDITED,
        Rest("PUT", "/api/looks/{name}", body="look"),
        action="edit looks",
        snapshot=lambda a, r: f'look "{a["name"]}" changed',
    ),
    Operation(
        "look.delete",
        "delete a look (refused while a cue or schedule uses it)",
        "show.edit",
        (_NAME,),
        _look_delete,
        _EDITED,
        Rest("DELETE", "/api/looks/{name}"),
        action="edit looks",
        snapshot=lambda a, r: f'look "{a["name"]}" deleted',
    ),
    Operation(
        "look.preview",
        "render a look (saved or not) for the editor only: never on the wire (blind preview)",
        "show.edit",
        (
            Arg("look", _LOOK_DOC, required=True, doc="the look document (name optional)"),
            Arg("t", Number(0.0, 1e9), default=0.0, doc="frame time to render (s)"),
        ),
        _look_preview,
        _PREVIEW,
        Rest("POST", "/api/looks/preview"),
        needs=("look_preview",),
        action="edit looks",
    ),
    Operation(
        "cue_lists",
        "the stored cue lists (headers, without their cues), a page at a time",
        "read",
        _PAGING,
        _cue_lists,
        PAGE,
        Rest("GET", "/api/cue-lists"),
        needs=("show",),
        action="read the show",
    ),
    Operation(
        "cue_list",
        "one stored cue list with its cues",
        "read",
        (_NAME,),
        _cue_list,
        {"type": "object"},
        Rest("GET", "/api/cue-lists/{name}"),
        needs=("show",),
        action="read the show",
    ),
    Operation(
        "cue_list.put",
        "create or replace a cue list (docs/show-file.md)",
        "show.edit",
        (_NAME, Arg("cue_list", _LIST_DOC, required=True)),
        _cue_list_put,
        _EDITED,
        Rest("PUT", "/api/cue-lists/{name}", body="cue_list"),
        action="edit cue lists",
        snapshot=lambda a, r: f'cue list "{a["name"]}" changed',
    ),
    Operation(
        "cue_list.delete",
        "delete a cue list (a running one is let go first)",
        "show.edit",
        (_NAME,),
        _cue_list_delete,
        _EDITED,
        Rest("DELETE", "/api/cue-lists/{name}"),
        action="edit cue lists",
        snapshot=lambda a, r: f'cue list "{a["name"]}" deleted',
    ),
    Operation(
        "cue",
        "one cue of a stored cue list",
        "read",
        (_LIST, _CUE),
        _cue,
        {"type": "object"},
        Rest("GET", "/api/cue-lists/{list}/cues/{cue}"),
        needs=("show",),
        action="read the show",
    ),
    Operation(
        "cue.put",
        "create or replace one cue of a cue list",
        "show.edit",
        (_LIST, _CUE, Arg("definition", Document("cue"), required=True)),
        _cue_put,
        {**OUTCOME, "properties": {**OUTCOME["properties"], "created": {"type": "boolean"}}},
        Rest("PUT", "/api/cue-lists/{list}/cues/{cue}", body="definition", created=201),
        needs=("show", "controller"),
        action="edit cue lists",
        snapshot=lambda a, r: f"cue {a['list']}/{a['cue']} changed",
    ),
    Operation(
        "cue.delete",
        "delete one cue of a cue list",
        "show.edit",
        (_LIST, _CUE),
        _cue_delete,
        _EDITED,
        Rest("DELETE", "/api/cue-lists/{list}/cues/{cue}"),
        needs=("show", "controller"),
        action="edit cue lists",
        snapshot=lambda a, r: f"cue {a['list']}/{a['cue']} deleted",
    ),
    Operation(
        "audit",
        "the audit log, newest first, filtered",
        "audit.read",
        (
            *_PAGING,
            Arg("actor", Text()),
            Arg("action", Text()),
            Arg("origin", Text()),
            Arg("since", Timestamp()),
            Arg("until", Timestamp()),
            Arg("request_id", Text(), doc="the correlation id of one request (X-Request-Id)"),
        ),
        _audit,
        PAGE,
        Rest("GET", "/api/audit"),
        needs=("audit",),
        action="read the audit log",
    ),
    Operation(
        "celebrate",
        "show a look for a while over the cue lists (a celebration)",
        "override",
        (
            Arg("look", Name(), required=True),
            Arg("duration_s", Number(), default=30.0),
            Arg("canvases", Names(), doc="absent: the canvases the look covers"),
            Arg("fade_in", Number(), default=1.0),
            Arg("fade_out", Number(), default=2.0),
            Arg("priority", Integer(), default=100),
        ),
        _celebrate,
        {"type": "object"},
        Rest("POST", "/api/celebrations", status=201),
        needs=("interactions", "controller"),
        action="override",
    ),
    Operation(
        "sensor",
        "report a sensor's readings (published as sensor:data)",
        "sensors.write",
        (
            Arg("sensor", Text(200), required=True),
            Arg("values", Readings()),
            Arg("at", Number(), doc="Unix seconds; absent: now"),
        ),
        _sensor,
        {"type": "object"},
        Rest("POST", "/api/sensors/{sensor}", status=202),
        needs=("interactions", "controller"),
        action="report sensor data",
    ),
)
