"""The media server: a connection must register a session we asked for (C508 live video,
C702 file) from the device we asked, before that session timed out; anything else gets
0x6000 failure and is closed. Registered sessions go to live.py or downloads.py."""

from __future__ import annotations

import trio

from trocadero.core.containment import SESSION_FAILURES
from trocadero.protocols.mdvr import (
    FEEDBACK_BAD_DEVICE_ID,
    FileRegistration,
    LiveVideoRegistration,
    MediaDecoder,
    MediaItem,
    MediaRegistration,
    build_media_feedback,
)

from ...logs import get_logger
from .context import GatewayContext
from .downloads import Downloads
from .limits import MAX_GARBAGE, MAX_MEDIA_PAYLOAD, READ_SIZE
from .listeners import Admission, Admissions
from .live import Live

log = get_logger("mdvr")


class Media:
    def __init__(
        self, ctx: GatewayContext, admissions: Admissions, downloads: Downloads, live: Live
    ) -> None:
        self.ctx = ctx
        self.admissions = admissions
        self.downloads = downloads
        self.live = live

    async def connection(self, stream: trio.SocketStream) -> None:
        await self.admissions.admitted(
            stream,
            "mdvr.media",
            lambda address, admission: self._session(stream, address, admission),
        )

    async def _session(self, stream: trio.SocketStream, address: str, admission: Admission) -> None:
        ctx = self.ctx
        decoder = MediaDecoder(max_payload=MAX_MEDIA_PAYLOAD)
        try:
            reg: MediaRegistration | None = None
            backlog: list[MediaItem] = []
            with trio.move_on_after(ctx.config.session_timeout_s):
                while reg is None:
                    data = await stream.receive_some(READ_SIZE)
                    if not data or decoder.skipped_since_frame > MAX_GARBAGE:
                        return
                    items = decoder.feed(data)
                    for n, item in enumerate(items):
                        if isinstance(item, MediaRegistration):
                            reg, backlog = item, items[n + 1 :]
                            break
            if reg is None:
                return
            session = ctx.pending.get(reg.session_id)
            kind = "live" if isinstance(reg, LiveVideoRegistration) else "file"
            if session is None or session.device_id != reg.device_id or session.kind != kind:
                # Unsolicited: refuse (reference §9).
                ctx.stats.media_refused += 1
                log.warning(
                    "MDVR media session refused",
                    device=reg.device_id,
                    session=reg.session_id,
                    keyword=reg.keyword,
                )
                await stream.send_all(
                    build_media_feedback(
                        ok=False, reason=FEEDBACK_BAD_DEVICE_ID, envelope=decoder.envelope or "M1"
                    )
                )
                return
            del ctx.pending[reg.session_id]
            self.admissions.registered(admission)
            session.claimed.set()
            try:
                if isinstance(reg, FileRegistration):
                    await self.downloads.receive(stream, decoder, reg, session, backlog)
                else:
                    await self.live.receive(stream, decoder, session, backlog)
            finally:
                session.done.set()
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the device went away; a file attempt is retried by its download task
        except* SESSION_FAILURES as group:
            ctx.containment.record("mdvr.media", address, group)
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()
