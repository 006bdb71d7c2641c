"""Simulated MDVR devices speaking the "$$dc" protocol as the captured Richmor unit does.

Each device connects, registers (V101 with the capture's firmware fields), sends V142 and
V141, then a V114 every ``position_interval_s`` and a V109 heartbeat; it answers C508 (live
video: V100, then a media connection registering V102 and streaming an H.264 clip encoded
with PyAV as 0x6011/0x6012 packets) and C702 (file: V100, V103, 0x6102 blocks, the end
marker). The CLI's clip shows a frame counter as big cells (`counter_clip`), so a viewer can
check frame order and latency from pixels. Positions made while the link is down, and alarms
not yet acknowledged by UID, are cached and re-sent after the next registration with their
original time and serial, as real devices do. Time can be compressed: each report advances
the device's clock by ``clock_step_s`` whatever the real interval, so reports keep distinct
protocol times.

    trocadero mdvr-sim --devices 50 --port 6608 --interval 1
"""

from __future__ import annotations

import fractions
import itertools
import math
import random
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import av
import numpy as np
import trio
from numpy.typing import NDArray

from trocadero.protocols.mdvr import (
    OP_FEEDBACK,
    OP_FILE_DATA,
    OP_I_FRAME,
    OP_P_FRAME,
    OP_REQUEST_IFRAME,
    CenterAck,
    Command,
    FileDownloadRequest,
    LiveVideoRequest,
    MediaDecoder,
    Position,
    RawMediaPacket,
    SignalingDecoder,
    build_frame,
    build_media_packet,
    format_time,
    position_fields,
)

# The captured Richmor unit's position block (E2: Cape Town, fix, ACC on, ch4 video lost…).
CAPTURED_POSITION = Position(
    valid=True,
    gps_state="A0000",
    longitude=18.821083,
    latitude=-34.084005,
    speed_kmh=0.0,
    course_raw=28600,
    status=bytes.fromhex("FFF7000000307783"),
    status_mask=bytes(8),
    device_temp_c=0.0,
    engine_temp_c=0.0,
    cabin_temp_c=0.0,
    mileage_m=0,
    fuel_l=0.0,
    parking_s=0,
    extension=("0", "0.00", "0", "0", "0", "0", "0", "0", "0"),
    stop_flag=None,
    passengers=None,
    extra="",
)
# V101 fields after the position block, as captured (protocol, type, …, net library).
CAPTURED_V101_TAIL = (
    "V1.0.0.1",
    "4108",
    "",
    "0",
    "0",
    "0",
    "{plate}",
    "0",
    "8888",
    "3",
    "2",
    "14",
    "16",
    "",
    "T16120701",
    "V6.1.45 20160604",
    "",
    "0",
    "8",
    "",
)
# V142 fields after the block (E2): 8 channels, video lost 247, recording 255, two disks.
CAPTURED_V142_TAIL = (
    "1", "{id}", "4108", "{id}", "T16120701", "8", "247", "255", "2",
    "953256_1256_29933_533", "0", "2", "14", "0.0.0.0", "0", "8888", "0", "0.0.0.0", "0",
    "2", "8", "0", "0", "", "0", "",
)  # fmt: skip


@dataclass(frozen=True)
class VideoClip:
    """Annex-B H.264 access units ``(data, keyframe)`` at ``fps``."""

    units: tuple[tuple[bytes, bool], ...]
    fps: float
    width: int
    height: int

    def elementary_stream(self) -> bytes:
        return b"".join(data for data, _ in self.units)


def encode_clip(
    width: int = 64,
    height: int = 48,
    frames: int = 30,
    fps: float = 15.0,
    keyint: int = 10,
    *,
    counter: bool = False,
) -> VideoClip:
    """A moving colour gradient encoded with libx264 (SPS/PPS repeated before each IDR, as
    HiSilicon encoders do)."""
    enc: Any = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base = fractions.Fraction(1, round(fps))
    enc.framerate = fractions.Fraction(round(fps), 1)
    enc.gop_size = keyint  # libx264 reads the GOP from here (its "keyint" option is ignored)
    enc.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "keyint": str(keyint),
        "min-keyint": str(keyint),
        "repeat-headers": "1",
        "bframes": "0",
    }
    yy, xx = np.mgrid[0:height, 0:width]
    units: list[tuple[bytes, bool]] = []
    for i in range(frames):
        if counter:
            img = counter_image(i, width, height)
        else:
            img = np.empty((height, width, 3), np.uint8)
            img[..., 0] = (xx * 255 // max(1, width - 1) + i * 8) % 256
            img[..., 1] = yy * 255 // max(1, height - 1)
            img[..., 2] = 128
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = i
        units += [(bytes(p), bool(p.is_keyframe)) for p in enc.encode(frame)]
    units += [(bytes(p), bool(p.is_keyframe)) for p in enc.encode(None)]
    return VideoClip(tuple(units), fps, width, height)


COUNTER_BITS = 16  # frame counter cells across the top of a counter clip, most significant first


def counter_image(index: int, width: int, height: int) -> NDArray[np.uint8]:
    """An RGB picture carrying ``index`` as big black/white cells a viewer can read back from
    its pixels after any lossy codec: the top quarter holds the bits, the next quarter their
    complement (a reader checks both); below, a moving gradient."""
    img = np.empty((height, width, 3), np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    img[..., 0] = (xx * 255 // max(1, width - 1) + index * 8) % 256
    img[..., 1] = yy * 255 // max(1, height - 1)
    img[..., 2] = 128
    band, cell = height // 4, width // COUNTER_BITS
    for bit in range(COUNTER_BITS):
        on = (index >> (COUNTER_BITS - 1 - bit)) & 1
        x = slice(bit * cell, (bit + 1) * cell)
        img[:band, x] = 255 if on else 0
        img[band : 2 * band, x] = 0 if on else 255
    return img


def read_counter(img: NDArray[np.uint8]) -> int | None:
    """The counter of a decoded `counter_image` (RGB), or None when the cells disagree."""
    height, width = img.shape[:2]
    band, cell = height // 4, width // COUNTER_BITS
    value = 0
    for bit in range(COUNTER_BITS):
        x = bit * cell + cell // 2
        top = int(img[band // 2, x, :3].mean()) > 127
        below = int(img[band + band // 2, x, :3].mean()) > 127
        if top == below:
            return None
        value = (value << 1) | int(top)
    return value


def counter_clip(
    width: int = 320, height: int = 240, frames: int = 150, fps: float = 15.0, keyint: int = 15
) -> VideoClip:
    """A clip whose frame i shows the counter i (`counter_image`); the simulator records when
    it sent each (`SimDevice.sent_at`), so a viewer can measure glass-to-glass latency."""
    return encode_clip(width, height, frames, fps, keyint, counter=True)


@dataclass
class SimFile:
    path: str
    data: bytes
    file_type: int = 2  # 1 JPEG, 2 video
    channel: int = 0
    duration_s: int = 30


@dataclass
class SimStats:
    registrations: int = 0
    refused: int = 0
    positions_sent: int = 0
    alarms_sent: int = 0
    alarm_acks: int = 0
    media_sessions: int = 0
    frames_sent: int = 0
    file_bytes_sent: int = 0
    c501: int = 0


class _UdpClient(trio.abc.Stream):
    """A connected UDP socket as a stream: each write one datagram, each read one datagram."""

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.sock = sock

    @classmethod
    async def connect(cls, host: str, port: int) -> _UdpClient:
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        await sock.connect((host, port))
        return cls(sock)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        try:
            await self.sock.send(bytes(data))
        except OSError as exc:  # ECONNREFUSED from an earlier ICMP: nobody listens
            raise trio.BrokenResourceError(str(exc)) from exc

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        try:
            return await self.sock.recv(65535)
        except OSError as exc:
            raise trio.BrokenResourceError(str(exc)) from exc

    async def aclose(self) -> None:
        self.sock.close()
        await trio.lowlevel.checkpoint()


@dataclass(eq=False)
class SimDevice:
    device_id: str
    host: str
    port: int
    position_interval_s: float = 1.0
    heartbeat_s: float = 60.0
    clock_step_s: float | None = None  # None: real time; else each V114 advances this much
    clip: VideoClip | None = None
    plate: str = ""
    start_time: datetime | None = None
    files: dict[str, SimFile] = field(default_factory=dict)
    interrupt_file_after: int | None = None  # close the first file transfer after N bytes
    block_size: int = 32 * 1024
    transport: Literal["tcp", "udp"] = "tcp"  # signaling over TCP, or as UDP datagrams
    stats: SimStats = field(default_factory=SimStats)
    # clip index → wall-clock time (time.time()) it was last sent: glass-to-glass latency
    sent_at: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.plate = self.plate or f"SIM {self.device_id}"
        self._serial = itertools.count(1)
        self._clock = self.start_time or datetime.now(UTC)
        self._tick = 0
        self._stream: trio.abc.Stream | None = None
        self._send_lock = trio.Lock()
        self._cached: list[bytes] = []  # positions made while offline, in order
        self._unacked: dict[str, bytes] = {}  # alarm UID → its frame (re-sent after login)
        self._media: dict[str, trio.CancelScope] = {}  # session → its connection
        self._media_channel: dict[str, int] = {}
        self._corrupt: set[int] = set()
        self.registered = trio.Event()
        self.refused = False
        self.received: list[Any] = []
        self.online = False
        self._link_scope: trio.CancelScope | None = None

    # --- clock and positions ---------------------------------------------------------------

    def now(self) -> datetime:
        if self.clock_step_s is None:
            return datetime.now(UTC)
        return self._clock

    def position(self) -> Position:
        # A slow circle around the captured fix, one lap per 360 reports.
        a = math.radians(self._tick)
        return replace(
            CAPTURED_POSITION,
            longitude=round(CAPTURED_POSITION.longitude + 0.01 * math.cos(a), 6),
            latitude=round(CAPTURED_POSITION.latitude + 0.01 * math.sin(a), 6),
            speed_kmh=36.0,
            course_raw=(self._tick * 100) % 36000,
        )

    def _frame(self, keyword: str, fields: Sequence[str], *, at: datetime | None = None) -> bytes:
        return build_frame(
            keyword,
            fields,
            serial=next(self._serial),
            device_id=self.device_id,
            time=at or self.now(),
        )

    def make_position(self) -> bytes:
        self._tick += 1
        if self.clock_step_s is not None:
            self._clock += timedelta(seconds=self.clock_step_s)
        return self._frame("V114", [*position_fields(self.position(), v114=True), "1"])

    # --- sending ---------------------------------------------------------------------------

    async def _send(self, data: bytes) -> bool:
        stream = self._stream
        if stream is None:
            return False
        try:
            async with self._send_lock:
                await stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    async def send_alarm(self, keyword: str, uid: str, specific: Sequence[str] = ()) -> None:
        """An alarm (cached until acknowledged by UID, re-sent after a reconnect)."""
        at = self.now()
        fields = [
            *position_fields(self.position()),
            format_time(at),
            uid,
            "0",
            "",
            "0",
            "",
            *specific,
        ]
        frame = self._frame(keyword, fields, at=at)
        self._unacked[uid] = frame
        self.stats.alarms_sent += 1
        await self._send(frame)

    async def send_file_ready(self, uid: str, file: SimFile) -> None:
        """V232 for ``file`` (which the device then serves on C702)."""
        self.files[file.path] = file
        start = self.now().strftime("%Y%m%d%H%M%S")
        await self.send_alarm(
            "V232",
            uid,
            [str(file.file_type), file.path, str(len(file.data)), "2", start,
             str(file.duration_s), str(file.channel), ""],
        )  # fmt: skip

    def drop_link(self) -> None:
        """Simulate a lost link (positions are cached until the next registration)."""
        if self._link_scope is not None:
            self._link_scope.cancel()

    def corrupt_media(self, channel: int) -> None:
        """From now on ``channel``'s live connections send garbage instead of frames (a
        broken encoder), until `stop_media`."""
        self._corrupt.add(channel)

    def heal_media(self, channel: int) -> None:
        """``channel`` sends frames again (its next live connections)."""
        self._corrupt.discard(channel)

    def stop_media(self, channel: int | None = None) -> None:
        """Stop streaming on ``channel``'s live sessions, or all (as if the camera died)."""
        for session, scope in list(self._media.items()):
            if channel is None or self._media_channel.get(session) == channel:
                scope.cancel()

    # --- the device's life -----------------------------------------------------------------

    async def run(self, *, reconnect_s: float = 0.2, cycles: int | None = None) -> None:
        """Connect, register, report; reconnect after ``reconnect_s`` when the link drops
        (``cycles``: stop after that many links). Returns when refused."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._reporter)
            for _ in itertools.count() if cycles is None else range(cycles):
                try:
                    await self._link(nursery)
                except OSError:
                    pass
                if self.refused:
                    break
                await trio.sleep(reconnect_s)
            nursery.cancel_scope.cancel()

    async def _reporter(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._heartbeats)
            while True:
                await trio.sleep(self.position_interval_s)
                frame = self.make_position()
                if self.online and await self._send(frame):
                    self.stats.positions_sent += 1
                else:
                    self._cached.append(frame)
                    del self._cached[:-10_000]  # the device's own cache is finite too

    async def _heartbeats(self) -> None:
        while True:
            await trio.sleep(self.heartbeat_s)
            if self.online:
                await self._send(self._frame("V109", []))

    async def _link(self, nursery: trio.Nursery) -> None:
        stream: trio.abc.Stream
        if self.transport == "udp":
            stream = await _UdpClient.connect(self.host, self.port)
        else:
            stream = await trio.open_tcp_stream(self.host, self.port)
        decoder = SignalingDecoder()
        try:
            with trio.CancelScope() as scope:
                self._link_scope = scope
                self._stream = stream
                pos = self.position()
                tail = [f.format(plate=self.plate) for f in CAPTURED_V101_TAIL]
                await self._send(self._frame("V101", [*position_fields(pos), *tail]))
                while True:
                    data = await stream.receive_some(65536)
                    if not data:
                        break
                    for msg in decoder.feed(data):
                        self.received.append(msg)
                        await self._on_message(msg, nursery)
                    if self.refused:
                        break
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self.online = False
            self._stream = None
            self.registered = trio.Event()
            with trio.CancelScope(shield=True):
                await stream.aclose()

    async def _on_message(self, msg: Any, nursery: trio.Nursery) -> None:
        if isinstance(msg, CenterAck):
            if msg.src_keyword == "V101":
                if msg.content[:1] == ("1",):
                    await self._logged_in()
                else:
                    self.refused = True
                    self.stats.refused += 1
            elif (
                msg.src_keyword.startswith(("V2", "V3"))
                and msg.content
                and self._unacked.pop(msg.content[0], None) is not None
            ):
                self.stats.alarm_acks += 1
        elif isinstance(msg, LiveVideoRequest):
            await self._answer(msg)
            if msg.start:
                nursery.start_soon(self._live, msg)
            else:
                for session, scope in list(self._media.items()):
                    if session == msg.session_id or msg.channel in (98, -1):
                        scope.cancel()
        elif isinstance(msg, FileDownloadRequest):
            await self._answer(msg)
            nursery.start_soon(self._upload, msg)
        elif isinstance(msg, Command) and msg.keyword == "C501":
            self.stats.c501 += 1

    async def _logged_in(self) -> None:
        self.stats.registrations += 1
        pos = self.position()
        tail = [f.format(id=self.device_id) for f in CAPTURED_V142_TAIL]
        await self._send(self._frame("V142", [*position_fields(pos), *tail]))
        await self._send(self._frame("V141", position_fields(pos)))
        # The cache, as after a real reconnect: alarms not acknowledged, then positions.
        for frame in list(self._unacked.values()):
            await self._send(frame)
        # Reports keep coming while the cache drains (each send may wait): drain until it is
        # empty, and only then go online, so none is left behind in the cache.
        while self._cached:
            cached, self._cached = self._cached, []
            for i, frame in enumerate(cached):
                if not await self._send(frame):  # the link went again: keep the rest, in order
                    self._cached[:0] = cached[i:]
                    return
                self.stats.positions_sent += 1
        self.online = True
        self.registered.set()

    async def _answer(self, cmd: LiveVideoRequest | FileDownloadRequest) -> None:
        fields = [*position_fields(self.position()), cmd.keyword, cmd.time, "0", "1", "1", "", "0"]
        await self._send(
            build_frame(
                "V100", fields, serial=cmd.serial, device_id=self.device_id, time=self.now()
            )
        )

    def _media_reg(self, keyword: str, ip: str, port: int, tail: Sequence[str]) -> bytes:
        head = ["V1.0.0.1", "4108", ip, str(port)]
        return self._frame(keyword, [*position_fields(self.position()), *head, *tail])

    async def _open_media(self, ip: str, port: int | None, reg: bytes) -> trio.SocketStream:
        stream = await trio.open_tcp_stream(ip or self.host, port or 0)
        await stream.send_all(reg)
        self.stats.media_sessions += 1
        return stream

    async def _live(self, req: LiveVideoRequest) -> None:
        clip = self.clip
        if clip is None:
            return
        reg = self._media_reg(
            "V102",
            req.media_ip,
            req.media_port or 0,
            [req.session_id, "C508", str(req.channel or 0), str(req.stream_type or 0), self.plate],
        )
        with trio.CancelScope() as scope:
            self._media[req.session_id] = scope
            self._media_channel[req.session_id] = req.channel or 0
            try:
                stream = await self._open_media(req.media_ip, req.media_port, reg)
            except OSError:
                return
            decoder = MediaDecoder()
            want_key = trio.Event()
            accepted = trio.Event()

            async def reader() -> None:
                while True:
                    data = await stream.receive_some(65536)
                    if not data:
                        scope.cancel()
                        return
                    for item in decoder.feed(data):
                        if isinstance(item, RawMediaPacket) and item.opcode == OP_FEEDBACK:
                            ok = struct.unpack_from("<I", item.payload)[0] == 1
                            if not ok:
                                scope.cancel()
                                return
                            accepted.set()
                        elif isinstance(item, RawMediaPacket) and item.opcode == OP_REQUEST_IFRAME:
                            want_key.set()

            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(reader)
                    await accepted.wait()
                    index = 0
                    period = 1.0 / clip.fps
                    while True:
                        if want_key.is_set():  # jump to the next I-frame
                            want_key = trio.Event()
                            while not clip.units[index % len(clip.units)][1]:
                                index += 1
                        data, key = clip.units[index % len(clip.units)]
                        if (req.channel or 0) in self._corrupt:
                            await stream.send_all(random.randbytes(8192))
                            await trio.sleep(period)
                            continue
                        ts = int(datetime.now(UTC).timestamp() * 1e6)
                        payload = struct.pack("<Q", ts) + data
                        op = OP_I_FRAME if key else OP_P_FRAME
                        await stream.send_all(
                            build_media_packet(op, payload, serial=index & 0xFFFF)
                        )
                        self.sent_at[index % len(clip.units)] = time.time()
                        self.stats.frames_sent += 1
                        index += 1
                        await trio.sleep(period)
            except* (trio.BrokenResourceError, trio.ClosedResourceError):  # its reader's too
                pass
            finally:
                self._media.pop(req.session_id, None)
                self._media_channel.pop(req.session_id, None)
                with trio.CancelScope(shield=True):
                    await stream.aclose()

    async def _upload(self, req: FileDownloadRequest) -> None:
        file = self.files.get(req.file_name)
        if file is None:
            return
        size = len(file.data)
        reg = self._media_reg(
            "V103",
            req.media_ip,
            req.media_port or 0,
            [req.session_id, str(size), f"{file.path}|{self.plate}"],
        )
        try:
            stream = await self._open_media(req.media_ip, req.media_port, reg)
        except OSError:
            return
        try:
            offset = req.start_offset or 0 if req.offset_mode == 1 else 0
            serial = 0
            while offset < size:
                chunk = file.data[offset : offset + self.block_size]
                limit = self.interrupt_file_after
                if limit is not None and offset + len(chunk) > limit:
                    self.interrupt_file_after = None  # once
                    chunk = chunk[: max(0, limit - offset)]
                    if chunk:
                        payload = struct.pack("<II", offset, len(chunk)) + chunk
                        await stream.send_all(build_media_packet(OP_FILE_DATA, payload))
                    return  # the link "drops" mid-file
                payload = struct.pack("<II", offset, len(chunk)) + chunk
                await stream.send_all(build_media_packet(OP_FILE_DATA, payload, serial=serial))
                self.stats.file_bytes_sent += len(chunk)
                offset += len(chunk)
                serial = (serial + 1) & 0xFFFF
            await stream.send_all(build_media_packet(OP_FILE_DATA, struct.pack("<II", size, 0)))
            with trio.move_on_after(5):  # until the server ends the session
                while await stream.receive_some(65536):
                    pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()


async def run_fleet(
    devices: Sequence[SimDevice], *, stagger_s: float = 0.0, duration_s: float | None = None
) -> None:
    """Run every device (connections spread over ``stagger_s``) for ``duration_s`` or forever."""
    with trio.move_on_after(math.inf if duration_s is None else duration_s):
        async with trio.open_nursery() as nursery:
            for n, dev in enumerate(devices):
                nursery.start_soon(dev.run)
                if stagger_s and n < len(devices) - 1:
                    await trio.sleep(stagger_s / len(devices))


def fleet(
    count: int,
    host: str,
    port: int,
    *,
    first_id: int = 1,
    id_width: int = 5,
    **options: Any,
) -> list[SimDevice]:
    return [SimDevice(f"{first_id + n:0{id_width}d}", host, port, **options) for n in range(count)]


async def main(
    *,
    host: str,
    port: int,
    devices: int,
    interval_s: float,
    clock_step_s: float | None,
    duration_s: float | None,
    first_id: int,
    video: bool,
) -> SimStats:
    clip = counter_clip() if video else None
    sims = fleet(
        devices,
        host,
        port,
        first_id=first_id,
        position_interval_s=interval_s,
        clock_step_s=clock_step_s,
        clip=clip,
        start_time=datetime.now(UTC) - timedelta(hours=1) if clock_step_s else None,
    )
    await run_fleet(sims, stagger_s=min(5.0, devices * 0.002), duration_s=duration_s)
    total = SimStats()
    for s in sims:
        for k, v in vars(s.stats).items():
            setattr(total, k, getattr(total, k) + v)
    return total
