"""`trocadero show export|import --config PATH` against a running daemon (over its socket
API): the export is the show file the API serves, trigger rules included; an edited file
imported changes the look, brings back a rule deleted since, and makes a snapshot; a bad
file is refused with the path of the problem, exit 1, nothing changed; no daemon is exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.daemon_harness import running_daemon


def show_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trocadero", "show", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


RULE = {
    "when": {"sensor": "lobby", "key": "people", "op": ">", "value": 20, "hysteresis": 5},
    "debounce_s": 2.0,
    "on_rise": [{"go": "main"}],
    "on_fall": [{"release": "main", "fade": 3.0}],
}


def test_export_and_import_through_the_daemon(tmp_path: Path) -> None:
    with running_daemon(tmp_path) as d:
        d.wait_healthy()
        assert d.put("/api/rules/lobby-busy", json=RULE, timeout=5).status_code == 201
        config = tmp_path / "trocadero.toml"
        out = tmp_path / "show.json"
        r = show_cli("export", "--config", config, "-o", out)
        assert r.returncode == 0, r.stderr
        doc = json.loads(out.read_text())
        assert doc == d.get("/api/show/export").json()
        (rule,) = (r for r in doc["rules"] if r["name"] == "lobby-busy")
        assert rule["when"] == RULE["when"]
        assert rule["on_rise"] == RULE["on_rise"]
        # The rule deleted, then the file imported: the rule is back as it was exported.
        assert d.delete("/api/rules/lobby-busy", timeout=5).status_code == 200

        blue = next(look for look in doc["looks"] if look["name"] == "blue-hour")
        blue["label"] = "Blue hour, imported"
        out.write_text(json.dumps(doc))
        r = show_cli("import", out, "--config", config)
        assert r.returncode == 0, r.stderr
        assert "imported: snapshot" in r.stdout
        assert d.get("/api/looks/blue-hour").json()["label"] == "Blue hour, imported"
        back = d.get("/api/rules/lobby-busy", timeout=5).json()
        assert (back["when"], back["on_fall"]) == (RULE["when"], RULE["on_fall"])
        newest = d.get("/api/snapshots", params={"limit": 1}).json()["items"][0]
        assert newest["message"] == "show imported"

        bad = {**doc, "cue_lists": [{"name": "main", "cues": [{"number": "1", "look": "nope"}]}]}
        out.write_text(json.dumps(bad))
        r = show_cli("import", out, "--config", config)
        assert r.returncode == 1
        assert 'cue_lists[0 "main"]' in r.stderr
        assert "nope" in r.stderr
        assert d.get("/api/show/export").json() == doc
        latest = d.get("/api/snapshots", params={"limit": 1}).json()["items"][0]
        assert latest == newest

    r = show_cli("export", "--config", config)
    assert r.returncode == 2
    assert "cannot reach the daemon" in r.stderr
