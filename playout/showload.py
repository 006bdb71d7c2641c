"""Load the configured show and build everything the frame path needs, before the nursery.

Every problem — TOML schema, patch (named by fixture), layer parameters (named by canvas
and layer) — comes back as one `ConfigError`, so `trocadero run` and `check-config` exit 2
with the whole list instead of failing at the first frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from trocadero.config import Config, ConfigError, RawSchedules, read_default_show, read_show
from trocadero.config.show import ShowDef
from trocadero.core.codec import from_plain
from trocadero.core.model import ScheduleEntry
from trocadero.core.patch import CompiledPatch, PatchError, compile_patch
from trocadero.core.patch_csv import load_patch_csv
from trocadero.core.storage.showfile import check_schedule_target

from .render.preview import Previews
from .render.renderer import Renderer, ShowError
from .render.sources import SourceContext


def cue_problems(show: ShowDef) -> list[str]:
    """Cross-references the schema cannot see: cues naming looks and canvases that exist."""
    looks = {look.name for look in show.looks}
    canvases = {c.name for c in show.canvases}
    problems: list[str] = []
    names = [look.name for look in show.looks]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f'looks: look "{name}" is defined twice')
    lists = [cl.name for cl in show.cue_lists]
    for name in sorted({n for n in lists if lists.count(n) > 1}):
        problems.append(f'cue_lists: cue list "{name}" is defined twice')
    for cl in show.cue_lists:
        for cue in cl.cues:
            where = f'cue_lists["{cl.name}"].cues[{cue.number}]'
            if cue.look and cue.look not in looks:
                problems.append(f'{where}.look: no look "{cue.look}"')
            for i, part in enumerate(cue.parts):
                for canvas in part.canvases:
                    if canvas not in canvases:
                        problems.append(f'{where}.parts[{i}]: no canvas "{canvas}"')
    return problems


def schedule_entries(
    show: ShowDef, raw: RawSchedules
) -> tuple[tuple[ScheduleEntry, ...], list[str]]:
    """The show file's `[[schedules]]` as entries (seeded into a fresh store), checked as
    over REST: every field, the name unique, the target in this show."""
    entries: list[ScheduleEntry] = []
    problems: list[str] = []
    lists = {cl.name for cl in show.cue_lists}
    looks = {look.name for look in show.looks}
    cues = {(cl.name, cue.number) for cl in show.cue_lists for cue in cl.cues}
    for i, plain in enumerate(raw):
        where = f'schedules[{i} "{plain.get("name", "")}"]'
        entry, found = from_plain(ScheduleEntry, plain, (where,))
        problems += found
        if entry is not None:
            problems += [f"{where}.{p}" for p in check_schedule_target(entry, lists, looks, cues)]
            entries.append(entry)
    names = [e.name for e in entries]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f'schedules: schedule "{name}" is defined twice')
    return tuple(entries), problems


@dataclass
class LoadedShow:
    show: ShowDef
    source: str
    patch: CompiledPatch
    renderer: Renderer
    previews: Previews
    schedules: tuple[ScheduleEntry, ...] = ()  # seeded into a fresh store with the show


def load_configured_show(config: Config, sources: SourceContext | None = None) -> LoadedShow:
    """`sources` is what the renderer's layers use (the daemon's content index, live feeds and
    alerts); without it a bare context (check-config, benches)."""
    path = config.show.path
    source = path or "<embedded default_show.toml>"
    show, raw_schedules = read_show(path) if path else read_default_show()
    if show.fixtures_csv:
        base = Path(path).parent if path else Path.cwd()
        csv_path = base / show.fixtures_csv
        show = replace(show, fixtures=show.fixtures + load_patch_csv(csv_path))
    try:
        patch = compile_patch(show)
        base_dir = Path(path).parent if path else None
        renderer = Renderer(show, patch, base_dir=base_dir, sources=sources)
    except (PatchError, ShowError) as exc:
        raise ConfigError([f"{source}: {p}" for p in exc.problems]) from exc
    schedules, problems = schedule_entries(show, raw_schedules)
    problems = cue_problems(show) + problems
    if problems:
        raise ConfigError([f"{source}: {p}" for p in problems])
    previews = Previews(
        renderer,
        max_size=config.render.preview_max_size,
        rate_hz=config.render.preview_rate_hz,
    )
    return LoadedShow(show, source, patch, renderer, previews, schedules)
