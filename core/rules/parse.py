"""Rule documents (JSON/TOML) ↔ `Rule`, every problem named by its path (docs/rules.md).

{"name": "stairs-night", "when": {"all": [
    {"sensor": "stairs", "key": "occupancy", "is": true, "stale_s": 300},
    {"sun": "after_sunset", "offset_s": -1800}]},
 "debounce_s": 2, "cooldown_s": 60,
 "on_rise": [{"go": "stairs"}], "on_fall": [{"release": "stairs", "fade": 3}]}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final, cast

from trocadero.core.errors import InvalidDocument
from trocadero.core.model import SUN_EVENTS, SunEvent

from .model import (
    OPS,
    Action,
    All,
    AnyOf,
    BlobCount,
    Celebrate,
    Compare,
    Condition,
    Flag,
    Follow,
    Go,
    Goto,
    Master,
    Not,
    Op,
    Override,
    Release,
    Rule,
    SchedulePlays,
    SunWindow,
    TimeWindow,
    Touched,
)

__all__ = ["condition_doc", "parse_rule", "rule_doc"]

NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_CLOCK: Final = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DEPTH: Final = 8
MAX_ITEMS: Final = 32
MAX_S: Final = 7 * 86400.0
# The sun shorthands: (start event, end event, which end the offset moves).
SUN_SHORT: Final[dict[str, tuple[SunEvent, SunEvent, str]]] = {
    "after_sunset": ("sunset", "sunrise", "start"),
    "before_sunrise": ("sunset", "sunrise", "end"),
    "after_sunrise": ("sunrise", "sunset", "start"),
    "before_sunset": ("sunrise", "sunset", "end"),
}
_TIMING: Final = ("debounce_s", "min_on_s", "min_off_s", "cooldown_s")
_RULE_KEYS: Final = frozenset(
    {"name", "description", "enabled", "priority", "when", "on_rise", "on_fall", *_TIMING}
)


class _Problems:
    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, path: str, text: str, got: object = ...) -> None:
        self.found.append(f"{path}: {text}" + ("" if got is ... else f" (got {got!r})"))

    def obj(self, value: object, path: str) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.add(path, "expected an object", value)
            return None
        return value

    def only(self, doc: Mapping[str, Any], path: str, keys: set[str] | frozenset[str]) -> None:
        for k in doc:
            if k not in keys:
                self.add(f"{path}.{k}", f"unknown key (known: {', '.join(sorted(keys))})")

    def name(self, value: object, path: str) -> str:
        if not isinstance(value, str) or not NAME.match(value):
            self.add(path, "expected a name: 1-64 letters, digits, '_', '.', ':' or '-'", value)
            return ""
        return value

    def number(
        self, value: object, path: str, low: float = -math.inf, high: float = math.inf
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(path, "expected a number", value)
            return 0.0
        if not math.isfinite(value) or not low <= value <= high:
            self.add(path, f"must be between {low:g} and {high:g}", value)
            return 0.0
        return float(value)

    def seconds(self, doc: Mapping[str, Any], key: str, path: str, default: float) -> float:
        if doc.get(key) is None:
            return default
        return self.number(doc[key], f"{path}.{key}", 0.0, MAX_S)

    def opt_seconds(self, doc: Mapping[str, Any], key: str, path: str) -> float | None:
        return None if doc.get(key) is None else self.seconds(doc, key, path, 0.0)

    def names(self, value: object, path: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.add(path, "expected a non-empty array of names", value)
            return ()
        return tuple(self.name(v, f"{path}[{i}]") for i, v in enumerate(value))


def parse_rule(doc: object, *, name: str | None = None) -> Rule:
    """The rule a document describes; `InvalidDocument` lists every problem by path. With
    `name`, the document must name that rule (or none: it is given that one)."""
    p = _Problems()
    top = p.obj(doc, "rule")
    if top is None:
        raise InvalidDocument(p.found)
    top = dict(top)
    if name is not None:
        top.setdefault("name", name)
        if top["name"] != name:
            p.add("rule.name", f"must be {name!r}", top["name"])
    p.only(top, "rule", _RULE_KEYS)
    rule_name = p.name(top.get("name"), "rule.name")
    enabled = top.get("enabled", True)
    if not isinstance(enabled, bool):
        p.add("rule.enabled", "expected true or false", enabled)
        enabled = True
    priority = top.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > 1000:
        p.add("rule.priority", "expected an integer between -1000 and 1000", priority)
        priority = 0
    description = top.get("description", "")
    if not isinstance(description, str) or len(description) > 500:
        p.add("rule.description", "expected a text of at most 500 characters", description)
        description = ""
    if "when" not in top:
        p.add("rule.when", "required (a condition)")
        condition: Condition = All(())
    else:
        condition = _condition(p, top["when"], "rule.when", 0)
    on_rise = _actions(p, top.get("on_rise"), "rule.on_rise", required=True)
    on_fall = _actions(p, top.get("on_fall", []), "rule.on_fall", required=False)
    if any(isinstance(a, Follow) for a in on_fall):
        p.add("rule.on_fall", "a follow acts while the rule is true: put it in on_rise")
    timing = {k: p.seconds(top, k, "rule", 0.0) for k in _TIMING}
    if p.found:
        raise InvalidDocument(p.found)
    return Rule(
        name=rule_name,
        condition=condition,
        on_rise=on_rise,
        on_fall=on_fall,
        enabled=enabled,
        priority=priority,
        description=description,
        **timing,
    )


def _condition(p: _Problems, value: object, path: str, depth: int) -> Condition:
    doc = p.obj(value, path)
    if doc is None:
        return All(())
    if depth >= MAX_DEPTH:
        p.add(path, f"conditions nest at most {MAX_DEPTH} deep")
        return All(())
    for key in ("all", "any"):
        if key in doc:
            p.only(doc, path, {key})
            items = doc[key]
            if not isinstance(items, list) or len(items) > MAX_ITEMS:
                p.add(
                    f"{path}.{key}", f"expected an array of at most {MAX_ITEMS} conditions", items
                )
                return All(())
            parsed = tuple(
                _condition(p, c, f"{path}.{key}[{i}]", depth + 1) for i, c in enumerate(items)
            )
            return All(parsed) if key == "all" else AnyOf(parsed)
    if "not" in doc:
        p.only(doc, path, {"not"})
        return Not(_condition(p, doc["not"], f"{path}.not", depth + 1))
    if "sensor" in doc:
        return _reading(p, doc, path)
    if "touch" in doc:
        p.only(doc, path, {"touch"})
        return _touch(p, doc["touch"], f"{path}.touch")
    if "presence" in doc or "blobs" in doc:
        return _blob_count(p, doc, path)
    if "time" in doc:
        p.only(doc, path, {"time"})
        return _time(p, doc["time"], f"{path}.time")
    if "sun" in doc:
        return _sun(p, doc, path)
    if "schedule_plays" in doc:
        p.only(doc, path, {"schedule_plays"})
        return SchedulePlays(p.name(doc["schedule_plays"], f"{path}.schedule_plays"))
    p.add(
        path,
        "expected one of all, any, not, sensor, touch, presence, blobs, time, sun, schedule_plays",
        dict(doc),
    )
    return All(())


def _reading(p: _Problems, doc: Mapping[str, Any], path: str) -> Condition:
    source = p.name(doc["sensor"], f"{path}.sensor")
    key = p.name(doc.get("key"), f"{path}.key")
    stale = p.opt_seconds(doc, "stale_s", path)
    if "is" in doc:
        p.only(doc, path, {"sensor", "key", "is", "stale_s"})
        expect = doc["is"]
        if not isinstance(expect, bool):
            p.add(f"{path}.is", "expected true or false", expect)
            expect = True
        return Flag(source, key, expect, stale)
    p.only(doc, path, {"sensor", "key", "op", "value", "hysteresis", "stale_s"})
    op = doc.get("op")
    if op not in OPS:
        p.add(f"{path}.op", f"expected one of {' '.join(OPS)} (or 'is' for a presence)", op)
        op = "=="
    value = p.number(doc.get("value"), f"{path}.value", -1e12, 1e12)
    hysteresis = 0.0
    if doc.get("hysteresis") is not None:
        hysteresis = p.number(doc["hysteresis"], f"{path}.hysteresis", 0.0, 1e12)
        if op in ("==", "!=") and hysteresis:
            p.add(f"{path}.hysteresis", "only for <, <=, > and >=", hysteresis)
    return Compare(source, key, cast(Op, op), value, hysteresis, stale)


def _touch(p: _Problems, value: object, path: str) -> Condition:
    """{"surface": name} and/or {"canvas": name, "region": [x, y, w, h]}."""
    doc = p.obj(value, path)
    if doc is None:
        return All(())
    p.only(doc, path, {"surface", "canvas", "region"})
    surface = None if doc.get("surface") is None else p.name(doc["surface"], f"{path}.surface")
    canvas = None if doc.get("canvas") is None else p.name(doc["canvas"], f"{path}.canvas")
    region: tuple[float, float, float, float] | None = None
    raw = doc.get("region")
    if raw is not None:
        if canvas is None:
            p.add(f"{path}.region", "a region is in a canvas's pixels: name the canvas")
        if not isinstance(raw, list) or len(raw) != 4:
            p.add(f"{path}.region", "expected [x, y, w, h] in canvas pixels", raw)
        else:
            x, y, w, h = (p.number(v, f"{path}.region[{i}]", 0.0, 1e6) for i, v in enumerate(raw))
            if w <= 0 or h <= 0:
                p.add(f"{path}.region", "width and height must be more than 0", raw)
            region = (x, y, w, h)
    if surface is None and canvas is None:
        p.add(path, "name a surface, a canvas, or both")
    return Touched(surface, canvas, region)


def _blob_count(p: _Problems, doc: Mapping[str, Any], path: str) -> Condition:
    """{"presence": camera, "region": [x0, y0, x1, y1]} or {"blobs": camera, "region": …,
    "op": ">=", "count": N}; regions in fractions of the camera's picture."""
    presence = "presence" in doc
    key = "presence" if presence else "blobs"
    if presence:
        p.only(doc, path, {"presence", "region", "stale_s"})
    else:
        p.only(doc, path, {"blobs", "region", "op", "count", "stale_s"})
    camera = p.name(doc[key], f"{path}.{key}")
    region = doc.get("region", [0, 0, 1, 1])
    box = (0.0, 0.0, 1.0, 1.0)
    if not isinstance(region, list) or len(region) != 4:
        p.add(f"{path}.region", "expected [x0, y0, x1, y1] in fractions of the picture", region)
    else:
        x0, y0, x1, y1 = (
            p.number(v, f"{path}.region[{i}]", 0.0, 1.0) for i, v in enumerate(region)
        )
        if x1 <= x0 or y1 <= y0:
            p.add(f"{path}.region", "x1 must be right of x0 and y1 below y0", region)
        box = (x0, y0, x1, y1)
    stale = p.seconds(doc, "stale_s", path, 2.0)
    if presence:
        return BlobCount(camera, box, ">=", 1, stale)
    op = doc.get("op", ">=")
    if op not in OPS:
        p.add(f"{path}.op", f"expected one of {' '.join(OPS)}", op)
        op = ">="
    count = doc.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 1000:
        p.add(f"{path}.count", "expected a whole number of blobs 0..1000", count)
        count = 1
    return BlobCount(camera, box, cast(Op, op), count, stale)


def _clock(p: _Problems, value: object, path: str) -> int:
    m = _CLOCK.match(value) if isinstance(value, str) else None
    if m is None:
        p.add(path, "expected a wall-clock time HH:MM", value)
        return 0
    return int(m[1]) * 60 + int(m[2])


def _time(p: _Problems, value: object, path: str) -> Condition:
    doc = p.obj(value, path)
    if doc is None:
        return All(())
    p.only(doc, path, {"from", "until", "days"})
    start = _clock(p, doc.get("from"), f"{path}.from")
    end = _clock(p, doc.get("until"), f"{path}.until")
    days: list[int] = []
    raw_days = doc.get("days", [])
    if not isinstance(raw_days, list):
        p.add(f"{path}.days", f"expected an array of {', '.join(DAYS)}", raw_days)
        raw_days = []
    for i, d in enumerate(raw_days):
        if d not in DAYS:
            p.add(f"{path}.days[{i}]", f"expected one of {', '.join(DAYS)}", d)
        else:
            days.append(DAYS.index(d))
    if start == end:
        p.add(path, "from and until are the same time (an empty window)")
    return TimeWindow(start, end, tuple(sorted(set(days))))


def _sun(p: _Problems, doc: Mapping[str, Any], path: str) -> Condition:
    sun = doc["sun"]
    if isinstance(sun, str):
        p.only(doc, path, {"sun", "offset_s"})
        if sun not in SUN_SHORT:
            p.add(f"{path}.sun", f"expected one of {', '.join(SUN_SHORT)} (or an object)", sun)
            return All(())
        start, end, moved = SUN_SHORT[sun]
        offset = 0.0
        if doc.get("offset_s") is not None:
            offset = p.number(doc["offset_s"], f"{path}.offset_s", -43200.0, 43200.0)
        return SunWindow(
            start,
            end,
            offset if moved == "start" else 0.0,
            offset if moved == "end" else 0.0,
        )
    p.only(doc, path, {"sun"})
    body = p.obj(sun, f"{path}.sun")
    if body is None:
        return All(())
    p.only(body, f"{path}.sun", {"from", "until", "from_offset_s", "until_offset_s"})
    events: list[SunEvent] = []
    for key in ("from", "until"):
        ev = body.get(key)
        if ev not in SUN_EVENTS:
            p.add(f"{path}.sun.{key}", f"expected one of {', '.join(SUN_EVENTS)}", ev)
            ev = "sunset"
        events.append(cast(SunEvent, ev))
    offsets = [
        0.0 if body.get(k) is None else p.number(body[k], f"{path}.sun.{k}", -43200.0, 43200.0)
        for k in ("from_offset_s", "until_offset_s")
    ]
    return SunWindow(events[0], events[1], offsets[0], offsets[1])


def _actions(p: _Problems, value: object, path: str, *, required: bool) -> tuple[Action, ...]:
    if not isinstance(value, list) or len(value) > MAX_ITEMS or (required and not value):
        what = "a non-empty array" if required else "an array"
        p.add(path, f"expected {what} of at most {MAX_ITEMS} actions", value)
        return ()
    return tuple(a for i, v in enumerate(value) if (a := _action(p, v, f"{path}[{i}]")))


def _action(p: _Problems, value: object, path: str) -> Action | None:
    doc = p.obj(value, path)
    if doc is None:
        return None
    if "go" in doc:
        p.only(doc, path, {"go"})
        return Go(p.name(doc["go"], f"{path}.go"))
    if "goto" in doc:
        p.only(doc, path, {"goto", "cue", "fade"})
        cue = doc.get("cue")
        if isinstance(cue, int | float) and not isinstance(cue, bool):
            cue = str(cue)
        if not isinstance(cue, str) or not re.match(r"^\d{1,6}(\.\d{1,3})?$", cue):
            p.add(f"{path}.cue", 'expected a cue number such as "2" or "12.5"', doc.get("cue"))
            cue = "1"
        return Goto(p.name(doc["goto"], f"{path}.goto"), cue, p.opt_seconds(doc, "fade", path))
    if "release" in doc:
        p.only(doc, path, {"release", "fade"})
        return Release(p.name(doc["release"], f"{path}.release"), p.opt_seconds(doc, "fade", path))
    if "override" in doc:
        p.only(doc, path, {"override", "look", "rgb", "ttl_s", "fade_in", "fade_out"})
        look = doc.get("look")
        rgb = doc.get("rgb")
        if (look is None) == (rgb is None):
            p.add(path, "give either a look or an rgb colour")
        if look is not None:
            look = p.name(look, f"{path}.look")
        colour: tuple[int, int, int] | None = None
        if rgb is not None:
            if not (
                isinstance(rgb, list)
                and len(rgb) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) for v in rgb)
                and all(0 <= v <= 65535 for v in rgb)
            ):
                p.add(f"{path}.rgb", "expected three integers 0..65535", rgb)
            else:
                colour = (rgb[0], rgb[1], rgb[2])
        ttl = p.number(doc.get("ttl_s", 60.0), f"{path}.ttl_s", 0.1, 86400.0)
        return Override(
            p.names(doc["override"], f"{path}.override"),
            ttl,
            look,
            colour,
            p.seconds(doc, "fade_in", path, 0.0),
            p.seconds(doc, "fade_out", path, 0.0),
        )
    if "celebrate" in doc:
        p.only(doc, path, {"celebrate", "duration_s", "canvases"})
        canvases = doc.get("canvases")
        return Celebrate(
            p.name(doc["celebrate"], f"{path}.celebrate"),
            p.number(doc.get("duration_s", 30.0), f"{path}.duration_s", 0.1, 3600.0),
            None if canvases is None else p.names(canvases, f"{path}.canvases"),
        )
    if "master" in doc:
        p.only(doc, path, {"master", "level"})
        return Master(
            p.name(doc["master"], f"{path}.master"),
            p.number(doc.get("level"), f"{path}.level", 0.0, 1.0),
        )
    if "follow" in doc:
        keys = {"follow", "sensor", "key", "in_min", "in_max", "out_min", "out_max", "rate_hz"}
        p.only(doc, path, keys)
        f = Follow(
            p.name(doc["follow"], f"{path}.follow"),
            p.name(doc.get("sensor"), f"{path}.sensor"),
            p.name(doc.get("key"), f"{path}.key"),
            p.number(doc.get("in_min"), f"{path}.in_min", -1e12, 1e12),
            p.number(doc.get("in_max"), f"{path}.in_max", -1e12, 1e12),
            p.number(doc.get("out_min", 0.0), f"{path}.out_min", 0.0, 1.0),
            p.number(doc.get("out_max", 1.0), f"{path}.out_max", 0.0, 1.0),
            p.number(doc.get("rate_hz", 4.0), f"{path}.rate_hz", 0.1, 44.0),
        )
        if f.in_min == f.in_max:
            p.add(f"{path}.in_max", "must differ from in_min", f.in_max)
        return f
    p.add(path, "expected one of go, goto, release, override, celebrate, master, follow", doc)
    return None


# --- back to documents -----------------------------------------------------------------------


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def condition_doc(c: Condition) -> dict[str, Any]:
    if isinstance(c, All):
        return {"all": [condition_doc(i) for i in c.items]}
    if isinstance(c, AnyOf):
        return {"any": [condition_doc(i) for i in c.items]}
    if isinstance(c, Not):
        return {"not": condition_doc(c.item)}
    if isinstance(c, Flag):
        out: dict[str, Any] = {"sensor": c.source, "key": c.key, "is": c.expect}
    elif isinstance(c, Compare):
        out = {"sensor": c.source, "key": c.key, "op": c.op, "value": c.value}
        if c.hysteresis:
            out["hysteresis"] = c.hysteresis
    elif isinstance(c, Touched):
        touch: dict[str, Any] = {}
        if c.surface is not None:
            touch["surface"] = c.surface
        if c.canvas is not None:
            touch["canvas"] = c.canvas
        if c.region is not None:
            touch["region"] = list(c.region)
        return {"touch": touch}
    elif isinstance(c, BlobCount):
        region = list(c.region)
        if c.op == ">=" and c.count == 1:
            return {"presence": c.camera, "region": region, "stale_s": c.stale_s}
        return {
            "blobs": c.camera,
            "region": region,
            "op": c.op,
            "count": c.count,
            "stale_s": c.stale_s,
        }
    elif isinstance(c, TimeWindow):
        window: dict[str, Any] = {"from": _hhmm(c.start), "until": _hhmm(c.end)}
        if c.days:
            window["days"] = [DAYS[d] for d in c.days]
        return {"time": window}
    elif isinstance(c, SunWindow):
        return {
            "sun": {
                "from": c.start,
                "until": c.end,
                "from_offset_s": c.start_offset_s,
                "until_offset_s": c.end_offset_s,
            }
        }
    else:
        return {"schedule_plays": c.name}
    if c.stale_s is not None:
        out["stale_s"] = c.stale_s
    return out


def action_doc(a: Action) -> dict[str, Any]:
    if isinstance(a, Go):
        return {"go": a.cue_list}
    if isinstance(a, Goto):
        return {"goto": a.cue_list, "cue": a.cue, **({} if a.fade is None else {"fade": a.fade})}
    if isinstance(a, Release):
        return {"release": a.cue_list, **({} if a.fade is None else {"fade": a.fade})}
    if isinstance(a, Override):
        out: dict[str, Any] = {"override": list(a.canvases), "ttl_s": a.ttl_s}
        out |= {"look": a.look} if a.look is not None else {"rgb": list(a.rgb or ())}
        return out | {"fade_in": a.fade_in, "fade_out": a.fade_out}
    if isinstance(a, Celebrate):
        out = {"celebrate": a.look, "duration_s": a.duration_s}
        return out if a.canvases is None else out | {"canvases": list(a.canvases)}
    if isinstance(a, Master):
        return {"master": a.target, "level": a.level}
    return {
        "follow": a.target,
        "sensor": a.source,
        "key": a.key,
        "in_min": a.in_min,
        "in_max": a.in_max,
        "out_min": a.out_min,
        "out_max": a.out_max,
        "rate_hz": a.rate_hz,
    }


def rule_doc(rule: Rule) -> dict[str, Any]:
    """The document `parse_rule` reads back as the same rule."""
    return {
        "name": rule.name,
        "description": rule.description,
        "enabled": rule.enabled,
        "priority": rule.priority,
        "when": condition_doc(rule.condition),
        "on_rise": [action_doc(a) for a in rule.on_rise],
        "on_fall": [action_doc(a) for a in rule.on_fall],
        **{k: getattr(rule, k) for k in _TIMING},
    }
