"""Show snapshot operations (docs/snapshots.md): the history of snapshots, one snapshot, the
diff between two (or one and the show now), a rollback to one; the show exported and
imported as a show file document (docs/show-file.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from trocadero.config.fields import PAGE_DEFAULT, PAGE_MAX

from ..errors import InvalidArgument
from ..permissions import Actor
from ..snapshots import SnapshotInfo
from .args import Arg, Document, Integer, Text
from .spec import Operation, Rest, Services

__all__ = ["OPERATIONS"]

_HEX: Final = re.compile(r"[0-9a-f]{64}")


def _hash(a: Mapping[str, Any], key: str) -> str:
    value = str(a[key])
    if not _HEX.fullmatch(value):
        raise InvalidArgument(f"{key}: expected a snapshot hash, 64 hex digits (got {value!r})")
    return value


def _info(i: SnapshotInfo) -> dict[str, Any]:
    return {
        "hash": i.hash,
        "created_at": i.created_at.isoformat(),
        "actor": i.actor,
        "message": i.message,
        "parent": i.parent,
    }


async def _list(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    store = s.show_snapshots().store.snapshots
    page = await store.list_snapshots(limit=a["limit"], cursor=a["cursor"])
    return {"items": [_info(i) for i in page.items], "next": page.next}


async def _get(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    h = _hash(a, "hash")
    snaps = s.show_snapshots()
    info = await snaps.store.snapshots.get_snapshot(h)
    return {**_info(info), "document": await snaps.store.snapshots.get_document(h)}


async def _diff(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    old = _hash(a, "from")
    new = None if a["to"] is None else _hash(a, "to")
    changes = await s.show_snapshots().diff(old, new)
    return {"from": old, "to": new, "changes": changes}


async def _rollback(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return await s.show_snapshots().rollback(actor, _hash(a, "hash"))


async def _export(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return await s.show_snapshots().document(None)


async def _import(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return await s.show_snapshots().import_doc(actor, a["document"])


_INFO_FIELDS: Final[dict[str, Any]] = {
    "hash": {"type": "string", "description": "SHA-256 of the canonical show document"},
    "created_at": {"type": "string", "format": "date-time"},
    "actor": {"type": "string"},
    "message": {"type": "string"},
    "parent": {"type": ["string", "null"], "description": "the snapshot before"},
}
_INFO: Final = {
    "type": "object",
    "properties": _INFO_FIELDS,
    "required": ["hash", "created_at", "actor", "message", "parent"],
}
_CHANGE: Final = {
    "type": "object",
    "properties": {
        "kind": {
            "type": "string",
            "enum": [
                "settings",
                "look",
                "cue_list",
                "cue",
                "schedule",
                "fixture",
                "canvas",
                "fixture_type",
            ],
        },
        "name": {"type": "string", "description": 'the name; "list/number" for a cue'},
        "change": {"type": "string", "enum": ["added", "removed", "changed"]},
        "fields": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["kind", "name", "change"],
}
_APPLIED: Final = {
    "type": "object",
    "properties": {
        "outcome": {"type": "string"},
        "snapshot": {"type": ["string", "null"], "description": "the show's snapshot now"},
        "changes": {"type": "array", "items": _CHANGE},
        "restart_required": {
            "type": "boolean",
            "description": "the patch or settings changed: the outputs take them at the next start",
        },
    },
    "required": ["outcome", "snapshot", "changes", "restart_required"],
}
_HASH_DOC: Final = "snapshot hash (64 hex digits)"

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "snapshot.list",
        "the show's snapshots, newest first, a page at a time",
        "read",
        (
            Arg("limit", Integer(1, PAGE_MAX), default=PAGE_DEFAULT),
            Arg("cursor", Text(), doc="the previous page's next"),
        ),
        _list,
        {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": _INFO},
                "next": {"type": ["string", "null"]},
            },
            "required": ["items", "next"],
        },
        Rest("GET", "/api/snapshots"),
        needs=("snapshots",),
        action="read the show",
    ),
    Operation(
        "snapshot.get",
        "one snapshot with its show document",
        "read",
        (Arg("hash", Text(64), required=True, doc=_HASH_DOC),),
        _get,
        {**_INFO, "properties": {**_INFO_FIELDS, "document": {"type": "object"}}},
        Rest("GET", "/api/snapshots/{hash}"),
        needs=("snapshots",),
        action="read the show",
    ),
    Operation(
        "snapshot.diff",
        "what changed between two snapshots (or one and the show now), per look, cue list,"
        " cue, schedule entry and fixture",
        "read",
        (
            Arg("from", Text(64), required=True, doc=_HASH_DOC),
            Arg("to", Text(64), doc="snapshot hash; absent: the show now"),
        ),
        _diff,
        {
            "type": "object",
            "properties": {
                "from": {"type": "string"},
                "to": {"type": ["string", "null"]},
                "changes": {"type": "array", "items": _CHANGE},
            },
            "required": ["from", "to", "changes"],
        },
        Rest("GET", "/api/snapshots/{from}/diff"),
        needs=("snapshots",),
        action="read the show",
    ),
    Operation(
        "snapshot.rollback",
        "put the show back as a snapshot has it (one transaction, swapped between two frames;"
        " audited, and itself a new snapshot)",
        "show.edit",
        (Arg("hash", Text(64), required=True, doc=_HASH_DOC),),
        _rollback,
        _APPLIED,
        Rest("POST", "/api/snapshots/{hash}/rollback"),
        needs=("snapshots",),
        action="roll the show back",
    ),
    Operation(
        "show.export",
        "the whole show as a show file document (docs/show-file.md)",
        "read",
        (),
        _export,
        {"type": "object", "description": "a show file document"},
        Rest("GET", "/api/show/export"),
        needs=("snapshots",),
        action="read the show",
    ),
    Operation(
        "show.import",
        "replace the whole show with a show file document (validated entirely first: a bad"
        " document changes nothing; audited, and a new snapshot)",
        "show.edit",
        (Arg("document", Document("show file"), required=True),),
        _import,
        _APPLIED,
        Rest("POST", "/api/show/import", body="document"),
        needs=("snapshots",),
        action="import a show",
    ),
)
