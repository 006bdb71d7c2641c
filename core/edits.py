"""The edit history's vocabulary: who makes a show edit (`EditNote`, passed down to the store,
which records the object's previous state in the edit's own transaction) and one recorded
edit (`EditRecord`, what an undo puts back). core/operations/edits.py is the undo itself;
README.md "Undo of the last edit" and docs/storage.md (`edit_history`) describe both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal

__all__ = ["HISTORY_KEEP", "EditKind", "EditNote", "EditRecord", "changed_since", "entry_doc"]

EditKind = Literal["look", "cue_list", "cue", "schedule"]

HISTORY_KEEP: Final = 200
"""Rows the edit history keeps (the oldest are trimmed in the transaction that adds one)."""


@dataclass(frozen=True, slots=True)
class EditNote:
    """Who makes an edit. `cue` narrows a cue-list write to that one cue (recorded as kind
    "cue": an undo then puts back that cue alone, whatever else the list holds). A write with
    `undoes` reverts that history row: the row is marked undone and nothing new is recorded,
    so an undo is not itself undoable (the next undo reverts the edit before)."""

    actor: str
    cue: Decimal | None = None
    undoes: int = 0


@dataclass(frozen=True, slots=True)
class EditRecord:
    """One recorded edit; `before`/`after` are the object's plain documents (None: the edit
    created it / deleted it). `key` is the name, or "list/number" for a cue (a schedule
    entry's by its name too)."""

    id: int
    at: datetime
    actor: str
    kind: EditKind
    key: str
    before: Any
    after: Any


_WHAT: Final = {"look": "look", "cue_list": "cue list", "cue": "cue", "schedule": "schedule entry"}


def entry_doc(entry: Any) -> dict[str, Any]:
    """A schedule entry as the history keeps it: without its id (an undone deletion comes
    back with a new one; the entry is known by its name, which is unique)."""
    from .codec import to_plain

    doc = dict(to_plain(entry))
    doc.pop("id", None)
    return doc


def changed_since(kind: str, key: str) -> str:
    """Why an undo is refused when the object is no longer as the edit left it."""
    return (
        f'{_WHAT.get(kind, kind)} "{key}" changed since that edit: undo refused'
        " (reload it and edit it by hand)"
    )
