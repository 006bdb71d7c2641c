"""The blob view's picture: `GET /api/cameras/{name}/snapshot.jpg`, the camera's newest JPEG
from its tracker (bytes, so written by hand; the cameras' state and blobs are the
`camera.list` operation). 404 until the tracker has sent one. The blobs tracked in that
very picture come with it (`X-Blobs`), so the view's boxes sit on what they were found in."""

from __future__ import annotations

import json
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trocadero.core.blobs import CameraView
from trocadero.core.commands import Actor
from trocadero.core.errors import NotFoundError
from trocadero.core.permissions import require

from .guard import ActorOf, guard, refuse_unknown

MAX_HEADER_BLOBS: Final = 64  # a header stays a few kB whatever the tracker reports


def camera_routes(cameras: CameraView, actor_of: ActorOf) -> list[Route]:
    guarded = guard(actor_of)

    async def snapshot(request: Request, actor: Actor) -> Response:
        require(actor, "read", "read the cameras")
        refuse_unknown(request.query_params, ("t",), "a camera picture")  # t: cache buster
        name = request.path_params["name"]
        shot = cameras.snapshot(name)
        if shot is None:
            raise NotFoundError(f'camera "{name}" has sent no picture yet')
        # The blobs tracked in this picture, [[id, x, y, w, h], …], for the overlay.
        rows = [
            [b.id, round(b.x, 4), round(b.y, 4), round(b.w, 4), round(b.h, 4)]
            for b in shot.blobs[:MAX_HEADER_BLOBS]
        ]
        return Response(
            shot.jpeg,
            media_type="image/jpeg",
            headers={
                "Cache-Control": "no-store",
                "X-Taken-At": f"{shot.taken_at:.3f}",
                "X-Blobs": json.dumps(rows, separators=(",", ":")),
            },
        )

    return [Route("/api/cameras/{name}/snapshot.jpg", guarded(snapshot), methods=["GET"])]
