"""The declaration of an operation (name, arguments, permission group, handler, result, REST
binding) and the error every interface reports; `registry.py` runs them. Light to import:
`trocadero.client` and `trocadero ctl` read the declarations without the daemon's modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from ..errors import InvalidArgument
from ..permissions import Actor
from .args import Arg

if TYPE_CHECKING:
    from ..auth import AuthService
    from ..blobs import CameraView
    from ..commands import Controller
    from ..content import ContentLibrary
    from ..interactions import Interactions
    from ..look_preview import LookPreviewer
    from ..mdvr import MdvrControl
    from ..pair import PairControl
    from ..patch_grid import Wiring
    from ..rule_service import RuleService
    from ..schedule_service import ScheduleService
    from ..snapshot_service import ShowSnapshots
    from ..storage.assets import AssetStore
    from ..storage.audit import AuditStore
    from ..storage.show import ShowStore
    from ..touch import TouchService
    from ..video_hub import VideoHub

__all__ = [
    "SESSION_OPS",
    "Handler",
    "OpError",
    "Operation",
    "Rest",
    "Services",
    "object_schema",
    "parse_args",
]

Handler = Callable[[Any, Actor, Mapping[str, Any]], Awaitable[Any]]
# The snapshot message of a show change, from its parsed arguments and its result.
SnapshotMessage = Callable[[Mapping[str, Any], Any], str]


class OpError(Exception):
    """A refused call: `code` from the error table, `message` names what and where."""

    def __init__(self, code: str, message: str, status: int = 400, **detail: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Rest:
    """How REST serves an operation: path parameters are named after its arguments."""

    method: str
    path: str
    status: int = 200  # on success
    body: str | None = None  # the argument that takes the whole JSON body (a document)
    created: int | None = None  # the status when the result says it ``created`` something


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    summary: str
    group: str  # permission group of core.permissions.PERMISSIONS
    args: tuple[Arg, ...]
    run: Handler  # (services, actor, parsed args) → result
    result: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    rest: Rest | None = None
    # The services it needs (an interface without them omits it): by default the command
    # layer, which every playback and show edit goes through.
    needs: tuple[str, ...] = ("controller",)
    action: str = ""  # the verb in the role-refusal message ("go on a cue list")
    # Set on every operation that changes the show (looks, cue lists, cues, schedule entries,
    # and trigger rules when they come): once it succeeds, the registry takes a show snapshot
    # with this message (docs/snapshots.md).
    snapshot: SnapshotMessage | None = None

    @property
    def refusal(self) -> str:
        """What a role that may not run it is told it may not do."""
        return self.action or self.name

    def arg(self, name: str) -> Arg:
        return next(a for a in self.args if a.name == name)

    @property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.args)

    def parse(self, args: Mapping[str, Any]) -> dict[str, Any]:
        return parse_args(self.args, args, self.name)


def parse_args(declared: tuple[Arg, ...], given: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """Every declared argument, checked (absent ones at their default); unknown ones and
    missing required ones are refused, naming the field (and the accepted ones)."""
    names = tuple(a.name for a in declared)
    unknown = sorted(str(k) for k in given if k not in names)
    if unknown:
        known = ", ".join(names) or "none"
        raise InvalidArgument(f"{unknown[0]}: not an argument of {owner} (known: {known})")
    out: dict[str, Any] = {}
    for a in declared:
        value = given.get(a.name)
        if value is None:
            if a.required:
                raise InvalidArgument(f"{a.name}: required")
            out[a.name] = a.default
        else:
            out[a.name] = a.kind.parse(value, a.name)
    return out


def object_schema(declared: Sequence[Arg]) -> dict[str, Any]:
    """The JSON Schema of an object carrying these arguments (and nothing else)."""
    doc: dict[str, Any] = {
        "type": "object",
        "properties": {a.name: a.schema() for a in declared},
        "additionalProperties": False,  # an unknown field is refused, naming it
    }
    required = [a.name for a in declared if a.required]
    if required:
        doc["required"] = required
    return doc


@dataclass(frozen=True)
class Services:
    """What the handlers act on; an operation whose `needs` are missing is left out."""

    controller: Controller | None = None  # the command layer (need: "controller")
    interactions: Interactions | None = None
    show: ShowStore | None = None  # looks and cue lists as stored
    audit: AuditStore | None = None
    schedule: ScheduleService | None = None
    auth: AuthService | None = None  # the accounts
    mdvr: MdvrControl | None = None  # the MDVR gateway, when enabled
    assets: AssetStore | None = None  # the content catalogue as stored
    content: ContentLibrary | None = None  # uploads, thumbnails, the looks that use an asset
    wiring: Wiring | None = None  # the patch as played and the outputs that send it
    # Renders a look off the wire (the daemon's renderer, injected: core never imports playout).
    look_preview: LookPreviewer | None = None
    snapshots: ShowSnapshots | None = None  # show snapshots, rollback, export and import
    rules: RuleService | None = None  # trigger rules (need: "rules")
    touch: TouchService | None = None  # touch surfaces and the simulator (need: "touch")
    cameras: CameraView | None = None  # blob trackers (need: "cameras")
    video: VideoHub | None = None  # live vehicle video for browsers (need: "video")
    pair: PairControl | None = None  # the hot-standby pair, when [ha] is on

    # The operations that need a service are in a registry only when it is there.
    def control(self) -> Controller:
        assert self.controller is not None
        return self.controller

    def store_show(self) -> ShowStore:
        assert self.show is not None
        return self.show

    def store_audit(self) -> AuditStore:
        assert self.audit is not None
        return self.audit

    def moments(self) -> Interactions:
        assert self.interactions is not None
        return self.interactions

    def gateway(self) -> MdvrControl:
        assert self.mdvr is not None
        return self.mdvr

    def store_assets(self) -> AssetStore:
        assert self.assets is not None
        return self.assets

    def patch_wiring(self) -> Wiring:
        assert self.wiring is not None
        return self.wiring

    def previewer(self) -> LookPreviewer:
        assert self.look_preview is not None
        return self.look_preview

    def show_snapshots(self) -> ShowSnapshots:
        assert self.snapshots is not None
        return self.snapshots

    def rule_service(self) -> RuleService:
        assert self.rules is not None
        return self.rules

    def touches(self) -> TouchService:
        assert self.touch is not None
        return self.touch

    def camera_view(self) -> CameraView:
        assert self.cameras is not None
        return self.cameras

    def video_hub(self) -> VideoHub:
        assert self.video is not None
        return self.video

    def has(self, need: str) -> bool:
        return getattr(self, need) is not None


SESSION_OPS: Final = ("subscribe", "unsubscribe")  # about the connection: the socket runs them
