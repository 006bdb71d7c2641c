"""`trocadero restore`: put an archive's store, content, signing key and (optionally) config
back on a machine whose daemon is stopped.

Order: fetch (S3) → unpack into a staging directory, every member checked against the
manifest (a corrupted archive is refused there, naming the member, before anything live is
touched) → the config (written when missing, or with --with-config) → refuse a non-empty store
unless --force → SQLite files renamed into place / pg_restore → content → signing key.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .backup import (
    AUTH_KEY_MEMBER,
    CONFIG_MEMBER,
    FLEET_DB,
    MAIN_DB,
    PG_DUMP,
    SHOW_MEMBER,
    BackupError,
    Manifest,
    content_dir,
    unpack_verified,
)

if TYPE_CHECKING:
    from trocadero.config import Config


@dataclass(frozen=True, slots=True)
class RestoreOptions:
    force: bool = False
    with_config: bool = False
    staging: Path | None = None  # where the archive is unpacked first; None: $TMPDIR
    s3_endpoint_url: str = ""
    s3_credentials_file: str = ""
    s3_region: str = "us-east-1"


def restore(
    source: str, config_path: Path, options: RestoreOptions, say: Callable[[str], None]
) -> Manifest:
    if options.staging is not None:
        options.staging.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="trocadero-restore-", dir=options.staging) as tmp:
        work = Path(tmp)
        archive = _fetch(source, config_path, options, work)
        staged = work / "unpacked"
        staged.mkdir()
        manifest = unpack_verified(archive, staged)
        say(
            f"{archive.name}: {len(manifest.members)} members verified (made {manifest.created_at}"
            f" on {manifest.hostname}, trocadero {manifest.trocadero_version})"
        )
        config = _config(staged, config_path, options, say)
        if manifest.backend != config.storage.backend:
            raise BackupError(
                f"{archive.name} holds a {manifest.backend} store but {config_path} configures"
                f" [storage] backend = {config.storage.backend!r}"
            )
        _apply(staged, config, options, say)
    return manifest


def _fetch(source: str, config_path: Path, options: RestoreOptions, work: Path) -> Path:
    if not source.startswith("s3://"):
        return Path(source)
    from .backup_targets import S3Target, parse_s3_url, s3_client, s3_credentials

    endpoint, creds_file, region = (
        options.s3_endpoint_url,
        options.s3_credentials_file,
        options.s3_region,
    )
    if config_path.is_file() and not (endpoint or creds_file):
        cfg = _load(config_path).backup  # the configured S3 peer, when the machine has one
        endpoint, creds_file, region = cfg.s3_endpoint_url, cfg.s3_credentials_file, cfg.s3_region
    bucket, key = parse_s3_url(source)
    key = key.rstrip("/")
    client = s3_client(endpoint, region, s3_credentials(creds_file, dict(os.environ)))
    to = work / Path(key).name
    S3Target(client, bucket, "").download(key, to)
    return to


def _load(path: Path) -> Config:
    from trocadero.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise BackupError(str(exc)) from exc


def _config(
    staged: Path, path: Path, options: RestoreOptions, say: Callable[[str], None]
) -> Config:
    archived = staged / CONFIG_MEMBER
    if not path.exists() or options.with_config:
        if not archived.is_file():
            raise BackupError(f"{path} does not exist and the archive holds no config file")
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace_file(archived, path, mode=0o640)
        say(f"config: wrote {path}")
    config = _load(path)
    show = staged / SHOW_MEMBER
    if config.show.path and show.is_file():
        target = Path(config.show.path)
        if not target.exists() or options.with_config:
            target.parent.mkdir(parents=True, exist_ok=True)
            _replace_file(show, target, mode=0o640)
            say(f"show: wrote {target}")
    return config


def _apply(
    staged: Path, config: Config, options: RestoreOptions, say: Callable[[str], None]
) -> None:
    from trocadero.core.storage import fleet_sqlite_path, sqlite_path

    from .statefile import resolve_state_dir

    state_dir = resolve_state_dir(config.state.directory, os.environ)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = config.storage
    content = content_dir(config, state_dir)
    if (pid := _daemon_running(state_dir)) is not None:  # even with --force: never under it
        raise BackupError(f"the daemon is running on {state_dir} (pid {pid}): stop it first")
    if not options.force:
        busy = _non_empty(config, state_dir, content)
        if busy:
            raise BackupError(
                f"refusing to overwrite a non-empty store: {busy}; restore with --force to"
                " replace it (stop the daemon first)"
            )
    if st.backend == "sqlite":
        pairs = [(MAIN_DB, sqlite_path(st, state_dir))]
        fleet = fleet_sqlite_path(st, state_dir)
        if fleet is not None:
            pairs.append((FLEET_DB, fleet))
        for member, target in pairs:
            if (staged / member).is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                for suffix in ("-wal", "-shm", "-journal"):  # a stale log would replay on top
                    Path(f"{target}{suffix}").unlink(missing_ok=True)
                _replace_file(staged / member, target, mode=0o600)
                say(f"store: {target}")
    else:
        _pg_restore(staged / PG_DUMP, st.postgres_dsn, clean=options.force)
        say("store: pg_restore into the configured database")
    if (staged / "content").is_dir():
        assets = content / "assets"
        if assets.exists():
            shutil.rmtree(assets)
        content.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staged / "content" / "assets"), assets)
        say(f"content: {assets}")
    if (staged / AUTH_KEY_MEMBER).is_file():
        _replace_file(staged / AUTH_KEY_MEMBER, state_dir / "auth.key", mode=0o600)


def _daemon_running(state_dir: Path) -> int | None:
    """The pid of a live daemon on this state directory, from its daemon.json."""
    from .statefile import StateFile

    record = StateFile(state_dir).read()
    if not record or record.get("clean_shutdown", True):
        return None
    pid = record.get("pid")
    if not isinstance(pid, int):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None  # gone: an unclean stop, not a running daemon
    return pid if b"trocadero" in cmdline else None


def _non_empty(config: Config, state_dir: Path, content: Path) -> str:
    from trocadero.core.storage import sqlite_path

    if config.storage.backend == "sqlite":
        db = sqlite_path(config.storage, state_dir)
        if db.is_file() and db.stat().st_size > 0:
            return str(db)
    else:
        tables = _psql(
            config.storage.postgres_dsn,
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
        )
        if tables.strip() not in ("", "0"):
            return f"the PostgreSQL database has {tables.strip()} tables"
    assets = content / "assets"
    if assets.is_dir() and any(assets.iterdir()):
        return str(assets)
    return ""


def _psql(dsn: str, sql: str) -> str:
    binary = shutil.which("psql")
    if binary is None:
        raise BackupError("psql not found: install the PostgreSQL client (postgresql-client)")
    done = subprocess.run(
        [binary, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "--dbname", dsn, "-c", sql],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"PostgreSQL: {done.stderr.strip()}")
    return done.stdout


def _pg_restore(dump: Path, dsn: str, *, clean: bool) -> None:
    if not dump.is_file():
        raise BackupError(f"the archive holds no {PG_DUMP}")
    binary = shutil.which("pg_restore")
    if binary is None:
        raise BackupError("pg_restore not found: install the PostgreSQL client")
    cmd = [binary, "--no-owner", "--exit-on-error", "--single-transaction", "--dbname", dsn]
    if clean:
        cmd += ["--clean", "--if-exists"]
    done = subprocess.run([*cmd, str(dump)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")


def _replace_file(src: Path, target: Path, *, mode: int) -> None:
    """Copy then rename: the target is either the old file or the whole new one."""
    tmp = target.with_name(f".{target.name}.restore")
    shutil.copyfile(src, tmp)
    tmp.chmod(mode)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    tmp.replace(target)
