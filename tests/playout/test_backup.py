"""Backups and restore (docs/backup.md): the full drill on SQLite and on PostgreSQL (a show
changed through the API, `trocadero backup` while the daemon runs, the state wiped,
`trocadero restore`, the same show and the same frames on the wire), S3 round trip and
retention against a real S3-compatible server (gofakes3), a corrupted archive refused naming
the member, and a scheduled backup reported in /healthz."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_harness import Daemon, free_port, write_config
from tests.playout.test_content_upload import make_clip
from tests.postgres_server import PostgresServer
from tests.s3_server import ACCESS_KEY, SECRET_KEY, S3Server, S3Unavailable
from tests.sacn_capture import Capture, Received
from trocadero.config import parse_config
from trocadero.playout.backup import (
    ARCHIVE_RE,
    MAIN_DB,
    SIDECAR,
    BackupError,
    Manifest,
    created_at_of,
    unpack_verified,
)
from trocadero.playout.backup_retention import to_delete
from trocadero.playout.backup_run import run_backup
from trocadero.playout.backup_targets import Stored

# One 170-pixel canvas on universe 1, linear (gamma 1): a slot is the look's colour byte.
SHOW = """
name = "backup drill"
[[canvases]]
name = "c"
width = 170
height = 1
[[fixture_types]]
name = "linear"
gamma = 1.0
[[fixtures]]
name = "c-strip"
canvas = "c"
type = "linear"
pixels = 170
universe = 1
[[looks]]
name = "white"
canvases = [{ canvas = "c", layers = [{ source = "solid", params = { colour = "#ffffff" } }] }]
[[cue_lists]]
name = "main"
cues = [{ number = "1", look = "white", up_fade = 0.0, down_fade = 0.0 }]
"""


@pytest.fixture
def s3_server(tmp_path: Path) -> Iterator[S3Server]:
    try:
        server = S3Server.start(tmp_path / "s3")
    except S3Unavailable as exc:
        pytest.fail(f"gofakes3 is required for these tests: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def archives(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if ARCHIVE_RE.match(p.name)]


def trocadero(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trocadero", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def config_for(tmp_path: Path, port: int, capture: Capture, extra: str = "") -> Path:
    (tmp_path / "show.toml").write_text(SHOW)
    return write_config(
        tmp_path / "trocadero.toml",
        port,
        tmp_path / "state",
        f'[show]\npath = "{tmp_path / "show.toml"}"\n'
        f'[[outputs]]\nname = "s"\nprotocol = "sacn"\nuniverses = "1"\n'
        f'destinations = ["127.0.0.1:{capture.port}"]\n'
        f'[backup]\ndirectory = "{tmp_path / "backups"}"\n{extra}',
    )


def start(tmp_path: Path, config: Path, port: int) -> Daemon:
    with open(tmp_path / "daemon.log", "ab") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "trocadero", "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    daemon = Daemon(proc, port, tmp_path / "daemon.log")
    daemon.wait_healthy()
    return daemon


def frames_after(capture: Capture, after_ns: int, count: int = 5) -> list[Received]:
    deadline = time.monotonic() + 10
    while True:
        found = [p for p in list(capture.packets) if p.universe == 1 and p.rx_ns > after_ns]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, "no sACN packets on universe 1"
        time.sleep(0.02)


def change_the_show(daemon: Daemon, tmp_path: Path) -> None:
    """A look edited, a cue added, a schedule entry, an uploaded content file; GO."""
    layer = {"source": "solid", "params": {"colour": "#336699"}}
    look = {"canvases": [{"canvas": "c", "layers": [layer]}]}
    r = daemon.put("/api/looks/white", json=look)
    assert r.status_code in (200, 201), r.text
    r = daemon.put("/api/cue-lists/main/cues/2", json={"look": "white", "label": "added"})
    assert r.status_code == 201, r.text
    r = daemon.post(
        "/api/schedule",
        json={
            "name": "restored-entry",
            "target_kind": "cue_list",
            "target": "main",
            "rrule": "FREQ=WEEKLY;BYDAY=MO",
            "dtstart": "2026-01-05T20:00:00+00:00",
            "duration_s": 3600.0,
        },
    )
    assert r.status_code == 201, r.text
    clip = make_clip(tmp_path / "clip.mp4", frames=12)
    base = "/api/content/uploads"
    r = daemon.post(base, json={"name": "Clip", "filename": "clip.mp4", "size": len(clip)})
    assert r.status_code == 201, r.text
    upload = r.json()["upload_id"]
    assert daemon.put(f"{base}/{upload}?offset=0", content=clip).status_code == 200
    sha = hashlib.sha256(clip).hexdigest()
    r = daemon.post(f"{base}/{upload}/complete", json={"sha256": sha}, timeout=30)
    assert r.status_code == 201, r.text
    assert daemon.post("/api/cue-lists/main/go").status_code == 200


def show_state(daemon: Daemon) -> dict[str, Any]:
    """What the user sees of the changed show, through the API."""
    entries = daemon.get("/api/schedule").json()["entries"]
    return {
        "look": daemon.get("/api/looks/white").json(),
        "cues": daemon.get("/api/cue-lists/main").json(),
        "schedule": sorted((e["name"], e["rrule"]) for e in entries),
        "content": daemon.get("/api/content").json()["items"],
        "playing": [
            (lst["name"], lst["current"]) for lst in daemon.get("/api/playback").json()["lists"]
        ],
    }


def drill(tmp_path: Path, extra: str = "", wipe_database: Any = None) -> None:
    port = free_port()
    with Capture() as capture:
        config = config_for(tmp_path, port, capture, extra)
        first = start(tmp_path, config, port)
        try:
            change_the_show(first, tmp_path)
            time.sleep(0.3)
            before_frames = frames_after(capture, time.time_ns())
            before = show_state(first)
            done = trocadero("backup", "--config", str(config))  # while it runs
            assert done.returncode == 0, done.stderr
            assert first.health()["status"] == "ok"
            archive = archives(tmp_path / "backups")[0]
            live = trocadero("restore", str(archive), "--config", str(config), "--force")
            assert live.returncode == 1
            assert "the daemon is running" in live.stderr
        finally:
            assert first.stop()[0] == 0
        (archive,) = archives(tmp_path / "backups")
        assert archive.name in done.stdout
        shutil.rmtree(tmp_path / "state")
        if wipe_database is not None:
            wipe_database()
        restored = trocadero("restore", str(archive), "--config", str(config))
        assert restored.returncode == 0, restored.stderr
        again = trocadero("restore", str(archive), "--config", str(config))
        assert again.returncode == 1
        assert "refusing to overwrite a non-empty store" in again.stderr
        forced = trocadero("restore", str(archive), "--config", str(config), "--force")
        assert forced.returncode == 0, forced.stderr
        stopped = time.time_ns()
        second = start(tmp_path, config, port)
        try:
            after_frames = frames_after(capture, stopped + 1)
            after = show_state(second)
        finally:
            assert second.stop()[0] == 0
    assert after == before
    assert before["look"]["canvases"][0]["layers"][0]["params"]["colour"] == "#336699"
    assert ("restored-entry", "FREQ=WEEKLY;BYDAY=MO") in after["schedule"]
    assert [c["name"] for c in after["content"]] == ["Clip"]
    assert [c["number"] for c in after["cues"]["cues"]] == ["1", "2"]
    assert ("main", "1") in after["playing"]
    # The same look on the wire: #336699 in every pixel, from the first frames after restore.
    assert before_frames[-1].slots[:6] == bytes([0x33, 0x66, 0x99] * 2)
    assert {p.slots for p in after_frames[-3:]} == {before_frames[-1].slots}


def test_drill_on_sqlite_backup_wipe_restore_same_show_and_frames(tmp_path: Path) -> None:
    drill(tmp_path)
    manifest = next((tmp_path / "backups").glob(f"*{SIDECAR}")).read_bytes()
    members = Manifest.from_json(manifest, "sidecar").members
    assert {MAIN_DB, "store/fleet.sqlite", "config/config.toml", "config/show.toml"} <= set(members)
    assert any(m.startswith("content/assets/") for m in members)


def test_drill_on_postgresql(
    tmp_path: Path, postgres_dsn: str, postgres_server: PostgresServer
) -> None:
    database = postgres_dsn.rsplit("/", 1)[-1].split("?")[0]

    def wipe() -> None:  # a fresh machine: an empty database of the same name
        postgres_server.drop_database(database)
        postgres_server.create_database(database)

    drill(
        tmp_path,
        f'[storage]\nbackend = "postgres"\npostgres_dsn = "{postgres_dsn}"\n',
        wipe_database=wipe,
    )


def small_state(tmp_path: Path, text: str = "hello") -> Path:
    state = tmp_path / "state"
    state.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(state / "trocadero.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS t (v TEXT)")
        db.execute("INSERT INTO t VALUES (?)", (text,))
    (state / "content" / "assets" / "1").mkdir(parents=True, exist_ok=True)
    (state / "content" / "assets" / "1" / "v1-a.bin").write_bytes(b"\x01" * 5000)
    return state


def s3_config_text(tmp_path: Path, s3: S3Server, extra: str = "") -> str:
    creds = tmp_path / "s3.key"
    creds.write_text(f"{ACCESS_KEY}\n{SECRET_KEY}\n")
    return (
        f'[state]\ndirectory = "{tmp_path / "state"}"\n'
        f'[backup]\ns3_url = "s3://{s3.bucket}/site-a"\ns3_endpoint_url = "{s3.endpoint_url}"\n'
        f's3_credentials_file = "{creds}"\n{extra}'
    )


def test_s3_round_trip_through_the_cli(tmp_path: Path, s3_server: S3Server) -> None:
    small_state(tmp_path, "from the first machine")
    config = tmp_path / "trocadero.toml"
    config.write_text(s3_config_text(tmp_path, s3_server))
    done = trocadero("backup", "--config", str(config))
    assert done.returncode == 0, done.stderr
    keys = s3_server.keys()
    (archive,) = [k for k in keys if not k.endswith(SIDECAR)]
    assert archive.startswith("site-a/trocadero-backup-")
    assert archive + SIDECAR in keys
    assert not (tmp_path / "state" / ".backup-staging").exists()
    shutil.rmtree(tmp_path / "state")
    kept = config.read_text()
    config.unlink()  # a fresh machine: no config yet, it comes from the archive
    url = f"s3://{s3_server.bucket}/{archive}"
    restored = trocadero(
        "restore",
        url,
        "--config",
        str(config),
        "--s3-endpoint-url",
        s3_server.endpoint_url,
        "--s3-credentials-file",
        str(tmp_path / "s3.key"),
    )
    assert restored.returncode == 0, restored.stderr
    assert config.read_text() == kept
    with sqlite3.connect(tmp_path / "state" / "trocadero.db") as db:
        assert db.execute("SELECT v FROM t").fetchall() == [("from the first machine",)]
    assert (tmp_path / "state/content/assets/1/v1-a.bin").read_bytes() == b"\x01" * 5000


def test_retention_on_s3_keeps_the_newest_and_never_touches_others(
    tmp_path: Path, s3_server: S3Server
) -> None:
    import boto3

    small_state(tmp_path)
    config = parse_config(
        s3_config_text(tmp_path, s3_server, "keep_last = 2\n"), source="test.toml"
    )
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    # Not ours: an archive-like name without a manifest, and an unrelated object.
    stray = "site-a/trocadero-backup-20000101T000000Z-other.tar.zst"
    client.put_object(Bucket=s3_server.bucket, Key=stray, Body=b"not ours")
    client.put_object(Bucket=s3_server.bucket, Key="site-a/notes.txt", Body=b"keep me")
    t0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    names = []
    for day in range(4):
        result = run_backup(config, None, tmp_path / "state", now=t0 + timedelta(days=day))
        names.append(result.archive)
    keys = set(s3_server.keys())
    kept = {k for k in keys if k.startswith("site-a/trocadero-backup-2026")}
    assert kept == {f"site-a/{n}{s}" for n in names[-2:] for s in ("", SIDECAR)}
    assert {stray, "site-a/notes.txt"} <= keys
    # keep_days: everything older than a day goes, but never the newest successful one.
    aged = replace(config, backup=replace(config.backup, keep_last=0, keep_days=1.0))
    run_backup(aged, None, tmp_path / "state", now=t0 + timedelta(days=30))
    keys = set(s3_server.keys())
    assert len([k for k in keys if k.endswith(SIDECAR)]) == 1
    assert {stray, "site-a/notes.txt"} <= keys


def test_retention_rules_oldest_first_newest_kept() -> None:
    def stored(day: int, ours: bool = True) -> Stored:
        name = f"trocadero-backup-202612{day:02d}T030000Z-h.tar.zst"
        m = Manifest("", "h", "sqlite", "0", archive=name if ours else "other")
        return Stored(name, m)

    found = [stored(d) for d in (1, 2, 3, 4)] + [stored(5, ours=False)]
    now = datetime(2026, 12, 30, tzinfo=UTC)
    assert to_delete(found, keep_last=2, keep_days=0, now=now) == [
        found[0].name,
        found[1].name,
    ]
    # All older than keep_days: all but the newest of ours (day 5's manifest is not ours).
    assert to_delete(found, keep_last=0, keep_days=3, now=now) == [f.name for f in found[:3]]
    assert created_at_of(found[0].name) == datetime(2026, 12, 1, 3, tzinfo=UTC)


def test_a_corrupted_archive_is_refused_naming_the_member(tmp_path: Path) -> None:
    state = small_state(tmp_path / "old")
    config = tmp_path / "old" / "trocadero.toml"
    config.write_text(f'[state]\ndirectory = "{state}"\n[backup]\ndirectory = "{tmp_path / "b"}"\n')
    assert trocadero("backup", "--config", str(config)).returncode == 0
    (good,) = archives(tmp_path / "b")
    # Same manifest, one member's bytes changed: a well-formed archive that lies.
    unpacked = tmp_path / "unpacked"
    unpack_verified(good, unpacked)
    (unpacked / "content/assets/1/v1-a.bin").write_bytes(b"\x02" * 5000)
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        for path in sorted(unpacked.rglob("*")):
            if path.is_file():
                tar.add(path, path.relative_to(unpacked).as_posix())
        tar.add(_manifest_of(good), "manifest.json")
    fresh = tmp_path / "new"
    fresh_config = tmp_path / "new.toml"
    fresh_config.write_text(f'[state]\ndirectory = "{fresh}"\n')
    done = trocadero("restore", str(bad), "--config", str(fresh_config))
    assert done.returncode == 1
    assert "member content/assets/1/v1-a.bin: sha256" in done.stderr
    assert not fresh.exists()  # nothing touched
    # A truncated archive: refused as damaged.
    cut = tmp_path / good.name
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    done = trocadero("restore", str(cut), "--config", str(fresh_config))
    assert done.returncode == 1
    assert "damaged" in done.stderr or "missing" in done.stderr, done.stderr
    assert not fresh.exists()
    with pytest.raises(BackupError, match="no such archive"):
        unpack_verified(tmp_path / "nothing.tar.zst", tmp_path / "x")


def _manifest_of(archive: Path) -> Path:
    out = archive.parent / "manifest-extracted"
    out.mkdir(exist_ok=True)
    target = out / "manifest.json"
    raw = subprocess.run(
        ["tar", "-xOf", str(archive), "manifest.json"], capture_output=True, check=True
    ).stdout
    target.write_bytes(raw)
    return target


def test_scheduled_backup_runs_and_shows_in_healthz(tmp_path: Path) -> None:
    port = free_port()
    with Capture() as capture:
        config = config_for(tmp_path, port, capture, "enabled = true\ninterval_s = 1.0\n")
        daemon = start(tmp_path, config, port)
        try:
            deadline = time.monotonic() + 30
            while (backup := daemon.health().get("backup") or {}).get("runs", 0) < 1:
                assert time.monotonic() < deadline, daemon.log()
                time.sleep(0.1)
        finally:
            assert daemon.stop()[0] == 0
    assert backup["failures"] == 0
    assert backup["last_size_bytes"] > 0
    assert backup["last_success_at"] == pytest.approx(time.time(), abs=60)
    assert (tmp_path / "backups" / backup["last_archive"]).is_file()


def test_schedule_times_and_config_rules() -> None:
    from trocadero.config import ConfigError
    from trocadero.playout.backup_schedule import next_due

    daily = parse_config('[backup]\ndaily_at = "03:30"\n', source="t.toml").backup
    at = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    assert next_due(daily, at) == datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
    assert next_due(daily, at.replace(hour=4)) == datetime(2026, 12, 8, 3, 30, tzinfo=UTC)
    every = parse_config("[backup]\ninterval_s = 600\n", source="t.toml").backup
    assert next_due(every, at) == at + timedelta(minutes=10)
    for text, problem in (
        ("enabled = true\n", "backup.directory: a destination is required"),
        ('daily_at = "25:00"\n', "backup.daily_at: must be HH:MM"),
        ('s3_url = "http://x"\n', "backup.s3_url: must be s3://bucket"),
    ):
        with pytest.raises(ConfigError, match=problem):
            parse_config(f"[backup]\n{text}", source="t.toml")
