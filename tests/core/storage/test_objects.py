"""Schedules, content assets, users, the audit log and runtime state."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from trocadero.config.schema import StorageConfig
from trocadero.config.show import CanvasDef, CanvasLayersDef, CueDef, CueListDef, LayerDef, LookDef
from trocadero.core.model import ScheduleEntry
from trocadero.core.storage import Conflict, NotFound, Storage, ValidationError

from .conftest import StoreFactory

T0 = datetime(2026, 5, 20, 18, 0, tzinfo=UTC)


async def small_show(store: Storage) -> None:
    await store.patch.put_patch((CanvasDef("facade", 4, 4),), (), ())
    await store.show.put_look(LookDef("red", "", (CanvasLayersDef("facade", (LayerDef(),)),)))
    await store.show.put_cue_list(
        CueListDef("main", cues=(CueDef(Decimal(1)), CueDef(Decimal("2.5"))))
    )


# --- schedules ---------------------------------------------------------------------------------


async def test_schedule_crud(store: Storage) -> None:
    await small_show(store)
    entry = ScheduleEntry(
        name="nightly",
        target_kind="cue",
        target="main",
        cue=Decimal("2.5"),
        canvases=("facade",),
        rrule="FREQ=DAILY",
        dtstart=T0,
        duration_s=60.0,
        priority=3,
        created_by="alice",
        detail={"tz": "Europe/Paris", "offsets": [1, 2]},
    )
    made = await store.schedules.create_schedule(entry)
    assert made.id > 0
    assert made == replace(entry, id=made.id)
    assert await store.schedules.get_schedule(made.id) == made
    off = await store.schedules.update_schedule(replace(made, enabled=False, target_kind="look",
                                              target="red", cue=None))  # fmt: skip
    assert (off.enabled, off.target) == (False, "red")
    other = await store.schedules.create_schedule(replace(entry, name="another"))
    assert [s.name for s in (await store.schedules.list_schedules()).items] == [
        "another",
        "nightly",
    ]
    assert [s.name for s in (await store.schedules.list_schedules(enabled=False)).items] == [
        "nightly"
    ]
    assert [s.name for s in (await store.schedules.list_schedules(enabled=True)).items] == [
        "another"
    ]
    await store.schedules.delete_schedule(other.id)
    with pytest.raises(NotFound, match=f"no schedule {other.id}"):
        await store.schedules.get_schedule(other.id)


async def test_schedule_errors(store: Storage) -> None:
    await small_show(store)
    ok = ScheduleEntry(name="a", target="main", dtstart=T0)
    await store.schedules.create_schedule(ok)
    with pytest.raises(Conflict, match='a schedule named "a" already exists'):
        await store.schedules.create_schedule(ok)
    with pytest.raises(ValidationError, match='target: no cue list "ghost"'):
        await store.schedules.create_schedule(replace(ok, name="b", target="ghost"))
    with pytest.raises(ValidationError, match='cue: no cue 9 in cue list "main"'):
        await store.schedules.create_schedule(
            replace(ok, name="b", target_kind="cue", cue=Decimal(9))
        )
    with pytest.raises(ValidationError, match="cue: required when target_kind is cue"):
        await store.schedules.create_schedule(replace(ok, name="b", target_kind="cue"))
    with pytest.raises(ValidationError, match="needs a UTC offset"):
        await store.schedules.create_schedule(replace(ok, name="b", dtstart=datetime(2026, 1, 1)))
    with pytest.raises(NotFound):
        await store.schedules.update_schedule(replace(ok, id=999))


async def test_scheduled_objects_cannot_be_deleted(store: Storage) -> None:
    await small_show(store)
    await store.schedules.create_schedule(
        ScheduleEntry(name="s", target_kind="cue", target="main", cue=Decimal("2.5"), dtstart=T0)
    )
    await store.schedules.create_schedule(ScheduleEntry(name="t", target_kind="look", target="red"))
    with pytest.raises(Conflict, match='schedule "s"'):
        await store.show.delete_cue_list("main")
    with pytest.raises(Conflict, match='schedule "s" fires it'):
        await store.show.delete_cue("main", Decimal("2.5"))
    with pytest.raises(Conflict, match=r'schedule "s" fires cue main/2\.5'):
        await store.show.put_cue_list(CueListDef("main", cues=(CueDef(Decimal(1)),)))
    with pytest.raises(Conflict, match='schedule "t"'):
        await store.show.delete_look("red")
    await store.show.delete_cue("main", Decimal(1))  # not scheduled


async def test_schedule_timing_fields_round_trip(store: Storage) -> None:
    await small_show(store)
    entry = ScheduleEntry(
        name="sunset",
        target_kind="look",
        target="red",
        rrule="FREQ=DAILY",
        dtstart=T0,
        timezone="Europe/Paris",
        anchor="civil_dusk",
        offset_s=-900.0,
        not_before="19:30",
        not_after="25:00",
        end_anchor="clock",
        end_time="01:00",
        valid_from="2026-06-01",
        valid_until="2026-09-30",
        exdates=("2026-07-14", "2026-08-15T21:00:00"),
        rdates=("2026-10-31",),
        fade_s=4.5,
    )
    made = await store.schedules.create_schedule(entry)
    assert made == replace(entry, id=made.id)
    assert await store.schedules.get_schedule(made.id) == made
    sunrise = replace(made, end_anchor="sunrise", end_time="", end_offset_s=600.0, fade_s=None)
    assert await store.schedules.update_schedule(sunrise) == sunrise
    with pytest.raises(ValidationError, match="end_time: required with end_anchor clock"):
        await store.schedules.update_schedule(replace(made, end_time=""))


# --- content assets ----------------------------------------------------------------------------


async def test_asset_versions_and_status(store: Storage) -> None:
    a = await store.assets.create_asset(
        name="Logo", filename="logo.png", content_type="image/png", size=1234,
        sha256="ab" * 32, created_by="marketing1", metadata={"w": 640, "h": 480},
    )  # fmt: skip
    assert (a.version, a.status, a.size) == (1, "pending", 1234)
    assert dict(a.metadata) == {"w": 640, "h": 480}
    approved = await store.assets.update_asset(a.id, status="approved", name="Logo 2026")
    assert (approved.status, approved.name) == ("approved", "Logo 2026")
    v2 = await store.assets.add_asset_version(
        a.id, filename="logo-v2.png", content_type="image/png", size=99, sha256="cd" * 32,
        created_by="marketing2",
    )  # fmt: skip
    assert (v2.version, v2.status, v2.filename, v2.size) == (2, "pending", "logo-v2.png", 99)
    assert (v2.created_at, v2.created_by) == (a.created_at, "marketing1")
    # The approved version goes on playing while the new one waits, through a rejection too.
    assert (a.live_version, approved.live_version, v2.live_version) == (None, 1, 1)
    assert v2.live_filename == "logo.png"
    rejected = await store.assets.update_asset(a.id, status="rejected")
    assert (rejected.live_version, rejected.live_filename) == (1, "logo.png")
    live = await store.assets.update_asset(a.id, status="approved")
    assert (live.live_version, live.live_filename) == (2, "logo-v2.png")
    versions = await store.assets.list_asset_versions(a.id)
    assert [(v.version, v.filename, v.created_by) for v in versions.items] == [
        (2, "logo-v2.png", "marketing2"),
        (1, "logo.png", "marketing1"),
    ]
    b = await store.assets.create_asset(
        name="Clip", filename="c.mp4", content_type="video/mp4", size=1, sha256="", created_by="x"
    )
    await store.assets.update_asset(b.id, status="rejected")
    assert [x.id for x in (await store.assets.list_assets()).items] == [a.id, b.id]
    assert [x.id for x in (await store.assets.list_assets(status="rejected")).items] == [b.id]
    with pytest.raises(ValidationError, match="status: must be one of"):
        await store.assets.update_asset(b.id, status="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="size: "):
        await store.assets.create_asset(
            name="n", filename="f", content_type="t", size=-1, sha256="", created_by="x"
        )
    await store.assets.delete_asset(a.id)
    with pytest.raises(NotFound, match=f"no content asset {a.id}"):
        await store.assets.get_asset(a.id)
    with pytest.raises(NotFound):
        await store.assets.list_asset_versions(a.id)


# --- users -------------------------------------------------------------------------------------


async def test_users(store: Storage) -> None:
    alice = await store.users.create_user(
        "alice", role="admin", password_hash="$argon2id$x", email="Alice@example.org"
    )
    assert alice.id > 0
    assert (alice.role, alice.disabled, alice.last_login) == ("admin", False, None)
    assert alice.created_at.tzinfo is not None
    assert await store.users.get_user("alice") == alice
    assert await store.users.get_user_by_id(alice.id) == alice
    with pytest.raises(Conflict, match='username "alice" is taken'):
        await store.users.create_user("alice", role="viewer", password_hash="h")
    with pytest.raises(Conflict, match="belongs to another user"):
        await store.users.create_user(
            "bob", role="viewer", password_hash="h", email="alice@EXAMPLE.org"
        )
    await store.users.create_user("bob", role="viewer", password_hash="h")
    await store.users.create_user(
        "carol", role="marketing", password_hash="h"
    )  # two empty emails: ok
    with pytest.raises(ValidationError, match="role: must be one of"):
        await store.users.create_user("dave", role="root", password_hash="h")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="username: must not be empty"):
        await store.users.create_user(" ", role="viewer", password_hash="h")

    bob = await store.users.update_user("bob", role="operator", disabled=True)
    assert (bob.role, bob.disabled, bob.password_hash) == ("operator", True, "h")
    with pytest.raises(Conflict):
        await store.users.update_user("bob", email="ALICE@example.org")
    await store.users.record_login("bob", T0)
    assert (await store.users.get_user("bob")).last_login == T0
    with pytest.raises(NotFound, match='no user "zed"'):
        await store.users.record_login("zed")
    with pytest.raises(NotFound):
        await store.users.update_user("zed", role="admin")

    first = await store.users.list_users(limit=2)
    rest = await store.users.list_users(limit=2, cursor=first.next)
    assert [u.username for u in first.items + rest.items] == ["alice", "bob", "carol"]
    assert rest.next is None


# --- audit log ---------------------------------------------------------------------------------


async def audit(store: Storage, n: int, **kw: Any) -> None:
    args: dict[str, Any] = {
        "actor": "alice", "role": "operator", "origin": "ui", "action": "cue.go",
        "target": "main/1", "detail": {"n": n}, "address": "10.0.0.5",
        "at": T0 + timedelta(seconds=n),
    }  # fmt: skip
    args.update(kw)
    await store.audit.append_audit(**args)


async def test_audit_newest_first_with_filters(store: Storage) -> None:
    await audit(store, 0)
    await audit(store, 1, actor="bob", origin="api", action="cue.back")
    await audit(store, 2, actor="system", role="admin", origin="schedule", action="look.fire")
    await audit(store, 3, action="cuelist.put", detail={"n": 3, "d": Decimal("1.5"), "t": T0})
    await audit(store, 4, origin="socket", action="emergency.release")

    page = await store.audit.list_audit()
    assert [e.detail.get("n") for e in page.items] == [4, 3, 2, 1, 0]
    newest = page.items[0]
    assert (newest.actor, newest.role, newest.origin, newest.action, newest.address) == (
        "alice", "operator", "socket", "emergency.release", "10.0.0.5",
    )  # fmt: skip
    assert newest.at == T0 + timedelta(seconds=4)
    assert dict(page.items[1].detail) == {"n": 3, "d": "1.5", "t": T0.isoformat()}

    async def ns(**kw: Any) -> list[int]:
        return [e.detail["n"] for e in (await store.audit.list_audit(**kw)).items]

    assert await ns(actor="alice") == [4, 3, 0]
    assert await ns(action="cue.go") == [0]
    assert await ns(action="cue.*") == [1, 0]  # a prefix: not "cuelist.put"
    assert await ns(action="cue*") == [3, 1, 0]
    assert await ns(origin="schedule") == [2]
    assert await ns(since=T0 + timedelta(seconds=2)) == [4, 3, 2]
    assert await ns(until=T0 + timedelta(seconds=2)) == [1, 0]
    assert await ns(actor="alice", since=T0 + timedelta(seconds=1)) == [4, 3]

    first = await store.audit.list_audit(limit=2, actor="alice")
    second = await store.audit.list_audit(limit=2, actor="alice", cursor=first.next)
    assert [e.detail["n"] for e in first.items + second.items] == [4, 3, 0]
    assert second.next is None

    assert await store.audit.prune_audit(T0 + timedelta(seconds=2)) == 2
    assert await ns() == [4, 3, 2]


async def test_audit_input_is_checked(store: Storage) -> None:
    with pytest.raises(ValidationError, match="origin: must be one of"):
        await audit(store, 0, origin="carrier-pigeon")
    with pytest.raises(ValidationError, match="detail: "):
        await audit(store, 0, detail={"x": object()})
    with pytest.raises(ValidationError, match="needs a UTC offset"):
        await audit(store, 0, at=datetime(2026, 1, 1))
    await store.audit.append_audit(actor="system", role="admin", origin="system", action="start")
    entry = (await store.audit.list_audit()).items[0]
    assert (entry.target, dict(entry.detail), entry.address) == ("", {}, "")
    assert abs((entry.at - datetime.now(UTC)).total_seconds()) < 60


# --- runtime state -----------------------------------------------------------------------------


async def test_state_survives_close_and_reopen(open_store: StoreFactory) -> None:
    doc = {"lists": {"main": {"current": "2.5", "started_wall": 1747764000.125}}, "gm": 0.75}
    async with open_store() as store:
        assert await store.state.load_state("playback") is None
        await store.state.save_state("playback", {"old": True})
        await store.state.save_state("playback", doc)
        await store.state.save_state("other", {"x": [1, None, "é"]})
    async with open_store() as store:
        assert await store.state.load_state("playback") == doc
        await store.state.delete_state("other")
        assert await store.state.load_state("other") is None
        with pytest.raises(ValidationError, match="not storable as JSON"):
            await store.state.save_state("bad", {"x": {1, 2}})


KILLED_WRITER = """
import json, sys
from pathlib import Path
import trio
from trocadero.config.schema import StorageConfig
from trocadero.core.storage import open_storage

async def main() -> None:
    config = StorageConfig(**json.loads(sys.argv[1]))
    async with open_storage(config, Path(sys.argv[2])) as store:
        i = 0
        while True:
            i += 1
            await store.state.save_state("playback", {"i": i})
            print(i, flush=True)  # only after save_state returned

trio.run(main)
"""


async def test_saved_state_survives_kill_9(
    store_config: StorageConfig, open_store: StoreFactory, tmp_path: Path
) -> None:
    def run_and_kill() -> int:
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, json.dumps(asdict(store_config)), str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        last = 0
        try:
            for line in proc.stdout:
                last = int(line)
                if last >= 30:
                    proc.send_signal(signal.SIGKILL)
                    break
            last = max([last, *(int(x) for x in proc.stdout.read().split())])
        finally:
            proc.kill()
            proc.wait(timeout=30)
            proc.stdout.close()
        return last

    confirmed = await trio.to_thread.run_sync(run_and_kill)
    assert confirmed >= 30
    async with open_store() as store:
        saved = await store.state.load_state("playback")
    assert saved is not None
    assert saved["i"] >= confirmed  # every save that returned is there
