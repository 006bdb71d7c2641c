"""The edit history (core/edits.py) on both backends: each noted edit records the object's
state before and after in its own transaction, undone rows are skipped, and the table keeps
only the newest HISTORY_KEEP rows."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from trocadero.config.show import CanvasDef, CueDef, CueListDef, LookDef
from trocadero.core.codec import to_plain
from trocadero.core.edits import HISTORY_KEEP, EditNote, EditRecord
from trocadero.core.storage import Conflict, Storage

from .test_show import solid

ED = EditNote("ed")


async def _patched(store: Storage) -> None:
    await store.patch.put_patch((CanvasDef("facade", 8, 1),), (), ())


async def test_look_edits_record_before_and_after(store: Storage) -> None:
    await _patched(store)
    blue = LookDef("blue", "Blue", (solid("facade", "#0000ff"),))
    await store.show.put_look(blue, note=ED)
    made = await store.show.last_edit("ed")
    assert made is not None
    assert (made.kind, made.key, made.actor) == ("look", "blue", "ed")
    assert made.before is None
    assert made.after == to_plain(blue)

    bluer = replace(blue, label="Bluer")
    await store.show.put_look(bluer, note=ED)
    changed = await store.show.last_edit("ed")
    assert changed is not None
    assert changed.id > made.id
    assert changed.before == to_plain(blue)
    assert changed.after == to_plain(bluer)
    assert changed.after == to_plain(await store.show.get_look("blue"))  # compared on undo

    await store.show.delete_look("blue", note=ED)
    gone = await store.show.last_edit("ed")
    assert gone is not None
    assert gone.before == to_plain(bluer)
    assert gone.after is None

    assert await store.show.last_edit("someone-else") is None
    await store.show.put_look(blue)  # no note: not recorded
    assert (await store.show.last_edit("ed")) == gone


async def test_an_undoing_write_marks_the_row_and_records_nothing(store: Storage) -> None:
    await _patched(store)
    await store.show.put_look(LookDef("a", "A", (solid("facade"),)), note=ED)
    first = await store.show.last_edit("ed")
    await store.show.put_look(LookDef("a", "A2", (solid("facade"),)), note=ED)
    second = await store.show.last_edit("ed")
    assert first is not None
    assert second is not None
    await store.show.put_look(
        LookDef("a", "A", (solid("facade"),)), note=replace(ED, undoes=second.id)
    )
    assert await store.show.last_edit("ed") == first


async def test_cue_lists_and_single_cues(store: Storage) -> None:
    await _patched(store)
    await store.show.put_look(LookDef("red", "Red", (solid("facade"),)))
    one = CueDef(Decimal(1), look="red")
    main = CueListDef("main", cues=(one,))
    await store.show.put_cue_list(main, note=ED)
    rec = await store.show.last_edit("ed")
    assert rec is not None
    assert (rec.kind, rec.key, rec.before) == ("cue_list", "main", None)
    assert rec.after == to_plain(main)

    two = CueDef(Decimal("2.5"), look="red", up_fade=3.0)
    await store.show.put_cue_list(
        replace(main, cues=(one, two)), note=replace(ED, cue=Decimal("2.5"))
    )
    cue = await store.show.last_edit("ed")
    assert cue is not None
    assert (cue.kind, cue.key) == ("cue", "main/2.5")
    assert cue.before is None
    assert cue.after == to_plain(two)

    await store.show.delete_cue_list("main", note=ED)
    gone = await store.show.last_edit("ed")
    assert gone is not None
    assert gone.kind == "cue_list"
    assert gone.after is None
    assert gone.before == to_plain(replace(main, cues=(one, two)))


async def test_the_history_keeps_the_newest_rows(store: Storage) -> None:
    await _patched(store)
    for i in range(HISTORY_KEEP + 5):
        await store.show.put_look(LookDef("a", f"A{i}", (solid("facade"),)), note=ED)
    newest = await store.show.last_edit("ed")
    assert newest is not None
    assert newest.after["label"] == f"A{HISTORY_KEEP + 4}"
    # Undo back through every kept row: exactly HISTORY_KEEP of them (the creation is gone).
    seen = 0
    rec: EditRecord | None = newest
    while rec is not None:
        seen += 1
        assert rec.before is not None
        previous = replace(LookDef("a", "", ()), label=rec.before["label"])
        previous = replace(previous, canvases=(solid("facade"),))
        await store.show.put_look(previous, note=replace(ED, undoes=rec.id))
        rec = await store.show.last_edit("ed")
    assert seen == HISTORY_KEEP
    assert (await store.show.get_look("a")).label == "A4"


async def test_an_undoing_write_is_refused_when_the_object_changed_since(store: Storage) -> None:
    """The store's own guard: checked in the undoing write's transaction, nothing written."""
    await _patched(store)
    await store.show.put_look(LookDef("a", "A", (solid("facade"),)), note=ED)
    mine = await store.show.last_edit("ed")
    assert mine is not None
    theirs = LookDef("a", "Theirs", (solid("facade"),))
    await store.show.put_look(theirs, note=EditNote("other"))
    with pytest.raises(Conflict, match='look "a" changed since that edit'):
        await store.show.delete_look("a", note=replace(ED, undoes=mine.id))
    assert await store.show.get_look("a") == theirs
    assert await store.show.last_edit("ed") == mine  # still there to undo
    # Undone once, a second undoing write of the same row is refused too.
    await store.show.delete_look("a", note=EditNote("other"))
    gone = await store.show.last_edit("other")
    assert gone is not None
    await store.show.put_look(theirs, note=replace(EditNote("other"), undoes=gone.id))
    with pytest.raises(Conflict, match="already undone"):
        await store.show.delete_look("a", note=replace(EditNote("other"), undoes=gone.id))
