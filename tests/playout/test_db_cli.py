"""`trocadero db setup-roles` against a real PostgreSQL: the role it makes is the one the
daemon can run as (migrations already applied, row-level security binding it)."""

from __future__ import annotations

import subprocess
import sys

from tests.postgres_server import PostgresServer

ROLE = "fleet_daemon"


def test_setup_roles_makes_a_role_that_rls_binds(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    database = postgres_dsn.rsplit("/", 1)[1]
    cmd = [sys.executable, "-m", "trocadero.playout.cli", "db", "setup-roles", "--role", ROLE]
    missing = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode == 2
    assert "--owner-dsn" in missing.stderr
    done = subprocess.run(
        [*cmd, "--owner-dsn", postgres_dsn, "--password-stdin"],
        input="s3cret\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"role {ROLE} created: NOBYPASSRLS" in done.stdout
    flags = postgres_server.psql(
        "SELECT rolcanlogin, rolbypassrls, rolsuper, rolpassword IS NOT NULL"
        f" FROM pg_authid WHERE rolname = '{ROLE}'",
        database,
    )
    assert flags.strip() == "t|f|f|t"
    # A second run corrects rather than fails (after an upgrade, say).
    again = subprocess.run(
        [*cmd, "--owner-dsn", postgres_dsn],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert f"role {ROLE} updated" in again.stdout
    # As that role the registry row of tenant 1 shows only with tenant 1 set.
    postgres_server.psql(
        "INSERT INTO device_registry (device_id, tenant_id, provisioned_at, provisioned_by)"
        " VALUES ('00967', 1, now(), 'test')",
        database,
    )
    unset = postgres_server.psql(f"SET ROLE {ROLE}; SELECT count(*) FROM device_registry", database)
    assert unset.strip() == "0"
    as_one = postgres_server.psql(
        f"SET ROLE {ROLE}; SET app.current_tenant_id = '1'; SELECT count(*) FROM device_registry",
        database,
    )
    assert as_one.strip() == "1"
