"""The hot-standby pair (docs/ha.md): its state, and a planned handover to the standby."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import RefusedError
from ..permissions import Actor
from .spec import Operation, Rest, Services

__all__ = ["OPERATIONS"]


# Served on a single node too (the same table everywhere): it says there is no pair.
_SINGLE = {"enabled": False, "role": "single"}


async def _status(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return _SINGLE if s.pair is None else {"enabled": True, **s.pair.status()}


async def _handover(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    if s.pair is None:
        raise RefusedError("ha: this node is not part of a pair (no [ha] node_name)")
    return {"enabled": True, **await s.pair.handover(actor)}


_STATUS = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean", "description": "false: a single node, no [ha]"},
        "node": {"type": "string"},
        "role": {"type": "string", "enum": ["single", "standby", "leader", "handing-over"]},
        "epoch": {"type": "integer"},
        "peer_node": {"type": ["string", "null"]},
        "peer_role": {"type": ["string", "null"]},
        "peer_heartbeat_age_ms": {"type": ["number", "null"]},
        "last_transition": {"type": ["string", "null"]},
        "last_transition_reason": {"type": ["string", "null"]},
    },
}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "ha.status",
        "the hot-standby pair: this node's role and epoch, the peer's heartbeats, the last"
        " failover and why",
        "read",
        (),
        _status,
        _STATUS,
        Rest("GET", "/api/ha"),
        needs=(),
        action="read the pair's state",
    ),
    Operation(
        "ha.handover",
        "planned handover: the standby takes the lease and raises its sACN priority, then this"
        " node sends Stream_Terminated and stands by (audited)",
        "ha.control",
        (),
        _handover,
        _STATUS,
        Rest("POST", "/api/ha/handover"),
        needs=(),
        action="hand the output over to the standby",
    ),
)
