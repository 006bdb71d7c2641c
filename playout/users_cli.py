"""`trocadero users`: account recovery on the appliance (docs/auth.md).

`[auth] admin_password` only helps on an empty store; once the only admin has forgotten its
password (or every admin is disabled) nobody can log in to fix it over the API. These
commands work directly on the store of a config, the same config `trocadero run --config`
reads (state directory, storage backend), with or without the daemon running: SQLite allows a
second writer, and the daemon re-reads revoked logins every few seconds.

Every change goes through `AuthService`, so the rules (password length, the last enabled
admin) and the audit log are the API's. Exit codes as the rest of the CLI: 0 ok, 2 bad usage
or config, 1 runtime failure.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trocadero.config import Config
    from trocadero.core.auth import AuthService
    from trocadero.core.commands import Actor

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2

ROLES = ("admin", "operator", "marketing", "viewer")  # core.model.ROLES (a test checks)


def add_parser(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, metavar="PATH", help="the daemon's TOML config (default: embedded)"
    )
    users = sub.add_parser(
        "users",
        help="list, add, reset or enable accounts (recovery on the appliance)",
        description=(
            "Manage accounts directly on the configured store, with or without the daemon "
            "running: for when nobody can log in any more."
        ),
    )
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="list the accounts")
    add = actions.add_parser(
        "add",
        parents=[common],
        help="create an account",
        description=(
            "Create an account. Prints a generated one-time password that must be changed at "
            "first login, unless --password-stdin gives the password."
        ),
    )
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (one line)"
    )
    reset = actions.add_parser(
        "reset-password",
        parents=[common],
        help="give an account a new one-time password",
        description=(
            "Print a new one-time password, to be changed at the next login; every login of "
            "the account is cut off."
        ),
    )
    reset.add_argument("name")
    enable = actions.add_parser("enable", parents=[common], help="enable a disabled account")
    enable.add_argument("name")


def run_users(args: argparse.Namespace) -> int:
    from trocadero.config import ConfigError, load_config, load_default_config
    from trocadero.core.storage import sqlite_path

    from .statefile import resolve_state_dir

    try:
        config = load_default_config() if args.config is None else load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    state_dir = resolve_state_dir(config.state.directory, os.environ)
    if config.storage.backend == "sqlite":
        db = sqlite_path(config.storage, state_dir)
        if not db.is_file():
            # Creating an empty store here would hide a wrong --config.
            print(f"no store at {db} (has the daemon run with this config?)", file=sys.stderr)
            return EXIT_RUNTIME
    password = None
    if getattr(args, "password_stdin", False):
        password = sys.stdin.readline().rstrip("\r\n")

    import trio

    return trio.run(_run, args, config, state_dir, password)


async def _run(
    args: argparse.Namespace, config: Config, state_dir: Path, password: str | None
) -> int:
    from trocadero.core.auth import AuthError, AuthService
    from trocadero.core.commands import Actor
    from trocadero.core.errors import InvalidArgument, RefusedError
    from trocadero.core.storage import Conflict, NotFound, StorageError, open_storage

    try:
        async with open_storage(config.storage, state_dir) as store:
            # Errors are handled inside: the store's context may wrap them in a group.
            try:
                # This process never issues tokens: a throwaway signing key will do.
                auth = AuthService(store, secrets.token_bytes(32), config.auth)
                actor = Actor(f"cli:{_unix_user()}", "admin", "system")
                return await _action(args, auth, actor, password)
            except InvalidArgument as exc:  # a password the rules refuse
                print(exc, file=sys.stderr)
                return EXIT_USAGE
            except (AuthError, RefusedError) as exc:  # e.g. the last admin
                print(exc, file=sys.stderr)
                return EXIT_RUNTIME
            except NotFound:
                print(f"no user named {args.name!r}", file=sys.stderr)
                return EXIT_RUNTIME
            except Conflict as exc:
                print(exc, file=sys.stderr)
                return EXIT_RUNTIME
    except (StorageError, OSError) as exc:
        print(f"storage ({config.storage.backend}): {exc}", file=sys.stderr)
        return EXIT_RUNTIME


async def _action(
    args: argparse.Namespace, auth: AuthService, actor: Actor, password: str | None
) -> int:
    command = args.users_command
    if command == "list":
        cursor = None
        print(f"{'NAME':<24} {'ROLE':<10} {'STATE':<9} LAST LOGIN")
        while True:
            page = await auth.store.users.list_users(limit=500, cursor=cursor)
            for u in page.items:
                state = "disabled" if u.disabled else "enabled"
                last = u.last_login.isoformat(timespec="seconds") if u.last_login else "never"
                print(f"{u.username:<24} {u.role:<10} {state:<9} {last}")
            if not page.next:
                return EXIT_OK
            cursor = page.next
    if command == "add":
        one_time = password is None
        chosen = secrets.token_urlsafe(12) if password is None else password
        await auth.create_user(actor, args.name, args.role, chosen, must_change=one_time)
        if one_time:
            print(f"created {args.name} ({args.role}); one-time password: {chosen}")
            print("it must be changed at first login")
        else:
            print(f"created {args.name} ({args.role})")
        return EXIT_OK
    if command == "reset-password":
        chosen = await auth.reset_password(actor, args.name)
        print(f"{args.name}: one-time password: {chosen}")
        print("it must be changed at the next login; every login of the account was cut off")
        return EXIT_OK
    assert command == "enable"
    await auth.update_user(actor, args.name, disabled=False)
    print(f"enabled {args.name}")
    return EXIT_OK


def _unix_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return str(os.getuid())
