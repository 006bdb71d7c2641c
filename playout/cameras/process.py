"""`CameraTracker`: one camera's blob tracker process, as the daemon sees it.

Started like the MDVR gateway's process (playout/mdvr/process/parent.py): a Unix socket
pair, the child given its end by number, stopped by closing ours (then SIGTERM, SIGKILL).
It runs under the daemon's supervisor as the subsystem "camera:<name>": whatever goes wrong
ends `serve` with an exception, the supervisor alerts and restarts it with backoff, and
nothing here ever touches the frame clock:

- the process exits (a crash, a kill, a source it cannot open): `CameraLost`;
- no frame for `dead_after_s` (a dead camera, a hung decoder): `CameraDead`, the process
  is killed;
- its stream is not the protocol (`BlobWireError` from the strict reader): the connection
  and the process are dropped; other cameras and the daemon carry on.

While it runs, each frame's blobs replace the camera's set in `LiveBlobs` (read by
`blob_glow` layers and the blob view) and go on the bus as `blob:data` (read by the rules).
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import trio

from trocadero.config.cameras import CameraConfig
from trocadero.core.blobs import LiveBlobs, Snapshot, blob_doc
from trocadero.core.codec import to_plain
from trocadero.core.events import EventBus
from trocadero.core.statistics import counter, detail, gauge, label
from trocadero.protocols.blob_wire import (
    BlobFrame,
    BlobReader,
    BlobWireError,
    Hello,
    SnapshotPicture,
    WorkerError,
)

from ..child_exit import exit_status, stop_child
from ..logs import get_logger

__all__ = [
    "CameraDead",
    "CameraLost",
    "CameraStatistics",
    "CameraTracker",
    "tracker_argv",
]

log = get_logger("cameras")

FIRST_FRAME_GRACE_S: Final = 10.0  # interpreter, OpenCV, RTSP set-up: until the source is open
STOP_GRACE_S: Final = 3.0
READ_SIZE: Final = 1 << 16
State = Literal["starting", "running", "dead", "stopped"]


class CameraLost(Exception):
    """The tracker process ended or broke its stream."""


class CameraDead(Exception):
    """The tracker sent no frame for too long."""


@dataclass(frozen=True, slots=True)
class CameraStatistics:
    """One camera, labelled `camera` in /metrics (`trocadero_camera_*`)."""

    name: str = field(metadata=label("camera"))
    state: State = field(metadata=detail())
    up: bool  # frames arriving
    pid: int | None = field(metadata=detail())
    starts: int = field(metadata=counter())
    frames: int = field(metadata=counter())
    blobs: int = field(metadata=gauge())  # in the newest frame
    last_frame_age_s: float | None = field(metadata=gauge())
    wire_errors: int = field(metadata=counter())  # connections dropped for a bad stream
    last_error: str | None = field(metadata=detail())


def tracker_argv(camera: CameraConfig, fd: int) -> list[str]:
    doc = json.dumps(to_plain(camera))
    return [
        sys.executable,
        "-m",
        "trocadero",
        "blob-tracker",
        "--fd",
        str(fd),
        "--camera-json",
        doc,
    ]


class CameraTracker:
    def __init__(
        self,
        camera: CameraConfig,
        live: LiveBlobs,
        bus: EventBus,
        *,
        argv: Sequence[str] | None = None,  # tests: another program in the tracker's place
    ) -> None:
        self.camera = camera
        self.live = live
        self.bus = bus
        self._argv = argv
        self.state: State = "stopped"
        self.pid: int | None = None
        self.starts = 0
        self.frames = 0
        self.blobs = 0
        self.wire_errors = 0
        self.last_error: str | None = None
        self.last_frame: float | None = None  # time.monotonic()
        self.picture: tuple[int, int] | None = None

    @property
    def subsystem(self) -> str:
        return f"camera:{self.camera.name}"

    def statistics(self) -> CameraStatistics:
        age = None if self.last_frame is None else round(time.monotonic() - self.last_frame, 3)
        return CameraStatistics(
            name=self.camera.name,
            state=self.state,
            up=self.state == "running",
            pid=self.pid,
            starts=self.starts,
            frames=self.frames,
            blobs=self.blobs,
            last_frame_age_s=age,
            wire_errors=self.wire_errors,
            last_error=self.last_error,
        )

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            argv = (
                tracker_argv(self.camera, theirs.fileno())
                if self._argv is None
                else [*self._argv, str(theirs.fileno())]
            )
            process = await trio.lowlevel.open_process(argv, pass_fds=(theirs.fileno(),))
        finally:
            theirs.close()
        self.starts += 1
        self.pid = process.pid
        self.state = "starting"
        stream = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
        # The camera is up once it is (really) sending frames, not once the process exists:
        # the supervisor counts this start now, alerts only about what breaks it.
        task_status.started()
        try:
            await self._read(stream, process)
        except BlobWireError as exc:
            self.wire_errors += 1
            self.last_error = f"bad stream from the tracker: {exc}"
            raise CameraLost(self.last_error) from exc
        except (CameraDead, CameraLost) as exc:
            self.last_error = str(exc)
            raise
        finally:
            self.state = "dead"
            self.blobs = 0
            self.live.clear(self.camera.name)
            with trio.CancelScope(shield=True):
                await stream.aclose()
                await _stop(process)
            self.pid = None

    async def _read(self, stream: trio.SocketStream, process: trio.Process) -> None:
        reader = BlobReader()
        deadline = trio.current_time() + max(FIRST_FRAME_GRACE_S, self.camera.dead_after_s)
        while True:
            with trio.move_on_at(deadline):
                try:
                    data = await stream.receive_some(READ_SIZE)
                except (trio.BrokenResourceError, OSError):
                    data = b""
                if not data:
                    status = await _exit_status(process)
                    raise CameraLost(f"the blob tracker ended ({status}){self._told()}")
                for message in reader.feed(data):
                    if isinstance(message, BlobFrame | Hello):  # hello: the source is open
                        deadline = trio.current_time() + self.camera.dead_after_s
                    if isinstance(message, BlobFrame):
                        self._frame(message)
                    else:
                        self._other(message)
                continue
            raise CameraDead(
                f"no frame from {self.camera.url} for {self.camera.dead_after_s:g} s"
                if self.frames
                else f"no frame from {self.camera.url} since the tracker opened it"
            )

    def _told(self) -> str:
        return f": {self.last_error}" if self.last_error else ""

    def _frame(self, message: BlobFrame) -> None:
        self.state = "running"
        self.frames += 1
        self.blobs = len(message.blobs)
        self.last_frame = time.monotonic()
        self.live.publish(self.camera.name, message.blobs, message.at)
        self.bus.publish(
            "blob:data",
            {
                "camera": self.camera.name,
                "at": message.at,
                "seq": message.seq,
                "blobs": [blob_doc(b) for b in message.blobs],
            },
        )

    def _other(self, message: Hello | SnapshotPicture | WorkerError) -> None:
        if isinstance(message, SnapshotPicture):
            # The tracker sends a picture right after its frame's blobs: kept together, so
            # the blob view draws the boxes on the picture they were found in.
            found = self.live.get(self.camera.name)
            blobs = found.blobs if found is not None and found.frame_at == message.at else ()
            self.live.snapshot(
                self.camera.name,
                Snapshot(message.jpeg, message.at, message.width, message.height, blobs),
            )
        elif isinstance(message, Hello):
            if message.camera != self.camera.name:
                raise BlobWireError(f"hello from camera {message.camera!r}")
            self.picture = (message.width, message.height)
            self.last_error = None
            log.info("blob tracker running", camera=self.camera.name, pid=message.pid)
        else:
            self.last_error = message.text


async def _exit_status(process: trio.Process) -> str:
    return await exit_status(process, STOP_GRACE_S, "its stream closed")


async def _stop(process: trio.Process) -> None:
    """Its socket is closed: it exits at its next send; SIGTERM, then SIGKILL."""
    await stop_child(process, STOP_GRACE_S, wait_first=False)
