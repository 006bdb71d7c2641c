"""ops/prometheus/alerts.yml: promtool accepts the rules and their unit tests pass (and the
unit tests catch a broken rule)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

OPS = Path(__file__).resolve().parents[2] / "ops" / "prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"  # Debian package `prometheus`


def promtool(*args: str, cwd: Path = OPS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_rules_check() -> None:
    r = promtool("check", "rules", "alerts.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_rule_unit_tests_pass() -> None:
    r = promtool("test", "rules", "alerts_test.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_unit_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    rules = (OPS / "alerts.yml").read_text()
    broken = rules.replace("trocadero_emergency_engaged == 1", "trocadero_emergency_engaged == 2")
    assert broken != rules
    (tmp_path / "alerts.yml").write_text(broken)
    shutil.copy(OPS / "alerts_test.yml", tmp_path / "alerts_test.yml")
    r = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert r.returncode != 0
    assert "TrocaderoEmergencyEngaged" in r.stdout + r.stderr
