"""REST for the content library's files: chunked, resumable uploads and thumbnails. The
catalogue itself (list, read, rename, delete, versions, approve/reject) is in the operation
table (`core/operations/content.py`), served by web/operations_api.py. These routes move bytes,
so they are written by hand; like the table's, they refuse fields and query parameters they
do not take, naming the ones they do."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from trocadero.core.commands import Actor
from trocadero.core.content import ContentLibrary, UploadRefused
from trocadero.core.permissions import require
from trocadero.core.storage import NotFound, Storage

from .guard import ActorOf, BadRequest, guard, json_body, refuse_unknown

_allow = require


def _id(request: Request) -> int:
    raw = request.path_params["id"]
    if not raw.isdigit():
        raise BadRequest(f"id: a whole number (got {raw!r})")
    return int(raw)


def assets_routes(store: Storage, actor_of: ActorOf, library: ContentLibrary) -> list[Route]:
    guarded = guard(actor_of)

    async def begin(request: Request, actor: Actor) -> Response:
        refuse_unknown(request.query_params, (), "an upload")
        doc = await json_body(request)
        refuse_unknown(doc, ("name", "filename", "size", "asset_id"), "an upload")
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
            refuse_unknown(request.query_params, (), "an upload's status")
            return JSONResponse(library.status(upload_id))
        if request.method == "DELETE":
            refuse_unknown(request.query_params, (), "cancelling an upload")
            await library.cancel(actor, upload_id)
            return JSONResponse({"cancelled": upload_id})
        refuse_unknown(request.query_params, ("offset",), "an upload chunk")
        raw = request.query_params.get("offset", "")
        if not raw.isdigit():
            raise BadRequest(f"offset: the byte offset of this chunk (got {raw!r})")
        data = await request.body()
        try:
            return JSONResponse(await library.append(actor, upload_id, int(raw), data))
        except UploadRefused as exc:
            return JSONResponse({"error": str(exc), "offset": exc.offset}, status_code=409)

    async def complete(request: Request, actor: Actor) -> Response:
        refuse_unknown(request.query_params, (), "completing an upload")
        doc = await json_body(request)
        refuse_unknown(doc, ("sha256",), "completing an upload")
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
        refuse_unknown(request.query_params, (), "a thumbnail")
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
