from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def trocadero(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trocadero", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("command", [[], ["run"], ["check-config"], ["version"]])
def test_help_on_each_command(command: list[str]) -> None:
    result = trocadero(*command, "--help")
    assert result.returncode == 0
    assert "usage: trocadero" in result.stdout


def test_bad_usage_exits_2() -> None:
    assert trocadero("dance").returncode == 2
    assert trocadero().returncode == 2
    assert trocadero("check-config").returncode == 2


def test_check_config_ok(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text("[clock]\nrate_hz = 30\n")
    result = trocadero("check-config", str(path))
    assert result.returncode == 0
    assert result.stdout.startswith(f"{path}: ok (show 'Trocadero default show'")
    assert "860 universes" in result.stdout


def test_check_config_names_the_fixture_in_a_bad_show(tmp_path: Path) -> None:
    show = tmp_path / "show.toml"
    show.write_text(
        '[[canvases]]\nname = "c"\nwidth = 4\nheight = 1\n'
        '[[fixtures]]\nname = "left"\ncanvas = "c"\npixels = 4\n'
        '[[fixtures]]\nname = "right"\ncanvas = "c"\nx = 2\npixels = 4\nuniverse = 2\n'
    )
    config = tmp_path / "site.toml"
    config.write_text(f'[show]\npath = "{show}"\n')
    result = trocadero("check-config", str(config))
    assert result.returncode == 2
    assert f"{show}: " in result.stderr
    assert 'fixture "right"' in result.stderr
    assert "outside canvas" in result.stderr


def test_show_with_csv_patch(tmp_path: Path) -> None:
    (tmp_path / "patch.csv").write_text("name,canvas,pixels,universe\nrun-1,c,4,7\n")
    show = tmp_path / "show.toml"
    show.write_text('fixtures_csv = "patch.csv"\n[[canvases]]\nname = "c"\nwidth = 4\nheight = 1\n')
    config = tmp_path / "site.toml"
    config.write_text(f'[show]\npath = "{show}"\n')
    result = trocadero("check-config", str(config))
    assert result.returncode == 0, result.stderr
    assert "1 fixtures, 1 universes" in result.stdout


def test_check_config_embedded_default_file_is_valid() -> None:
    default = Path(__file__).resolve().parents[2] / "config" / "default.toml"
    assert trocadero("check-config", str(default)).returncode == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[clock]\nrat_hz = 44\n", "clock.rat_hz: unknown key; did you mean 'rate_hz'?"),
        ('[clock]\nrate_hz = "44"\n', "clock.rate_hz: expected a number (got '44')"),
        ("[clock]\nrate_hz = 0\n", "clock.rate_hz: must be between 1 and 120 (got 0.0)"),
        ("[clock]\nrate_hz = 1000\n", "clock.rate_hz: must be between 1 and 120 (got 1000.0)"),
    ],
)
@pytest.mark.parametrize("command", ["check-config", "run"])
def test_bad_config_exits_2_naming_the_key(
    tmp_path: Path, body: str, expected: str, command: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    args = [command, str(path)] if command == "check-config" else ["run", "--config", str(path)]
    result = trocadero(*args)
    assert result.returncode == 2
    assert f"{path}: {expected}" in result.stderr


def test_version_reports_native_build_profiles() -> None:
    result = trocadero("version")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("trocadero ")
    assert any(ln.startswith("trocadero.native._kernels: release build") for ln in lines)
    assert any(ln.startswith("trocadero_rt: release build") for ln in lines)


def test_check_config_names_cues_that_point_at_nothing(tmp_path: Path) -> None:
    show = tmp_path / "show.toml"
    show.write_text(
        'name = "bad"\n[[canvases]]\nname = "c"\nwidth = 4\nheight = 1\n'
        '[[looks]]\nname = "a"\n[[looks]]\nname = "a"\n'
        '[[cue_lists]]\nname = "m"\n'
        'cues = [{ number = "1", look = "nope", parts = [{ canvases = ["zz"] }] }]\n'
    )
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(f'[show]\npath = "{show}"\n')
    done = subprocess.run(
        [sys.executable, "-m", "trocadero", "check-config", str(cfg)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-3:] == [
        f'{show}: looks: look "a" is defined twice',
        f'{show}: cue_lists["m"].cues[1].look: no look "nope"',
        f'{show}: cue_lists["m"].cues[1].parts[0]: no canvas "zz"',
    ]


def test_an_unreachable_database_is_a_configuration_error(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[state]\ndirectory = "{tmp_path}/state"\n[web]\nport = 1\n'
        '[storage]\nbackend = "postgres"\npostgres_dsn = "postgresql://nobody@127.0.0.1:1/none"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "trocadero", "run", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "storage (postgres): PostgreSQL: cannot connect" in done.stderr
