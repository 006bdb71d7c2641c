from __future__ import annotations

import json
from pathlib import Path

from trocadero.playout.statefile import StateFile, resolve_state_dir


def test_resolution_order(tmp_path: Path) -> None:
    assert resolve_state_dir("/srv/x", {"STATE_DIRECTORY": "/var/lib/t"}) == Path("/srv/x")
    assert resolve_state_dir("", {"STATE_DIRECTORY": "/var/lib/t:/var/lib/u"}) == Path("/var/lib/t")
    assert resolve_state_dir("", {"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "trocadero"


def test_run_record_lifecycle(tmp_path: Path) -> None:
    sf = StateFile(tmp_path / "state")
    assert sf.begin_run() is None
    assert sf.read() is not None
    assert json.loads(sf.path.read_text())["clean_shutdown"] is False
    sf.end_run({"frames_sent": 10})
    record = sf.read()
    assert record is not None
    assert record["clean_shutdown"] is True
    assert record["frames_sent"] == 10
    previous = sf.begin_run()
    assert previous is not None
    assert previous["clean_shutdown"] is True
    assert not (tmp_path / "state" / "daemon.tmp").exists()


def test_corrupt_record_counts_as_unclean(tmp_path: Path) -> None:
    sf = StateFile(tmp_path)
    sf.path.write_text("{not json")
    previous = sf.begin_run()
    assert previous is not None
    assert previous["clean_shutdown"] is False
