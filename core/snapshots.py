"""Show snapshots (docs/snapshots.md): the whole show document (the show file of
docs/show-file.md: settings, patch, looks, cue lists, schedules) made canonical and named by
its SHA-256, and the difference between two documents per look, cue list and cue, schedule
entry and patch fixture. Pure functions: the store keeps snapshots (storage/snapshots.py),
the recorder takes them (snapshot_service.py)."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

__all__ = [
    "SECTIONS",
    "Change",
    "SnapshotInfo",
    "canonical",
    "compress",
    "decompress",
    "diff",
    "digest",
    "short",
]

Change = Literal["added", "removed", "changed"]

# The keyed collections of a show document, diffed item by item (cues inside their lists).
SECTIONS: Final = (
    "looks",
    "cue_lists",
    "schedules",
    "rules",
    "fixtures",
    "canvases",
    "fixture_types",
)
# Everything else at the top level (name, masters, idle and emergency stacks) is "settings".
_HEADER: Final = ("format", "version")


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """One snapshot as listed: the content's hash, who made the change, when, and why."""

    hash: str
    created_at: datetime
    actor: str
    message: str
    parent: str | None  # the snapshot before it (None: the first)


def canonical(doc: Mapping[str, Any]) -> bytes:
    """The document's one byte form: sorted keys, no whitespace, UTF-8 (so equal content
    always hashes equal, whichever store or order it came from)."""
    text = json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def digest(doc: Mapping[str, Any]) -> str:
    """The content address: SHA-256 of the canonical form, lowercase hex."""
    return hashlib.sha256(canonical(doc)).hexdigest()


def short(hash_: str) -> str:
    return hash_[:12]


def compress(doc: Mapping[str, Any]) -> bytes:
    return zlib.compress(canonical(doc), 6)


def decompress(blob: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(zlib.decompress(blob).decode("utf-8"))
    return doc


def _key(section: str, item: Mapping[str, Any]) -> str:
    return str(item.get("name", ""))


def _by_key(section: str, items: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(items, Sequence):
        return {}
    return {_key(section, i): i for i in items if isinstance(i, Mapping)}


def _fields(
    old: Mapping[str, Any], new: Mapping[str, Any], skip: tuple[str, ...] = ()
) -> list[str]:
    """The top-level fields that differ (sorted)."""
    names = (set(old) | set(new)) - set(skip)
    return sorted(n for n in names if old.get(n) != new.get(n))


def _entry(kind: str, name: str, change: Change, fields: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind, "name": name, "change": change}
    if fields is not None:
        out["fields"] = fields
    return out


def _cues(list_name: str, old: Any, new: Any) -> list[dict[str, Any]]:
    olds = {str(c.get("number")): c for c in old or () if isinstance(c, Mapping)}
    news = {str(c.get("number")): c for c in new or () if isinstance(c, Mapping)}
    out: list[dict[str, Any]] = []
    for number in sorted(set(olds) | set(news), key=_number_order):
        where = f"{list_name}/{number}"
        if number not in olds:
            out.append(_entry("cue", where, "added"))
        elif number not in news:
            out.append(_entry("cue", where, "removed"))
        elif olds[number] != news[number]:
            out.append(_entry("cue", where, "changed", _fields(olds[number], news[number])))
    return out


def _number_order(text: str) -> tuple[float, str]:
    try:
        return float(text), text
    except ValueError:
        return float("inf"), text


_KIND: Final = {
    "looks": "look",
    "cue_lists": "cue_list",
    "schedules": "schedule",
    "rules": "rule",
    "fixtures": "fixture",
    "canvases": "canvas",
    "fixture_types": "fixture_type",
}


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What changed from `old` to `new`: one entry per look, cue list, cue, schedule entry,
    fixture, canvas and fixture type added, removed or changed (with the changed fields),
    and "settings" when a top-level setting changed. A cue list's cues are diffed one by one;
    the list itself is "changed" only when its own fields (priority, mode, …) are."""
    out: list[dict[str, Any]] = []
    settings = _fields(old, new, skip=(*SECTIONS, *_HEADER))
    if settings:
        out.append(_entry("settings", "show", "changed", settings))
    for section in SECTIONS:
        kind = _KIND[section]
        olds, news = _by_key(section, old.get(section)), _by_key(section, new.get(section))
        for name in sorted(set(olds) | set(news)):
            a, b = olds.get(name), news.get(name)
            if a is None:
                out.append(_entry(kind, name, "added"))
            elif b is None:
                out.append(_entry(kind, name, "removed"))
            elif a != b:
                if section == "cue_lists":
                    own = _fields(a, b, skip=("cues",))
                    if own:
                        out.append(_entry(kind, name, "changed", own))
                    out += _cues(name, a.get("cues"), b.get("cues"))
                    continue
                out.append(_entry(kind, name, "changed", _fields(a, b)))
            if section == "cue_lists" and (a is None) != (b is None):
                out += _cues(
                    name, None if a is None else a.get("cues"), None if b is None else b.get("cues")
                )
    return out
