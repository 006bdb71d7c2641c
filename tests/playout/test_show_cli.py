"""`trocadero show export|import --config PATH` against a running daemon (over its socket
API): the export is the show file the API serves; an edited file imported changes the look
and makes a snapshot; a bad file is refused with the path of the problem, exit 1, nothing
changed; no daemon is exit 2."""

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


def test_export_and_import_through_the_daemon(tmp_path: Path) -> None:
    with running_daemon(tmp_path) as d:
        d.wait_healthy()
        config = tmp_path / "trocadero.toml"
        out = tmp_path / "show.json"
        r = show_cli("export", "--config", config, "-o", out)
        assert r.returncode == 0, r.stderr
        doc = json.loads(out.read_text())
        assert doc == d.get("/api/show/export").json()

        blue = next(look for look in doc["looks"] if look["name"] == "blue-hour")
        blue["label"] = "Blue hour, imported"
        out.write_text(json.dumps(doc))
        r = show_cli("import", out, "--config", config)
        assert r.returncode == 0, r.stderr
        assert "imported: snapshot" in r.stdout
        assert d.get("/api/looks/blue-hour").json()["label"] == "Blue hour, imported"
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
