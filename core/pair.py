"""What the operation table needs of the hot-standby pair (issue 19); the daemon's
`playout/ha.py` provides it (core never imports playout)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .permissions import Actor


class PairControl(Protocol):
    def status(self) -> Mapping[str, Any]:
        """This node and its peer as /healthz shows them."""
        ...

    async def handover(self, actor: Actor) -> Mapping[str, Any]:
        """Move leadership to the peer (this node must lead and the peer must be alive):
        ConflictError otherwise, RefusedError if the peer did not take it in time."""
        ...
