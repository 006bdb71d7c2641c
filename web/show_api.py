"""REST routes for the show model: looks and cue lists (read from the store, written through
the command layer so the engine, the renderer, the audit log and the store stay in step), and
the audit log. Bodies use the show-file format (`docs/show-file.md`); errors name the field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trocadero.config.show import CueDef, CueListDef, LookDef
from trocadero.core.codec import from_plain, parse_datetime, to_plain
from trocadero.core.commands import Actor, Controller
from trocadero.core.playback.cuelist import PlaybackError
from trocadero.core.storage import MAX_LIMIT, NotFound, Storage

from .guard import ActorOf, BadRequest, guard, json_body

Handler = Callable[[Request], Awaitable[Response]]


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit: must be an integer 1..{MAX_LIMIT} (got {raw!r})")
    return int(raw)


def _page(items: Any, next_cursor: str | None) -> Response:
    return JSONResponse({"items": [to_plain(i) for i in items], "next": next_cursor})


def _cue_number(text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise BadRequest(f'number: not a cue number such as "12.5" (got {text!r})') from None
    if not number.is_finite() or number <= 0 or number != number.quantize(Decimal("0.001")):
        raise BadRequest(f"number: a positive cue number, at most three decimals (got {text!r})")
    return number


def show_routes(controller: Controller, store: Storage, actor_of: ActorOf) -> list[Route]:
    guarded = guard(actor_of)

    def can_read(actor: Actor) -> None:
        controller.state(actor)  # raises Forbidden for a role that may not read

    async def list_looks(request: Request, actor: Actor) -> Response:
        can_read(actor)
        page = await store.show.list_looks(
            limit=_limit(request), cursor=request.query_params.get("cursor")
        )
        return _page(page.items, page.next)

    async def look(request: Request, actor: Actor) -> Response:
        name = request.path_params["name"]
        if request.method == "GET":
            can_read(actor)
            return JSONResponse(to_plain(await store.show.get_look(name)))
        if request.method == "DELETE":
            result = await controller.delete_look(actor, name)
            return JSONResponse({"outcome": result.outcome})
        doc = await json_body(request)
        doc.setdefault("name", name)
        if doc["name"] != name:
            raise BadRequest(f"name: must match the URL (got {doc['name']!r}, URL {name!r})")
        parsed, problems = from_plain(LookDef, doc)
        if parsed is None:
            return JSONResponse({"error": "invalid", "problems": problems}, status_code=400)
        try:
            result = await controller.put_look(actor, parsed)
        except PlaybackError as exc:  # the renderer could not build a layer
            return JSONResponse(
                {"error": "invalid", "problems": str(exc).splitlines()}, status_code=400
            )
        return JSONResponse({"outcome": result.outcome})

    async def list_cue_lists(request: Request, actor: Actor) -> Response:
        can_read(actor)
        page = await store.show.list_cue_lists(
            limit=_limit(request), cursor=request.query_params.get("cursor")
        )
        return _page(page.items, page.next)

    async def cue_list(request: Request, actor: Actor) -> Response:
        name = request.path_params["name"]
        if request.method == "GET":
            can_read(actor)
            return JSONResponse(to_plain(await store.show.get_cue_list(name)))
        if request.method == "DELETE":
            result = await controller.delete_cue_list(actor, name)
            return JSONResponse({"outcome": result.outcome})
        doc = await json_body(request)
        doc.setdefault("name", name)
        if doc["name"] != name:
            raise BadRequest(f"name: must match the URL (got {doc['name']!r}, URL {name!r})")
        parsed, problems = from_plain(CueListDef, doc)
        if parsed is None:
            return JSONResponse({"error": "invalid", "problems": problems}, status_code=400)
        try:
            result = await controller.put_cue_list(actor, parsed)
        except PlaybackError as exc:
            return JSONResponse(
                {"error": "invalid", "problems": str(exc).splitlines()}, status_code=400
            )
        return JSONResponse({"outcome": result.outcome})

    async def cue(request: Request, actor: Actor) -> Response:
        # One cue, edited in place: the list is rewritten through the command layer, so the
        # engine, the store and the audit log see one cue-list change.
        name = request.path_params["name"]
        number = _cue_number(request.path_params["number"])
        current = await store.show.get_cue_list(name)
        found = next((c for c in current.cues if c.number == number), None)
        if request.method == "GET":
            can_read(actor)
            if found is None:
                raise NotFound(f'no cue {number} in cue list "{name}"')
            return JSONResponse(to_plain(found))
        others = tuple(c for c in current.cues if c.number != number)
        if request.method == "DELETE":
            if found is None:
                raise NotFound(f'no cue {number} in cue list "{name}"')
            result = await controller.put_cue_list(actor, replace(current, cues=others))
            return JSONResponse({"outcome": result.outcome})
        doc = await json_body(request)
        doc.setdefault("number", str(number))
        parsed, problems = from_plain(CueDef, doc)
        if parsed is None:
            return JSONResponse({"error": "invalid", "problems": problems}, status_code=400)
        if parsed.number != number:
            raise BadRequest(f"number: must match the URL (got {doc['number']!r}, URL {number})")
        cues = tuple(sorted((*others, parsed), key=lambda c: c.number))
        try:
            result = await controller.put_cue_list(actor, replace(current, cues=cues))
        except PlaybackError as exc:
            return JSONResponse(
                {"error": "invalid", "problems": str(exc).splitlines()}, status_code=400
            )
        return JSONResponse(
            {"outcome": result.outcome, "created": found is None},
            status_code=201 if found is None else 200,
        )

    async def audit(request: Request, actor: Actor) -> Response:
        can_read(actor)
        q = request.query_params
        problems: list[str] = []
        bounds: dict[str, datetime | None] = {}
        for key in ("since", "until"):
            bounds[key] = parse_datetime(q[key], key, problems) if key in q else None
        if problems:
            raise BadRequest("; ".join(problems))
        page = await store.audit.list_audit(
            limit=_limit(request),
            cursor=q.get("cursor"),
            actor=q.get("actor"),
            action=q.get("action"),
            origin=q.get("origin"),
            since=bounds["since"],
            until=bounds["until"],
        )
        return _page(page.items, page.next)

    return [
        Route("/api/looks", guarded(list_looks), methods=["GET"]),
        Route("/api/looks/{name}", guarded(look), methods=["GET", "PUT", "DELETE"]),
        Route("/api/cue-lists", guarded(list_cue_lists), methods=["GET"]),
        Route("/api/cue-lists/{name}", guarded(cue_list), methods=["GET", "PUT", "DELETE"]),
        Route(
            "/api/cue-lists/{name}/cues/{number}",
            guarded(cue),
            methods=["GET", "PUT", "DELETE"],
        ),
        Route("/api/audit", guarded(audit), methods=["GET"]),
    ]
