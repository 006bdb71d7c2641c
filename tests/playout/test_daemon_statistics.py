"""/healthz and /metrics of a running daemon are both made from the subsystems' statistics:
every field of every statistics class shows in /healthz, every counter and gauge in /metrics,
and neither endpoint has anything the statistics do not declare (so they cannot drift)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.daemon_harness import free_port, running_daemon
from trocadero.core.statistics import Leaf, schema
from trocadero.playout.daemon import HealthStatistics

Found = bool | None  # True: present; False: missing; None: under an empty or null section


def lookup(doc: Any, path: tuple[str, ...]) -> Found:
    if not path:
        return True
    if doc is None:
        return None
    head, rest = path[0], path[1:]
    if head == "*":
        items = list(doc.values()) if isinstance(doc, dict) else list(doc)
        if not items:
            return None
        return all(lookup(item, rest) for item in items)
    if not isinstance(doc, dict) or head not in doc:
        return False
    return lookup(doc[head], rest)


def json_paths(
    doc: Any, declared: set[tuple[str, ...]], path: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Leaf paths of the /healthz body, down to the declared leaves (a `detail` list is one);
    list indexes and keyed items as `*`."""
    if path in declared:
        yield path
    elif isinstance(doc, dict) and not (path and path[-1] in KEYED):
        for key, value in doc.items():
            yield from json_paths(value, declared, (*path, key))
    elif isinstance(doc, dict | list) and doc:
        for value in doc.values() if isinstance(doc, dict) else doc:
            yield from json_paths(value, declared, (*path, "*"))
    else:
        yield path


KEYED = {"subsystems", "edges", "cameras"}  # objects keyed by an item's name


def test_every_statistics_field_is_in_healthz_and_metrics(tmp_path: Path) -> None:
    extra = (
        f'[[outputs]]\nname = "probe"\nprotocol = "sacn"\nuniverses = "1"\n'
        f'destinations = ["127.0.0.1:{free_port()}"]\n'
        f'[[inputs]]\nprotocol = "sacn"\nuniverses = [300]\nbind_address = "127.0.0.1"\n'
        f"port = {free_port()}\n"
        f'[artnet_discovery]\nenabled = true\npoll_targets = ["127.0.0.1"]\n'
        f'bind_address = "127.0.0.1"\nport = {free_port()}\n'
        f'[mdvr]\nenabled = true\nbind_address = "127.0.0.1"\nudp = true\n'
        f"signaling_port = {free_port()}\nmedia_port = {free_port()}\n"
        f"[mqtt]\nenabled = true\nport = {free_port()}\n"  # no broker: still reported
        f'[[touch.surfaces]]\nname = "panel"\ncanvas = "stairs"\nport = {free_port()}\n'
        "[schedule]\nenabled = true\n"
        '[[cameras]]\nname = "probe"\nurl = "/nonexistent/probe.mkv"\n'  # retried, reported
        f'[backup]\nenabled = true\ninterval_s = 3600\ndirectory = "{tmp_path / "backups"}"\n'
    )
    with running_daemon(tmp_path, extra) as d:
        d.wait_healthy()
        time.sleep(0.5)
        health = d.health()
        text = d.get("/metrics").text
        assert d.stop()[0] == 0
    families = {
        line.split()[0].partition("{")[0] for line in text.splitlines() if not line.startswith("#")
    }
    leaves: list[Leaf] = list(schema(HealthStatistics))

    unreached = []
    for leaf in leaves:
        found = lookup(health, leaf.path)
        assert found is not False, f"/healthz lacks {'.'.join(leaf.path)}"
        if found is None:
            unreached.append(".".join(leaf.path))
        elif leaf.metric is not None:
            assert leaf.metric in families, f"/metrics lacks {leaf.metric} ({leaf.path})"
    # Only what this daemon cannot have: no contained failure, no Redis, no hot-standby pair
    # (it needs PostgreSQL and a peer: tests/playout/test_ha_pair.py reads its section).
    unreached = [p for p in unreached if not p.startswith("ha.")]
    assert {p.split(".")[0] + "." + p.split(".")[1] for p in unreached} <= {
        "containment.edges",
        "events.redis",
    }, unreached

    # Nothing in either endpoint that the statistics do not declare.
    declared = {leaf.path for leaf in leaves}
    sections = {leaf.path[:n] for leaf in leaves for n in range(1, len(leaf.path))}
    for path in json_paths(health, declared):
        assert path in declared or path in sections, f"/healthz has undeclared {path}"
    metrics = {leaf.metric for leaf in leaves if leaf.metric is not None}
    # Besides the statistics, /metrics has only histograms and info (core/metrics.py) and the
    # process's own figures.
    others = {
        f
        for f in families
        if f.startswith("process_") or f.endswith(("_bucket", "_count", "_sum", "_info"))
    }
    assert "trocadero_deadline_lateness_seconds_bucket" in others
    assert families - others <= metrics, families - others - metrics
