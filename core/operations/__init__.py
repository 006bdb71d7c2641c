"""The one table of operations behind every interface: the declarations (`spec.py`, one
module per area) are light to import; `registry.py` runs them for the daemon."""

from __future__ import annotations

from typing import Final

from . import (
    cameras,
    content,
    edits,
    fleet,
    ha,
    mdvr,
    patch,
    playback,
    rules,
    schedule,
    show,
    snapshots,
    touch,
    users,
    video,
)
from .args import Arg
from .spec import SESSION_OPS, Operation, OpError, Rest, Services

__all__ = [
    "OPERATIONS",
    "SESSION_OPS",
    "Arg",
    "OpError",
    "Operation",
    "Rest",
    "Services",
    "operation",
]

OPERATIONS: Final[tuple[Operation, ...]] = (
    *playback.OPERATIONS,
    *show.OPERATIONS,
    *edits.OPERATIONS,
    *patch.OPERATIONS,
    *schedule.OPERATIONS,
    *snapshots.OPERATIONS,
    *users.OPERATIONS,
    *content.OPERATIONS,
    *mdvr.OPERATIONS,
    *fleet.OPERATIONS,
    *rules.OPERATIONS,
    *touch.OPERATIONS,
    *cameras.OPERATIONS,
    *video.OPERATIONS,
    *ha.OPERATIONS,
)
_BY_NAME: Final = {op.name: op for op in OPERATIONS}


def operation(name: str) -> Operation:
    """The declaration of operation `name` (KeyError when there is none)."""
    return _BY_NAME[name]
