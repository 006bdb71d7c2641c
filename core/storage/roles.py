"""The application's PostgreSQL role: what the daemon connects as (docs/fleet.md).

Row-level security binds only roles that do not own the tables and cannot bypass it, so the
daemon must not connect as the schema's owner. `setup_app_role` runs on a connection of the
owner (who also applies the migrations) and makes or corrects a login role that is
NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB, with plain read/write on the tables, none on
the position partitions (policies live on the partitioned parent, not on each month), and
EXECUTE on the two partition functions that do the DDL it may not. Re-run it after an
upgrade: tables added by later migrations get their grants the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from .base import ValidationError
from .driver import Driver

__all__ = ["RoleReport", "setup_app_role"]

_ROLE_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_READ_ONLY: Final = frozenset({"schema_migrations"})  # the ledger: the owner writes it
_DEFINER_FUNCTIONS: Final = (
    "fleet_create_position_partition(timestamptz)",
    "fleet_drop_position_partition(text)",
)


@dataclass(frozen=True, slots=True)
class RoleReport:
    role: str
    created: bool  # False: it existed and was corrected
    tables: int  # tables granted read/write (or read, the ledger)
    partitions_revoked: int


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def setup_app_role(driver: Driver, role: str, password: str | None) -> RoleReport:
    """Create or correct `role` on the owner's `driver` (a PostgreSQL store, migrated)."""
    if driver.dialect.name != "postgres":
        raise ValidationError(["roles: only PostgreSQL has roles (SQLite is single-tenant)"])
    if not _ROLE_NAME.match(role):
        raise ValidationError([f"role: {role!r} is not a plain lower-case identifier"])
    attributes = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION"
    if password is not None:  # DDL takes no parameters: a quoted literal
        attributes += f" PASSWORD {_quote_literal(password)}"
    async with driver.transaction(write=True) as tx:
        exists = await tx.fetchval("SELECT 1 AS e FROM pg_roles WHERE rolname = ?", role)
        verb = "ALTER" if exists else "CREATE"
        await tx.execute(f'{verb} ROLE "{role}" WITH {attributes}')
        owner = await tx.fetchval(
            "SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE oid = to_regclass('devices')"
        )
        if owner == role:
            raise ValidationError(
                [f"role: {role!r} owns the tables; the daemon's role must not (docs/fleet.md)"]
            )
        await tx.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        tables = await tx.fetch(
            "SELECT c.relname AS name, c.relispartition AS part FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
            " ORDER BY c.relname LIMIT 100000"
        )
        granted = revoked = 0
        for t in tables:
            name = t["name"]
            if t["part"]:  # a month of positions read directly would skip the policies
                await tx.execute(f'REVOKE ALL ON TABLE "{name}" FROM "{role}"')
                revoked += 1
                continue
            rights = "SELECT" if name in _READ_ONLY else "SELECT, INSERT, UPDATE, DELETE"
            await tx.execute(f'GRANT {rights} ON TABLE "{name}" TO "{role}"')
            granted += 1
        await tx.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
        for fn in _DEFINER_FUNCTIONS:
            await tx.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
            await tx.execute(f'GRANT EXECUTE ON FUNCTION {fn} TO "{role}"')
    return RoleReport(role, not exists, granted, revoked)
