"""The live-video WebSocket: a vehicle camera's fMP4 for Media Source Extensions.

    GET /api/video/ws/{device}/{channel}/{stream}?token=<stream token>   (WebSocket)

The stream token comes from `POST /api/video/streams` (core/operations/video.py) and names
this very stream and the `video:watch` scope. Refusals arrive as close codes after the
upgrade, so a browser can read them:

    4401  the token expired (start the stream again for a new one)
    4403  not a stream token, or one for another stream or scope
    4410  the device stream is not running or ended (the reason says why)

Then, in order: a JSON text `{"type": "stream", "codec", "mime", ...}`, the init segment
(binary), `{"type": "clock", "t", "wall"}` at each keyframe (the fragment's decode time and
when the server received it, Unix ms: the player's latency readout), and one binary fMP4
fragment per frame. `{"type": "state", "state": "device not sending" | "live"}` says when
the device stops or resumes. One sender task per viewer drains its bounded queue
(core/video_hub.py keeps it at the live edge); the viewer sends nothing but may close.
"""

from __future__ import annotations

from typing import Final

import trio
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from trocadero.core.errors import ConflictError
from trocadero.core.stream_tokens import TokenExpired, TokenRefused
from trocadero.core.video_hub import CLOSE_ENDED, VideoHub

__all__ = ["CLOSE_EXPIRED", "CLOSE_REFUSED", "video_routes"]

CLOSE_EXPIRED: Final = 4401
CLOSE_REFUSED: Final = 4403


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    try:
        await ws.close(code=code, reason=reason[:120])
    except (RuntimeError, WebSocketDisconnect):
        pass  # the browser left first


def video_routes(hub: VideoHub) -> list[WebSocketRoute]:
    async def endpoint(ws: WebSocket) -> None:
        params = ws.path_params
        token = ws.query_params.get("token", "")
        await ws.accept()
        try:
            key = (str(params["device"]), int(params["channel"]), int(params["stream"]))
            grant = hub.tokens.verify(token, key)
            viewer = hub.attach(grant)
        except TokenExpired as exc:
            await _close(ws, CLOSE_EXPIRED, str(exc))
            return
        except (TokenRefused, ValueError) as exc:
            await _close(ws, CLOSE_REFUSED, str(exc) or "not a stream token")
            return
        except ConflictError as exc:
            await _close(ws, CLOSE_ENDED, str(exc))
            return
        try:
            async with trio.open_nursery() as nursery:

                async def until_closed() -> None:
                    while (await ws.receive())["type"] != "websocket.disconnect":
                        pass  # viewers have nothing to say; a close ends the view
                    nursery.cancel_scope.cancel()

                nursery.start_soon(until_closed)
                while True:
                    item = await viewer.next()
                    if isinstance(item, bytes):
                        await ws.send_bytes(item)
                    elif isinstance(item, str):
                        await ws.send_text(item)
                    else:
                        await _close(ws, *item)
                        break
                nursery.cancel_scope.cancel()
        except* (WebSocketDisconnect, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            hub.detach(viewer)

    return [WebSocketRoute("/api/video/ws/{device}/{channel:int}/{stream:int}", endpoint)]
