"""Show snapshots as a service (docs/snapshots.md): a snapshot after every accepted show
change, the diff between two, a rollback to one and the import of a show document.

A snapshot is taken right after the change commits, not inside its transaction: it reads the
whole show (the default one is ~800 universes of patch) and hashes it, work that would
otherwise hold the show-wide lock and, on SQLite, the one writer for every other edit. It reads
one consistent snapshot of the store, so it is exactly the show as stored at that moment;
`_lock` keeps snapshots of this process in order (each one's parent is the one before).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import structlog
import trio

from .permissions import Actor, require
from .snapshots import SnapshotInfo, diff, short
from .storage import showfile

if TYPE_CHECKING:
    from .commands import Controller
    from .rule_service import RuleService
    from .schedule_service import ScheduleService
    from .storage import Storage

__all__ = ["ShowSnapshots"]

_log = structlog.get_logger(subsystem="snapshots")

# Diff entries of these kinds change what the running patch or settings are built from: the
# store has them at once, the output patch at the next start (it is compiled at start-up).
RESTART_KINDS: Final = frozenset({"settings", "fixture", "canvas", "fixture_type"})


class ShowSnapshots:
    def __init__(
        self,
        store: Storage,
        controller: Controller,
        schedule: ScheduleService | None = None,
        rules: RuleService | None = None,
    ) -> None:
        self.store = store
        self.controller = controller
        self.schedule = schedule
        self.rules = rules
        self._lock = trio.Lock()
        self.failures = 0  # snapshots that could not be taken after a change (logged)

    async def record_after_change(self, actor: Actor, message: str) -> None:
        """The snapshot after an accepted change. The change is stored already: a failure
        here is logged and counted, not the caller's error. Nothing is lost: the next
        snapshot is the whole show again, only this one's message is."""
        try:
            await self.record(actor, message)
        except Exception as exc:
            self.failures += 1
            _log.error("show snapshot failed after a change", message=message, error=str(exc))

    async def record(self, actor: Actor, message: str) -> SnapshotInfo | None:
        """Snapshot the show as stored now (None: same content as the newest snapshot)."""
        async with self._lock:
            doc = await self.store.show.export_show()
            return await self.store.snapshots.record(doc, actor=actor.name, message=message)

    async def document(self, hash_: str | None) -> dict[str, Any]:
        """A snapshot's show document; None: the show as stored now."""
        if hash_ is None:
            return await self.store.show.export_show()
        return await self.store.snapshots.get_document(hash_)

    async def diff(self, old: str, new: str | None) -> list[dict[str, Any]]:
        return diff(await self.document(old), await self.document(new))

    async def rollback(self, actor: Actor, hash_: str) -> dict[str, Any]:
        require(actor, "show.edit", "roll the show back")
        doc = await self.store.snapshots.get_document(hash_)
        return await self._apply(
            actor,
            doc,
            action="snapshot.rollback",
            target=hash_,
            message=f"rolled back to {short(hash_)}",
        )

    async def import_doc(self, actor: Actor, doc: Mapping[str, Any]) -> dict[str, Any]:
        require(actor, "show.edit", "import a show")
        return await self._apply(
            actor, doc, action="show.import", target="show", message="show imported"
        )

    async def take_on(self, actor: Actor, hash_: str) -> None:
        """A hot standby (docs/ha.md): the engine, the schedule and the rules take snapshot
        `hash_`, which the leader has stored already, so nothing is written but the audit
        entry (`ha.follow_show`)."""
        doc = await self.store.snapshots.get_document(hash_)
        show, _schedules = await trio.to_thread.run_sync(showfile.parse_doc, doc)

        async def stored() -> None:
            return None

        await self.controller.replace_show(
            actor, show, stored, action="ha.follow_show", target=hash_
        )
        if self.schedule is not None:
            await self.schedule.load()
        if self.rules is not None:
            await self.rules.load()

    async def _apply(
        self, actor: Actor, doc: Mapping[str, Any], *, action: str, target: str, message: str
    ) -> dict[str, Any]:
        # Everything is validated before anything is written: the document (schema and
        # cross-references, each problem with its path), then every look against the renderer.
        show, schedules = await trio.to_thread.run_sync(showfile.parse_doc, doc)
        rules = showfile.parse_rules(doc)  # None (an older document): the stored rules stay
        before = await self.store.show.export_show()
        result = await self.controller.replace_show(
            actor,
            show,
            lambda: self.store.show.replace_show(show, schedules, rules),
            action=action,
            target=target,
        )
        if self.schedule is not None:
            await self.schedule.load()
        if self.rules is not None:
            await self.rules.load()
        after = await self.store.show.export_show()
        changes = diff(before, after)
        made = await self.record(actor, message)
        latest = made or await self.store.snapshots.latest()
        return {
            "outcome": result.outcome,
            "snapshot": None if latest is None else latest.hash,
            "changes": changes,
            "restart_required": any(c["kind"] in RESTART_KINDS for c in changes),
        }
