"""The unit, sysusers and tmpfiles snippets are checked by systemd's own tools."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: ./dev test installs Debian's systemd package")
    return path


def test_unit_verifies(tmp_path: Path) -> None:
    unit = (SYSTEMD / "trocadero.service").read_text()
    # verify checks that ExecStart exists: point it at this checkout's entry point.
    exe = Path(sys.executable).with_name("trocadero")
    assert "ExecStart=/opt/trocadero/.venv/bin/trocadero run" in unit
    local = tmp_path / "trocadero.service"
    local.write_text(unit.replace("/opt/trocadero/.venv/bin/trocadero", str(exe)))
    result = subprocess.run(
        [require("systemd-analyze"), "verify", str(local)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_unit_has_required_settings() -> None:
    unit = (SYSTEMD / "trocadero.service").read_text().splitlines()
    for setting in [
        "Type=notify",
        "Restart=on-failure",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "StateDirectory=trocadero",
        "ConfigurationDirectory=trocadero",
        "RuntimeDirectory=trocadero",
    ]:
        assert setting in unit
    assert any(line.startswith("WatchdogSec=") for line in unit)
    assert any(line.startswith("LimitRTPRIO=") for line in unit)


def test_unit_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    broken = tmp_path / "broken.service"
    broken.write_text("[Service]\nType=notfiy\nExecStart=/bin/true\n")
    result = subprocess.run(
        [require("systemd-analyze"), "verify", str(broken)], capture_output=True, text=True
    )
    assert "notfiy" in result.stderr


def test_sysusers_creates_the_account(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    subprocess.run(
        [
            require("systemd-sysusers"),
            f"--root={tmp_path}",
            str(SYSTEMD / "trocadero.sysusers.conf"),
        ],
        check=True,
        capture_output=True,
    )
    passwd = (tmp_path / "etc" / "passwd").read_text()
    assert passwd.startswith("trocadero:x:")
    assert ":/var/lib/trocadero:" in passwd
    assert "trocadero" in (tmp_path / "etc" / "group").read_text().split("dialout:")[1]


def test_tmpfiles_creates_directories(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    subprocess.run(
        [
            require("systemd-sysusers"),
            f"--root={tmp_path}",
            str(SYSTEMD / "trocadero.sysusers.conf"),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            require("systemd-tmpfiles"),
            f"--root={tmp_path}",
            "--create",
            str(SYSTEMD / "trocadero.tmpfiles.conf"),
        ],
        check=True,
        capture_output=True,
    )
    state = (tmp_path / "var" / "lib" / "trocadero").stat()
    assert stat.S_IMODE(state.st_mode) == 0o750
    assert (tmp_path / "etc" / "trocadero").is_dir()
