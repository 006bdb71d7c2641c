"""LL-HLS of a live vehicle camera (docs/video.md), from the same fMP4 fragments as the
WebSocket, for many viewers and caching proxies:

    GET /video/hls/{device}/{channel}/{stream}/{token}/index.m3u8[?_HLS_msn=N&_HLS_part=M]
    GET …/init.mp4   …/seg{msn}.m4s   …/part{msn}.{n}.m4s

The stream token (from `POST /api/video/streams`, its `hls` URL) is part of the path, so the
playlist's relative URIs carry it and a proxy can cache by URL; outside /api, no bearer
header is needed. A wrong token is 403, an expired one 401. `_HLS_msn`/`_HLS_part` block
the playlist until that segment or part exists (RFC 8216bis blocking reload; 503 when it
has not come within 3 s or the stream ended, 400 when more than two segments ahead).
Segments and parts never change once listed: cacheable; the playlist is not.
"""

from __future__ import annotations

import re
from typing import Final

import trio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trocadero.core.errors import ConflictError, InvalidArgument
from trocadero.core.stream_tokens import TokenExpired, TokenRefused
from trocadero.core.video_hub import DeviceStream, VideoHub

__all__ = ["video_hls_routes"]

BLOCK_S: Final = 3.0  # a blocked reload waits at most this long (a few segment durations)
PLAYLIST: Final = "application/vnd.apple.mpegurl"
MEDIA: Final = "video/mp4"
_FILE: Final = re.compile(r"^(?:init\.mp4|seg(\d+)\.m4s|part(\d+)\.(\d+)\.m4s)$")
IMMUTABLE: Final = {"Cache-Control": "public, max-age=60, immutable"}


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def video_hls_routes(hub: VideoHub) -> list[Route]:
    def stream_of(request: Request) -> DeviceStream | Response:
        p = request.path_params
        try:
            return hub.hls_stream(
                p["token"], (str(p["device"]), int(p["channel"]), int(p["stream"]))
            )
        except TokenExpired as exc:
            return _error(401, str(exc))
        except TokenRefused as exc:
            return _error(403, str(exc))
        except ConflictError as exc:
            return _error(409, str(exc))

    async def playlist(request: Request) -> Response:
        stream = stream_of(request)
        if isinstance(stream, Response):
            return stream
        msn, part = request.query_params.get("_HLS_msn"), request.query_params.get("_HLS_part")
        if msn is not None:
            try:
                wanted = int(msn), None if part is None else int(part)
                came = False
                with trio.move_on_after(BLOCK_S):
                    came = await hub.hls_wait(stream, *wanted)
                if not came:
                    return _error(503, f"segment {msn} part {part} did not come in time")
            except (ValueError, InvalidArgument) as exc:
                return _error(400, f"_HLS_msn/_HLS_part: {exc}")
        return Response(
            stream.hls.playlist(), media_type=PLAYLIST, headers={"Cache-Control": "no-cache"}
        )

    async def media(request: Request) -> Response:
        stream = stream_of(request)
        if isinstance(stream, Response):
            return stream
        name = request.path_params["name"]
        found = _FILE.match(name)
        window = stream.hls
        data: bytes | None = None
        if found is None:
            return _error(404, f"no {name!r} in this stream")
        if name == "init.mp4":
            data = window.init
        elif found.group(1) is not None:
            segment = window.segment(int(found.group(1)))
            data = None if segment is None else segment.data()
        else:
            piece = window.part(int(found.group(2)), int(found.group(3)))
            data = None if piece is None else bytes(piece.data)
        if data is None:
            return _error(404, f"{name} is not (or no longer) in the window")
        return Response(data, media_type=MEDIA, headers=IMMUTABLE)

    base = "/video/hls/{device}/{channel:int}/{stream:int}/{token}"
    return [
        Route(f"{base}/index.m3u8", playlist, methods=["GET"]),
        Route(f"{base}/{{name}}", media, methods=["GET"]),
    ]
