"""Start-up: the stored show meets the show file.

The show file (or the embedded default) is the source of the patch and the show settings
(canvases, fixtures, idle and emergency looks): the store is brought in line with it on every
start. Looks, cue lists and schedule entries are edited live and live in the store; a fresh
store is seeded with the show file's (the embedded default's evening schedule included). So
an export always describes what is playing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from trocadero.config.show import ShowDef
from trocadero.core.model import Patch, ScheduleEntry, ShowSettings
from trocadero.core.storage import Storage

from .logs import get_logger

log = get_logger("storage")


def unseeded(stored: ShowDef) -> bool:
    """A store no show was ever seeded into (a first start, or a store lost)."""
    return not stored.canvases and not stored.looks and not stored.cue_lists


async def reconcile_show(
    store: Storage, show: ShowDef, schedules: Sequence[ScheduleEntry] = ()
) -> ShowDef:
    """Bring the store in line with the show file; return the show to play (its looks and
    cue lists from the store). `schedules` (the show file's) are seeded with a fresh store
    only: after that the stored schedule is the operators'."""
    stored = await store.show.get_show()
    file_patch = Patch(show.canvases, show.fixture_types, show.fixtures)
    if unseeded(stored):
        await store.show.replace_show(replace(show, fixtures_csv=""), schedules)
        log.info(
            "store seeded from the show file",
            looks=len(show.looks),
            cue_lists=len(show.cue_lists),
            schedules=len(schedules),
        )
        return show
    if Patch(stored.canvases, stored.fixture_types, stored.fixtures) != file_patch:
        await store.patch.put_patch(show.canvases, show.fixture_types, show.fixtures)
        log.info("stored patch updated from the show file", fixtures=len(show.fixtures))
    settings = ShowSettings(
        name=show.name,
        grand_master=show.grand_master,
        safe_state=show.safe_state,
        idle=show.idle,
        emergency=show.emergency,
    )
    if await store.show.get_settings() != settings:
        await store.show.put_settings(settings)
    return replace(show, looks=stored.looks, cue_lists=stored.cue_lists)
