"""The schedule's iCal import (docs/schedule.md): a JSON body or a ``text/calendar`` one, so
it is a route of its own; the schedule's other routes come from the operation table
(`core/operations/schedule.py`). Errors name the field (4xx, never 5xx for bad input).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trocadero.core.commands import Actor
from trocadero.core.schedule_service import ScheduleService

from .guard import ActorOf, BadRequest, guard, json_body

if TYPE_CHECKING:
    from trocadero.core.snapshot_service import ShowSnapshots

Handler = Callable[[Request], Awaitable[Response]]
MAX_ICAL_BYTES = 2 << 20


def schedule_routes(
    service: ScheduleService, actor_of: ActorOf, snapshots: ShowSnapshots | None = None
) -> list[Route]:
    guarded = guard(actor_of)

    async def import_ical(request: Request, actor: Actor) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        template: dict[str, Any]
        if kind == "text/calendar":
            raw = await request.body()
            text = _decode(raw)
            template = dict(_template_from_query(request.query_params))
            replace_existing = request.query_params.get("replace", "") in ("1", "true")
        else:
            doc = await json_body(request)
            given = doc.get("ical")
            if not isinstance(given, str) or not given.strip():
                raise BadRequest("ical: required, the calendar's text (or send text/calendar)")
            text = given
            if len(text.encode()) > MAX_ICAL_BYTES:
                raise BadRequest(f"ical: larger than {MAX_ICAL_BYTES} bytes")
            replace_existing = doc.get("replace", False)
            if not isinstance(replace_existing, bool):
                raise BadRequest(f"replace: expected true or false (got {replace_existing!r})")
            template = {k: v for k, v in doc.items() if k not in ("ical", "replace")}
        result = await service.import_ical(actor, text, template, replace_existing=replace_existing)
        if snapshots is not None:  # a schedule change like the operation table's (snapshots.md)
            await snapshots.record_after_change(actor, "schedule entries imported from iCal")
        return JSONResponse(result, status_code=201 if result["created"] else 200)

    return [Route("/api/schedule/import", guarded(import_ical), methods=["POST"])]


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_ICAL_BYTES:
        raise BadRequest(f"body: larger than {MAX_ICAL_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body: not UTF-8 ({exc})") from None


def _template_from_query(params: Mapping[str, str]) -> dict[str, Any]:
    """What imported events play, from the query string of a text/calendar upload."""
    out: dict[str, Any] = {}
    for key in ("target_kind", "target", "cue"):
        if key in params:
            out[key] = params[key]
    if "priority" in params:
        if not params["priority"].isdigit():
            raise BadRequest(f"priority: expected a whole number (got {params['priority']!r})")
        out["priority"] = int(params["priority"])
    if "canvases" in params:
        out["canvases"] = [c for c in params["canvases"].split(",") if c]
    if "enabled" in params:
        out["enabled"] = params["enabled"] not in ("0", "false")
    return out
