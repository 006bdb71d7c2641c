"""The show file: the whole show (settings, patch, looks, cue lists, schedules) as one JSON
document. Format in docs/show-file.md.

`export_doc` builds the document, `parse_doc` validates one and returns the objects (or raises
`ValidationError` with every problem), `dumps` writes the canonical text (sorted keys, so an
export → import → export is byte-identical). `check_show` holds the cross-reference rules the
store also applies to single edits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from trocadero.config.loader import build_dataclass
from trocadero.config.show import CanvasLayersDef, ShowDef

from ..codec import from_plain, to_plain
from ..errors import InvalidDocument
from ..model import ScheduleEntry
from ..patch import PatchError, compile_patch
from ..rules import Rule, parse_rule, rule_doc
from .base import ValidationError

FORMAT: Final = "trocadero-show"
VERSION: Final = 1

_HEADER: Final = ("format", "version")
_SCHEDULE_SKIP: Final = ("id",)  # store-assigned; a show file does not carry database ids


def export_doc(
    show: ShowDef, schedules: Sequence[ScheduleEntry], rules: Sequence[Rule] = ()
) -> dict[str, Any]:
    """The show file document for `show`, `schedules` and trigger `rules` (each by name)."""
    body = to_plain(replace(show, fixtures_csv=""))
    del body["fixtures_csv"]  # the fixtures are inline; a CSV path means nothing here
    body["looks"] = sorted(body["looks"], key=lambda x: x["name"])
    body["cue_lists"] = sorted(body["cue_lists"], key=lambda x: x["name"])
    plain_schedules = []
    for entry in sorted(schedules, key=lambda s: s.name):
        plain = to_plain(entry)
        for key in _SCHEDULE_SKIP:
            del plain[key]
        plain_schedules.append(plain)
    doc = {"format": FORMAT, "version": VERSION, **body, "schedules": plain_schedules}
    return doc | {"rules": [rule_doc(r) for r in sorted(rules, key=lambda r: r.name)]}


def parse_rules(doc: Mapping[str, Any]) -> list[Rule] | None:
    """The trigger rules of a show file document (None when it has no "rules": an older
    file, whose import keeps the stored rules); ValidationError lists every problem."""
    raw = doc.get("rules")
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ValidationError([f"rules: expected an array (got {type(raw).__name__})"])
    problems: list[str] = []
    rules: list[Rule] = []
    for i, item in enumerate(raw):
        try:
            rules.append(parse_rule(item))
        except InvalidDocument as exc:
            where = _label("rules", i, item)
            problems += [p.replace("rule", where, 1) for p in exc.problems]
    for name in _dupes(r.name for r in rules):
        problems.append(f'rules: rule "{name}" is listed twice')
    if problems:
        raise ValidationError(problems)
    return rules


def dumps(doc: Mapping[str, Any]) -> str:
    """Canonical text of a show file: sorted keys, two-space indent, UTF-8, final newline."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def loads(text: str) -> Any:
    """Parse show-file text (ValidationError if it is not JSON)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError([f"(top level): not JSON: {exc}"]) from exc


def parse_doc(doc: Any) -> tuple[ShowDef, tuple[ScheduleEntry, ...]]:
    """Validate a show file document; ValidationError lists every problem found."""
    if not isinstance(doc, Mapping):
        raise ValidationError([f"(top level): expected an object (got {type(doc).__name__})"])
    problems: list[str] = []
    if doc.get("format") != FORMAT:
        problems.append(f"format: must be {FORMAT!r} (got {doc.get('format')!r})")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problems.append(f"version: expected a positive integer (got {version!r})")
    elif version > VERSION:
        problems.append(
            f"version: the file is format version {version}, newer than this trocadero reads"
            f" (up to {VERSION})"
        )
    body = {k: v for k, v in doc.items() if k not in (*_HEADER, "schedules", "rules")}
    if "fixtures_csv" in body:
        problems.append(
            "fixtures_csv: not part of a show file (fixtures are listed inline; import a patch"
            f" CSV separately) (got {body.pop('fixtures_csv')!r})"
        )
    show, found = build_dataclass(ShowDef, body)
    problems += found
    raw_schedules = doc.get("schedules", [])
    schedules: list[ScheduleEntry] = []
    if not isinstance(raw_schedules, list):
        problems.append(f"schedules: expected an array (got {type(raw_schedules).__name__})")
        raw_schedules = []
    for i, raw in enumerate(raw_schedules):
        where = _label("schedules", i, raw)
        if isinstance(raw, Mapping) and "id" in raw:
            raw = {k: v for k, v in raw.items() if k != "id"}
        entry, found = from_plain(ScheduleEntry, raw, (where,))
        problems += found
        if entry is not None:
            schedules.append(entry)
    if show is not None and len(schedules) == len(raw_schedules):
        problems += check_show(show, schedules)
    if problems or show is None:
        raise ValidationError(problems)
    return show, tuple(schedules)


def _label(key: str, index: int, item: Any) -> str:
    name = item.get("name") if isinstance(item, Mapping) else None
    return f'{key}[{index} "{name}"]' if isinstance(name, str) and name else f"{key}[{index}]"


def _dupes(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dupes: list[str] = []
    for n in names:
        if n in seen and n not in dupes:
            dupes.append(n)
        seen.add(n)
    return dupes


def check_stacks(key: str, stacks: Sequence[CanvasLayersDef], canvases: set[str]) -> list[str]:
    """Per-canvas layer stacks (idle, emergency, a look's canvases) name known canvases once."""
    problems: list[str] = []
    for i, stack in enumerate(stacks):
        if stack.canvas not in canvases:
            problems.append(f'{key}[{i}].canvas: no canvas "{stack.canvas}" in the patch')
    for name in _dupes(s.canvas for s in stacks):
        problems.append(f'{key}: canvas "{name}" is listed twice')
    return problems


def check_show(show: ShowDef, schedules: Sequence[ScheduleEntry]) -> list[str]:
    """Cross-references of a whole show: the patch compiles, names are unique, looks and
    stacks name existing canvases, cues name existing looks, schedules existing targets."""
    problems: list[str] = []
    try:
        compile_patch(show)
    except PatchError as exc:
        problems += [f"patch: {p}" for p in exc.problems]
    canvases = {c.name for c in show.canvases}
    problems += check_stacks("idle", show.idle, canvases)
    problems += check_stacks("emergency", show.emergency, canvases)
    for name in _dupes(look.name for look in show.looks):
        problems.append(f'looks: look "{name}" is defined twice')
    for i, look in enumerate(show.looks):
        problems += check_stacks(f'looks[{i} "{look.name}"].canvases', look.canvases, canvases)
    looks = {look.name for look in show.looks}
    for name in _dupes(cl.name for cl in show.cue_lists):
        problems.append(f'cue_lists: cue list "{name}" is defined twice')
    for i, cl in enumerate(show.cue_lists):
        for j, cue in enumerate(cl.cues):
            if cue.look and cue.look not in looks:
                problems.append(
                    f'cue_lists[{i} "{cl.name}"].cues[{j} cue {cue.number}].look:'
                    f' no look "{cue.look}"'
                )
    cues = {(cl.name, cue.number) for cl in show.cue_lists for cue in cl.cues}
    lists = {cl.name for cl in show.cue_lists}
    for name in _dupes(s.name for s in schedules):
        problems.append(f'schedules: schedule "{name}" is defined twice')
    for i, entry in enumerate(schedules):
        problems += [
            f'schedules[{i} "{entry.name}"].{p}'
            for p in check_schedule_target(entry, lists, looks, cues)
        ]
    return problems


def check_schedule_target(
    entry: ScheduleEntry,
    lists: set[str] | frozenset[str],
    looks: set[str] | frozenset[str],
    cues: set[tuple[str, Any]] | frozenset[tuple[str, Any]],
) -> list[str]:
    kind = entry.target_kind
    if kind == "look" and entry.target not in looks:
        return [f'target: no look "{entry.target}"']
    if kind in ("cue_list", "cue") and entry.target not in lists:
        return [f'target: no cue list "{entry.target}"']
    if kind == "cue" and (entry.target, entry.cue) not in cues:
        return [f'cue: no cue {entry.cue} in cue list "{entry.target}"']
    return []
