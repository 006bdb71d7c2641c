"""REST routes for the building's schedule (docs/schedule.md): entries (list, create, read,
replace, change, delete, enable, disable), iCal import, "what plays now and why" at any
instant, and the timeline of the next hours. Bodies use the show-file format of a schedule
entry; errors name the field (4xx, never 5xx for bad input).

Instants in query strings (`at`, `from`) are ISO 8601; without an offset they are read on the
site's wall clock (`2026-12-24T21:37`), and a date alone is its midnight.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trocadero.core.codec import to_plain
from trocadero.core.commands import Actor
from trocadero.core.schedule.clock import to_instant
from trocadero.core.schedule_service import MAX_TIMELINE_HOURS, ScheduleService

from .guard import ActorOf, BadRequest, guard, json_body

Handler = Callable[[Request], Awaitable[Response]]
MAX_ICAL_BYTES = 2 << 20


def _instant(service: ScheduleService, request: Request, key: str) -> datetime | None:
    raw = request.query_params.get(key)
    if raw is None or raw == "":
        return None
    text = raw.strip()
    if " " in text and "T" in text:  # an unescaped "+02:00" arrives as " 02:00"
        text = text.replace(" ", "+")
    try:
        parsed: datetime | date = (
            datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
        )
    except ValueError:
        raise BadRequest(
            f"{key}: expected an ISO 8601 date-time, e.g. 2026-12-24T21:37:00+01:00"
            f" or 2026-12-24T21:37 on the site's clock (got {raw!r})"
        ) from None
    if not isinstance(parsed, datetime):
        parsed = datetime.combine(parsed, datetime.min.time())
    if parsed.tzinfo is None:
        return to_instant(parsed, service.tz)
    return parsed


def _hours(request: Request) -> float:
    raw = request.query_params.get("hours", "24")
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= MAX_TIMELINE_HOURS:
        raise BadRequest(f"hours: must be a number above 0 and at most {MAX_TIMELINE_HOURS}")
    return hours


def schedule_routes(service: ScheduleService, actor_of: ActorOf) -> list[Route]:
    guarded = guard(actor_of)

    def entry_id(request: Request) -> int:
        value: int = request.path_params["id"]
        return value

    async def listing(request: Request, actor: Actor) -> Response:
        if request.method == "POST":
            made = await service.create(actor, await json_body(request))
            return JSONResponse({"entry": to_plain(made)}, status_code=201)
        return JSONResponse({"entries": [to_plain(e) for e in service.list(actor)]})

    async def one(request: Request, actor: Actor) -> Response:
        sid = entry_id(request)
        if request.method == "GET":
            return JSONResponse({"entry": to_plain(service.get(actor, sid))})
        if request.method == "DELETE":
            await service.delete(actor, sid)
            return JSONResponse({"deleted": sid})
        doc = await json_body(request)
        saved = await service.update(actor, sid, doc, partial=request.method == "PATCH")
        return JSONResponse({"entry": to_plain(saved)})

    async def switch(request: Request, actor: Actor) -> Response:
        action = request.path_params["action"]
        if action not in ("enable", "disable"):
            raise BadRequest(f"action: must be enable or disable (got {action!r})")
        saved = await service.set_enabled(actor, entry_id(request), action == "enable")
        return JSONResponse({"entry": to_plain(saved)})

    async def now(request: Request, actor: Actor) -> Response:
        return JSONResponse(await service.why(actor, _instant(service, request, "at")))

    async def timeline(request: Request, actor: Actor) -> Response:
        start = _instant(service, request, "from")
        return JSONResponse(await service.timeline(actor, start, _hours(request)))

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
        return JSONResponse(result, status_code=201 if result["created"] else 200)

    return [
        Route("/api/schedule", guarded(listing), methods=["GET", "POST"]),
        Route("/api/schedule/now", guarded(now), methods=["GET"]),
        Route("/api/schedule/timeline", guarded(timeline), methods=["GET"]),
        Route("/api/schedule/import", guarded(import_ical), methods=["POST"]),
        Route("/api/schedule/{id:int}", guarded(one), methods=["GET", "PUT", "PATCH", "DELETE"]),
        Route("/api/schedule/{id:int}/{action}", guarded(switch), methods=["POST"]),
    ]


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
