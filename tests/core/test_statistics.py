"""The one converter: a statistics dataclass → its /healthz JSON and its Prometheus samples."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from trocadero.core.metrics import StatisticsCollector
from trocadero.core.statistics import (
    Leaf,
    counter,
    detail,
    gauge,
    label,
    schema,
    section,
    to_json,
    to_samples,
)


@dataclass(frozen=True, slots=True)
class Port:
    name: str = field(metadata=label("output"))
    sent: int = field(metadata=counter())
    healthy: bool
    last_error: str | None = field(metadata=detail())


@dataclass(frozen=True, slots=True)
class Times:
    p50_ms: float
    errors_total: int
    waited: int = field(metadata=counter(metric="legacy_by_cause_total", labels={"cause": "w"}))


@dataclass(frozen=True, slots=True)
class Universe:
    accepted: int = field(metadata=counter())
    active: bool = field(metadata=gauge(metric="x_universes_active"))


@dataclass(frozen=True, slots=True)
class Example:
    state: str = field(metadata=detail())
    uptime_s: float
    frames: int = field(metadata=counter(metric="x_frames_sent_total"))
    malformed: int = field(metadata=counter(metric="x_port_malformed_total"))
    oversized: int = field(metadata=counter(metric="x_port_malformed_total"))
    age_ms: float | None = field(metadata=gauge())
    times: Times
    ports: tuple[Port, ...] = field(metadata=section(prefix="port"))
    by_name: tuple[Port, ...] = field(metadata=section(prefix="named", key="name"))
    universes: tuple[Universe, ...] = field(metadata=section(prefix="", aggregate=True))
    spare: Times | None = field(metadata=section())


EXAMPLE = Example(
    state="ok",
    uptime_s=1.5,
    frames=7,
    malformed=2,
    oversized=1,
    age_ms=None,
    times=Times(p50_ms=4.0, errors_total=3, waited=1),
    ports=(Port("a", 10, True, None), Port("b", 0, False, "refused")),
    by_name=(Port("c", 5, True, None),),
    universes=(Universe(3, True), Universe(4, False)),
    spare=None,
)


def test_json_keeps_field_names_and_nesting() -> None:
    assert to_json(EXAMPLE) == {
        "state": "ok",
        "uptime_s": 1.5,
        "frames": 7,
        "malformed": 2,
        "oversized": 1,
        "age_ms": None,
        "times": {"p50_ms": 4.0, "errors_total": 3, "waited": 1},
        "ports": [
            {"name": "a", "sent": 10, "healthy": True, "last_error": None},
            {"name": "b", "sent": 0, "healthy": False, "last_error": "refused"},
        ],
        "by_name": {"c": {"sent": 5, "healthy": True, "last_error": None}},
        "universes": [{"accepted": 3, "active": True}, {"accepted": 4, "active": False}],
        "spare": None,
    }


def test_samples_counters_gauges_units_labels_and_sums() -> None:
    samples = to_samples(EXAMPLE, "x")
    age = samples.pop("x_age_seconds")
    assert math.isnan(age)  # None → NaN, as a missing reading
    assert samples == {
        "x_uptime_seconds": 1.5,  # `_s` → `_seconds`
        "x_frames_sent_total": 7.0,  # an older name kept
        "x_port_malformed_total": 3.0,  # two fields, one metric: they add up
        "x_times_p50_seconds": 0.004,  # `_ms` → seconds
        "x_times_errors_total": 3.0,
        'legacy_by_cause_total{cause="w"}': 1.0,
        'x_port_sent_total{output="a"}': 10.0,
        'x_port_healthy{output="a"}': 1.0,
        'x_port_sent_total{output="b"}': 0.0,
        'x_port_healthy{output="b"}': 0.0,
        'x_named_sent_total{output="c"}': 5.0,
        'x_named_healthy{output="c"}': 1.0,
        "x_accepted_total": 7.0,  # aggregated over the items, no labels
        "x_universes_active": 1.0,
    }


def test_exposition_types_counters_and_gauges() -> None:
    registry = CollectorRegistry()
    registry.register(StatisticsCollector(lambda: EXAMPLE, lambda: {"name": "n"}, prefix="x"))
    text = generate_latest(registry).decode()
    assert "# TYPE x_port_sent_total counter\n" in text
    assert 'x_port_sent_total{output="a"} 10.0\n' in text
    assert "# TYPE x_port_healthy gauge\n" in text
    assert "# HELP x_uptime_seconds /healthz uptime_s\n" in text
    assert "# TYPE x_uptime_seconds gauge\nx_uptime_seconds 1.5\n" in text
    assert "x_age_seconds NaN\n" in text
    assert "x_port_malformed_total 3.0\n" in text  # two fields, one sample
    assert 'x_show_info{name="n"} 1.0\n' in text


def test_schema_names_every_leaf_and_its_metric() -> None:
    leaves = list(schema(Example, "x"))
    assert Leaf(("state",), None) in leaves
    assert Leaf(("uptime_s",), "x_uptime_seconds") in leaves
    assert Leaf(("ports", "*", "name"), None) in leaves
    assert Leaf(("ports", "*", "sent"), "x_port_sent_total") in leaves
    assert Leaf(("by_name", "*", "sent"), "x_named_sent_total") in leaves
    assert not any(leaf.path == ("by_name", "*", "name") for leaf in leaves)  # the JSON key
    assert Leaf(("spare", "p50_ms"), "x_spare_p50_seconds") in leaves
    assert Leaf(("universes", "*", "accepted"), "x_accepted_total") in leaves
    # The schema's metric names are the names the samples carry.
    families = {key.partition("{")[0] for key in to_samples(EXAMPLE, "x")}
    named = {leaf.metric for leaf in leaves if leaf.metric and leaf.path[0] != "spare"}
    assert named == families


def test_an_unmarked_optional_number_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Vague:
        restart_in_s: float | None  # would vanish from /metrics while None

    with pytest.raises(TypeError, match="mark it"):
        list(schema(Vague))
