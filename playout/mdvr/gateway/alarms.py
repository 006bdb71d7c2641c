"""Alarms: stored once per device + UID (re-sent ones are duplicates), announced, their
files (V114 "file ready") queued for download; and an operator's acknowledgement."""

from __future__ import annotations

from typing import Any

from trocadero.core.commands import Actor, audit
from trocadero.core.storage.devices import AlarmRecord, NewAlarm
from trocadero.protocols.mdvr import Alarm, FileReady, parse_time

from .context import GatewayContext
from .downloads import Downloads
from .fields import stored_text
from .link import DeviceLink


class Alarms:
    def __init__(self, ctx: GatewayContext, downloads: Downloads) -> None:
        self.ctx = ctx
        self.downloads = downloads

    async def record(self, link: DeviceLink, msg: Alarm) -> None:
        ctx = self.ctx
        pos = msg.position
        alarm_time = parse_time(msg.alarm_time) or msg.timestamp
        details: dict[str, Any] = {"fields": [stored_text(f) for f in msg.details[:64]]}
        if msg.snapshot_path:
            details["snapshot_path"] = stored_text(msg.snapshot_path, 255)
        if msg.recording_path:
            details["recording_path"] = stored_text(msg.recording_path, 255)
        file_path = msg.file_path if isinstance(msg, FileReady) else ""
        if file_path and stored_text(file_path, 255) != file_path:
            # C702 must echo the path verbatim: one we cannot store as sent is not fetched.
            ctx.refuse_fields(msg.keyword, link.address, link.device_id, "file path")
            file_path = ""
        if isinstance(msg, FileReady):
            details["file"] = {
                "type": msg.file_type,
                "path": stored_text(msg.file_path, 255),
                "length": msg.file_length,
                "channel": msg.channel,
                "start_time": stored_text(msg.start_time, 32),
                "duration_s": msg.duration_s,
            }
        new = await ctx.devices.record_alarm(
            NewAlarm(
                device_id=link.device_id,
                alarm_uid=msg.alarm_uid,
                keyword=msg.keyword,
                name=msg.name,
                is_end=msg.is_end,
                alarm_time=alarm_time,
                received_at=ctx.clock.now(),
                channel_mask=msg.channel_mask,
                details=details,
                longitude=None if pos is None else pos.longitude,
                latitude=None if pos is None else pos.latitude,
            )
        )
        if not new:
            ctx.stats.alarms_duplicate += 1
            return
        ctx.stats.alarms_new += 1
        ctx.bus.publish(
            "device:alarm",
            {
                "device_id": link.device_id,
                "alarm_uid": msg.alarm_uid,
                "keyword": msg.keyword,
                "name": msg.name,
                "is_end": msg.is_end,
                "alarm_time": None if alarm_time is None else alarm_time.isoformat(),
                "channel_mask": msg.channel_mask,
                "longitude": None if pos is None else pos.longitude,
                "latitude": None if pos is None else pos.latitude,
            },
        )
        if isinstance(msg, FileReady) and file_path:
            row, _created = await ctx.devices.add_file(
                device_id=link.device_id,
                alarm_uid=msg.alarm_uid,
                device_path=file_path,
                file_type=msg.file_type,
                channel=msg.channel,
                size=msg.file_length,
                start_time=msg.start_time,
                duration_s=msg.duration_s,
            )
            if row.status in ("pending", "downloading") and ctx.nursery is not None:
                self.downloads.start(row.id)

    async def acknowledge(self, alarm_id: int, actor: Actor) -> AlarmRecord:
        ctx = self.ctx
        record = await ctx.devices.acknowledge_alarm(alarm_id, by=actor.name)
        if ctx.audit:
            target = f"{record.device_id}/{record.alarm_uid}"
            await audit(ctx.store.audit, actor, "mdvr.alarm.ack", target, alarm_id=alarm_id)
        ctx.bus.publish(
            "device:alarm",
            {
                "device_id": record.device_id,
                "alarm_uid": record.alarm_uid,
                "keyword": record.keyword,
                "acknowledged_by": record.acknowledged_by,
                "acknowledged_at": None
                if record.acknowledged_at is None
                else record.acknowledged_at.isoformat(),
            },
        )
        return record
