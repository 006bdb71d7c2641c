"""The daemon's run record in the state directory, written atomically.

At start the record is marked `clean_shutdown: false`; an orderly stop rewrites it as
clean. Finding it unclean at the next start tells the operator (and, later, the restart
logic) that the previous run crashed or lost power.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RECORD_NAME = "daemon.json"


def resolve_state_dir(configured: str, environ: Mapping[str, str]) -> Path:
    """Config value, else systemd's $STATE_DIRECTORY, else $XDG_STATE_HOME/trocadero."""
    if configured:
        return Path(configured)
    if environ.get("STATE_DIRECTORY"):
        # systemd may pass several colon-separated directories; the first is ours.
        return Path(environ["STATE_DIRECTORY"].split(":")[0])
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "trocadero"


def state_dir_problems(directory: Path) -> list[str]:
    """Why the daemon could not keep its state in `directory` ("state.directory: …")."""
    if directory.exists():
        if not directory.is_dir():
            return [f"state.directory: {directory} is not a directory"]
        if not os.access(directory, os.W_OK | os.X_OK):
            return [f"state.directory: {directory} is not writable by uid {os.geteuid()}"]
        return []
    parent = directory.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return [
            f"state.directory: {directory} does not exist and cannot be created"
            f" ({parent} is not a writable directory for uid {os.geteuid()})"
        ]
    return []


class StateFile:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / RECORD_NAME

    def read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            return {"unreadable": str(exc), "clean_shutdown": False}
        return data if isinstance(data, dict) else None

    def begin_run(self) -> dict[str, Any] | None:
        """Record that a run started; return the previous run's record."""
        self.directory.mkdir(parents=True, exist_ok=True)
        previous = self.read()
        self._write({"pid": os.getpid(), "started_at": time.time(), "clean_shutdown": False})
        return previous

    def end_run(self, summary: Mapping[str, Any]) -> None:
        record = self.read() or {}
        record.update(summary)
        record.update({"stopped_at": time.time(), "clean_shutdown": True})
        self._write(record)

    def _write(self, record: Mapping[str, Any]) -> None:
        write_atomic(self.path, json.dumps(record, indent=2, sort_keys=True))


def write_atomic(path: Path, text: str) -> None:
    """Write-to-temp + fsync + rename (+ fsync of the folder): a power cut leaves the old
    or the new file, never a torn one."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
