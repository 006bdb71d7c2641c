"""The show model in the store: patch, CSV import, looks, cue lists and cues, paging, and the
show file (export → import round trip, bad documents)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trocadero.config.schema import StorageConfig
from trocadero.config.show import (
    CanvasDef,
    CanvasLayersDef,
    CanvasPlacement,
    CueDef,
    CueListDef,
    CuePartDef,
    FixtureDef,
    FixtureTypeDef,
    LayerDef,
    LookDef,
    ShowDef,
)
from trocadero.core.model import ScheduleEntry, ShowSettings
from trocadero.core.storage import (
    Conflict,
    NotFound,
    Storage,
    ValidationError,
    open_storage,
    showfile,
)
from trocadero.core.storage.base import MAX_LIMIT

from .conftest import StoreFactory

CANVASES = (
    CanvasDef("facade", 64, 8, placement=CanvasPlacement(6.0, 2.0, 48.0, 16.0)),
    CanvasDef("stairs", 10, 2, master=0.5, description="é"),
)
TYPES = (FixtureTypeDef("ws2811", gamma=2.4, white_balance=(1.0, 0.9, 0.8)),)
FIXTURES = (
    FixtureDef("f-1", "facade", "ws2811", pixels=64, universe=1),
    FixtureDef(
        "s-1", "stairs", "", shape="matrix", width=10, height=2, serpentine=True, universe=2
    ),
)


def solid(canvas: str, colour: str = "#ff0000", **params: Any) -> CanvasLayersDef:
    return CanvasLayersDef(canvas, (LayerDef("solid", params={"colour": colour, **params}),))


def look(name: str, *canvases: str) -> LookDef:
    return LookDef(name, name.title(), tuple(solid(c) for c in canvases or ("facade",)))


async def with_patch(store: Storage) -> None:
    await store.patch.put_patch(CANVASES, TYPES, FIXTURES)


# --- patch -------------------------------------------------------------------------------------


async def test_patch_round_trips_in_order(store: Storage) -> None:
    empty = await store.patch.get_patch()
    assert (empty.canvases, empty.fixture_types, empty.fixtures) == ((), (), ())
    await with_patch(store)
    patch = await store.patch.get_patch()
    assert patch.canvases == CANVASES
    assert patch.fixture_types == TYPES
    assert patch.fixtures == FIXTURES
    reordered = tuple(reversed(FIXTURES))
    await store.patch.put_patch(CANVASES, TYPES, reordered)
    assert (await store.patch.get_patch()).fixtures == reordered


async def test_bad_patch_is_refused_whole(store: Storage) -> None:
    await with_patch(store)
    overlapping = (*FIXTURES, FixtureDef("f-2", "facade", pixels=4, universe=1, channel=4))
    with pytest.raises(ValidationError) as info:
        await store.patch.put_patch(CANVASES, TYPES, overlapping)
    assert any("already used by" in p for p in info.value.problems)
    unknown = (FixtureDef("x", "nowhere", pixels=1, universe=9),)
    with pytest.raises(ValidationError, match='unknown canvas "nowhere"'):
        await store.patch.put_patch(CANVASES, TYPES, unknown)
    assert (await store.patch.get_patch()).fixtures == FIXTURES


async def test_removing_a_canvas_in_use_is_a_conflict(store: Storage) -> None:
    await with_patch(store)
    await store.show.put_look(look("red", "stairs"))
    with pytest.raises(Conflict, match='look "red" uses canvas "stairs"'):
        await store.patch.put_patch(CANVASES[:1], TYPES, FIXTURES[:1])
    await store.show.delete_look("red")
    await store.show.put_settings(ShowSettings(emergency=(solid("stairs", "#ffffff"),)))
    with pytest.raises(Conflict, match='emergency uses canvas "stairs"'):
        await store.patch.put_patch(CANVASES[:1], TYPES, FIXTURES[:1])


async def test_settings(store: Storage) -> None:
    assert await store.show.get_settings() == ShowSettings()
    await with_patch(store)
    settings = ShowSettings("Evening", 0.8, "hold", (solid("facade"),), (solid("stairs"),))
    await store.show.put_settings(settings)
    assert await store.show.get_settings() == settings
    with pytest.raises(ValidationError, match=r'idle\[0\]\.canvas: no canvas "moon"'):
        await store.show.put_settings(ShowSettings(idle=(solid("moon"),)))
    with pytest.raises(ValidationError, match="grand_master: must be between 0 and 1"):
        await store.show.put_settings(ShowSettings(grand_master=2.0))


# --- CSV patch import --------------------------------------------------------------------------

GOOD_CSV = """# site patch
name,canvas,type,pixels,universe,channel
run-1,facade,ws2811,30,10,1
run-2,facade,,30,10,91
"""


async def test_csv_import_replaces_fixtures(store: Storage) -> None:
    await with_patch(store)
    read = await store.patch.import_patch_csv(GOOD_CSV, source="site.csv")
    assert [f.name for f in read] == ["run-1", "run-2"]
    patch = await store.patch.get_patch()
    assert patch.fixtures == read
    assert patch.canvases == CANVASES  # canvases and types are kept
    more = "name,canvas,pixels,universe\nrun-3,stairs,5,20\n"
    await store.patch.import_patch_csv(more, replace=False)
    assert [f.name for f in (await store.patch.get_patch()).fixtures] == ["run-1", "run-2", "run-3"]


async def test_bad_csv_writes_nothing(store: Storage) -> None:
    await with_patch(store)
    bad_cells = "name,canvas,pixels,colour\nrun-1,facade,1.5,RGB\n"
    with pytest.raises(ValidationError) as info:
        await store.patch.import_patch_csv(bad_cells, source="p.csv")
    assert info.value.problems == [
        "p.csv:1: colour: unknown column; did you mean 'colour_order'?",
        "p.csv:2: pixels: expected an integer (got '1.5')",
    ]
    clash = "name,canvas,pixels,universe\nrun-1,facade,30,1\nrun-2,moon,3,40\n"
    with pytest.raises(ValidationError) as info:
        await store.patch.import_patch_csv(clash, source="p.csv", replace=False)
    problems = "\n".join(info.value.problems)
    assert "already used by" in problems
    assert 'unknown canvas "moon"' in problems
    assert (await store.patch.get_patch()).fixtures == FIXTURES


# --- looks -------------------------------------------------------------------------------------


async def test_look_crud(store: Storage) -> None:
    await with_patch(store)
    red = look("red", "facade", "stairs")
    assert await store.show.put_look(red) is True
    assert await store.show.get_look("red") == red
    changed = replace(red, label="Deep red", canvases=(solid("facade", "#800000", speed=0.5),))
    assert await store.show.put_look(changed) is False
    assert await store.show.get_look("red") == changed
    await store.show.delete_look("red")
    with pytest.raises(NotFound, match='no look "red"'):
        await store.show.get_look("red")
    with pytest.raises(NotFound):
        await store.show.delete_look("red")


async def test_look_params_keep_their_json_types(store: Storage) -> None:
    await with_patch(store)
    params = {"colours": ["#000000", "#ffffff"], "angle_deg": 90.0, "n": 3, "on": True,
              "nested": {"a": [1, 2.5, None]}, "tiny": 1e-7, "text": "ünï"}  # fmt: skip
    stack = CanvasLayersDef("facade", (LayerDef("linear-gradient", "add", 0.25, params),))
    await store.show.put_look(LookDef("grad", "", (stack,)))
    got = (await store.show.get_look("grad")).canvases[0].layers[0].params
    assert dict(got) == params
    assert (type(got["angle_deg"]), type(got["n"])) == (float, int)


async def test_bad_looks_are_refused(store: Storage) -> None:
    await with_patch(store)
    with pytest.raises(ValidationError, match=r'canvases\[0\]\.canvas: no canvas "moon"'):
        await store.show.put_look(look("x", "moon"))
    with pytest.raises(ValidationError, match="is listed twice"):
        await store.show.put_look(look("x", "facade", "facade"))
    bad_layer = LookDef("x", "", (CanvasLayersDef("facade", (LayerDef(opacity=2.0),)),))
    with pytest.raises(ValidationError, match=r"opacity: must be between 0 and 1"):
        await store.show.put_look(bad_layer)
    assert (await store.show.list_looks()).items == ()


async def test_look_in_use_cannot_be_deleted(store: Storage) -> None:
    await with_patch(store)
    await store.show.put_look(look("red"))
    await store.show.put_cue_list(CueListDef("main", cues=(CueDef(Decimal("2.5"), look="red"),)))
    with pytest.raises(Conflict, match=r'look "red" is in use by cue main/2\.5'):
        await store.show.delete_look("red")
    await store.show.put_cue("main", CueDef(Decimal("2.5"), look=""))
    await store.show.delete_look("red")


# --- cue lists and cues ------------------------------------------------------------------------


def cue(number: str, **kw: Any) -> CueDef:
    return CueDef(Decimal(number), **kw)


async def test_cues_are_kept_in_number_order(store: Storage) -> None:
    numbers = ["10.5", "2", "100", "10", "0.001", "9999.999", "1.25"]
    await store.show.put_cue_list(CueListDef("main", cues=tuple(cue(n) for n in numbers)))
    got = [c.number for c in (await store.show.get_cue_list("main")).cues]
    assert got == sorted(Decimal(n) for n in numbers)
    assert [str(n) for n in got] == ["0.001", "1.25", "2", "10", "10.5", "100", "9999.999"]
    await store.show.put_cue("main", cue("3"))
    page = await store.show.list_cues("main", limit=4)
    assert [str(c.number) for c in page.items] == ["0.001", "1.25", "2", "3"]
    rest = await store.show.list_cues("main", limit=4, cursor=page.next)
    assert [str(c.number) for c in rest.items] == ["10", "10.5", "100", "9999.999"]
    assert rest.next is None


async def test_cue_list_round_trips_every_field(store: Storage) -> None:
    await with_patch(store)
    await store.show.put_look(look("red"))
    full = cue(
        "12.5",
        look="red",
        label="Doors",
        notes="wait for the\nstage manager",
        up_fade=1.5,
        down_fade=0.25,
        delay=0.1,
        curve="s-curve",
        hang=4.0,
        link=Decimal(1),
        loop=3,
        parts=(CuePartDef(("stairs",), 9.0, 8.0, 0.5, "ease-in"),),
    )
    cl = CueListDef("main", "Evening", 250, "htp", 2.5, (cue("1", follow=0.0), full))
    assert await store.show.put_cue_list(cl) is True
    assert await store.show.get_cue_list("main") == cl
    assert await store.show.get_cue("main", Decimal("12.50")) == full
    assert await store.show.put_cue_list(replace(cl, cues=cl.cues[:1], priority=1)) is False
    assert await store.show.get_cue_list("main") == replace(cl, cues=cl.cues[:1], priority=1)


async def test_cue_crud_and_errors(store: Storage) -> None:
    await store.show.put_cue_list(CueListDef("main", cues=(cue("1"), cue("2", link=Decimal(1)))))
    assert await store.show.put_cue("main", cue("1.5", label="new")) is True
    assert await store.show.put_cue("main", cue("1.5", label="changed")) is False
    assert (await store.show.get_cue("main", Decimal("1.5"))).label == "changed"
    with pytest.raises(NotFound, match='no cue list "other"'):
        await store.show.put_cue("other", cue("1"))
    with pytest.raises(NotFound, match=r'no cue 7 in cue list "main"'):
        await store.show.get_cue("main", Decimal(7))
    with pytest.raises(ValidationError, match='look: no look "ghost"'):
        await store.show.put_cue("main", cue("3", look="ghost"))
    with pytest.raises(ValidationError, match="link: no cue 42 in this list"):
        await store.show.put_cue("main", cue("3", link=Decimal(42)))
    with pytest.raises(ValidationError, match="a cue has follow or hang, not both"):
        await store.show.put_cue("main", cue("3", follow=1.0, hang=1.0))
    with pytest.raises(ValidationError, match="at most three decimals"):
        await store.show.get_cue("main", Decimal("1.0005"))
    with pytest.raises(Conflict, match=r"cue main/1 is in use: cue 2 links to it"):
        await store.show.delete_cue("main", Decimal(1))
    await store.show.delete_cue("main", Decimal(2))
    await store.show.delete_cue("main", Decimal(1))
    assert [str(c.number) for c in (await store.show.get_cue_list("main")).cues] == ["1.5"]
    await store.show.delete_cue_list("main")
    with pytest.raises(NotFound):
        await store.show.get_cue_list("main")
    with pytest.raises(NotFound):
        await store.show.list_cues("main")


async def test_cue_list_with_unknown_looks_lists_them_all(store: Storage) -> None:
    cl = CueListDef("main", cues=(cue("1", look="a"), cue("2", look="b")))
    with pytest.raises(ValidationError) as info:
        await store.show.put_cue_list(cl)
    assert info.value.problems == [
        'cues[0 cue 1].look: no look "a"',
        'cues[1 cue 2].look: no look "b"',
    ]


# --- paging ------------------------------------------------------------------------------------


async def test_paging(store: Storage) -> None:
    await with_patch(store)
    names = [f"look-{i:02d}" for i in range(25)]
    for name in reversed(names):
        await store.show.put_look(look(name))
    seen: list[str] = []
    cursor = None
    sizes = []
    while True:
        page = await store.show.list_looks(limit=10, cursor=cursor)
        sizes.append(len(page.items))
        seen += [lk.name for lk in page.items]
        if page.next is None:
            break
        cursor = page.next
    assert seen == names
    assert sizes == [10, 10, 5]
    assert len((await store.show.list_looks()).items) == 25  # default limit 100
    exact = await store.show.list_looks(limit=25)
    assert exact.next is None


async def test_paging_limits_and_cursors(store: Storage) -> None:
    assert (await store.show.list_looks(limit=MAX_LIMIT)).items == ()
    for bad in (0, MAX_LIMIT + 1, -1):
        with pytest.raises(ValidationError, match=rf"limit: must be between 1 and {MAX_LIMIT}"):
            await store.show.list_looks(limit=bad)
    with pytest.raises(ValidationError, match="cursor: not a cursor"):
        await store.show.list_looks(cursor="garbage")
    await store.show.put_cue_list(CueListDef("a"))
    await store.show.put_cue_list(CueListDef("b"))
    other = (await store.show.list_cue_lists(limit=1)).next
    assert other is not None
    with pytest.raises(ValidationError, match="cursor: not a cursor"):
        await store.show.list_looks(cursor=other)  # a cue-list cursor is not a looks cursor


async def test_cue_list_headers(store: Storage) -> None:
    await store.show.put_cue_list(CueListDef("b", cues=(cue("1"),)))
    await store.show.put_cue_list(CueListDef("a", priority=5))
    page = await store.show.list_cue_lists()
    assert [(c.name, c.priority, c.cues) for c in page.items] == [("a", 5, ()), ("b", 100, ())]


# --- the show file -----------------------------------------------------------------------------


def schedules() -> tuple[ScheduleEntry, ...]:
    return (
        ScheduleEntry(
            name="evening",
            target_kind="cue",
            target="main",
            cue=Decimal("2.5"),
            rrule="FREQ=DAILY;BYHOUR=20;BYMINUTE=30",
            dtstart=datetime(2026, 5, 20, 18, 30, tzinfo=UTC),
            duration_s=3600.0,
            priority=10,
            created_by="alice",
            detail={"tz": "Europe/Paris"},
        ),
        ScheduleEntry(
            name="welcome",
            enabled=False,
            target_kind="look",
            target="warm-welcome",
            canvases=("facade",),
            dtstart=datetime(2026, 1, 1, tzinfo=UTC),
        ),
    )


async def test_export_import_round_trip_is_byte_exact(
    store: Storage, new_store: StoreFactory, default_show: ShowDef
) -> None:
    await store.show.replace_show(default_show, schedules())
    text = showfile.dumps(await store.show.export_show())
    doc = json.loads(text)
    assert (doc["format"], doc["version"]) == ("trocadero-show", 1)
    assert doc["cue_lists"][0]["cues"][2]["number"] == "2.5"
    async with new_store() as empty:
        await empty.show.import_show(doc)
        again = showfile.dumps(await empty.show.export_show())
        show = await empty.show.get_show()
    assert again == text
    assert show.cue_lists == default_show.cue_lists
    assert show.fixtures == default_show.fixtures
    assert show.emergency == default_show.emergency
    assert {lk.name: lk for lk in show.looks} == {lk.name: lk for lk in default_show.looks}


async def test_bad_document_lists_every_problem_and_changes_nothing(
    store: Storage, default_show: ShowDef
) -> None:
    await store.show.replace_show(default_show, schedules())
    before = showfile.dumps(await store.show.export_show())
    doc = json.loads(before)
    doc["format"] = "something-else"
    doc["cue_lists"][0]["cues"][1]["follow"] = 2.0
    doc["cue_lists"][0]["cues"][1]["hang"] = 1.0
    doc["canvases"][0]["width"] = 0
    doc["fixtures"][0]["colour_order"] = "RGBX"
    doc["schedules"][0]["dtstart"] = "tomorrow"
    doc["looks"][0]["colour"] = "red"
    with pytest.raises(ValidationError) as info:
        await store.show.import_show(doc)
    problems = info.value.problems
    expected = [
        "format: must be 'trocadero-show' (got 'something-else')",
        'canvases[0 "facade"].width: must be between 1 and 8192 (got 0)',
        'fixtures[0 "facade-01"].colour_order: must be one of',
        'looks[0 "blue-hour"].colour: unknown key',
        'cue_lists[0 "main"].cues[1 cue 2].follow: a cue has follow or hang, not both',
        'schedules[0 "evening"].dtstart: expected an ISO 8601 date and time',
    ]
    for text in expected:
        assert any(p.startswith(text) for p in problems), (text, problems)
    assert len(problems) == len(expected)
    assert showfile.dumps(await store.show.export_show()) == before


async def test_document_cross_references(store: Storage, default_show: ShowDef) -> None:
    doc = showfile.export_doc(default_show, schedules())
    doc["cue_lists"][0]["cues"][0]["look"] = "nope"
    doc["looks"][0]["canvases"][0]["canvas"] = "roof"
    doc["schedules"][1]["target"] = "gone"
    doc["fixtures"][1]["universe"] = doc["fixtures"][0]["universe"]
    with pytest.raises(ValidationError) as info:
        await store.show.import_show(doc)
    text = "\n".join(info.value.problems)
    assert 'cue_lists[0 "main"].cues[0 cue 1].look: no look "nope"' in text
    assert 'looks[0 "blue-hour"].canvases[0].canvas: no canvas "roof" in the patch' in text
    assert 'schedules[1 "welcome"].target: no look "gone"' in text
    assert "already used by" in text
    assert await store.show.export_show() == showfile.export_doc(ShowDef(), ())


async def test_import_replaces_everything(store: Storage, default_show: ShowDef) -> None:
    await store.show.replace_show(default_show, schedules())
    small = ShowDef(name="small", canvases=CANVASES[:1], looks=(look("only"),))
    await store.show.import_show(showfile.export_doc(small, ()))
    show = await store.show.get_show()
    assert show == small
    assert (await store.schedules.list_schedules()).items == ()


async def test_replace_show_keeps_schedules_only_if_targets_survive(
    store: Storage, default_show: ShowDef
) -> None:
    await store.show.replace_show(default_show, schedules())
    with pytest.raises(Conflict, match='schedule "evening": target: no cue list "main"'):
        await store.show.replace_show(replace(default_show, cue_lists=()))
    await store.show.replace_show(replace(default_show, name="renamed"))
    assert [s.name for s in (await store.schedules.list_schedules()).items] == [
        "evening",
        "welcome",
    ]


def test_document_header_checks() -> None:
    for doc, problem in (
        ([], "(top level): expected an object (got list)"),
        ({"format": "trocadero-show", "version": 2}, "version: the file is format version 2"),
        ({"format": "trocadero-show", "version": "1"}, "version: expected a positive integer"),
        (
            {"format": "trocadero-show", "version": 1, "fixtures_csv": "p.csv"},
            "fixtures_csv: not part of a show file",
        ),
    ):
        with pytest.raises(ValidationError) as info:
            showfile.parse_doc(doc)
        assert info.value.problems[0].startswith(problem), info.value.problems


async def test_both_backends_export_the_same_bytes(
    tmp_path: Path, postgres_dsn: str, default_show: ShowDef
) -> None:
    doc = showfile.export_doc(default_show, schedules())
    texts = []
    for config in (
        StorageConfig(backend="sqlite"),
        StorageConfig(backend="postgres", postgres_dsn=postgres_dsn),
    ):
        async with open_storage(config, tmp_path) as store:
            await store.show.import_show(doc)
            texts.append(showfile.dumps(await store.show.export_show()))
    assert texts[0] == texts[1] == showfile.dumps(doc)


async def test_replace_show_takes_a_loaded_show_with_its_csv_path(
    store: Storage, default_show: ShowDef
) -> None:
    # playout/showload.py merges the CSV's fixtures and keeps the path: the store keeps the
    # fixtures and drops the path.
    await store.show.replace_show(replace(default_show, fixtures_csv="patch.csv"))
    assert await store.show.get_show() == replace(
        default_show, looks=tuple(sorted(default_show.looks, key=lambda lk: lk.name))
    )
