"""Scheduled backups in the daemon: a supervised subsystem that runs `run_backup` in a worker
thread every `interval_s` or once a day at `daily_at`, and keeps the figures /healthz shows
(`backup` section: last success, last failure, duration, size)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from trocadero.core.statistics import counter, detail, gauge

from .backup import BackupError
from .backup_run import RunResult, run_backup
from .logs import get_logger

if TYPE_CHECKING:
    from trocadero.config import Config
    from trocadero.config.schema import BackupConfig

log = get_logger("backup")


@dataclass(frozen=True, slots=True)
class BackupStatistics:
    runs: int = field(metadata=counter())  # successful backups
    failures: int = field(metadata=counter())
    last_success_at: float | None = field(metadata=gauge())  # Unix time
    last_failure_at: float | None = field(metadata=gauge())
    last_failure: str | None = field(metadata=detail())
    last_duration_s: float | None = field(metadata=gauge())
    last_size_bytes: int | None = field(metadata=gauge())
    last_archive: str | None = field(metadata=detail())
    next_at: float | None = field(metadata=gauge())


@dataclass
class BackupStats:
    runs: int = 0
    failures: int = 0
    last_success_at: float | None = None
    last_failure_at: float | None = None
    last_failure: str | None = None
    last_duration_s: float | None = None
    last_size_bytes: int | None = None
    last_archive: str | None = None
    next_at: float | None = None

    def succeeded(self, result: RunResult, at: float) -> None:
        self.runs += 1
        self.last_success_at = at
        self.last_duration_s = round(result.duration_s, 3)
        self.last_size_bytes = result.size
        self.last_archive = result.archive

    def failed(self, reason: str, at: float) -> None:
        self.failures += 1
        self.last_failure_at, self.last_failure = at, reason

    def statistics(self) -> BackupStatistics:
        return BackupStatistics(
            runs=self.runs,
            failures=self.failures,
            last_success_at=self.last_success_at,
            last_failure_at=self.last_failure_at,
            last_failure=self.last_failure,
            last_duration_s=self.last_duration_s,
            last_size_bytes=self.last_size_bytes,
            last_archive=self.last_archive,
            next_at=self.next_at,
        )


def next_due(cfg: BackupConfig, now: datetime) -> datetime:
    """When the next backup is due after `now` (an aware local time)."""
    if not cfg.daily_at:
        return now + timedelta(seconds=cfg.interval_s)
    hh, _, mm = cfg.daily_at.partition(":")
    at = now.replace(hour=int(hh), minute=int(mm), second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


async def serve_backups(
    config: Config,
    config_path: Path | None,
    state_dir: Path,
    stats: BackupStats,
    alert: Callable[[str, str], object] | None = None,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    task_status.started()
    job = partial(run_backup, config, config_path, state_dir)
    while True:
        due = next_due(config.backup, datetime.now().astimezone())
        stats.next_at = due.timestamp()
        await trio.sleep(max(0.0, due.timestamp() - time.time()))
        stats.next_at = None
        try:
            # A worker thread: SQLite's backup steps, zstd and uploads run off the Trio thread.
            result = await trio.to_thread.run_sync(job)
        except (BackupError, OSError) as exc:
            stats.failed(str(exc), time.time())
            if alert is not None:  # the operators' consoles, and the journal
                alert("backup", f"backup failed: {exc}")
            else:
                log.error("backup failed", error=str(exc))
            continue
        stats.succeeded(result, time.time())
        log.info(
            "backup made",
            archive=result.archive,
            size=result.size,
            duration_s=round(result.duration_s, 3),
            stored_at=list(result.stored_at),
            deleted=list(result.deleted),
        )
