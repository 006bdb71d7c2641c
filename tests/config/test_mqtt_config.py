"""`[mqtt]` and `[[mqtt.sensors]]`: defaults, and every problem named by its key."""

from __future__ import annotations

import pytest

from trocadero.config import ConfigError, parse_config
from trocadero.config.mqtt import MqttConfig, filter_problem


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="site.toml")
    return info.value.problems


def test_defaults_and_a_sensor() -> None:
    cfg = parse_config(
        '[mqtt]\nenabled = true\ntls = true\nusername = "u"\npassword_env = "PW"\n'
        '[[mqtt.sensors]]\nname = "stairs"\ntopic = "zigbee2mqtt/+"\npayload = "zigbee2mqtt"\n'
        '[[mqtt.sensors]]\nname = "lux"\ntopic = "hall/meter"\npath = "state.lux"\nqos = 1\n',
        source="x",
    )
    assert cfg.mqtt.broker_port == 8883
    assert MqttConfig().broker_port == 1883
    stairs, lux = cfg.mqtt.sensors
    assert stairs.payload == "zigbee2mqtt"
    assert lux.reading_name == "lux"
    assert lux.qos == 1


def test_problems_name_their_keys() -> None:
    found = problems(
        '[mqtt]\npassword_file = "/x"\npassword_env = "Y"\nca_file = "/ca"\n'
        "reconnect_min_s = 5.0\nreconnect_max_s = 1.0\n"
        '[[mqtt.sensors]]\nname = "a b"\ntopic = "a/#/b"\n'
        '[[mqtt.sensors]]\nname = "n"\ntopic = "x"\npayload = "number"\npath = "p"\n'
    )
    text = "\n".join(found)
    assert 'mqtt.sensors[0 "a b"].name: 1-64 letters' in text
    assert "'#' must be a whole level and the last" in text
    assert 'mqtt.sensors[1 "n"].path: only for payload' in text
    found = problems(
        '[mqtt]\npassword_file = "/x"\npassword_env = "Y"\nca_file = "/ca"\n'
        "reconnect_min_s = 5.0\nreconnect_max_s = 1.0\n"
    )
    assert "site.toml: mqtt.password_file: give password_file or password_env, not both" in found
    assert "site.toml: mqtt.username: required when a password is configured" in found
    assert "site.toml: mqtt.ca_file: only with tls = true (got '/ca')" in found
    assert any("mqtt.reconnect_min_s: must not exceed" in p for p in found)
    twice = problems(
        '[[mqtt.sensors]]\nname = "a"\ntopic = "x"\npath = "v"\n'
        '[[mqtt.sensors]]\nname = "a"\ntopic = "y"\npath = "v"\n'
    )
    assert twice == ["site.toml: mqtt.sensors[1].name: 'a' is configured twice"]
    assert problems('[[mqtt.sensors]]\nname = "a"\ntopic = "x"\n') == [
        "site.toml: mqtt.sensors[0 \"a\"].path: required for payload 'json' (e.g. 'occupancy')"
    ]


@pytest.mark.parametrize(
    ("topic_filter", "problem"),
    [
        ("a/b", None),
        ("+/+/#", None),
        ("#", None),
        ("", "at least one"),
        ("a#", "'#' must be a whole level"),
        ("#/a", "'#' must be a whole level"),
        ("a/b+", "'+' must be a whole level"),
        ("a\x00", "NUL"),
    ],
)
def test_topic_filters(topic_filter: str, problem: str | None) -> None:
    found = filter_problem(topic_filter)
    assert (found is None) if problem is None else (found is not None and problem in found)
