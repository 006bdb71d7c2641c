"""What survives a restart, and how it comes back.

Policy (docs/restart.md says the same for operators):
- kept: each cue list's running cue, the cue it faded from, its standby, when its current
  transition started (wall clock), pause state, loop counts and ladder level; technician
  parks; grand/canvas masters and blackout; the emergency latch.
- not kept: scripted overrides (their TTL belongs to a script that is gone too).
- on start: each list's transition is rebuilt from the cue it faded from to its current cue
  and placed at the right point in time: a fade still running resumes where the clock says
  it should be, a finished one is complete, and follow/hang timers that expired while the
  daemon was down are replayed at their exact times (so a follow chain ends where it would
  have). A GO pressed mid-fade over another unfinished fade restarts from the earlier cue's
  full look (the deeper mix is not stored).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .cuelist import Auto, ListPlayback
from .ladder import Engine
from .plan import UNDER, LookRef, Node, Solid, target_doc
from .track import Lane, Timing, Track

STATE_KEY = "playback"
VERSION = 1


def _num(n: Decimal | None) -> str | None:
    return None if n is None else str(n)


def _dec(s: object) -> Decimal | None:
    return None if s is None else Decimal(str(s))


def _node(doc: Mapping[str, Any]) -> Node | None:
    if "look" in doc:
        return LookRef(str(doc["look"]))
    if "rgb" in doc:
        r, g, b = (int(v) for v in doc["rgb"])
        return Solid(r, g, b)
    return None


def snapshot(engine: Engine, t: float, wall_at_t: float) -> dict[str, Any]:
    """The persistent state at frame time `t`, with times as wall-clock seconds."""
    lists: dict[str, Any] = {}
    for name, pb in engine.lists.items():
        if pb.current is None and not pb.track.lanes:
            if pb.pending != (pb.order[0] if pb.order else None):
                lists[name] = {"pending": _num(pb.pending), "current": None}
            continue
        starts = [lane.start for lane in pb.track.lanes.values()]
        started = max(starts) if starts else pb.track.clock(t)
        elapsed = pb.track.clock(t) - started  # running time since the transition began
        entry: dict[str, Any] = {
            "current": _num(pb.current),
            "previous": _num(pb.previous),
            "pending": _num(pb.pending),
            "started_wall": wall_at_t - elapsed,
            "paused": pb.track.paused,
            "paused_elapsed": elapsed if pb.track.paused else None,
            "level": engine.levels.get(name, "cues"),
            "by": engine.rule_holders.get(name, ""),
            "loops": {str(k): v for k, v in pb.loops.items()},
            "override": None
            if pb.override is None
            else [pb.override.up, pb.override.down, pb.override.delay, pb.override.curve],
            "auto": None
            if pb.auto is None
            else {
                "kind": pb.auto.kind,
                "after": pb.auto.due - started,
                "source": str(pb.auto.source),
            },
        }
        lists[name] = entry
    targets = {c: target_doc(n) for c, n in engine.park_targets.items()}
    parks = {c: doc for c, doc in targets.items() if doc is not None}
    return {
        "version": VERSION,
        "saved_wall": wall_at_t,
        "lists": lists,
        "parks": parks,
        "masters": {
            "grand": engine.grand_master,
            "canvases": dict(engine.canvas_masters),
            "blackout": engine.blackout,
        },
        "emergency": {"latched": engine.emergency},
    }


def follow(engine: Engine, doc: Mapping[str, Any], t: float, wall_at_t: float) -> list[str]:
    """A hot standby (docs/ha.md) takes the leader's saved state as its own: what `restore`
    puts back is first cleared (cue lists, parks, masters, the latch), then restored at
    frame time `t`, so a running fade is at the leader's point. Overrides and the schedule's
    own looks are not in the saved state and stay as they are."""
    for name, pb in engine.lists.items():
        pb.track = Track()
        pb.current = pb.previous = None
        pb.pending = pb.order[0] if pb.order else None
        pb.auto, pb.override, pb.loops = None, None, {}
        engine.levels[name] = "cues"
        engine.rule_holders.pop(name, None)
    engine.parks = Track()
    engine.park_targets.clear()
    engine.park_holders.clear()
    notes = restore(engine, doc, t, wall_at_t)
    engine.revision += 1
    return notes


def restore(engine: Engine, doc: Mapping[str, Any], t: float, wall_at_t: float) -> list[str]:
    """Put `doc` (from `snapshot`) back into a fresh engine at frame time `t`. Returns notes
    about what could not be restored (a list or cue that no longer exists)."""
    notes: list[str] = []
    if doc.get("version") != VERSION:
        return [f"state version {doc.get('version')!r} is not {VERSION}; starting clean"]
    for name, entry in dict(doc.get("lists", {})).items():
        pb = engine.lists.get(name)
        if pb is None:
            notes.append(f'cue list "{name}" no longer exists')
            continue
        try:
            _restore_list(engine, pb, entry, t, wall_at_t)
        except (KeyError, ValueError, ArithmeticError) as exc:
            notes.append(f'cue list "{name}": {exc}')
    for canvas, target in dict(doc.get("parks", {})).items():
        node = _node(target) if isinstance(target, Mapping) else None
        if node is None or canvas not in engine.canvas_names:
            notes.append(f'park on "{canvas}" dropped')
            continue
        if isinstance(node, LookRef) and node.look not in engine.looks:
            notes.append(f'park on "{canvas}": look "{node.look}" no longer exists')
            continue
        engine.park(canvas, t, node)
    masters = dict(doc.get("masters", {}))
    engine.set_grand_master(float(masters.get("grand", 1.0)))
    for canvas, level in dict(masters.get("canvases", {})).items():
        if canvas in engine.canvas_names:
            engine.set_canvas_master(canvas, float(level))
    engine.set_blackout(bool(masters.get("blackout", False)))
    engine.set_emergency(bool(dict(doc.get("emergency", {})).get("latched", False)))
    return notes


def _restore_list(
    engine: Engine, pb: ListPlayback, entry: Mapping[str, Any], t: float, wall_at_t: float
) -> None:
    current = _dec(entry.get("current"))
    if "pending" in entry:
        # None is a standby too: a list that played its last cue is at its end, not at cue 1.
        pending = _dec(entry.get("pending"))
        if pending is None or pending in pb.cues:
            pb.pending = pending
    if current is None or current not in pb.cues:
        return
    cue = pb.cues[current]
    previous = _dec(entry.get("previous"))
    before: dict[str, Node] = {}
    if previous is not None and previous in pb.cues:
        before = pb.targets(pb.cues[previous])
    override = entry.get("override")
    timing: Timing | None = None
    if override is not None:
        up, down, delay, curve = override
        timing = Timing(float(up), float(down), float(delay), curve)
    paused_elapsed = entry.get("paused_elapsed")
    if entry.get("paused") and paused_elapsed is not None:
        elapsed = float(paused_elapsed)  # a paused fade stays where it was, downtime or not
    else:
        elapsed = max(0.0, wall_at_t - float(entry["started_wall"]))
    now = pb.track.clock(t)
    start = now - elapsed
    targets = pb.targets(cue)
    for canvas in sorted(set(targets) | set(before)):
        tm = timing if timing is not None else pb.timing_of(cue, canvas)
        pb.track.lanes[canvas] = Lane(
            before.get(canvas, UNDER), targets.get(canvas, UNDER), start, tm
        )
    pb.current, pb.previous, pb.override = current, previous, timing
    pb.loops = {Decimal(k): int(v) for k, v in dict(entry.get("loops", {})).items()}
    pb.activity = t
    level = entry.get("level")
    engine.levels[pb.name] = level if level in ("schedule", "rules") else "cues"
    if level == "rules":
        engine.rule_holders[pb.name] = str(entry.get("by", ""))
    auto = entry.get("auto")
    if auto is not None:
        pb.auto = Auto(
            str(auto["kind"]), start + float(auto["after"]), Decimal(str(auto["source"]))
        )
    if entry.get("paused"):
        pb.track.pause(t)
    engine.revision += 1
