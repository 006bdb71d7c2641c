"""The schedule REST routes over the real command layer and a SQLite store (no daemon):
entries edited with errors naming the field, roles, the audit log, the why view at any
instant, the timeline, and iCal import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from trocadero.config.schema import SiteConfig, StorageConfig
from trocadero.config.show import CanvasDef, CanvasLayersDef, CueDef, CueListDef, LookDef
from trocadero.core.commands import Actor, Controller
from trocadero.core.playback.ladder import Engine
from trocadero.core.schedule.resolve import ShowIndex
from trocadero.core.schedule_service import ScheduleService
from trocadero.core.storage import Storage, open_storage
from trocadero.web.app import ControlPlane, create_app

LOOKS = (
    LookDef("warm", canvases=(CanvasLayersDef("facade"), CanvasLayersDef("canopy"))),
    LookDef("red", canvases=(CanvasLayersDef("facade"),)),
)
LISTS = (CueListDef("evening", cues=(CueDef(Decimal(1), look="warm"),)),)


@dataclass
class Api:
    client: httpx.AsyncClient
    store: Storage
    role: list[str]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with open_storage(StorageConfig(sqlite_path="s.db"), tmp_path) as store:
        await store.patch.put_patch((CanvasDef("facade", 4, 4), CanvasDef("canopy", 4, 4)), (), ())
        for look in LOOKS:
            await store.show.put_look(look)
        for cl in LISTS:
            await store.show.put_cue_list(cl)
        service = ScheduleService(
            store,
            SiteConfig(),
            horizon_s=8 * 86400.0,
            show=lambda: ShowIndex.of(LOOKS, LISTS),
            canvases=lambda: ("facade", "canopy"),
        )
        await service.load()
        role = ["operator"]

        def actor_of(request: Request) -> Actor:
            return Actor("tester", role[0], "api")  # type: ignore[arg-type]

        # A controller and the show store too: the undo of a schedule edit (edit.undo).
        engine = Engine(("facade", "canopy"), looks={}, debounce=0.0)
        controller = Controller(
            engine, now=lambda: 0.0, audit=store.audit, state=store.state, library=store.show
        )
        app = create_app(ControlPlane(health=dict, schedule=service,
                                      playback=controller, store=store,
                                      actor_of=actor_of))  # fmt: skip
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Api(client, store, role)


SUNSET = {
    "name": "sunset",
    "target_kind": "look",
    "target": "warm",
    "rrule": "FREQ=DAILY",
    "dtstart": "2026-01-01T00:00:00+01:00",
    "anchor": "sunset",
    "offset_s": 900,
    "end_anchor": "clock",
    "end_time": "01:00",
}
XMAS = {
    "name": "christmas",
    "target_kind": "look",
    "target": "red",
    "dtstart": "2026-12-24T20:00:00+01:00",
    "duration_s": 14400,
    "priority": 0,
}


async def test_entries_crud_with_audit(api: Api) -> None:
    c = api.client
    r = await c.post("/api/schedule", json=SUNSET)
    assert r.status_code == 201, r.text
    made = r.json()["entry"]
    assert (made["anchor"], made["offset_s"], made["created_by"]) == ("sunset", 900.0, "tester")
    sid = made["id"]
    assert (await c.get(f"/api/schedule/{sid}")).json()["entry"] == made
    r = await c.patch(f"/api/schedule/{sid}", json={"priority": 7, "not_before": "19:00"})
    assert r.status_code == 200, r.text
    assert (r.json()["entry"]["priority"], r.json()["entry"]["not_before"]) == (7, "19:00")
    r = await c.post(f"/api/schedule/{sid}/disable")
    assert r.json()["entry"]["enabled"] is False
    r = await c.post(f"/api/schedule/{sid}/enable")
    assert r.json()["entry"]["enabled"] is True
    # PUT replaces the whole entry: what it leaves out goes back to its default.
    r = await c.put(f"/api/schedule/{sid}", json={**XMAS, "name": "sunset"})
    assert r.status_code == 200, r.text
    assert (r.json()["entry"]["anchor"], r.json()["entry"]["priority"]) == ("clock", 0)
    assert [e["name"] for e in (await c.get("/api/schedule")).json()["entries"]] == ["sunset"]
    assert (await c.delete(f"/api/schedule/{sid}")).json() == {"deleted": sid}
    assert (await c.get(f"/api/schedule/{sid}")).status_code == 404
    audit = (await api.store.audit.list_audit(action="schedule.*")).items
    assert [a.action for a in reversed(audit)] == [
        "schedule.create",
        "schedule.update",
        "schedule.disable",
        "schedule.enable",
        "schedule.update",
        "schedule.delete",
    ]
    assert audit[-2].detail["fields"] == ["not_before", "priority"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/api/schedule", {**SUNSET, "rrule": "FREQ=NIGHTLY"}, 400,
         "rrule: FREQ must be one of"),
        ("POST", "/api/schedule", {**SUNSET, "anchor": "moonset"}, 400, "anchor: must be one of"),
        ("POST", "/api/schedule", {**SUNSET, "not_after": "50:00"}, 400,
         "not_after: must be between 00:00 and 47:59:59"),
        ("POST", "/api/schedule", {**SUNSET, "dtstart": "2026-01-01T00:00"}, 400,
         "dtstart: needs a UTC offset"),
        ("POST", "/api/schedule", {**SUNSET, "target": "ghost"}, 400, 'target: no look "ghost"'),
        ("POST", "/api/schedule", {**SUNSET, "canvases": ["stairs"]}, 400,
         'canvases: look "warm" does not cover stairs'),
        ("POST", "/api/schedule", {**SUNSET, "target_kind": "cue_list", "target": "evening",
                                   "canvases": ["facade"]}, 400,
         "canvases: a cue list plays as a whole"),
        ("POST", "/api/schedule", {**SUNSET, "colour": "red"}, 400, "colour: unknown key"),
        ("POST", "/api/schedule", [1, 2], 400, "body: expected a JSON object"),
        ("GET", "/api/schedule/99", None, 404, "no schedule 99"),
        ("PATCH", "/api/schedule/99", {"priority": 1}, 404, "no schedule 99"),
        ("POST", "/api/schedule/99/toggle", None, 400, "verb: must be one of enable, disable"),
        ("GET", "/api/schedule/now?at=yesterday", None, 400, "at: expected an ISO 8601"),
        ("GET", "/api/schedule/timeline?hours=0", None, 400, "hours: must be above 0"),
        ("GET", "/api/schedule/timeline?hours=1000", None, 400, "hours: must be between 0 and 168"),
        ("POST", "/api/schedule/import", {"ical": ""}, 400, "ical: required"),
        ("POST", "/api/schedule/import", {"ical": "x", "replace": "yes"}, 400,
         "replace: expected true or false"),
    ],
)  # fmt: skip
async def test_bad_requests_name_the_field(
    api: Api, method: str, path: str, body: Any, status: int, message: str
) -> None:
    r = await api.client.request(method, path, json=body)
    assert r.status_code == status, r.text
    doc = r.json()
    text = "\n".join(doc.get("problems", [])) or doc["error"]
    assert message in text, doc


async def test_duplicate_names_conflict_and_roles_are_enforced(api: Api) -> None:
    c = api.client
    assert (await c.post("/api/schedule", json=SUNSET)).status_code == 201
    r = await c.post("/api/schedule", json=SUNSET)
    assert (r.status_code, r.json()["error"]) == (409, 'a schedule named "sunset" already exists')
    api.role[0] = "marketing"  # the seed: marketing schedules
    assert (await c.post("/api/schedule", json=XMAS)).status_code == 201
    api.role[0] = "viewer"
    assert (await c.get("/api/schedule")).status_code == 200
    assert (await c.get("/api/schedule/now")).status_code == 200
    r = await c.post("/api/schedule", json={**XMAS, "name": "x"})
    assert (r.status_code, r.json()["error"]) == (403, 'role "viewer" may not edit the schedule')


async def test_now_and_why_at_any_instant(api: Api) -> None:
    c = api.client
    for body in (SUNSET, XMAS):
        assert (await c.post("/api/schedule", json=body)).status_code == 201
    # On the site's wall clock (no offset), and with an offset sent unescaped ("+" → " ").
    for query in (
        "at=2026-12-24T21:37",
        "at=2026-12-24T21:37:00%2B01:00",
        "at=2026-12-24T21:37:00+01:00",
    ):
        doc = (await c.get(f"/api/schedule/now?{query}")).json()
        assert doc["at"] == "2026-12-24T21:37:00+01:00", query
        facade = doc["canvases"]["facade"]
        assert facade["winner"]["entry"]["name"] == "christmas"
        (lost,) = facade["beaten"]
        assert (lost["entry"]["name"], lost["rule"]) == ("sunset", "date_range")
        assert lost["reason"] == "same priority (0), wider date range (unbounded against 1 day)"
        assert doc["canvases"]["canopy"]["winner"]["entry"]["name"] == "sunset"
    doc = (await c.get("/api/schedule/now?at=2026-06-21")).json()  # a date: its midnight
    assert doc["at"] == "2026-06-21T00:00:00+02:00"
    assert doc["canvases"]["facade"]["winner"]["start"].startswith("2026-06-20T22:1")


async def test_timeline(api: Api) -> None:
    c = api.client
    for body in (SUNSET, XMAS):
        assert (await c.post("/api/schedule", json=body)).status_code == 201
    r = await c.get("/api/schedule/timeline?from=2026-12-24T12:00&hours=24")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["from"], doc["to"]) == ("2026-12-24T12:00:00+01:00", "2026-12-25T12:00:00+01:00")
    moves = [(t["at"][11:16], t["canvas"], t["from"], t["to"]) for t in doc["transitions"]]
    assert moves == [
        ("17:12", "canopy", None, "sunset"),
        ("17:12", "facade", None, "sunset"),
        ("20:00", "facade", "sunset", "christmas"),
        ("00:00", "facade", "christmas", "sunset"),
        ("01:00", "canopy", "sunset", None),
        ("01:00", "facade", "sunset", None),
    ]


ICS = """BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VEVENT
UID:1
SUMMARY:Fridays
DTSTART;TZID=Europe/Paris:20261106T220000
DTEND;TZID=Europe/Paris:20261107T010000
RRULE:FREQ=WEEKLY;BYDAY=FR
EXDATE;TZID=Europe/Paris:20261225T220000
END:VEVENT
BEGIN:VEVENT
UID:2
SUMMARY:National day
DTSTART;VALUE=DATE:20270714
X-TROCADERO-TARGET:look:red
X-TROCADERO-PRIORITY:50
END:VEVENT
END:VCALENDAR
"""


async def test_ical_import(api: Api) -> None:
    c = api.client
    r = await c.post(
        "/api/schedule/import", json={"ical": ICS, "target_kind": "look", "target": "warm"}
    )
    assert r.status_code == 201, r.text
    assert r.json() == {"created": ["Fridays", "National day"], "updated": [], "skipped": []}
    newest = (await c.get("/api/snapshots?limit=1")).json()["items"][0]
    assert (newest["message"], newest["actor"]) == ("schedule entries imported from iCal", "tester")
    snapshot = (await c.get(f"/api/snapshots/{newest['hash']}")).json()["document"]
    assert [e["name"] for e in snapshot["schedules"]] == ["Fridays", "National day"]
    entries = {e["name"]: e for e in (await c.get("/api/schedule")).json()["entries"]}
    fridays = entries["Fridays"]
    assert (fridays["rrule"], fridays["duration_s"], fridays["exdates"]) == (
        "FREQ=WEEKLY;BYDAY=FR",
        10800.0,
        ["2026-12-25T22:00:00"],
    )
    assert (entries["National day"]["target"], entries["National day"]["priority"]) == ("red", 50)
    doc = (await c.get("/api/schedule/now?at=2026-11-07T00:30")).json()  # Saturday, 00:30
    assert doc["canvases"]["canopy"]["winner"]["day"] == "2026-11-06"  # Friday's night
    # Again: the names exist. With replace (as text/calendar): updated in place.
    r = await c.post("/api/schedule/import", json={"ical": ICS, "target": "warm",
                                                   "target_kind": "look"})  # fmt: skip
    assert r.status_code == 400
    assert 'VEVENT "Fridays": a schedule with this name exists' in r.json()["problems"][0]
    r = await c.post(
        "/api/schedule/import?target_kind=look&target=warm&priority=3&replace=true",
        content=ICS.encode(),
        headers={"content-type": "text/calendar"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == ["Fridays", "National day"]
    entries = {e["name"]: e for e in (await c.get("/api/schedule")).json()["entries"]}
    assert entries["Fridays"]["priority"] == 3


async def test_a_bad_calendar_imports_nothing(api: Api) -> None:
    bad = ICS.replace("DTSTART;VALUE=DATE:20270714", "DTSTART;TZID=Mars/Olympus:20270714T100000")
    bad = bad.replace("X-TROCADERO-TARGET:look:red", "X-TROCADERO-TARGET:look:purple")
    r = await api.client.post(
        "/api/schedule/import", json={"ical": bad, "target_kind": "look", "target": "warm"}
    )
    assert r.status_code == 400
    assert r.json()["problems"] == [
        "line 14 (DTSTART): TZID 'Mars/Olympus' is not a tz-database zone (e.g. Europe/Paris)"
    ]
    bad = ICS.replace("X-TROCADERO-TARGET:look:red", "X-TROCADERO-TARGET:look:purple")
    r = await api.client.post(
        "/api/schedule/import", json={"ical": bad, "target_kind": "look", "target": "warm"}
    )
    assert r.json()["problems"] == ['VEVENT "National day": target: no look "purple"']
    assert (await api.client.get("/api/schedule")).json()["entries"] == []


async def test_schedule_edits_are_undone_one_by_one(api: Api) -> None:
    """Undo of the last edit covers the schedule: a change put back, a deletion made again
    (a new id, the same entry), a creation removed; refused when someone changed it since."""
    made = (await api.client.post("/api/schedule", json=SUNSET)).json()["entry"]
    r = await api.client.patch(f"/api/schedule/{made['id']}", json={"offset_s": -600})
    assert r.status_code == 200, r.text
    last = (await api.client.get("/api/edits/last")).json()["edit"]
    assert (last["kind"], last["name"], last["change"]) == ("schedule", "sunset", "changed")
    assert (await api.client.post("/api/edits/undo")).status_code == 200
    entry = await api.store.schedules.get_schedule(made["id"])
    assert entry.offset_s == 900  # the change put back
    assert (await api.client.delete(f"/api/schedule/{made['id']}")).status_code == 200
    r = await api.client.post("/api/edits/undo")  # the deletion undone
    assert r.status_code == 200, r.text
    (again,) = [e for e in (await api.store.schedules.list_schedules()).items if e.name == "sunset"]
    assert again.id != made["id"]
    assert (again.anchor, again.offset_s, again.rrule) == ("sunset", 900, "FREQ=DAILY")
    listed = (await api.client.get("/api/schedule")).json()["entries"]
    assert [e["name"] for e in listed] == ["sunset"]  # the service knows it again
    # The creation is next, but the entry changed since (another writer: an import), so
    # the undo is refused and that change kept.
    await api.store.schedules.update_schedule(replace(again, priority=7))
    r = await api.client.post("/api/edits/undo")
    assert r.status_code == 409, r.text
    assert 'schedule entry "sunset" changed since that edit' in r.json()["error"]
    assert (await api.store.schedules.get_schedule(again.id)).priority == 7  # nothing lost
