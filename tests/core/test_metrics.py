from __future__ import annotations

import gc

from prometheus_client.parser import text_string_to_metric_families

from trocadero.core.metrics import (
    LATENCY_BUCKETS,
    NativeHistogramCollector,
    create_metrics,
    families,
    gc_pauses,
)
from trocadero.core.statistics import Sample


def parsed(text: bytes) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_families_add_up_samples_and_type_counters() -> None:
    samples = [
        Sample("x_bad_total", (), 2.0, True, "port.malformed"),
        Sample("x_bad_total", (), 1.0, True, "port.oversized"),
        Sample("x_up", (("output", "a"),), 1.0, False, "outputs[].up"),
        Sample("x_up", (("output", "b"),), 0.0, False, "outputs[].up"),
    ]
    out = {m.name: m for m in families(samples)}
    assert out["x_bad"].type == "counter"  # prometheus-client keeps the name without _total
    assert [s.value for s in out["x_bad"].samples] == [3.0]
    assert out["x_up"].type == "gauge"
    assert out["x_up"].documentation == "/healthz outputs[].up"
    assert [(s.labels, s.value) for s in out["x_up"].samples] == [
        ({"output": "a"}, 1.0),
        ({"output": "b"}, 0.0),
    ]


def test_registries_are_private_and_carry_build_info() -> None:
    a, b = create_metrics("1.0", "n1"), create_metrics("2.0", "n2")
    a.http.labels("GET", "/healthz").observe(0.0003)
    ta, tb = parsed(a.exposition()), parsed(b.exposition())
    key = (("le", "0.0005"), ("method", "GET"), ("route", "/healthz"))
    assert ta["trocadero_http_request_duration_seconds_bucket"][key] == 1.0
    assert "trocadero_http_request_duration_seconds_bucket" not in tb  # no labels seen there
    build = ta["trocadero_build_info"]
    ((labels, value),) = build.items()
    assert value == 1.0
    assert ("version", "1.0") in labels
    assert ("native", "n1") in labels


def test_native_histogram_is_exposed_in_seconds_at_the_latency_buckets() -> None:
    seen: list[list[int]] = []

    def read(bounds_ns: list[int]) -> tuple[list[int], int, int]:
        seen.append(bounds_ns)
        return [min(i, 5) for i in range(len(bounds_ns))], 7, 3_000_000

    m = create_metrics("1", "n")
    m.registry.register(NativeHistogramCollector("trocadero_x_seconds", "x", read))
    out = parsed(m.exposition())
    assert seen[0][0] == 25_000
    assert seen[0][-1] == 100_000_000
    assert len(seen[0]) == len(LATENCY_BUCKETS)
    buckets = out["trocadero_x_seconds_bucket"]
    assert buckets[(("le", "2.5e-05"),)] == 0.0
    assert buckets[(("le", "0.1"),)] == 5.0
    assert buckets[(("le", "+Inf"),)] == 7.0
    assert out["trocadero_x_seconds_count"][()] == 7.0
    assert out["trocadero_x_seconds_sum"][()] == 0.003


def test_render_time_comes_from_the_native_renderer_when_there_is_one() -> None:
    native: list[object] = [None]

    def reader() -> object:
        return native[0]

    m = create_metrics("1", "n", reader)  # type: ignore[arg-type]
    m.render.observe(0.002)
    count = "trocadero_render_duration_seconds_count"
    assert parsed(m.exposition())[count][()] == 1.0
    native[0] = lambda bounds: ([0] * len(bounds), 44, 88_000_000)
    assert parsed(m.exposition())[count][()] == 44.0


def test_gc_pauses_are_observed_while_watched() -> None:
    m = create_metrics("1", "n")
    with gc_pauses(m.gc_pause):
        gc.collect()
    after = parsed(m.exposition())["trocadero_gc_pause_seconds_count"][(("generation", "2"),)]
    assert after >= 1.0
    gc.collect()  # no longer watched
    again = parsed(m.exposition())["trocadero_gc_pause_seconds_count"][(("generation", "2"),)]
    assert again == after
