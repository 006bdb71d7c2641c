"""Alarm file downloads: one at a time per device, C702 with a resume offset, retried after
`RETRY_DELAY_S` up to `file_retries` times, then written, checked, remuxed and thumbnailed."""

from __future__ import annotations

import contextlib
from functools import partial
from pathlib import Path
from typing import Any

import trio

from trocadero.core.containment import SESSION_FAILURES, describe
from trocadero.core.storage import StorageError, tenancy
from trocadero.core.storage.devices import DeviceFile
from trocadero.protocols.mdvr import (
    OP_SESSION_END,
    FileBlock,
    FileRegistration,
    MediaDecoder,
    MediaItem,
    build_file_download,
    build_media_feedback,
    build_media_packet,
)

from ...logs import get_logger
from ..files import PartialFile, TransferError, make_thumbnail, remux_to_mp4, safe_name
from .context import GatewayContext, PendingSession
from .limits import READ_SIZE, RETRY_DELAY_S

log = get_logger("mdvr")


class Downloads:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.running: dict[int, trio.Event] = {}  # file id → finished
        self._device_media: dict[str, trio.Lock] = {}  # one download at a time per device

    async def resume_all(self) -> None:
        page = await self.ctx.devices.list_files(status="downloading", limit=100)
        for row in page.items:  # interrupted by a restart: pending again, resumed on register
            await self.ctx.devices.update_file(row.id, status="pending")

    async def resume(self, device_id: str) -> None:
        for status in ("pending", "downloading"):
            page = await self.ctx.devices.list_files(device_id=device_id, status=status, limit=100)
            for row in page.items:
                self.start(row.id)

    def start(self, file_id: int) -> None:
        nursery = self.ctx.nursery
        if file_id in self.running or nursery is None:
            return
        self.running[file_id] = trio.Event()
        nursery.start_soon(self._download, file_id)

    async def retry(self, file_id: int) -> DeviceFile:
        """Ask again for a failed download (attempts reset)."""
        row = await self.ctx.devices.get_file(file_id)
        if row.status == "failed":
            row = await self.ctx.devices.update_file(
                file_id, status="pending", attempts=0, error=""
            )
        self.start(file_id)
        return row

    async def wait(self, file_id: int) -> DeviceFile:
        """Wait until no download of ``file_id`` is running (tests, tools)."""
        event = self.running.get(file_id)
        if event is not None:
            await event.wait()
        return await self.ctx.devices.get_file(file_id)

    async def _download(self, file_id: int) -> None:
        ctx = self.ctx
        try:
            row = await ctx.devices.get_file(file_id)
            lock = self._device_media.setdefault(row.device_id, trio.Lock())
            async with lock:
                await self._attempts(row)
        except StorageError as exc:
            log.error("file download bookkeeping failed", file_id=file_id, error=str(exc))
        except SESSION_FAILURES as exc:
            # e.g. a device path C702 cannot carry: this file fails, the gateway goes on.
            ctx.containment.record("mdvr.download", f"file {file_id}", exc)
            with contextlib.suppress(StorageError):
                await ctx.devices.update_file(file_id, status="failed", error=describe(exc))
            ctx.stats.files_failed += 1
        finally:
            self.running.pop(file_id).set()

    def _part_path(self, row: DeviceFile) -> Path:
        return self.ctx.file_dir / safe_name(row.device_id) / f"{row.id}.part"

    async def _attempts(self, row: DeviceFile) -> None:
        ctx = self.ctx
        while row.status in ("pending", "downloading"):
            link = ctx.links.get(row.device_id)
            if link is None:  # resumed when the device registers again
                await ctx.devices.update_file(row.id, status="pending")
                return
            if row.attempts > ctx.config.file_retries:
                self._part_path(row).unlink(missing_ok=True)  # never leave a partial file
                row = await ctx.devices.update_file(
                    row.id, status="failed", error=row.error or "too many attempts"
                )
                ctx.stats.files_failed += 1
                self.publish(row)
                return
            part = self._part_path(row)
            offset = part.stat().st_size if part.exists() else 0
            if row.size is not None and offset > row.size:
                offset = 0
            row = await ctx.devices.update_file(
                row.id, status="downloading", attempts=row.attempts + 1, received_bytes=offset
            )
            session = PendingSession(
                ctx.new_session_id(), row.device_id, "file", file_id=row.id, start_offset=offset
            )
            ctx.pending[session.session_id] = session
            media_ip, media_port = ctx.media_address(link)
            try:
                await link.command(
                    partial(
                        build_file_download,
                        device_id=row.device_id,
                        time=ctx.clock.now(),
                        session_id=session.session_id,
                        file_name=row.device_path,
                        media_ip=media_ip,
                        media_port=media_port,
                        offset_mode=1 if offset else 0,
                        start_offset=offset,
                    )
                )
                with trio.move_on_after(ctx.config.session_timeout_s):
                    await session.claimed.wait()
                if session.session_id in ctx.pending:
                    del ctx.pending[session.session_id]
                    session.outcome = "no media connection"
                else:
                    await session.done.wait()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                ctx.pending.pop(session.session_id, None)
                session.outcome = "signaling link lost"
            row = await ctx.devices.get_file(row.id)
            if session.outcome == "done":
                return
            log.warning(
                "MDVR file attempt failed",
                device=row.device_id,
                file=row.device_path,
                attempt=row.attempts,
                reason=session.outcome,
            )
            row = await ctx.devices.update_file(row.id, error=session.outcome)
            await trio.sleep(RETRY_DELAY_S)

    def publish(self, row: DeviceFile) -> None:
        self.ctx.bus.publish(
            "device:file",
            {
                "file_id": row.id,
                "device_id": row.device_id,
                "alarm_uid": row.alarm_uid,
                "device_path": row.device_path,
                "status": row.status,
                "size": row.received_bytes,
                "stored_path": row.stored_path,
                "video_path": row.video_path,
                "thumbnail_path": row.thumbnail_path,
                "error": row.error,
            },
        )

    async def receive(
        self,
        stream: trio.SocketStream,
        decoder: MediaDecoder,
        reg: FileRegistration,
        session: PendingSession,
        backlog: list[MediaItem],
    ) -> None:
        """The file's media connection: blocks appended at the offset we asked for."""
        tenant = self.ctx.device_tenants.get(session.device_id)
        if tenant is not None:  # this connection's storage work is its device's tenant's
            tenancy.bind(tenant)
        devices = self.ctx.devices
        row = await devices.get_file(session.file_id)
        size = row.size if row.size is not None else reg.file_size
        part = await trio.to_thread.run_sync(PartialFile, self._part_path(row), size)
        try:
            if part.received != session.start_offset:
                part.restart_at(session.start_offset)
            envelope = decoder.envelope or "M1"
            await stream.send_all(build_media_feedback(ok=True, envelope=envelope))
            items = backlog
            while True:
                for item in items:
                    if isinstance(item, FileBlock) and part.write(item):
                        await self._complete(stream, decoder, row, part)
                        session.outcome = "done"
                        return
                with trio.move_on_after(self.ctx.config.media_idle_s) as idle:
                    data = await stream.receive_some(READ_SIZE)
                if idle.cancelled_caught:
                    session.outcome = f"stalled at {part.received} bytes"
                    return
                if not data:
                    session.outcome = f"connection closed at {part.received} bytes"
                    return
                items = decoder.feed(data)
        except TransferError as exc:
            session.outcome = str(exc)
            part.restart_at(min(part.received, session.start_offset))
        finally:
            part.close()
            if session.outcome != "done":
                with trio.CancelScope(shield=True):
                    await devices.update_file(row.id, received_bytes=part.received)

    async def _complete(
        self, stream: trio.SocketStream, decoder: MediaDecoder, row: DeviceFile, part: PartialFile
    ) -> None:
        file_dir = self.ctx.file_dir
        envelope = decoder.envelope or "M1"
        try:
            await stream.send_all(build_media_packet(OP_SESSION_END, envelope=envelope))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the file is complete either way
        folder = file_dir / safe_name(row.device_id)
        stem = f"{row.id}-{safe_name(Path(row.device_path.replace(chr(92), '/')).name)}"
        final = folder / stem
        received = part.received
        await trio.to_thread.run_sync(part.finish, final)
        changes: dict[str, Any] = {
            "status": "done",
            "received_bytes": received,
            "stored_path": str(final.relative_to(file_dir)),
            "error": "",
        }
        if row.file_type == 2:  # video: an MP4 anyone can play, and a thumbnail
            mp4 = final.with_suffix(".mp4")
            jpg = final.with_suffix(".jpg")
            try:
                await trio.to_thread.run_sync(remux_to_mp4, final, mp4)
                await trio.to_thread.run_sync(make_thumbnail, final, jpg)
                changes["video_path"] = str(mp4.relative_to(file_dir))
                changes["thumbnail_path"] = str(jpg.relative_to(file_dir))
            except Exception as exc:  # the original is kept; a bad stream is reported
                changes["error"] = f"remux failed: {exc}"
                log.warning("MDVR video not remuxed", file=str(final), error=str(exc))
        with trio.CancelScope(shield=True):
            done = await self.ctx.devices.update_file(row.id, **changes)
        self.ctx.stats.files_done += 1
        log.info("MDVR file stored", device=row.device_id, file=row.device_path, bytes=received)
        self.publish(done)
