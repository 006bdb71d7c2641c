"""The operation table: every command and query an interface offers, declared once.

An `Operation` names itself, its arguments (kinds, defaults, which are required), the
permission group that may run it, its handler, the shape of its result and, when
REST serves it, its method and path. `Registry.call` is the one way in: it refuses unknown and
misspelt arguments (naming the accepted ones), checks the role, parses every argument, runs
the handler and turns every domain error into an `OpError` with the code of
`core.errors.ERROR_KINDS`. REST routes (`web/operations_api.py`), the OpenAPI document, the
socket API, `trocadero ctl` and `trocadero.client` are all derived from this table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import RefusedError, error_kind
from ..nesting import check_nesting
from ..pair import LEADER_ONLY, PairControl
from ..permissions import Actor, require
from ..storage import tenancy
from . import OPERATIONS
from .spec import SESSION_OPS, Operation, OpError, Services

if TYPE_CHECKING:
    from ..auth import AuthService
    from ..blobs import CameraView
    from ..commands import Controller
    from ..content import ContentLibrary
    from ..interactions import Interactions
    from ..look_preview import LookPreviewer
    from ..mdvr import MdvrControl
    from ..patch_grid import Wiring
    from ..rule_service import RuleService
    from ..schedule_service import ScheduleService
    from ..snapshot_service import ShowSnapshots
    from ..storage.assets import AssetStore
    from ..storage.audit import AuditStore
    from ..storage.show import ShowStore
    from ..touch import TouchService
    from ..video_hub import VideoHub

__all__ = ["Registry", "as_op_error", "registry"]


class Registry:
    def __init__(self, operations: Iterable[Operation], services: Services) -> None:
        self.services = services
        self.operations: dict[str, Operation] = {}
        for op in operations:
            if op.name in self.operations:
                raise ValueError(f"operation {op.name!r} declared twice")
            if all(services.has(n) for n in op.needs):
                self.operations[op.name] = op

    def names(self) -> list[str]:
        return sorted([*self.operations, *SESSION_OPS])

    def get(self, name: str) -> Operation:
        op = self.operations.get(name)
        if op is None:
            raise OpError(
                "unknown_op", f"op: unknown {name!r} (known: {', '.join(self.names())})", 404
            )
        return op

    async def call(self, actor: Actor, name: str, args: Mapping[str, Any]) -> Any:
        """Run operation `name` for `actor`; every refusal is an `OpError`."""
        op = self.get(name)
        try:
            # The role first: a caller who may not act learns nothing about the input.
            require(actor, op.group, op.refusal)
            pair = self.services.pair
            if pair is not None and op.group in LEADER_ONLY and (why := pair.refusal()):
                raise RefusedError(why)  # a standby follows the leader, it takes no commands
            check_nesting(args, "args")  # nothing below walks a 1000-level structure
            parsed = op.parse(args)
            with tenancy.as_tenant(actor.tenant):  # PostgreSQL: SET LOCAL per transaction
                result = await op.run(self.services, actor, parsed)
            snapshots = self.services.snapshots
            if op.snapshot is not None and snapshots is not None:
                await snapshots.record_after_change(actor, op.snapshot(parsed, result))
            return result
        except Exception as exc:
            raise as_op_error(exc) from exc


def as_op_error(exc: Exception) -> Exception:
    """The `OpError` for a domain error (anything else is returned as it is: a bug)."""
    if isinstance(exc, OpError):
        return exc
    kind = error_kind(exc)
    if kind is None:
        return exc
    problems = getattr(exc, "problems", None)
    message = "; ".join(problems) if problems else str(exc)
    detail: dict[str, Any] = dict(getattr(exc, "detail", None) or {})
    if problems:
        detail["problems"] = list(problems)
    if kind.code == "unavailable" and not message.startswith("storage"):
        message = f"storage: {message}"
    return OpError(kind.code, message, kind.status, **detail)


def registry(
    controller: Controller | None,
    *,
    interactions: Interactions | None = None,
    show: ShowStore | None = None,
    audit: AuditStore | None = None,
    schedule: ScheduleService | None = None,
    auth: AuthService | None = None,
    mdvr: MdvrControl | None = None,
    assets: AssetStore | None = None,
    content: ContentLibrary | None = None,
    wiring: Wiring | None = None,
    look_preview: LookPreviewer | None = None,
    snapshots: ShowSnapshots | None = None,
    rules: RuleService | None = None,
    touch: TouchService | None = None,
    cameras: CameraView | None = None,
    video: VideoHub | None = None,
    pair: PairControl | None = None,
) -> Registry:
    """The table over these services (operations whose services are absent are left out)."""
    services = Services(
        controller=controller,
        interactions=interactions,
        show=show,
        audit=audit,
        schedule=schedule,
        auth=auth,
        mdvr=mdvr,
        assets=assets,
        content=content,
        wiring=wiring,
        look_preview=look_preview,
        snapshots=snapshots,
        rules=rules,
        touch=touch,
        cameras=cameras,
        video=video,
        pair=pair,
    )
    return Registry(OPERATIONS, services)
