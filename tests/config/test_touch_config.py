"""`[touch]` and `[[touch.surfaces]]`: defaults, and every problem named by its key."""

from __future__ import annotations

import pytest

from trocadero.config import ConfigError, parse_config


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="site.toml")
    return info.value.problems


def test_a_surface_and_the_defaults() -> None:
    cfg = parse_config(
        '[[touch.surfaces]]\nname = "panel"\ncanvas = "stairs"\nrotation = 270\n'
        'allow = ["10.0.4.0/24", "192.168.1.7"]\n',
        source="x",
    )
    (s,) = cfg.touch.surfaces
    assert (s.bind, s.port, s.rotation, s.w, s.max_sessions) == ("127.0.0.1", 3333, 270, 0.0, 32)
    assert cfg.touch.malformed_log_interval_s == 60.0
    assert parse_config("", source="x").touch.surfaces == ()


def test_problems_name_their_keys() -> None:
    text = "\n".join(
        problems(
            '[[touch.surfaces]]\nname = "a b"\ncanvas = ""\nrotation = 45\nbind = "host"\n'
            'allow = ["10.0.0.0/33"]\n'
            '[[touch.surfaces]]\nname = "p"\ncanvas = "c"\nport = 70000\n'
        )
    )
    assert "name: 1-64 letters" in text
    assert "canvas: required" in text
    assert "rotation: one of 0, 90, 180, 270 (got 45)" in text
    assert "bind: an IP address (got 'host')" in text
    assert "allow[0]: an address or network (got '10.0.0.0/33')" in text
    assert "port: must be between 1 and 65535 (got 70000)" in text


def test_two_surfaces_on_one_port() -> None:
    text = "\n".join(
        problems(
            '[[touch.surfaces]]\nname = "a"\ncanvas = "c"\n'
            '[[touch.surfaces]]\nname = "a"\ncanvas = "c"\n'
        )
    )
    assert "touch.surfaces[1].name: 'a' is configured twice" in text
    assert "touch.surfaces[1].port: 127.0.0.1:3333 is already surface 'a''s" in text
