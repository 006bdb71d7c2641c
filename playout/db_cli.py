"""`trocadero db setup-roles`: the PostgreSQL role the daemon connects as (docs/fleet.md).

Run by whoever owns the schema (or a superuser), with that role's DSN: applies pending
migrations as the owner, then creates or corrects the daemon's login role so row-level
security binds it (NOBYPASSRLS, not the owner, no rights on position partitions). The
daemon's `[storage] postgres_dsn` then names that role. Re-run after every upgrade.
Exit codes as the rest of the CLI: 0 ok, 2 bad usage, 1 runtime failure.
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


def add_parser(sub: Any) -> None:
    db = sub.add_parser(
        "db",
        help="database administration (PostgreSQL roles)",
        description="Database administration that needs the schema owner's rights.",
    )
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    setup = actions.add_parser(
        "setup-roles",
        help="migrate as the owner and create the daemon's row-level-security-bound role",
        description=(
            "Apply pending migrations as the schema owner (--owner-dsn), then create or "
            "correct the login role the daemon connects as: NOSUPERUSER NOBYPASSRLS, not the "
            "tables' owner, read/write on the tables, nothing on position partitions. Put "
            "that role in [storage] postgres_dsn."
        ),
    )
    setup.add_argument(
        "--owner-dsn",
        default=os.environ.get("TROCADERO_OWNER_DSN", ""),
        help="DSN of the schema owner (default: $TROCADERO_OWNER_DSN)",
    )
    setup.add_argument("--role", default="trocadero_app", help="the daemon's role name")
    setup.add_argument(
        "--password-stdin", action="store_true", help="set the role's password (one line)"
    )


def run_db(args: argparse.Namespace) -> int:
    if not args.owner_dsn:
        print("db setup-roles: --owner-dsn (or $TROCADERO_OWNER_DSN) is required", file=sys.stderr)
        return EXIT_USAGE
    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None
    import trio

    return trio.run(_setup_roles, args.owner_dsn, args.role, password)


async def _setup_roles(dsn: str, role: str, password: str | None) -> int:
    from trocadero.config.schema import StorageConfig
    from trocadero.core.storage import StorageError, open_storage
    from trocadero.core.storage.sql import SqlStorage

    config = StorageConfig(backend="postgres", postgres_dsn=dsn, pool_min=1, pool_max=1)
    try:
        async with open_storage(config, Path()) as store:
            assert isinstance(store, SqlStorage)
            try:
                report = await store.setup_app_role(role, password)
            except StorageError as exc:
                print(f"db setup-roles: {exc}", file=sys.stderr)
                return EXIT_RUNTIME
    except StorageError as exc:
        print(f"db setup-roles: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    print(
        f"role {report.role} {'created' if report.created else 'updated'}: NOBYPASSRLS,"
        f" read/write on {report.tables} tables, no rights on {report.partitions_revoked}"
        " position partitions"
    )
    return EXIT_OK
