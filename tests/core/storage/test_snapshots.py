"""Show snapshots in the store (SQLite and PostgreSQL): content stored once by hash, the
history in order with its parents, paging, unknown hashes, and the document read back."""

from __future__ import annotations

from typing import Any

import pytest

from trocadero.config.show import ShowDef
from trocadero.core.snapshots import digest
from trocadero.core.storage import NotFound, Storage, ValidationError


def _doc(name: str) -> dict[str, Any]:
    return {"format": "trocadero-show", "version": 1, "name": name, "looks": [{"name": "a"}]}


async def test_snapshot_history_and_content(store: Storage) -> None:
    first = await store.snapshots.record(_doc("one"), actor="ana", message="look a changed")
    assert first is not None
    assert first.parent is None
    assert first.hash == digest(_doc("one"))
    # The same content again adds nothing.
    assert await store.snapshots.record(_doc("one"), actor="bo", message="again") is None
    second = await store.snapshots.record(_doc("two"), actor="bo", message="renamed")
    assert second is not None
    assert second.parent == first.hash
    # Back to earlier content: a new history row over the document already kept.
    third = await store.snapshots.record(_doc("one"), actor="ana", message="rolled back")
    assert third is not None
    assert third.hash == first.hash
    assert third.parent == second.hash

    page = await store.snapshots.list_snapshots(limit=2)
    assert [(i.message, i.actor) for i in page.items] == [("rolled back", "ana"), ("renamed", "bo")]
    assert page.next is not None
    rest = await store.snapshots.list_snapshots(limit=2, cursor=page.next)
    assert [i.message for i in rest.items] == ["look a changed"]
    assert rest.next is None
    assert rest.items[0].created_at == first.created_at

    assert await store.snapshots.get_document(second.hash) == _doc("two")
    assert (await store.snapshots.get_snapshot(first.hash)).message == "rolled back"
    assert (await store.snapshots.latest()) == third
    with pytest.raises(NotFound):
        await store.snapshots.get_document("0" * 64)
    with pytest.raises(ValidationError):
        await store.snapshots.list_snapshots(cursor="nonsense")


async def test_whole_show_document_round_trips(store: Storage, default_show: ShowDef) -> None:
    await store.show.replace_show(default_show, ())
    doc = await store.show.export_show()
    made = await store.snapshots.record(doc, actor="system", message="show at start")
    assert made is not None
    back = await store.snapshots.get_document(made.hash)
    assert back == doc
    assert digest(back) == made.hash
