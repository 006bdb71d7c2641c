"""Who may do what: the roles, the permission groups, the caller (`Actor`) and the one check
every interface uses (`require`), so no module writes its own role test."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .errors import ForbiddenError

__all__ = ["PERMISSIONS", "SYSTEM", "Actor", "Forbidden", "Origin", "Role", "allowed", "require"]

Role = Literal["admin", "operator", "marketing", "viewer"]
Origin = Literal["ui", "api", "socket", "schedule", "rule", "input", "system"]

# Which roles may run which group of commands (the seeds' roles; admin may do everything).
PERMISSIONS: Mapping[str, frozenset[str]] = {
    "playback": frozenset({"admin", "operator"}),
    "override": frozenset({"admin", "operator"}),
    "emergency.engage": frozenset({"admin", "operator"}),
    "emergency.release": frozenset({"admin", "operator"}),
    "masters": frozenset({"admin", "operator"}),
    "show.edit": frozenset({"admin", "operator"}),
    "schedule.edit": frozenset({"admin", "operator", "marketing"}),  # the seed: marketing too
    "content.edit": frozenset({"admin", "marketing"}),  # the seed: marketing manages content
    "content.approve": frozenset({"admin", "operator"}),  # …and an operator or admin approves
    "mdvr.control": frozenset({"admin", "operator"}),  # live view, alarm acknowledgement
    # Recorded vehicle footage (files, thumbnails): the same footage as live view, same roles.
    "mdvr.footage": frozenset({"admin", "operator"}),
    # Live vehicle video in a browser (a stream token's scope, core/stream_tokens.py): the
    # same people as live view. Fleet tenants come with issue 17.
    "video:watch": frozenset({"admin", "operator"}),
    "audit.read": frozenset({"admin", "operator"}),
    "users.manage": frozenset({"admin"}),
    "fleet.provision": frozenset({"admin"}),  # tenants and the device registry (docs/fleet.md)
    "sensors.write": frozenset({"admin", "operator"}),  # sensor gateways log in as operators
    "touch.simulate": frozenset({"admin", "operator"}),  # technicians testing touch on site
    "ha.control": frozenset({"admin", "operator"}),  # a planned handover of the pair
    "debug": frozenset({"admin"}),  # fault injection (only when enabled in the config)
    "read": frozenset({"admin", "operator", "marketing", "viewer"}),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks, in what role, through which interface, from where."""

    name: str
    role: Role
    origin: Origin
    address: str = ""
    # The fleet tenant it acts for (docs/fleet.md): its operations' transactions see that
    # tenant's rows only. The lighting roles belong to the default tenant, 1.
    tenant: int = 1


SYSTEM = Actor("system", "admin", "system")


class Forbidden(ForbiddenError):
    def __init__(self, actor: Actor, action: str) -> None:
        super().__init__(f'role "{actor.role}" may not {action}')
        self.action = action


def allowed(role: str, group: str) -> bool:
    """Whether `role` may run the commands of permission `group` (an unknown group: nobody)."""
    return role in PERMISSIONS.get(group, frozenset())


def require(actor: Actor, group: str, action: str) -> None:
    """Raise `Forbidden` (naming `action`) unless the actor's role may run `group`."""
    if not allowed(actor.role, group):
        raise Forbidden(actor, action)
