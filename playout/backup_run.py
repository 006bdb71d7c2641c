"""One backup run: make the archive, store it at every destination, apply retention there.
Blocking (SQLite backup, pg_dump, compression, uploads): the daemon calls it from a worker
thread, the CLI directly."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .backup import BackupError, create_archive, sources_of
from .backup_retention import to_delete
from .backup_targets import LocalTarget, Target, targets_of

if TYPE_CHECKING:
    from trocadero.config import Config


@dataclass(frozen=True, slots=True)
class RunResult:
    archive: str
    size: int
    duration_s: float
    stored_at: tuple[str, ...]
    deleted: tuple[str, ...]


def run_backup(
    config: Config,
    config_path: Path | None,
    state_dir: Path,
    *,
    targets: list[Target] | None = None,
    now: datetime | None = None,
) -> RunResult:
    t0 = time.monotonic()
    targets = targets_of(config.backup) if targets is None else targets
    if not targets:
        raise BackupError("no destination: set [backup] directory or s3_url, or pass --to")
    now = now or datetime.now(UTC)
    sources = sources_of(config, config_path, state_dir)
    local = next((t for t in targets if isinstance(t, LocalTarget)), None)
    # Made in the local destination when there is one (renamed into place there), else in a
    # staging directory of the state directory (same disk as the data: no tmpfs surprises).
    staging = None if local is not None else state_dir / ".backup-staging"
    out = local.directory if local is not None else state_dir / ".backup-staging"
    made = create_archive(sources, out, now=now)
    try:
        stored, deleted = [], []
        for target in targets:
            target.put(made)
            stored.append(target.label)
            doomed = to_delete(
                target.list(),
                keep_last=config.backup.keep_last,
                keep_days=config.backup.keep_days,
                now=now,
            )
            for name in doomed:
                target.delete(name)
                deleted.append(f"{target.label.rstrip('/')}/{name}")
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return RunResult(
        archive=made.path.name,
        size=made.size,
        duration_s=time.monotonic() - t0,
        stored_at=tuple(stored),
        deleted=tuple(deleted),
    )
