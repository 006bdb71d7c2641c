"""The edit history of the show (core/edits.py): each look, cue-list or cue edit made for
someone records the object's previous and new state in the edit's own transaction, and the
table is trimmed to the newest `HISTORY_KEEP` rows in that same transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..codec import to_plain
from ..edits import HISTORY_KEEP, EditKind, EditNote, EditRecord, changed_since
from .base import Conflict
from .driver import Tx

__all__ = ["read_last_edit", "record_edit"]

_COLUMNS = 'id, at, actor, kind, "key", "before", "after"'


def plain(obj: Any) -> Any:
    """An object as the history stores it (None stays None)."""
    return None if obj is None else to_plain(obj)


async def record_edit(
    tx: Tx, note: EditNote | None, kind: EditKind, key: str, before: Any, after: Any
) -> None:
    """Record one edit (`before`/`after` plain or None), or mark the row an undo reverts.

    For an undo, `before` (the object as this transaction found it) must still be what the
    reverted edit left, and the row not undone yet: checked here, under the edit's lock, so
    nobody's save slips in between the check and the write (Conflict rolls it all back)."""
    if note is None:
        return
    d = tx.dialect
    if note.undoes:
        row = await tx.fetchrow(
            'SELECT "after", undone FROM edit_history WHERE id = ?', note.undoes
        )
        if row is None or bool(row["undone"]):
            raise Conflict("that edit is already undone (or no longer in the history)")
        left = None if row["after"] is None else d.dec_json(row["after"])
        found = None if before is None else json.loads(d.enc_json(plain(before)))
        if found != left:
            raise Conflict(changed_since(kind, key))
        await tx.execute(
            f"UPDATE edit_history SET undone = {d.ddl['true']} WHERE id = ?", note.undoes
        )
        return
    await tx.execute(
        'INSERT INTO edit_history (at, actor, kind, "key", "before", "after", undone)'
        f" VALUES (?, ?, ?, ?, ?, ?, {d.ddl['false']})",
        d.enc_ts(datetime.now(UTC)),
        note.actor,
        kind,
        key,
        None if before is None else d.enc_json(plain(before)),
        None if after is None else d.enc_json(plain(after)),
    )
    await tx.execute(
        "DELETE FROM edit_history WHERE id < (SELECT MIN(id) FROM"
        " (SELECT id FROM edit_history ORDER BY id DESC LIMIT ?) AS kept)",
        HISTORY_KEEP,
    )


async def read_last_edit(tx: Tx, actor: str) -> EditRecord | None:
    """`actor`'s newest edit not undone yet."""
    d = tx.dialect
    row = await tx.fetchrow(
        f"SELECT {_COLUMNS} FROM edit_history WHERE actor = ? AND undone = {d.ddl['false']}"
        " ORDER BY id DESC LIMIT 1",
        actor,
    )
    if row is None:
        return None
    return EditRecord(
        id=int(row["id"]),
        at=d.dec_ts(row["at"]),
        actor=row["actor"],
        kind=row["kind"],
        key=row["key"],
        before=None if row["before"] is None else d.dec_json(row["before"]),
        after=None if row["after"] is None else d.dec_json(row["after"]),
    )
