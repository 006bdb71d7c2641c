"""/metrics of a real daemon: promtool accepts it without a lint complaint, every family the
operator needs is there, and the figures move with what the daemon does."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.daemon_harness import ADMIN_PASSWORD, Daemon, free_port, running_daemon
from trocadero.client import Client

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"  # Debian package `prometheus`

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(d: Daemon) -> tuple[str, Series, dict[str, str]]:
    """The exposition text, its samples by (name, labels) and its families' types."""
    r = httpx.get(d.base + "/metrics", timeout=10.0)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    series: Series = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(r.text):
        types[family.name] = family.type
        for s in family.samples:
            series[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return r.text, series, types


def value(series: Series, metric: str, **labels: str) -> float:
    return series[(metric, tuple(sorted(labels.items())))]


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("metrics")
    extra = (
        '[[outputs]]\nname = "facade"\nprotocol = "sacn"\nuniverses = "1-2"\n'
        'destinations = ["127.0.0.1:5568"]\n'
        f"[mdvr]\nenabled = true\nsignaling_port = {free_port()}\nmedia_port = {free_port()}\n"
    )
    with running_daemon(tmp, extra) as d:
        d.wait_healthy()
        yield d


def test_promtool_accepts_the_exposition_without_lint_problems(daemon: Daemon) -> None:
    daemon.get("/api/cue-lists")  # a REST request, so the latency histogram has a series
    text, _, _ = scrape(daemon)
    checked = promtool_check(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == ""
    assert checked.stderr.strip() == ""
    # and promtool does complain about a bad one (the check can fail)
    bad = promtool_check("# TYPE trocadero_x_ms counter\ntrocadero_x_ms 1\n")
    assert bad.returncode != 0


def test_every_healthz_block_is_a_metric(daemon: Daemon) -> None:
    health = daemon.health()
    _, series, types = scrape(daemon)
    names = {name for name, _ in series}
    # /healthz blocks → one family of each
    expected = {
        "clock": "trocadero_frames_sent_total",
        "render": "trocadero_frames_rendered_total",
        "outputs": "trocadero_output_packets_sent_total",
        "emergency": "trocadero_emergency_engaged",
        "socket": "trocadero_socket_requests_total",
        "mdvr": "trocadero_mdvr_devices_online",
        "mdvr_process": "trocadero_mdvr_process_running",
        "events": "trocadero_events_published_total",
        "store": "trocadero_store_calls_total",
        "logins": "trocadero_logins_failed_total",
        "web": "trocadero_web_websocket_open",
        "subsystems": "trocadero_subsystem_up",
        "watchdog": "trocadero_watchdog_enabled",
    }
    for block, metric in expected.items():
        assert block in health, block
        assert metric in names, metric
    assert value(series, "trocadero_output_healthy", output="facade") in (0.0, 1.0)
    assert value(series, "trocadero_mdvr_process_running") == 1.0
    assert value(series, "trocadero_subsystem_up", subsystem="web") == 1.0
    # info, histograms, counters typed as such
    assert types["trocadero_build_info"] == "gauge"  # (info families in text format 0.0.4)
    assert types["trocadero_show_info"] == "gauge"
    assert (
        value(
            series,
            "trocadero_show_info",
            name=health["show"]["name"],
            source=health["show"]["source"],
        )
        == 1.0
    )
    for h in (
        "trocadero_deadline_lateness_seconds",
        "trocadero_render_duration_seconds",
        "trocadero_gc_pause_seconds",
        "trocadero_http_request_duration_seconds",
        "trocadero_socket_request_duration_seconds",
        "trocadero_store_query_duration_seconds",
    ):
        assert types[h] == "histogram", h
    assert types["trocadero_frames_sent"] == "counter"
    # no device ids, no raw paths in labels
    labels = {k for _, pairs in series for k, _ in pairs}
    assert not labels & {"device", "device_id", "path"}


def test_histograms_grow_with_frames(daemon: Daemon) -> None:
    _, before, _ = scrape(daemon)
    time.sleep(0.5)  # ~22 frames at 44 Hz
    _, after, _ = scrape(daemon)
    for h in ("trocadero_deadline_lateness_seconds", "trocadero_render_duration_seconds"):
        grew = value(after, h + "_count") - value(before, h + "_count")
        assert grew >= 10, (h, grew)
        # buckets are cumulative and end at the count
        assert value(after, h + "_bucket", le="+Inf") == value(after, h + "_count")
        assert value(after, h + "_bucket", le="0.1") <= value(after, h + "_count")
    # the output thread is rarely over 25 ms late; most deadlines fall in the fine buckets
    assert value(after, "trocadero_deadline_lateness_seconds_bucket", le="0.025") > 0


def test_go_and_logins_move_their_counters(daemon: Daemon) -> None:
    route = {"method": "POST", "route": "/api/cue-lists/{list}/go"}
    hist = "trocadero_http_request_duration_seconds_count"
    _, before, _ = scrape(daemon)
    gos = before.get((hist, tuple(sorted(route.items()))), 0.0)
    r = daemon.post("/api/cue-lists/main/go")
    assert r.status_code == 200, r.text
    with Client(Path(daemon.health()["socket"]["path"])) as c:
        c.call("go", list="main")
    bad = httpx.post(
        daemon.base + "/api/auth/login",
        json={"name": "admin", "password": ADMIN_PASSWORD + "-wrong"},
        timeout=10.0,
    )
    assert bad.status_code == 401
    _, after, _ = scrape(daemon)
    assert value(after, hist, **route) == gos + 1  # the template, not /api/cue-lists/main/go
    assert not [k for k in after if ("route", "/api/cue-lists/main/go") in k[1]]
    assert value(after, "trocadero_socket_request_duration_seconds_count", op="go") >= 1
    assert value(after, "trocadero_socket_requests_total") > value(
        before, "trocadero_socket_requests_total"
    )
    assert (
        value(after, "trocadero_logins_failed_total")
        == value(before, "trocadero_logins_failed_total") + 1
    )
    assert value(after, "trocadero_store_calls_total") > value(
        before, "trocadero_store_calls_total"
    )
    assert value(after, "trocadero_store_query_duration_seconds_count") > value(
        before, "trocadero_store_query_duration_seconds_count"
    )


def test_pools_and_queues_are_gauges(daemon: Daemon) -> None:
    health = daemon.health()
    _, series, types = scrape(daemon)
    for name in (
        "trocadero_store_pool_size",
        "trocadero_store_pool_max",
        "trocadero_store_pool_in_use",
        "trocadero_store_pool_idle",
        "trocadero_store_pool_waiting",
        "trocadero_events_queued",
        "trocadero_events_deepest_queue",
        "trocadero_web_websocket_queued",
        "trocadero_web_websocket_deepest_queue",
        "trocadero_mdvr_positions_queued",
    ):
        assert types[name] == "gauge", name
        assert value(series, name) >= 0, name
    pool = health["store"]["pool"]
    assert pool["max"] >= pool["size"] >= 1  # SQLite here: its one connection (and the fleet's)
    assert pool["in_use"] + pool["idle"] == pool["size"]
    assert value(series, "trocadero_store_pool_size") == pool["size"]
    assert value(series, "trocadero_store_pool_max") == pool["max"]
    assert "queued" in health["events"]
    assert "deepest_queue" in health["web"]["websocket"]


def test_a_go_is_timed_to_the_wire(daemon: Daemon) -> None:
    h = "trocadero_go_to_wire_seconds"
    _, before, types = scrape(daemon)
    assert types[h] == "histogram"
    time.sleep(0.4)  # past the GO debounce (0.3 s) of the other tests' GOs
    r = daemon.post("/api/cue-lists/main/go")
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "done"  # a change, handed to the render thread
    deadline = time.monotonic() + 3.0
    while True:  # observed once the output thread has sent the frame that carries it
        _, after, _ = scrape(daemon)
        if value(after, h + "_count") > value(before, h + "_count") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert value(after, h + "_count") == value(before, h + "_count") + 1
    took = value(after, h + "_sum") - value(before, h + "_sum")
    assert 0.0 < took < 1.0, took
    assert value(after, h + "_bucket", le="+Inf") == value(after, h + "_count")


def test_emergency_engaged_is_a_gauge_and_its_engagements_a_counter(daemon: Daemon) -> None:
    _, before, _ = scrape(daemon)
    assert value(before, "trocadero_emergency_engaged") == 0.0
    assert daemon.post("/api/emergency/engage").status_code == 200
    try:
        deadline = time.monotonic() + 5
        while True:
            _, during, _ = scrape(daemon)
            if value(during, "trocadero_emergency_frames_sent_total") > 0:
                break
            assert time.monotonic() < deadline, "no emergency frame went out"
            time.sleep(0.05)
        assert value(during, "trocadero_emergency_engaged") == 1.0
        assert (
            value(during, "trocadero_emergency_engagements_total")
            == value(before, "trocadero_emergency_engagements_total") + 1
        )
        assert daemon.health()["emergency"]["engaged"] is True
    finally:
        assert daemon.post("/api/emergency/release").status_code == 200
    _, after, _ = scrape(daemon)
    assert value(after, "trocadero_emergency_engaged") == 0.0


def test_unknown_paths_share_one_label(daemon: Daemon) -> None:
    for path in ("/nope/1", "/nope/2", "/api/nothing-here"):
        httpx.get(daemon.base + path, timeout=5.0)
    _, series, _ = scrape(daemon)
    routes = {dict(labels).get("route") for name, labels in series if "http_request" in name}
    assert "<unmatched>" in routes
    assert not any(r and r.startswith("/nope") for r in routes)
