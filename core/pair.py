"""What the operation table needs of the hot-standby pair (issue 19); the daemon's
`playout/ha.py` provides it (core never imports playout)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Protocol

from .permissions import Actor

# What only the leader may do: what changes the engine, the show or the content. A standby's
# engine follows the leader's; a command there would make the two play different things.
LEADER_ONLY: Final = frozenset(
    {
        "playback",
        "override",
        "emergency.engage",
        "emergency.release",
        "masters",
        "show.edit",
        "schedule.edit",
        "content.edit",
        "content.approve",
        "sensors.write",
    }
)


class PairControl(Protocol):
    def refusal(self) -> str | None:
        """Why this node takes no commands now (it stands by), or None (it leads)."""
        ...

    def status(self) -> Mapping[str, Any]:
        """This node and its peer as /healthz shows them."""
        ...

    async def handover(self, actor: Actor) -> Mapping[str, Any]:
        """Move leadership to the peer (this node must lead and the peer must be alive):
        ConflictError otherwise, RefusedError if the peer did not take it in time."""
        ...
