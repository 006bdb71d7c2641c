"""REST for the content catalogue: list and read assets and their versions, approve or
reject (operators and admins), rename and delete (marketing and admins; the store refuses to
delete an asset a look or schedule still uses). Every change is in the audit log. Uploading
files is the content library's (issue 8)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from trocadero.core.codec import to_plain
from trocadero.core.commands import Actor
from trocadero.core.commands import audit as audit_entry
from trocadero.core.content import ContentLibrary, UploadRefused
from trocadero.core.model import AssetStatus
from trocadero.core.permissions import require
from trocadero.core.storage import MAX_LIMIT, Conflict, NotFound, Storage

from .guard import ActorOf, BadRequest, guard, json_body

STATUSES = ("pending", "approved", "rejected")


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit: a whole number from 1 to {MAX_LIMIT} (got {raw!r})")
    return int(raw)


def _id(request: Request) -> int:
    raw = request.path_params["id"]
    if not raw.isdigit():
        raise BadRequest(f"id: a whole number (got {raw!r})")
    return int(raw)


_allow = require


def assets_routes(
    store: Storage, actor_of: ActorOf, library: ContentLibrary | None = None
) -> list[Route]:
    guarded = guard(actor_of)

    async def audit(actor: Actor, action: str, asset_id: int, **detail: Any) -> None:
        await audit_entry(store.audit, actor, action, str(asset_id), **detail)

    async def listing(request: Request, actor: Actor) -> Response:
        _allow(actor, "read", "read the content library")
        status = request.query_params.get("status")
        if status is not None and status not in STATUSES:
            raise BadRequest(f"status: one of {', '.join(STATUSES)} (got {status!r})")
        page = await store.assets.list_assets(
            limit=_limit(request),
            cursor=request.query_params.get("cursor"),
            status=status,  # type: ignore[arg-type]
        )
        return JSONResponse({"items": [to_plain(a) for a in page.items], "next": page.next})

    async def one(request: Request, actor: Actor) -> Response:
        asset_id = _id(request)
        if request.method == "GET":
            _allow(actor, "read", "read the content library")
            return JSONResponse(to_plain(await store.assets.get_asset(asset_id)))
        if request.method == "DELETE":
            _allow(actor, "content.edit", "delete content")
            users = [] if library is None else await library.looks_using(asset_id)
            if users:
                raise Conflict(f"content {asset_id} is used by looks: {', '.join(users)}")
            await store.assets.delete_asset(asset_id)  # Conflict (409) while something uses it
            if library is not None:
                library.forget(asset_id)
            await audit(actor, "content.delete", asset_id)
            return JSONResponse({"deleted": asset_id})
        _allow(actor, "content.edit", "edit content")
        doc = await json_body(request)
        unknown = sorted(set(doc) - {"name", "metadata"})
        if unknown:
            raise BadRequest(f"{unknown[0]}: unknown field (name, metadata)")
        name, metadata = doc.get("name"), doc.get("metadata")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise BadRequest(f"name: a non-empty string (got {name!r})")
        if metadata is not None and not isinstance(metadata, dict):
            raise BadRequest("metadata: an object")
        asset = await store.assets.update_asset(asset_id, name=name, metadata=metadata)
        await audit(actor, "content.edit", asset_id, fields=sorted(doc))
        return JSONResponse(to_plain(asset))

    async def versions(request: Request, actor: Actor) -> Response:
        _allow(actor, "read", "read the content library")
        page = await store.assets.list_asset_versions(
            _id(request), limit=_limit(request), cursor=request.query_params.get("cursor")
        )
        return JSONResponse({"items": [to_plain(v) for v in page.items], "next": page.next})

    async def decide(request: Request, actor: Actor) -> Response:
        action = request.path_params["action"]
        if action not in ("approve", "reject"):
            raise BadRequest(f"action: approve or reject (got {action!r})")
        _allow(actor, "content.approve", "approve or reject content")
        asset_id = _id(request)
        status: AssetStatus = "approved" if action == "approve" else "rejected"
        asset = await store.assets.update_asset(asset_id, status=status)
        if library is not None:
            await library.decided(asset)
        await audit(actor, f"content.{action}", asset_id, version=asset.version)
        return JSONResponse(to_plain(asset))

    routes = [
        Route("/api/content", guarded(listing), methods=["GET"]),
        Route("/api/content/{id}", guarded(one), methods=["GET", "PATCH", "DELETE"]),
        Route("/api/content/{id}/versions", guarded(versions), methods=["GET"]),
        Route("/api/content/{id}/{action}", guarded(decide), methods=["POST"]),
    ]
    if library is not None:
        routes = upload_routes(store, library, guarded) + routes
    return routes


def upload_routes(store: Storage, library: ContentLibrary, guarded: Any) -> list[Route]:
    async def begin(request: Request, actor: Actor) -> Response:
        doc = await json_body(request)
        name, filename, size = doc.get("name"), doc.get("filename"), doc.get("size")
        if not isinstance(filename, str) or not filename:
            raise BadRequest(f"filename: required (got {filename!r})")
        if isinstance(size, bool) or not isinstance(size, int):
            raise BadRequest(f"size: required, bytes (got {size!r})")
        asset_id = doc.get("asset_id")
        if asset_id is not None and (isinstance(asset_id, bool) or not isinstance(asset_id, int)):
            raise BadRequest(f"asset_id: an asset id for a new version (got {asset_id!r})")
        result = await library.begin(
            actor,
            name=name if isinstance(name, str) and name else filename,
            filename=filename,
            size=size,
            asset_id=asset_id,
        )
        return JSONResponse(result, status_code=201)

    async def chunk(request: Request, actor: Actor) -> Response:
        upload_id = request.path_params["upload"]
        if request.method == "GET":
            _allow(actor, "content.edit", "upload content")
            return JSONResponse(library.status(upload_id))
        if request.method == "DELETE":
            await library.cancel(actor, upload_id)
            return JSONResponse({"cancelled": upload_id})
        raw = request.query_params.get("offset", "")
        if not raw.isdigit():
            raise BadRequest(f"offset: the byte offset of this chunk (got {raw!r})")
        data = await request.body()
        try:
            return JSONResponse(await library.append(actor, upload_id, int(raw), data))
        except UploadRefused as exc:
            return JSONResponse({"error": str(exc), "offset": exc.offset}, status_code=409)

    async def complete(request: Request, actor: Actor) -> Response:
        doc = await json_body(request)
        sha = doc.get("sha256")
        if sha is not None and not isinstance(sha, str):
            raise BadRequest(f"sha256: hex digest (got {sha!r})")
        try:
            result = await library.complete(actor, request.path_params["upload"], sha)
        except UploadRefused as exc:
            status = 409 if exc.offset is not None else 400
            return JSONResponse({"error": str(exc), "offset": exc.offset}, status_code=status)
        return JSONResponse(result, status_code=201)

    async def thumbnail(request: Request, actor: Actor) -> Response:
        _allow(actor, "read", "read the content library")
        asset = await store.assets.get_asset(_id(request))
        path = library.thumbnail(asset.id, asset.version, asset.filename)
        if not path.is_file():
            raise NotFound(f"content {asset.id} has no thumbnail")
        return FileResponse(path, media_type="image/jpeg")

    return [
        Route("/api/content/uploads", guarded(begin), methods=["POST"]),
        Route("/api/content/uploads/{upload}", guarded(chunk), methods=["GET", "PUT", "DELETE"]),
        Route("/api/content/uploads/{upload}/complete", guarded(complete), methods=["POST"]),
        Route("/api/content/{id}/thumbnail", guarded(thumbnail), methods=["GET"]),
    ]
