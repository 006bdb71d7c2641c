"""REST for the MDVR gateway's recordings: the stored files themselves.

    GET  /api/mdvr/files/{id}/{original|video|thumbnail}      the stored file

Devices, positions, alarms (and their acknowledgement), live view and the file list are in the
operation table (`core/operations/mdvr.py`), served by web/operations_api.py. This route moves
bytes, so it is written by hand; like the table's, it refuses query parameters it does not take.

Every download of a recording is audit-logged (mdvr.file.download: who, from where, which
vehicle; thumbnails are not logged). The recordings need "mdvr.footage": the same footage as
live view, so the same roles (docs/auth.md).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from trocadero.core.commands import Actor, audit
from trocadero.core.mdvr import MdvrControl
from trocadero.core.permissions import require
from trocadero.core.storage import NotFound, tenancy

from .guard import ActorOf, guard, refuse_unknown


def mdvr_routes(gateway: MdvrControl, actor_of: ActorOf) -> list[Route]:
    store = gateway.devices

    def _file_id(request: Request) -> int:
        try:
            return int(request.path_params["id"])
        except ValueError:
            raise NotFound(f"file {request.path_params['id']!r} not found") from None

    async def file_content(request: Request, actor: Actor) -> Response:
        require(actor, "mdvr.footage", "download vehicle recordings")
        refuse_unknown(request.query_params, (), "a recording")
        with tenancy.as_tenant(actor.tenant):  # another tenant's file is not found
            row = await store.get_file(_file_id(request))
        which = request.path_params["which"]
        rel = {
            "original": row.stored_path,
            "video": row.video_path,
            "thumbnail": row.thumbnail_path,
        }
        if which not in rel:
            raise NotFound(f"no {which!r} (original, video or thumbnail)")
        if not rel[which]:
            raise NotFound(f"file {row.id} has no {which} yet (status {row.status})")
        root = gateway.file_dir.resolve()
        path = (root / rel[which]).resolve()
        if root not in path.parents:  # stored paths are ours, but never serve outside the dir
            raise NotFound(f"file {row.id}: {which} not found")
        media = {"video": "video/mp4", "thumbnail": "image/jpeg"}.get(
            which, "application/octet-stream"
        )
        if which != "thumbnail":
            # Recorded footage leaving the building: who took which, from where. Not the
            # thumbnails: the devices page fetches them on every redraw, which would bury
            # the log (they need the same role, mdvr.footage).
            await audit(
                gateway.store.audit,
                actor,
                "mdvr.file.download",
                str(row.id),
                device=row.device_id,
                which=which,
            )
        return FileResponse(path, media_type=media, filename=path.name)

    return [
        Route(
            "/api/mdvr/files/{id}/{which}",
            guard(actor_of)(file_content),
            methods=["GET"],
        ),
    ]
