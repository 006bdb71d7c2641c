"""The socket API's operations: op name + args → the one command layer, same verbs and the
same checks as REST (`web/playback_api.py`), so a show script and the web UI behave alike.

Each op declares the arguments it takes: a script that misspells one (``fdae=2``) gets an
error naming it instead of a GO with the default fade.

Errors come back as ``(code, message)``: ``unknown_op``, ``bad_args`` (the message names the
field), ``forbidden``, ``not_found``, ``refused`` (a verb refused in the current state),
``conflict``, ``unavailable`` (storage).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .codec import to_plain
from .commands import PERMISSIONS, Actor, Controller, Forbidden, Result
from .interactions import Interactions
from .nesting import check_nesting
from .playback.cuelist import PlaybackError
from .storage import MAX_LIMIT, Conflict, NotFound, Page, Storage, StorageError
from .storage import ValidationError as StoreValidationError
from .storage.show import ShowStore
from .validate import InvalidArgument, cue_number, level, name, seconds, target

__all__ = ["SESSION_OPS", "VERBS", "OpError", "Ops", "topic_patterns"]

VERBS: Final = ("go", "back", "goto", "fire", "load", "release", "top", "pause", "resume")
# Ops about the connection itself (its subscriptions): the server runs them, not `Ops.call`;
# listed here so that the op table and its error messages name every op there is.
SESSION_OPS: Final = ("subscribe", "unsubscribe")
MAX_PATTERNS: Final = 64
MAX_PATTERN_LEN: Final = 128

Handler = Callable[[Actor, Mapping[str, Any]], Awaitable[Any]]

# The arguments of each cue-list verb (REST takes the same fields in its body).
_VERB_ARGS: Final[Mapping[str, tuple[str, ...]]] = {
    "go": ("list",),
    "pause": ("list",),
    "resume": ("list",),
    "back": ("list", "fade"),
    "release": ("list", "fade"),
    "top": ("list", "fade"),
    "goto": ("list", "cue", "fade"),
    "fire": ("list", "cue", "fade"),
    "load": ("list", "cue"),
}


class OpError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class _Op:
    run: Handler
    args: tuple[str, ...]


def _string(args: Mapping[str, Any], key: str) -> str:
    return name(args, key)  # non-empty, at most NAME_MAX characters


def _integer(args: Mapping[str, Any], key: str, default: int) -> int:
    value = args.get(key, default)
    # msgpack integers fit 64 bits; the engine compares priorities, so any int is fine.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{key}: expected an integer (got {value!r})")
    return value


def _result(result: Result) -> dict[str, Any]:
    if result.outcome == "refused":
        raise OpError("refused", str(result.detail.get("reason", "refused in this state")))
    return {"outcome": result.outcome, **result.detail}


def topic_patterns(args: Mapping[str, Any]) -> list[str]:
    """The ``topics`` of subscribe/unsubscribe: ``*``, an exact topic or a ``prefix*``."""
    topics = args.get("topics")
    if not isinstance(topics, list) or not all(isinstance(t, str) and t for t in topics):
        raise OpError("bad_args", f"topics: expected a list of topic patterns (got {topics!r})")
    if len(topics) > MAX_PATTERNS:
        raise OpError("bad_args", f"topics: at most {MAX_PATTERNS} patterns (got {len(topics)})")
    for t in topics:
        # The bus matches a '*' only at the end; one elsewhere would silently match nothing.
        if len(t) > MAX_PATTERN_LEN or "*" in t[:-1]:
            raise OpError(
                "bad_args", f"topics: {t[:MAX_PATTERN_LEN]!r} is not a topic or a 'prefix*'"
            )
    unknown = sorted(set(args) - {"topics"})
    if unknown:
        raise OpError("bad_args", f"{unknown[0]}: not an argument of this op (known: topics)")
    return list(topics)


def may_read(actor: Actor) -> None:
    if actor.role not in PERMISSIONS["read"]:
        raise Forbidden(actor, "read")


@dataclass
class Ops:
    controller: Controller
    interactions: Interactions | None = None
    store: Storage | None = None

    def __post_init__(self) -> None:
        self._ops = self._table()

    def names(self) -> list[str]:
        return sorted([*self._ops, *SESSION_OPS])

    def args_of(self, op: str) -> tuple[str, ...]:
        return self._ops[op].args

    def _table(self) -> dict[str, _Op]:
        table: dict[str, _Op] = {
            "ping": _Op(self._ping, ()),
            "status": _Op(self._status, ()),
            "park": _Op(self._park, ("canvas", "look", "rgb", "fade")),
            "unpark": _Op(self._unpark, ("canvas", "fade")),
            "override": _Op(self._override, ("canvases", "ttl", "priority", "fade_in", "fade_out")),
            "override.refresh": _Op(self._override_refresh, ("id", "ttl")),
            "override.release": _Op(self._override_release, ("id", "fade")),
            "master": _Op(self._master, ("target", "level")),
            "blackout": _Op(self._blackout, ("on",)),
            "panic": _Op(self._panic, ("fade",)),
            "emergency.engage": _Op(self._emergency_engage, ()),
            "emergency.release": _Op(self._emergency_release, ()),
        }
        for verb, names in _VERB_ARGS.items():
            table[verb] = _Op(self._verb(verb), names)
        if self.interactions is not None:
            table["celebrate"] = _Op(
                self._celebrate,
                ("look", "duration_s", "canvases", "fade_in", "fade_out", "priority"),
            )
            table["sensor"] = _Op(self._sensor, ("sensor", "values", "at"))
        if self.store is not None:
            table["looks"] = _Op(self._looks, ("limit", "cursor"))
            table["look"] = _Op(self._look, ("name",))
            table["cue_lists"] = _Op(self._cue_lists, ("limit", "cursor"))
            table["cue_list"] = _Op(self._cue_list, ("name",))
        return table

    async def call(self, actor: Actor, op: str, args: Mapping[str, Any]) -> Any:
        entry = self._ops.get(op)
        if entry is None:
            raise OpError("unknown_op", f"op: unknown {op!r} (known: {', '.join(self.names())})")
        unknown = sorted(set(args) - set(entry.args))
        if unknown:
            known = ", ".join(entry.args) or "none"
            raise OpError("bad_args", f"{unknown[0]}: not an argument of {op} (known: {known})")
        try:
            check_nesting(args, "args")  # nothing below walks a 1000-level structure
            return await entry.run(actor, args)
        except InvalidArgument as exc:
            raise OpError("bad_args", str(exc)) from exc
        except StoreValidationError as exc:
            raise OpError("bad_args", "; ".join(exc.problems)) from exc
        except Forbidden as exc:
            raise OpError("forbidden", str(exc)) from exc
        except NotFound as exc:
            raise OpError("not_found", str(exc)) from exc
        except Conflict as exc:
            raise OpError("conflict", str(exc)) from exc
        except PlaybackError as exc:
            text = str(exc)  # 'no cue list "x"' names a missing thing; the rest is bad input
            raise OpError("not_found" if text.startswith("no ") else "bad_args", text) from exc
        except StorageError as exc:
            raise OpError("unavailable", f"storage: {exc}") from exc

    # --- ops ---

    async def _ping(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        return "pong"

    async def _status(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        return self.controller.state(actor)

    def _verb(self, verb: str) -> Handler:
        async def run(actor: Actor, args: Mapping[str, Any]) -> Any:
            c, name = self.controller, _string(args, "list")
            if verb == "go":
                return _result(await c.go(actor, name))
            if verb in ("back", "release", "top"):
                undo = {"back": c.back, "release": c.release, "top": c.top}[verb]
                return _result(await undo(actor, name, seconds(args, "fade")))
            if verb in ("goto", "fire"):
                jump = c.goto if verb == "goto" else c.fire
                return _result(await jump(actor, name, cue_number(args), seconds(args, "fade")))
            if verb == "load":
                return _result(await c.load(actor, name, cue_number(args)))
            if verb == "pause":
                return _result(await c.pause(actor, name))
            return _result(await c.resume(actor, name))

        return run

    async def _park(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        look, rgb = target(args, "args")
        fade = seconds(args, "fade", 0.0) or 0.0
        canvas = _string(args, "canvas")
        return _result(await self.controller.park(actor, canvas, look=look, rgb=rgb, fade=fade))

    async def _unpark(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        fade = seconds(args, "fade", 0.0) or 0.0
        return _result(await self.controller.unpark(actor, _string(args, "canvas"), fade))

    async def _override(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        canvases = args.get("canvases")
        if not isinstance(canvases, dict) or not canvases:
            raise InvalidArgument("canvases: expected a map of canvas -> {look | rgb}")
        targets = {}
        for canvas, spec in canvases.items():
            if not isinstance(spec, dict):
                raise InvalidArgument(f"canvases.{canvas}: expected {{look}} or {{rgb}}")
            targets[str(canvas)] = target(spec, f"canvases.{canvas}")
        ttl = seconds(args, "ttl")
        if ttl is None or ttl <= 0:
            raise InvalidArgument("ttl: required, seconds > 0 (an override must expire by itself)")
        return _result(
            await self.controller.add_override(
                actor,
                targets,
                ttl=ttl,
                priority=_integer(args, "priority", 0),
                fade_in=seconds(args, "fade_in", 0.0) or 0.0,
                fade_out=seconds(args, "fade_out", 0.0) or 0.0,
            )
        )

    async def _override_refresh(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        ttl = seconds(args, "ttl")
        if ttl is None or ttl <= 0:
            raise InvalidArgument("ttl: required, seconds > 0")
        return _result(await self.controller.refresh_override(actor, _string(args, "id"), ttl))

    async def _override_release(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        oid = _string(args, "id")
        return _result(await self.controller.release_override(actor, oid, seconds(args, "fade")))

    async def _master(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        return _result(
            await self.controller.set_master(actor, _string(args, "target"), level(args, "level"))
        )

    async def _blackout(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        on = args.get("on")
        if not isinstance(on, bool):
            raise InvalidArgument(f"on: expected true or false (got {on!r})")
        return _result(await self.controller.blackout(actor, on))

    async def _panic(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        fade = seconds(args, "fade", self.controller.panic_fade) or 0.0
        return _result(await self.controller.panic(actor, fade))

    async def _emergency_engage(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        return _result(await self.controller.engage_emergency(actor))

    async def _emergency_release(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        return _result(await self.controller.release_emergency(actor))

    async def _celebrate(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        assert self.interactions is not None  # only in the table when there are interactions
        canvases = args.get("canvases")
        if canvases is not None and (
            not isinstance(canvases, list) or not all(isinstance(c, str) for c in canvases)
        ):
            raise InvalidArgument(f"canvases: expected a list of canvas names (got {canvases!r})")
        return await self.interactions.celebrate(
            actor,
            _string(args, "look"),
            duration=args.get("duration_s", 30.0),
            canvases=canvases,
            fade_in=args.get("fade_in", 1.0),
            fade_out=args.get("fade_out", 2.0),
            priority=_integer(args, "priority", 100),
        )

    async def _sensor(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        assert self.interactions is not None
        return self.interactions.sensor(
            actor, _string(args, "sensor"), args.get("values"), args.get("at")
        )

    # --- reads (the stored show, as GET /api/looks and /api/cue-lists give it) ---

    def _reader(self, actor: Actor) -> ShowStore:
        assert self.store is not None  # the read ops are in the table only with a store
        may_read(actor)
        return self.store.show

    async def _looks(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        return _page(await self._reader(actor).list_looks(limit=_limit(args), cursor=_cursor(args)))

    async def _look(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        return to_plain(await self._reader(actor).get_look(_string(args, "name")))

    async def _cue_lists(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        store = self._reader(actor)
        return _page(await store.list_cue_lists(limit=_limit(args), cursor=_cursor(args)))

    async def _cue_list(self, actor: Actor, args: Mapping[str, Any]) -> Any:
        return to_plain(await self._reader(actor).get_cue_list(_string(args, "name")))


def _page(page: Page[Any]) -> dict[str, Any]:
    return {"items": [to_plain(i) for i in page.items], "next": page.next}


def _limit(args: Mapping[str, Any]) -> int:
    value = args.get("limit", 100)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise InvalidArgument(f"limit: expected an integer 1..{MAX_LIMIT} (got {value!r})")
    return value


def _cursor(args: Mapping[str, Any]) -> str | None:
    value = args.get("cursor")
    if value is not None and not isinstance(value, str):
        raise InvalidArgument(f"cursor: expected the 'next' of the previous page (got {value!r})")
    return value
