"""A throwaway PostgreSQL cluster for tests (Debian's `postgresql` package, never a mock).

`PostgresServer.start(base)` runs `initdb` and `pg_ctl start` on a free loopback port with its
data directory and Unix socket under `base`; `stop()` shuts it down. PostgreSQL refuses to run
as root, so as root both run as the `postgres` user (`runuser -u postgres --`). Binaries are
found under /usr/lib/postgresql/*/bin (newest first) or via $TROCADERO_PG_BIN.

`create_database()` gives each test an empty database of its own (a DSN to it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "install Debian's postgresql package (./dev setup test does)"
SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and psql."""
    override = os.environ.get("TROCADERO_PG_BIN")
    if override:
        candidates = [override]
    else:
        found = [str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")]
        candidates = sorted(found, key=_version, reverse=True)
        initdb = shutil.which("initdb")
        if initdb:
            candidates.append(str(Path(initdb).resolve().parent))
    for c in candidates:
        if all((Path(c) / tool).is_file() for tool in ("initdb", "pg_ctl", "psql")):
            return Path(c)
    raise PostgresUnavailable(
        f"PostgreSQL server binaries not found (looked in {candidates or '/usr/lib/postgresql'});"
        f" {INSTALL_HINT}, or set TROCADERO_PG_BIN"
    )


def _version(bindir: str) -> tuple[int, ...]:
    part = Path(bindir).parent.name
    return tuple(int(x) for x in part.split(".") if x.isdigit()) or (0,)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    bindir: Path
    base: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    @staticmethod
    def _as_postgres() -> list[str]:
        return ["runuser", "-u", SUPERUSER, "--"] if os.geteuid() == 0 else []

    def _run(self, *cmd: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as_postgres(), *cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.base,
        )

    @classmethod
    def start(cls, base: Path) -> PostgresServer:
        """initdb + start in `base` (created; made the postgres user's when running as root)."""
        bindir = find_bindir()
        base.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(base, user=SUPERUSER, group=SUPERUSER)
        server = cls(bindir, base, free_port())
        init = server._run(
            str(bindir / "initdb"),
            "-D",
            str(server.datadir),
            "-U",
            SUPERUSER,
            "-A",
            "trust",  # loopback and the private socket only
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        for attempt in range(3):
            if attempt:
                server.port = free_port()  # the port was taken in between: try another
            options = " ".join(
                [
                    f"-p {server.port}",
                    f"-k {server.socket_dir}",
                    f"-c listen_addresses={server.host}",
                    "-c fsync=off",  # a throwaway cluster: speed over crash safety
                    "-c max_connections=60",
                ]
            )
            started = server._run(
                str(bindir / "pg_ctl"),
                "-D",
                str(server.datadir),
                "-l",
                str(server.base / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            )
            if started.returncode == 0:
                return server
        log = (server.base / "server.log").read_text(errors="replace")[-4000:]
        raise PostgresUnavailable(f"pg_ctl start failed:\n{started.stderr}\n{log}")

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-At",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql {sql!r} failed: {done.stderr}")
        return done.stdout

    def create_database(self, name: str) -> str:
        """A new empty database; returns its DSN."""
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every session ends (and with it its advisory locks)."""
        done = self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.base / "server.log"),
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
            "restart",
        )
        if done.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl restart failed:\n{done.stderr}")

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop")
        deadline = time.monotonic() + 10
        while (self.datadir / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
