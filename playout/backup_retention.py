"""Which archives retention deletes (sans-IO: names and manifests in, names out).

Only archives trocadero made are candidates: the name matches `ARCHIVE_RE` and the sidecar
manifest is ours and names that very archive. Among those, the newest is always kept; the
rest go oldest first once beyond `keep_last` or older than `keep_days`. Anything else at the
destination (other files, an archive whose manifest is missing) is never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from .backup import created_at_of
from .backup_targets import Stored


def to_delete(
    found: Sequence[Stored], *, keep_last: int, keep_days: float, now: datetime
) -> list[str]:
    ours = [
        (at, s.name)
        for s in found
        if s.manifest is not None
        and s.manifest.archive == s.name
        and (at := created_at_of(s.name)) is not None
    ]
    ours.sort(reverse=True)  # newest first
    doomed: list[str] = []
    for rank, (at, name) in enumerate(ours):
        if rank == 0:
            continue  # the newest successful backup survives every rule
        too_many = keep_last > 0 and rank >= keep_last
        too_old = keep_days > 0 and now - at > timedelta(days=keep_days)
        if too_many or too_old:
            doomed.append(name)
    doomed.reverse()  # oldest first
    return doomed
