"""`trocadero backup` and `trocadero restore` (docs/backup.md).

Exit codes as the rest of the CLI: 0 ok, 2 bad usage or config, 1 the backup or restore
failed (one line naming what is wrong).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2


def add_parsers(sub: Any) -> None:
    backup = sub.add_parser(
        "backup",
        help="make a backup now (the daemon may be running)",
        description=(
            "Make one consistent backup of the store (SQLite online backup or pg_dump), the"
            " content library, the signing key, the config and the show file into one archive"
            " at the configured [backup] destinations (or --to), then apply retention there."
        ),
    )
    backup.add_argument("--config", type=Path, metavar="PATH", help="the daemon's TOML config")
    backup.add_argument(
        "--to",
        action="append",
        metavar="DIR_OR_S3_URL",
        help="destination instead of the configured ones (a directory or s3://bucket/prefix;"
        " repeatable)",
    )
    restore = sub.add_parser(
        "restore",
        help="restore a backup (the daemon must be stopped)",
        description=(
            "Verify every member of an archive, then restore the store, the content and the"
            " signing key for the config at --config (written from the archive when missing)."
        ),
    )
    restore.add_argument("source", metavar="ARCHIVE_OR_S3_URL")
    restore.add_argument("--config", type=Path, metavar="PATH", required=True)
    restore.add_argument(
        "--force", action="store_true", help="replace a non-empty store and content library"
    )
    restore.add_argument(
        "--with-config",
        action="store_true",
        help="also overwrite the config file and the show file with the archived ones",
    )
    restore.add_argument("--staging", type=Path, metavar="DIR", help="unpack here first")
    restore.add_argument("--s3-endpoint-url", default="", metavar="URL")
    restore.add_argument(
        "--s3-credentials-file", default="", metavar="PATH", help="two lines: key id, secret"
    )


def run_backup_command(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from trocadero.config import ConfigError, load_config, load_default_config

    from .backup import BackupError
    from .backup_run import run_backup
    from .backup_targets import LocalTarget, Target, s3_target
    from .statefile import resolve_state_dir

    try:
        config = load_default_config() if args.config is None else load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    state_dir = resolve_state_dir(config.state.directory, os.environ)
    try:
        targets: list[Target] | None = None
        if args.to:
            targets = [
                s3_target(replace(config.backup, s3_url=to), to)
                if to.startswith("s3://")
                else LocalTarget(Path(to))
                for to in args.to
            ]
        result = run_backup(config, args.config, state_dir, targets=targets)
    except (BackupError, OSError) as exc:
        print(f"trocadero backup: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    print(
        f"{result.archive}: {result.size} bytes in {result.duration_s:.2f} s,"
        f" stored at {', '.join(result.stored_at)}"
    )
    for name in result.deleted:
        print(f"retention: deleted {name}")
    return EXIT_OK


def run_restore_command(args: argparse.Namespace) -> int:
    from .backup import BackupError
    from .backup_restore import RestoreOptions, restore

    options = RestoreOptions(
        force=args.force,
        with_config=args.with_config,
        staging=args.staging,
        s3_endpoint_url=args.s3_endpoint_url,
        s3_credentials_file=args.s3_credentials_file,
    )
    try:
        restore(args.source, args.config, options, print)
    except (BackupError, OSError) as exc:
        print(f"trocadero restore: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    print("restored: start the daemon")
    return EXIT_OK
