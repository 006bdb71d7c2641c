"""Several Trio tasks writing at once, and a write cancelled half-way: nothing is lost,
nothing is half-written."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import trio

from trocadero.config.show import (
    CanvasDef,
    CanvasLayersDef,
    CueDef,
    CueListDef,
    LayerDef,
    LookDef,
    ShowDef,
)
from trocadero.core.storage import Storage, showfile

TASKS = 6
EACH = 8


async def test_concurrent_writers(store: Storage) -> None:
    await store.patch.put_patch((CanvasDef("facade", 4, 4),), (), ())
    await store.show.put_cue_list(CueListDef("main"))

    async def writer(task: int) -> None:
        for i in range(EACH):
            stack = CanvasLayersDef("facade", (LayerDef(params={"task": task, "i": i}),))
            await store.show.put_look(LookDef(f"look-{task}-{i}", "", (stack,)))
            await store.show.put_cue(
                "main", CueDef(Decimal(f"{task + 1}.{i + 1}"), label=str(task))
            )
            await store.audit.append_audit(
                actor=f"user{task}", role="operator", origin="api", action="look.put",
                target=f"look-{task}-{i}",
            )  # fmt: skip
            await store.state.save_state(f"task-{task}", {"i": i})

    async with trio.open_nursery() as nursery:
        for task in range(TASKS):
            nursery.start_soon(writer, task)

    looks = await store.show.list_looks(limit=1000)
    assert len(looks.items) == TASKS * EACH
    for lk in looks.items:
        _, who, i = lk.name.split("-")
        assert dict(lk.canvases[0].layers[0].params) == {"task": int(who), "i": int(i)}
    cues = (await store.show.get_cue_list("main")).cues
    assert len(cues) == TASKS * EACH
    assert list(cues) == sorted(cues, key=lambda c: c.number)
    assert len((await store.audit.list_audit(limit=1000)).items) == TASKS * EACH
    for task in range(TASKS):
        assert await store.state.load_state(f"task-{task}") == {"i": EACH - 1}


async def test_cancelled_import_is_all_or_nothing(store: Storage, default_show: ShowDef) -> None:
    small = ShowDef(name="small", canvases=(CanvasDef("x", 1, 1),))
    await store.show.replace_show(small)
    old = showfile.dumps(await store.show.export_show())
    new_doc = showfile.export_doc(replace(default_show, name="big"), ())
    new = showfile.dumps(new_doc)
    started = trio.current_time()
    await store.show.import_show(new_doc)
    took = trio.current_time() - started
    await store.show.replace_show(small)
    # Cancel at points spread over an import (parsing, then the transaction's statements).
    for step in range(10):
        with trio.move_on_after(took * step / 10):
            await store.show.import_show(new_doc)
        assert showfile.dumps(await store.show.export_show()) in (old, new)
        await store.show.replace_show(small)  # the store is still usable
