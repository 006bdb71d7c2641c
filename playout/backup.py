"""One backup archive: what goes in, how it is written, how it is read back and verified.

An archive is a tar stream (zstd when the `zstd` program is there, else gzip) named
``trocadero-backup-<UTC time>-<host>.tar.zst``. Its members:

    store/main.sqlite, store/fleet.sqlite   SQLite online backups (sqlite3 backup API)
    store/postgres.dump                     pg_dump --format=custom (backend postgres)
    content/…                               the content library's finished files (assets/)
    state/auth.key                          the token signing key (logins survive a restore)
    config/config.toml, config/show.toml    the config file and the show file
    manifest.json                           last: version, created_at, hostname, backend,
                                            trocadero version, sha256 and size of every member

It is written under a ``.partial`` name and renamed once complete and fsynced, so a backup
under the final name is always whole. Nothing here schedules or uploads (backup_targets.py,
backup_schedule.py); nothing here touches the live state on restore (backup_restore.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

if TYPE_CHECKING:
    from trocadero.config import Config

FORMAT_VERSION: Final = 1
MANIFEST: Final = "manifest.json"
PREFIX: Final = "trocadero-backup-"
# The names retention may ever delete: ours, by pattern (and then by manifest).
ARCHIVE_RE: Final = re.compile(
    r"^trocadero-backup-(?P<at>\d{8}T\d{6}Z)-(?P<host>[A-Za-z0-9._-]+)\.tar\.(?:zst|gz)$"
)
SIDECAR: Final = ".manifest.json"  # beside each archive: what retention reads, no download
MAIN_DB: Final = "store/main.sqlite"
FLEET_DB: Final = "store/fleet.sqlite"
PG_DUMP: Final = "store/postgres.dump"
CONFIG_MEMBER: Final = "config/config.toml"
SHOW_MEMBER: Final = "config/show.toml"
AUTH_KEY_MEMBER: Final = "state/auth.key"
CHUNK: Final = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot be done; the message names what is wrong."""


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the things to back up are, resolved from a config."""

    backend: str
    sqlite_files: tuple[tuple[str, Path], ...]  # (member, live file)
    postgres_dsn: str
    content_dir: Path | None
    files: tuple[tuple[str, Path], ...]  # plain files copied as they are (member, path)


def sources_of(config: Config, config_path: Path | None, state_dir: Path) -> Sources:
    from trocadero.core.storage import fleet_sqlite_path, sqlite_path

    st = config.storage
    sqlite_files: list[tuple[str, Path]] = []
    if st.backend == "sqlite":
        sqlite_files.append((MAIN_DB, sqlite_path(st, state_dir)))
        fleet = fleet_sqlite_path(st, state_dir)
        if fleet is not None and fleet.exists():
            sqlite_files.append((FLEET_DB, fleet))
    content = content_dir(config, state_dir)
    files: list[tuple[str, Path]] = []
    if (state_dir / "auth.key").is_file():
        files.append((AUTH_KEY_MEMBER, state_dir / "auth.key"))
    if config.backup.include_config:
        if config_path is not None:
            files.append((CONFIG_MEMBER, config_path))
        if config.show.path:
            files.append((SHOW_MEMBER, Path(config.show.path)))
    return Sources(
        backend=st.backend,
        sqlite_files=tuple(sqlite_files),
        postgres_dsn=st.postgres_dsn if st.backend == "postgres" else "",
        content_dir=content if (content / "assets").is_dir() else None,
        files=tuple(files),
    )


def content_dir(config: Config, state_dir: Path) -> Path:
    """The content library's directory, as the daemon resolves it."""
    return Path(config.content.directory) if config.content.directory else state_dir / "content"


@dataclass(frozen=True, slots=True)
class Manifest:
    created_at: str  # ISO 8601, UTC
    hostname: str
    backend: str
    trocadero_version: str
    members: dict[str, str] = field(default_factory=dict)  # name → sha256 hex
    sizes: dict[str, int] = field(default_factory=dict)
    version: int = FORMAT_VERSION
    archive: str = ""  # the archive's file name (in the sidecar; empty inside the archive)

    def to_json(self) -> bytes:
        body = {
            "tool": "trocadero",
            "version": self.version,
            "created_at": self.created_at,
            "hostname": self.hostname,
            "backend": self.backend,
            "trocadero_version": self.trocadero_version,
            "members": self.members,
            "sizes": self.sizes,
        }
        if self.archive:
            body["archive"] = self.archive
        return json.dumps(body, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> Manifest:
        try:
            body = json.loads(raw)
            if body.get("tool") != "trocadero":
                raise ValueError("not a trocadero manifest")
            if body["version"] != FORMAT_VERSION:
                raise ValueError(f"format version {body['version']} (this trocadero reads 1)")
            members = {str(k): str(v) for k, v in body["members"].items()}
            sizes = {str(k): int(v) for k, v in body["sizes"].items()}
            return cls(
                created_at=str(body["created_at"]),
                hostname=str(body["hostname"]),
                backend=str(body["backend"]),
                trocadero_version=str(body["trocadero_version"]),
                members=members,
                sizes=sizes,
                version=int(body["version"]),
                archive=str(body.get("archive", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"{where}: unreadable manifest ({exc})") from exc


def archive_name(at: datetime, host: str, compression: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", host)[:60] or "host"
    return f"{PREFIX}{at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{safe}.tar.{compression}"


def created_at_of(name: str) -> datetime | None:
    m = ARCHIVE_RE.match(name)
    if m is None:
        return None
    return datetime.strptime(m["at"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def compression() -> str:
    """zstd when the program is installed (fast, off the GIL in its own process), else gzip."""
    return "zst" if shutil.which("zstd") else "gz"


@dataclass(frozen=True, slots=True)
class Made:
    path: Path
    manifest: Manifest
    size: int


def create_archive(sources: Sources, out_dir: Path, *, now: datetime | None = None) -> Made:
    """Write one archive into `out_dir` (temp name, then renamed) and its sidecar manifest."""
    from trocadero import __version__

    now = now or datetime.now(UTC)
    host = socket.gethostname()
    comp = compression()
    name = archive_name(now, host, comp)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / name
    partial = out_dir / f".{name}.partial"
    manifest = Manifest(
        created_at=now.astimezone(UTC).isoformat(timespec="seconds"),
        hostname=host,
        backend=sources.backend,
        trocadero_version=__version__,
    )
    try:
        with tempfile.TemporaryDirectory(prefix=".backup-", dir=out_dir) as tmp:
            dumps = _dump_store(sources, Path(tmp))
            with _writer(partial, comp) as tar:
                for member, path in dumps:
                    _add(tar, manifest, member, path)
                if sources.content_dir is not None:
                    for path in _content_files(sources.content_dir):
                        rel = path.relative_to(sources.content_dir).as_posix()
                        _add(tar, manifest, f"content/{rel}", path)
                for member, path in sources.files:
                    if not path.is_file():
                        raise BackupError(f"{member}: {path} is not a readable file")
                    _add(tar, manifest, member, path)
                raw = manifest.to_json()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(raw), int(now.timestamp()), 0o600
                tar.addfile(info, _BytesReader(raw))
        _fsync(partial)
        partial.rename(final)
        sidecar = replace(manifest, archive=name)
        _write_atomic(out_dir / (name + SIDECAR), sidecar.to_json())
        _fsync_dir(out_dir)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Made(final, sidecar, final.stat().st_size)


def _dump_store(sources: Sources, tmp: Path) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    for member, live in sources.sqlite_files:
        copy = tmp / member.replace("/", "_")
        sqlite_backup(live, copy)
        out.append((member, copy))
    if sources.postgres_dsn:
        dump = tmp / "postgres.dump"
        pg_dump(sources.postgres_dsn, dump)
        out.append((PG_DUMP, dump))
    return out


def sqlite_backup(live: Path, copy: Path) -> None:
    """A consistent copy of a live SQLite file (the online backup API: the daemon's writers
    carry on; pages written during the copy make it restart from where they changed)."""
    if not live.is_file():
        raise BackupError(f"SQLite store {live} does not exist")
    try:
        src = sqlite3.connect(f"file:{live}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(copy)
            try:
                # Steps of 4096 pages with a short sleep: the daemon's writers get the lock
                # between steps instead of waiting for the whole copy.
                src.backup(dst, pages=4096, sleep=0.002)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup of {live}: {exc}") from exc


def pg_dump(dsn: str, out: Path) -> None:
    binary = _pg_tool("pg_dump")
    done = subprocess.run(
        [binary, "--format=custom", "--no-owner", "--file", str(out), "--dbname", dsn],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip() or done.returncode}")


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client (postgresql-client)")
    return found


def _content_files(root: Path) -> Iterator[Path]:
    """The library's finished files; uploads still arriving are not part of the show."""
    for path in sorted((root / "assets").rglob("*")):
        if path.is_file() and not path.name.endswith(".part"):
            yield path


@contextmanager
def _writer(path: Path, comp: str) -> Iterator[tarfile.TarFile]:
    if comp == "gz":
        with tarfile.open(path, "w|gz", compresslevel=3) as tar:
            yield tar
        return
    with open(path, "wb") as out:
        proc = subprocess.Popen(
            ["zstd", "-q", "-3", "-T0", "-c"], stdin=subprocess.PIPE, stdout=out
        )
    assert proc.stdin is not None
    try:
        with tarfile.open(fileobj=proc.stdin, mode="w|") as tar:
            yield tar
        proc.stdin.close()
        if proc.wait() != 0:
            raise BackupError(f"zstd exited {proc.returncode} writing {path}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class _HashingReader:
    """Feeds tarfile and hashes what it reads: the manifest's sum is of the bytes stored."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.sha.update(data)
        return data


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n < 0 else self.at + n
        out, self.at = self.data[self.at : end], min(end, len(self.data))
        return out


def _add(tar: tarfile.TarFile, manifest: Manifest, member: str, path: Path) -> None:
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        info = tarfile.TarInfo(member)
        info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), st.st_mode & 0o777
        reader = _HashingReader(f)
        tar.addfile(info, reader)  # read() is all tarfile uses
    manifest.members[member] = reader.sha.hexdigest()
    manifest.sizes[member] = st.st_size


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.rename(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- reading back ---------------------------------------------------------------------------


def unpack_verified(archive: Path, into: Path) -> Manifest:
    """Unpack `archive` into the empty directory `into`, checking every member against the
    manifest; raise BackupError naming the first member that is wrong. Nothing else is
    touched, so a refused archive leaves the machine as it was."""
    sums: dict[str, str] = {}
    raw_manifest: bytes | None = None
    current = "(archive header)"
    try:
        with _reader(archive) as tar:
            for info in tar:
                current = info.name
                if info.isdir():
                    continue
                if not info.isfile():
                    raise BackupError(f"{archive.name}: member {info.name}: not a regular file")
                target = _safe_target(into, info.name, archive)
                src = tar.extractfile(info)
                assert src is not None
                if info.name == MANIFEST:
                    raw_manifest = src.read()
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                sha = hashlib.sha256()
                with open(target, "wb") as out:
                    while chunk := src.read(CHUNK):
                        sha.update(chunk)
                        out.write(chunk)
                target.chmod(info.mode & 0o777 or 0o600)
                sums[info.name] = sha.hexdigest()
    except (tarfile.TarError, EOFError, OSError, BackupError) as exc:
        if isinstance(exc, BackupError):
            raise
        raise BackupError(f"{archive.name}: damaged at member {current}: {exc}") from exc
    if raw_manifest is None:
        raise BackupError(f"{archive.name}: no {MANIFEST}: not a trocadero backup")
    manifest = Manifest.from_json(raw_manifest, f"{archive.name}: {MANIFEST}")
    for name, expected in sorted(manifest.members.items()):
        got = sums.get(name)
        if got is None:
            raise BackupError(f"{archive.name}: member {name}: listed in the manifest but missing")
        if got != expected:
            raise BackupError(
                f"{archive.name}: member {name}: sha256 {got} does not match the manifest's"
                f" {expected} (corrupted archive; nothing was restored)"
            )
    if extra := sorted(set(sums) - set(manifest.members)):
        raise BackupError(f"{archive.name}: member {extra[0]}: not in the manifest")
    return manifest


def _safe_target(into: Path, name: str, archive: Path) -> Path:
    parts = Path(name).parts
    if Path(name).is_absolute() or ".." in parts or not parts:
        raise BackupError(f"{archive.name}: member {name}: unsafe path")
    return into.joinpath(*parts)


@contextmanager
def _reader(path: Path) -> Iterator[tarfile.TarFile]:
    if not path.is_file():
        raise BackupError(f"{path}: no such archive")
    if path.name.endswith(".gz"):
        with tarfile.open(path, "r|gz") as tar:
            yield tar
        return
    if shutil.which("zstd") is None:
        raise BackupError(f"{path.name}: zstd archives need the zstd program")
    proc = subprocess.Popen(
        ["zstd", "-q", "-d", "-c", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            yield tar
        proc.stdout.read()  # the end of the stream: zstd checks its checksum there
        if proc.wait() != 0:
            raise BackupError(
                f"{path.name}: damaged: {proc.stderr.read().decode(errors='replace').strip()}"
            )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
