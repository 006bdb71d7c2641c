"""Evaluating a condition tree at one instant: the readings as last received, the site's wall
clock and sun, what the schedule plays. Pure apart from the hysteresis latches it is given
(each comparison remembers whether it was true, to know which threshold applies)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from trocadero.core.blobs import Blob, count_in
from trocadero.core.model import SunEvent

from .model import (
    All,
    AnyOf,
    BlobCount,
    Compare,
    Condition,
    Flag,
    Not,
    SchedulePlays,
    SunWindow,
    TimeWindow,
    Touched,
)

__all__ = ["Context", "Site", "TouchFrame", "evaluate"]

Value = float | bool


@dataclass(frozen=True, slots=True)
class Site:
    """The site's wall clock and its sun: `sun(event, local date)` → Unix seconds."""

    tz: ZoneInfo
    sun: Callable[[SunEvent, date], float]


@dataclass(frozen=True, slots=True)
class TouchFrame:
    """The touches down on one surface now, in its canvas's pixels (a `touch:frame`)."""

    surface: str
    canvas: str
    points: tuple[tuple[float, float], ...]


@dataclass(slots=True)
class Context:
    t: float  # Unix seconds
    readings: Mapping[tuple[str, str], tuple[Value, float]]  # (source, key) → (value, received)
    site: Site
    playing: frozenset[str]
    latches: MutableMapping[Compare, bool]
    seen: list[dict[str, Any]]  # what the evaluation looked at, for why()
    touches: Mapping[str, TouchFrame] = field(default_factory=dict)  # by surface
    blobs: Mapping[str, tuple[tuple[Blob, ...], float]] = field(default_factory=dict)
    # ^ camera → (its newest blobs, received)


def evaluate(c: Condition, ctx: Context) -> bool:
    """Whether `c` holds now. Every branch is evaluated (no short cut): latches stay current
    and why() lists every reading that counted."""
    if isinstance(c, All):
        results = [evaluate(i, ctx) for i in c.items]
        return all(results)
    if isinstance(c, AnyOf):
        results = [evaluate(i, ctx) for i in c.items]
        return any(results)
    if isinstance(c, Not):
        return not evaluate(c.item, ctx)
    if isinstance(c, Compare | Flag):
        return _reading(c, ctx)
    if isinstance(c, Touched):
        return _touched(c, ctx)
    if isinstance(c, BlobCount):
        return _blobs(c, ctx)
    if isinstance(c, TimeWindow):
        return _window(c, ctx)
    if isinstance(c, SunWindow):
        return _sun(c, ctx)
    assert isinstance(c, SchedulePlays)
    ok = c.name in ctx.playing
    ctx.seen.append({"schedule_plays": c.name, "ok": ok})
    return ok


def _reading(c: Compare | Flag, ctx: Context) -> bool:
    found = ctx.readings.get((c.source, c.key))
    entry: dict[str, Any] = {"sensor": c.source, "key": c.key}
    if found is None:
        ok, entry["state"] = False, "no reading"
    else:
        value, received = found
        age = ctx.t - received
        entry |= {"value": value, "age_s": round(age, 3)}
        if c.stale_s is not None and age > c.stale_s:
            ok, entry["state"] = False, f"stale (older than {c.stale_s:g} s)"
        elif isinstance(c, Flag):
            ok = bool(value) == c.expect
        else:
            ok = _compare(c, float(value), ctx.latches.get(c, False))
    if isinstance(c, Compare):
        ctx.latches[c] = ok
    ctx.seen.append(entry | {"ok": ok})
    return ok


def _touched(c: Touched, ctx: Context) -> bool:
    hits = 0
    for frame in ctx.touches.values():
        if c.surface is not None and frame.surface != c.surface:
            continue
        if c.canvas is not None and frame.canvas != c.canvas:
            continue
        if c.region is None:
            hits += len(frame.points)
            continue
        x0, y0, w, h = c.region
        hits += sum(1 for x, y in frame.points if x0 <= x < x0 + w and y0 <= y < y0 + h)
    ok = hits > 0
    where = c.surface or c.canvas or "any surface"
    entry: dict[str, Any] = {"touch": where, "touches": hits, "ok": ok}
    if c.region is not None:
        entry["region"] = list(c.region)
    ctx.seen.append(entry)
    return ok


def _blobs(c: BlobCount, ctx: Context) -> bool:
    found = ctx.blobs.get(c.camera)
    entry: dict[str, Any] = {"camera": c.camera, "region": list(c.region)}
    if found is None:
        ok, entry["state"] = False, "no blobs heard"
    else:
        blobs, received = found
        age = ctx.t - received
        n = count_in(blobs, c.region)
        entry |= {"count": n, "age_s": round(age, 3)}
        if age > c.stale_s:
            ok, entry["state"] = False, f"stale (older than {c.stale_s:g} s)"
        else:
            ok = _compare(Compare(c.camera, "count", c.op, float(c.count)), float(n), False)
    ctx.seen.append(entry | {"ok": ok})
    return ok


def _compare(c: Compare, v: float, was: bool) -> bool:
    """With hysteresis, a true comparison stays true until the reading is past the
    threshold by more than `hysteresis` (the way back is the wider one)."""
    x, h = c.value, c.hysteresis if was else 0.0
    if c.op == "<":
        return v <= x + h if was and h else v < x
    if c.op == "<=":
        return v <= x + h
    if c.op == ">":
        return v >= x - h if was and h else v > x
    if c.op == ">=":
        return v >= x - h
    if c.op == "==":
        return v == x
    return v != x


def _window(c: TimeWindow, ctx: Context) -> bool:
    local = datetime.fromtimestamp(ctx.t, ctx.site.tz)
    minute = local.hour * 60 + local.minute + local.second / 60.0
    if c.start < c.end:
        ok, day = c.start <= minute < c.end, local.weekday()
    elif minute >= c.start:
        ok, day = True, local.weekday()
    else:  # after midnight: the window opened the day before
        ok, day = minute < c.end, (local.weekday() - 1) % 7
    ok = ok and (not c.days or day in c.days)
    ctx.seen.append({"time": local.strftime("%a %H:%M"), "ok": ok})
    return ok


def _sun(c: SunWindow, ctx: Context) -> bool:
    today = datetime.fromtimestamp(ctx.t, ctx.site.tz).date()
    ok = False
    window: tuple[float, float] | None = None
    for start_day in (today - timedelta(days=1), today):
        start = ctx.site.sun(c.start, start_day) + c.start_offset_s
        for end_day in (start_day, start_day + timedelta(days=1)):
            end = ctx.site.sun(c.end, end_day) + c.end_offset_s
            if end > start:
                break
        else:
            continue
        if start <= ctx.t < end:
            ok, window = True, (start, end)
        elif window is None or start > ctx.t:
            window = (start, end)
    entry: dict[str, Any] = {"sun": f"{c.start}→{c.end}", "ok": ok}
    if window is not None:
        tz = ctx.site.tz
        entry |= {
            "from": datetime.fromtimestamp(window[0], tz).isoformat(timespec="minutes"),
            "until": datetime.fromtimestamp(window[1], tz).isoformat(timespec="minutes"),
        }
    ctx.seen.append(entry)
    return ok
