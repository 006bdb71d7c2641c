"""ops/grafana/*.json and ops/prometheus/alerts.yml name only metrics a live daemon exposes
(and recording rules alerts.yml defines): a renamed field cannot silently blank a panel."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.daemon_harness import Daemon, free_port, running_daemon
from trocadero.client import Client

OPS = Path(__file__).resolve().parents[2] / "ops"
DASHBOARDS = sorted((OPS / "grafana").glob("*.json"))
NAME = re.compile(r"\btrocadero[_:][a-zA-Z0-9_:]*")
RECORD = re.compile(r"^\s*- record: (\S+)$", re.MULTILINE)
ALERT = re.compile(r"^\s*- alert: (\S+)$", re.MULTILINE)


def exprs(node: Any) -> Iterator[str]:
    """Every `expr` in a dashboard (panels, rows, templating queries)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                yield value
            else:
                yield from exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from exprs(item)


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Sample names of a daemon with everything the dashboards show switched on, after one
    of each kind of request and a contained handler failure."""
    extra = (
        '[[outputs]]\nname = "facade"\nprotocol = "sacn"\nuniverses = "1"\n'
        f'destinations = ["127.0.0.1:{free_port()}"]\n'
        f'[mdvr]\nenabled = true\nbind_address = "127.0.0.1"\n'
        f"signaling_port = {free_port()}\nmedia_port = {free_port()}\n"
        "[schedule]\nenabled = true\n"
        "[debug]\nfault_injection = true\n"
        # A camera (no source: down, retried) for trocadero_camera_* (TrocaderoCameraDown).
        '[[cameras]]\nname = "probe"\nurl = "/nonexistent/probe.mkv"\n'
    )
    with running_daemon(tmp_path_factory.mktemp("dash"), extra) as d:
        d.wait_healthy()
        exercise(d)
        text = httpx.get(d.base + "/metrics", timeout=10.0).text
        assert d.stop()[0] == 0
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def exercise(d: Daemon) -> None:
    assert d.post("/api/cue-lists/main/go").status_code == 200
    with Client(Path(d.health()["socket"]["path"])) as c:
        c.call("go", list="main")
    assert d.post("/debug/fault/raise").status_code == 500  # a contained handler bug


def rules_text() -> str:
    return (OPS / "prometheus" / "alerts.yml").read_text()


def unknown_names(doc: Any, exposed: set[str], records: set[str]) -> set[str]:
    """Names a dashboard's queries use that neither the daemon nor a recording rule has."""
    names = {n for e in exprs(doc) for n in NAME.findall(e)}
    return {n for n in names if n not in (records if ":" in n else exposed)}


def test_there_are_dashboards_for_the_building_and_the_fleet() -> None:
    assert {p.name for p in DASHBOARDS} >= {"building.json", "fleet.json"}
    for path in DASHBOARDS:
        doc = json.loads(path.read_text())
        assert doc["uid"].startswith("trocadero-")
        assert len(list(exprs(doc))) > 10, path.name


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboards_name_only_exposed_metrics(path: Path, exposed: set[str]) -> None:
    records = set(RECORD.findall(rules_text()))
    assert unknown_names(json.loads(path.read_text()), exposed, records) == set()


def test_alert_rules_name_only_exposed_metrics(exposed: set[str]) -> None:
    text = rules_text()
    records = set(RECORD.findall(text))
    names = set(NAME.findall(text)) - records
    names = {n for n in names if ":" not in n}
    assert "trocadero_emergency_engaged" in names
    assert names <= exposed, sorted(names - exposed)
    assert {
        "TrocaderoClockLate",
        "TrocaderoOutputFailing",
        "TrocaderoEmergencyEngaged",
        "TrocaderoStoreUnreachable",
        "TrocaderoDeviceOfflineStorm",
        "TrocaderoErrorBudgetBurnFast",
        "TrocaderoErrorBudgetBurnSlow",
    } <= set(ALERT.findall(text))


def test_the_check_catches_a_name_the_daemon_lacks(exposed: set[str]) -> None:
    records = set(RECORD.findall(rules_text()))
    panel = {
        "targets": [
            {"expr": "rate(trocadero_frames_sent_total[5m])"},
            {"expr": "rate(trocadero_frames_sent[5m])"},  # a counter's samples end in _total
            {"expr": "trocadero:error_ratio:avg1h / trocadero:nope:avg1h"},
        ]
    }
    assert unknown_names({"panels": [panel]}, exposed, records) == {
        "trocadero_frames_sent",
        "trocadero:nope:avg1h",
    }
