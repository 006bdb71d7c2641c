"""The Starlette application: health, metrics, and (when enabled) fault injection.

The app knows nothing about the daemon: it is given a `ControlPlane` of plain callables.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from trocadero import __version__
from trocadero.config.schema import MAX_BODY_BYTES
from trocadero.core.auth import AuthService
from trocadero.core.commands import Actor, Controller
from trocadero.core.content import ContentLibrary
from trocadero.core.events import EventBus
from trocadero.core.interactions import Interactions
from trocadero.core.mdvr import MdvrControl
from trocadero.core.metrics import CONTENT_TYPE, Metrics
from trocadero.core.operations.registry import Registry, registry
from trocadero.core.ratelimit import RateLimiter
from trocadero.core.schedule_service import ScheduleService
from trocadero.core.snapshot_service import ShowSnapshots
from trocadero.core.storage import Storage
from trocadero.core.video_hub import VideoHub

from .assets_api import assets_routes
from .auth import AuthMiddleware, auth_routes
from .cameras_api import camera_routes
from .containment import ContainFailures
from .guard import no_arguments, request_actor
from .hypercorn_ws import install as close_refused_websocket_upgrades
from .limits import BodyLimit, route_limits
from .live import LiveStats, live_routes
from .mdvr_api import mdvr_routes
from .openapi import openapi_document
from .operations_api import operation_routes
from .prompt_io import PromptReceive
from .prompt_io import install as send_without_idle_rounds
from .request_ids import RequestIds
from .request_metrics import RequestTimer
from .schedule_api import schedule_routes
from .video_hls import video_hls_routes
from .video_ws import video_routes

UI_DIR = Path(__file__).resolve().parent / "ui"


@dataclass(frozen=True)
class FaultHooks:
    """Deliberate failures for tests of the supervisor and the systemd watchdog."""

    crash_web: Callable[[], object]
    stall_clock: Callable[[bool], None]
    crash_subsystem: Callable[[str], bool] = lambda _name: False
    can_crash: Callable[[str], bool] = lambda _name: False
    block_python: Callable[..., None] = lambda _s, hold_gil=False: None


class PreviewSnapshot(Protocol):
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def frame_time(self) -> float: ...
    @property
    def rgb(self) -> bytes: ...


@dataclass(frozen=True)
class ControlPlane:
    health: Callable[[], Mapping[str, Any]]
    # The daemon's registry (core/metrics.py): /metrics, and REST latency observed into it.
    metrics: Metrics | None = None
    # Fresh figures from the daemon's other processes (the MDVR gateway's) before /healthz
    # and /metrics answer, so a counter read just after an event includes it.
    refresh: Callable[[], Awaitable[None]] | None = None
    canvases: Callable[[], Sequence[Mapping[str, Any]]] = list
    preview: Callable[[str], PreviewSnapshot | None] = lambda _name: None
    artnet_nodes: Callable[[], Sequence[Mapping[str, Any]] | None] = lambda: None
    faults: FaultHooks | None = None
    playback: Controller | None = None
    # The operation table REST serves (the daemon gives the one its socket API uses too);
    # without it, one is made of `playback`, `store` and `events`.
    operations: Registry | None = None
    store: Storage | None = None  # looks, cue lists and the audit log are read from it
    schedule: ScheduleService | None = None  # the building's schedule (docs/schedule.md)
    mdvr: MdvrControl | None = None  # the MDVR gateway, when enabled (core/operations/mdvr.py)
    video: VideoHub | None = None  # browsers watching vehicle cameras (web/video_ws.py)
    patch: Callable[[str], Sequence[Mapping[str, Any]] | None] = lambda _name: None
    # Logins, tokens and users (docs/auth.md). The daemon always gives one; without it every
    # /api route answers 401 unless a test injects its own `actor_of`.
    auth: AuthService | None = None
    rate_limit_per_minute: int = 100
    login_attempts_per_minute: int = 10
    actor_of: Callable[[Request], Actor] = request_actor
    events: EventBus | None = None  # /ws reads it; celebrations and sensor data go on it
    content: ContentLibrary | None = None  # uploads and thumbnails (web/assets_api.py)
    sources: Callable[[], Mapping[str, Any]] = dict  # layer kinds and parameter schemas
    live: LiveStats = field(default_factory=LiveStats)  # the WebSocket's counters
    max_body_bytes: int = MAX_BODY_BYTES  # [web] max_body_bytes (web/limits.py)
    hsts_max_age_s: int = 0  # [web] hsts_max_age_s (sent over HTTPS only)


def create_app(control: ControlPlane) -> Starlette:
    close_refused_websocket_upgrades()  # Hypercorn leaves them open (web/hypercorn_ws.py)
    send_without_idle_rounds()  # a free send lock costs no round of the loop (web/prompt_io.py)

    async def healthz(_: Request) -> Response:
        if control.refresh is not None:
            await control.refresh()
        body = dict(control.health())
        # "degraded" (a camera down) is still serving: only a stalled clock is unhealthy.
        healthy = body.get("status") in ("ok", "degraded")
        return JSONResponse(body, status_code=200 if healthy else 503)

    async def metrics(_: Request) -> Response:
        if control.metrics is None:
            return PlainTextResponse("no metrics registry\n", status_code=404)
        if control.refresh is not None:
            await control.refresh()
        return Response(control.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    async def artnet_nodes(_: Request) -> Response:
        nodes = control.artnet_nodes()
        if nodes is None:
            return JSONResponse(
                {"error": "Art-Net discovery is disabled ([artnet_discovery] enabled = false)"},
                status_code=404,
            )
        return JSONResponse({"nodes": list(nodes)})

    async def canvases(_: Request) -> Response:
        return JSONResponse({"canvases": list(control.canvases())})

    async def canvas_patch(request: Request) -> Response:
        name = request.path_params["name"]
        fixtures = control.patch(name)
        if fixtures is None:
            known = [c["name"] for c in control.canvases()]
            return JSONResponse(
                {"error": f"unknown canvas {name!r}", "canvases": known}, status_code=404
            )
        return JSONResponse({"canvas": name, "fixtures": list(fixtures)})

    async def sources(_: Request) -> Response:
        return JSONResponse({"sources": dict(control.sources())})

    async def outputs(_: Request) -> Response:
        health = control.health()
        return JSONResponse({"outputs": health.get("outputs", []), "inputs": health.get("inputs")})

    async def preview(request: Request) -> Response:
        name = request.path_params["name"]
        snap = control.preview(name)
        if snap is None:
            known = [c["name"] for c in control.canvases()]
            if name not in known:
                return JSONResponse(
                    {"error": f"unknown canvas {name!r}", "canvases": known}, status_code=404
                )
            return JSONResponse({"error": "no preview rendered yet"}, status_code=503)
        # Raw 8-bit RGB rows: the UI blits it into an ImageData without decoding.
        return Response(
            snap.rgb,
            media_type="application/octet-stream",
            headers={
                "X-Preview-Width": str(snap.width),
                "X-Preview-Height": str(snap.height),
                "X-Frame-Time": f"{snap.frame_time:.6f}",
                "Cache-Control": "no-store",
            },
        )

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/api/canvases", no_arguments(canvases), methods=["GET"]),
        Route("/api/artnet/nodes", no_arguments(artnet_nodes), methods=["GET"]),
        Route("/api/canvases/{name}/preview", no_arguments(preview), methods=["GET"]),
        Route("/api/canvases/{name}/patch", no_arguments(canvas_patch), methods=["GET"]),
        Route("/api/outputs", no_arguments(outputs), methods=["GET"]),
        Route("/api/sources", no_arguments(sources), methods=["GET"]),
    ]
    if control.auth is not None:
        ops = control.operations

        def features() -> list[str]:
            parts = {
                "mdvr": control.mdvr is not None,
                "schedule": control.schedule is not None,
                "artnet_discovery": control.artnet_nodes() is not None,
                "cameras": ops is not None and ops.services.cameras is not None,
            }
            return [name for name, on in parts.items() if on]

        routes += auth_routes(control.auth, control.actor_of, features)
    operations = control.operations
    if operations is None:
        publish = None if control.events is None else control.events.publish
        playback, store = control.playback, control.store
        operations = registry(
            playback,
            interactions=None
            if publish is None or playback is None
            else Interactions(playback, publish),
            show=None if store is None else store.show,
            audit=None if store is None else store.audit,
            schedule=control.schedule,
            auth=control.auth,
            mdvr=control.mdvr,
            assets=None if store is None else store.assets,
            content=control.content,
            snapshots=None
            if store is None or playback is None
            else ShowSnapshots(store, playback, control.schedule),
        )
    routes += operation_routes(operations, control.actor_of)
    if control.store is not None and control.content is not None:
        routes += assets_routes(control.store, control.actor_of, control.content)
    if control.auth is not None and control.events is not None:
        routes += live_routes(
            control.auth,
            control.events,
            control.preview,
            lambda: [c["name"] for c in control.canvases()],
            control.live,
        )
    if control.schedule is not None:
        routes += schedule_routes(control.schedule, control.actor_of, operations.services.snapshots)
    if control.mdvr is not None:
        routes += mdvr_routes(control.mdvr, control.actor_of)
    if operations.services.cameras is not None:  # [[cameras]]: the blob view's picture
        routes += camera_routes(operations.services.cameras, control.actor_of)
    if control.video is not None:
        routes += video_routes(control.video)
        routes += video_hls_routes(control.video)
    if control.faults is not None:
        faults = control.faults

        async def fire_crash() -> None:
            faults.crash_web()  # async, so it runs on the event loop (not a worker thread)

        async def crash_web(_: Request) -> Response:
            # After the response is on the wire, so the caller sees the request succeed.
            return JSONResponse(
                {"fault": "crash-web", "scheduled": True}, background=BackgroundTask(fire_crash)
            )

        async def crash_subsystem(request: Request) -> Response:
            name = request.path_params["subsystem"]
            if not faults.can_crash(name):
                return JSONResponse(
                    {"error": f"no running supervised subsystem {name!r}"}, status_code=404
                )

            async def fire() -> None:
                faults.crash_subsystem(name)

            # After the response, so the caller sees it even when the web itself crashes.
            return JSONResponse(
                {"fault": "crash", "subsystem": name, "scheduled": True},
                background=BackgroundTask(fire),
            )

        async def raise_in_handler(_: Request) -> Response:
            # A handler bug, on purpose: the request gets a 500, the server goes on.
            raise RuntimeError("handler failure requested through /debug/fault/raise")

        async def stall_clock(request: Request) -> Response:
            stalled = request.query_params.get("stalled", "1") != "0"
            faults.stall_clock(stalled)
            return JSONResponse({"fault": "stall-clock", "stalled": stalled})

        async def block_python(request: Request) -> Response:
            # Blocks the Trio thread itself (a wedged Python side) in a busy loop, or with
            # gil=hold in one C call that never lets go of the GIL, to show what the native
            # threads (render, output) do meanwhile.
            seconds = min(30.0, float(request.query_params.get("seconds", "2")))
            hold = request.query_params.get("gil") == "hold"
            faults.block_python(seconds, hold_gil=hold)
            return JSONResponse({"fault": "block-python", "seconds": seconds, "gil_held": hold})

        async def live_objects(request: Request) -> Response:
            # What is alive, by type (GC-tracked objects): two calls minutes apart show what
            # grows under a soak. Costs one full walk of the heap: debug only.
            top = int(request.query_params.get("top", "40"))
            counts = Counter(type(o).__qualname__ for o in gc.get_objects())
            return JSONResponse({"objects": dict(counts.most_common(max(1, min(top, 500))))})

        routes += [
            Route("/debug/objects", live_objects, methods=["GET"]),
            Route("/debug/fault/block-python", block_python, methods=["POST"]),
            Route("/debug/fault/crash-web", crash_web, methods=["POST"]),
            Route("/debug/fault/crash/{subsystem}", crash_subsystem, methods=["POST"]),
            Route("/debug/fault/raise", raise_in_handler, methods=["POST"]),
            Route("/debug/fault/stall-clock", stall_clock, methods=["POST"]),
        ]
    document: dict[str, Any] = {}

    async def openapi(_: Request) -> Response:
        if not document:  # built once, on first request: the routes are fixed by then
            document.update(openapi_document(routes, version=__version__))
        return JSONResponse(document)

    routes.append(Route("/openapi.json", openapi, methods=["GET"]))

    async def index(_: Request) -> Response:
        return FileResponse(UI_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    # The web UI: plain ES modules, no build step (web/ui/).
    routes.append(Route("/", index, methods=["GET"]))
    routes.append(Mount("/ui", StaticFiles(directory=UI_DIR), name="ui"))
    app = Starlette(routes=routes)
    if control.auth is not None:
        app.add_middleware(
            AuthMiddleware,
            service=control.auth,
            routes=routes,
            limiter=RateLimiter(control.rate_limit_per_minute),
            login_limiter=RateLimiter(control.login_attempts_per_minute),
            hsts_max_age_s=control.hsts_max_age_s,
        )
    # An oversize body is refused before authentication or any handler reads it; outside
    # it, the containment of handler bugs (outermost of ours).
    chunk = control.content.max_chunk_bytes if control.content is not None else None
    app.add_middleware(BodyLimit, limit=control.max_body_bytes, routes=route_limits(chunk))
    app.add_middleware(ContainFailures)
    if control.metrics is not None:  # times refusals too
        app.add_middleware(RequestTimer, histogram=control.metrics.http, routes=routes)
    app.add_middleware(RequestIds, routes=routes)  # every line carries the id
    app.add_middleware(PromptReceive)  # outermost: a queued body is read at once
    return app
