"""Data safety at start-up: a missing store beside an earlier installation's state is never
silently re-seeded (with the default show and a new admin), a damaged store is a runtime
failure (exit 1), and check-config checks the state directory and the device ids."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.daemon_harness import free_port, running_daemon, write_config


def trocadero(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trocadero", *args], capture_output=True, text=True, timeout=timeout
    )


def test_a_missing_store_beside_earlier_state_is_not_reseeded(tmp_path: Path) -> None:
    with running_daemon(tmp_path) as d:
        d.wait_healthy()
        assert d.stop()[0] == 0
    state = tmp_path / "state"
    assert (state / "auth.key").exists()
    key = (state / "auth.key").read_bytes()
    for name in ("trocadero.db", "trocadero.db-wal", "trocadero.db-shm"):
        (state / name).unlink(missing_ok=True)
    config = tmp_path / "trocadero.toml"
    done = trocadero("run", "--config", str(config))
    assert done.returncode == 1, done.stdout + done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert "the store is missing or empty" in line
    assert "auth.key" in line
    assert "--reseed" in line
    assert "one-time password" not in done.stdout  # no new admin was made
    assert (state / "auth.key").read_bytes() == key  # nothing of the old state touched
    # Twice refused is still refused (the empty file the refusal left is not a seed).
    assert trocadero("run", "--config", str(config)).returncode == 1


def test_reseed_starts_the_daemon(tmp_path: Path) -> None:
    with running_daemon(tmp_path) as d:
        d.wait_healthy()
        assert d.stop()[0] == 0
    state = tmp_path / "state"
    for name in ("trocadero.db", "trocadero.db-wal", "trocadero.db-shm"):
        (state / name).unlink(missing_ok=True)
    config = tmp_path / "trocadero.toml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "trocadero", "run", "--reseed", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "trocadero ready" in line:
                break
            if "store seeded from the show file" in line:
                continue
        else:
            raise AssertionError("the re-seeded daemon did not become ready")
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_a_damaged_store_exits_1_not_2(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "trocadero.db").write_bytes(b"this is not a database at all" * 200)
    config = write_config(tmp_path / "t.toml", free_port(), state)
    done = trocadero("run", "--config", str(config))
    assert done.returncode == 1, done.stderr
    assert "the database is damaged" in done.stderr
    assert (state / "trocadero.db").read_bytes().startswith(b"this is not")  # left as found


def test_check_config_checks_the_state_directory(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    config = write_config(tmp_path / "a.toml", 8440, not_a_dir)
    done = trocadero("check-config", str(config))
    assert done.returncode == 2
    assert f"state.directory: {not_a_dir} is not a directory" in done.stderr
    config = write_config(tmp_path / "b.toml", 8440, not_a_dir / "below")
    done = trocadero("check-config", str(config))
    assert done.returncode == 2
    assert "does not exist and cannot be created" in done.stderr
    config = write_config(tmp_path / "c.toml", 8440, tmp_path / "new" / "state")
    assert trocadero("check-config", str(config)).returncode == 0  # can be created


def test_check_config_checks_device_ids(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "t.toml",
        8440,
        tmp_path / "state",
        '[mdvr]\nallowed_devices = ["00967", "bad,id", "", "' + "9" * 40 + '"]\n',
    )
    done = trocadero("check-config", str(config))
    assert done.returncode == 2
    assert "mdvr.allowed_devices[1]: a device id has no ','" in done.stderr
    assert "mdvr.allowed_devices[2]: a device id is 1 to 32 bytes" in done.stderr
    assert "mdvr.allowed_devices[3]: a device id is 1 to 32 bytes" in done.stderr
