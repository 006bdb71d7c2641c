from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from trocadero.config import Config, ConfigError, load_config, load_default_config, parse_config


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="site.toml")
    return info.value.problems


def test_default_config_is_the_schema_defaults() -> None:
    # The embedded file documents every key; it must agree with the dataclass defaults,
    # plus its one demo output (loopback only).
    cfg = load_default_config()
    (demo,) = cfg.outputs
    assert demo.destinations == ("127.0.0.1",)
    assert dataclasses.replace(cfg, outputs=()) == Config()


def test_config_is_frozen() -> None:
    cfg = load_default_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.clock.rate_hz = 10.0  # type: ignore[misc]


def test_values_are_read() -> None:
    cfg = parse_config("[clock]\nrate_hz = 30\n[web]\nport = 9000\n", source="x")
    assert cfg.clock.rate_hz == 30.0
    assert isinstance(cfg.clock.rate_hz, float)
    assert cfg.web.port == 9000
    assert cfg.web.host == "127.0.0.1"


def test_typo_names_key_and_suggests() -> None:
    assert problems("[clock]\nrate_hx = 40\n") == [
        "site.toml: clock.rate_hx: unknown key; did you mean 'rate_hz'? (got 40)"
    ]


def test_unknown_section() -> None:
    assert problems("[console]\nx = 1\n") == ["site.toml: console: unknown key (got a table)"]


def test_string_where_number_goes() -> None:
    assert problems('[clock]\nrate_hz = "fast"\n') == [
        "site.toml: clock.rate_hz: expected a number (got 'fast')"
    ]


@pytest.mark.parametrize("rate", ["0", "1000", "-5", "120.5"])
def test_rate_out_of_range(rate: str) -> None:
    assert problems(f"[clock]\nrate_hz = {rate}\n") == [
        f"site.toml: clock.rate_hz: must be between 1 and 120 (got {float(rate)!r})"
    ]


def test_rate_nan_rejected() -> None:
    assert problems("[clock]\nrate_hz = nan\n") == [
        "site.toml: clock.rate_hz: must be a finite number (got nan)"
    ]


def test_bool_is_not_an_integer() -> None:
    assert problems("[web]\nport = true\n") == [
        "site.toml: web.port: expected an integer (got True)"
    ]


def test_literal_choices() -> None:
    assert problems('[logging]\nformat = "xml"\n') == [
        "site.toml: logging.format: must be one of 'auto', 'json', 'console' (got 'xml')"
    ]


def test_section_must_be_a_table() -> None:
    assert problems("clock = 5\n") == ["site.toml: clock: expected a table (got 5)"]


def test_all_errors_at_once() -> None:
    found = problems(
        '[clock]\nrate_hz = 0\nrealtime_priority = "high"\n[web]\nprot = 1\n[debug]\n'
        "fault_injection = 1\n"
    )
    assert len(found) == 4
    assert any("clock.rate_hz" in p for p in found)
    assert any("clock.realtime_priority: expected an integer" in p for p in found)
    assert any("web.prot: unknown key; did you mean 'port'?" in p for p in found)
    assert any("debug.fault_injection: expected true or false (got 1)" in p for p in found)


def test_invalid_toml_names_file_and_position() -> None:
    (only,) = problems("[clock\nrate_hz = 1\n")
    assert only.startswith("site.toml: invalid TOML:")
    assert "line 1" in only


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "trocadero.toml"
    path.write_text("[web]\nport = 70000\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [f"{path}: web.port: must be between 1 and 65535 (got 70000)"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_outputs_parse_and_validate_together() -> None:
    cfg = parse_config(
        '[[outputs]]\nname = "facade"\nuniverses = "1-3, 1001"\n'
        '[[outputs]]\nname = "node"\nprotocol = "artnet"\nuniverses = "5"\n'
        'destinations = ["10.0.0.7:6454"]\n',
        source="x",
    )
    assert cfg.outputs[0].universe_list == (1, 2, 3, 1001)
    assert cfg.outputs[1].destinations == ("10.0.0.7:6454",)
    found = problems(
        '[[outputs]]\nname = "bad"\nprotocol = "ddp"\nuniverses = "4-1, x"\nbroadcast = true\n'
        'source_name = "' + "n" * 70 + '"\n'
    )
    assert found[0] == (
        "site.toml: outputs[0 \"bad\"].universes: range '4-1' must be within 1..63999, "
        "low-high (got '4-1, x')"
    )
    assert any("broadcast: only for Art-Net" in p for p in found)
    assert any("source_name: longer than 63 bytes" in p for p in found)
    assert problems('[[outputs]]\nname = "d"\nprotocol = "ddp"\nuniverses = "1"\n') == [
        'site.toml: outputs[0 "d"].destinations: ddp needs unicast destinations or broadcast '
        "(got none)"
    ]
