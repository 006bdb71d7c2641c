"""`trocadero blob-tracker`: one camera's blob tracker, in a process of its own.

The daemon starts it (process.py) with one end of a socket pair and the camera's config; it
opens the stream (RTSP or a file, through OpenCV's FFmpeg), analyses at most `rate_hz`
frames a second (greyscale, scaled to `width`), tracks blobs and sends them, and a JPEG of
the picture every `snapshot_interval_s`, framed as protocols/blob_wire.py says. Alone (no
`--fd`) it prints the same as JSON lines, for setting a camera up on site.

Decoding a camera's stream is the part that can hang or crash on bad input: here it takes
only this process down. It dies with the daemon (PR_SET_PDEATHSIG, as the MDVR gateway does)
and exits when the daemon stops reading (a send blocked for `SEND_TIMEOUT_S`).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import cv2
import numpy as np
from numpy.typing import NDArray

from trocadero.config.cameras import CameraConfig
from trocadero.protocols import blob_wire as wire

from .detect import BlobDetector
from .tracker import CentroidTracker

__all__ = ["analysed_frames", "run_worker"]

SEND_TIMEOUT_S: Final = 5.0
EXIT_SOURCE: Final = 3  # the source could not be opened or ended


def _is_file(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


LISTEN_S: Final = 86400  # listen mode: how long FFmpeg waits for a publisher (we stop it sooner)


def _open(url: str, *, listen: bool = False, transport: str = "tcp") -> Any:
    path = url.removeprefix("file://")
    if _is_file(url):
        return cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    # Pulled: RTSP over TCP by default (a camera behind NAT or a lossy link loses whole
    # pictures over UDP); UDP for a camera or relay that serves nothing else. Pushed to us:
    # FFmpeg's RTSP server side, given a finite wait (its default, -1, is refused in listen
    # mode).
    options = (
        f"rtsp_flags;listen|listen_timeout;{LISTEN_S}" if listen else f"rtsp_transport;{transport}"
    )
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = options  # read by each open
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG)


def analysed_frames(
    camera: CameraConfig, *, clock: Callable[[], float] = time.monotonic
) -> Iterator[tuple[float, NDArray[np.uint8], NDArray[np.uint8]]]:
    """(Unix time taken, scaled colour picture, its grey) at most `rate_hz` a second. A file
    plays at that rate and loops; a stream is read as it comes, the frames between two
    analyses only grabbed (not decoded to pixels). Ends when the source fails."""
    capture = _open(camera.url, listen=camera.listen, transport=camera.transport)
    if not capture.isOpened():
        raise OSError(f"cannot open {camera.url}")
    period = 1.0 / camera.rate_hz
    is_file = _is_file(camera.url)
    next_at = clock()
    try:
        while True:
            now = clock()
            if is_file:
                if now < next_at:
                    time.sleep(next_at - now)
            elif now < next_at:
                if not capture.grab():
                    return
                continue
            # On an absolute schedule (a slow frame is caught up on), unless far behind.
            next_at = max(next_at + period, clock() - 1.0)
            ok, picture = capture.read()
            if not ok and is_file:  # the end of the clip: from the start again
                capture.release()
                capture = _open(camera.url)
                ok, picture = capture.read()
            if not ok or picture is None:
                return
            h, w = picture.shape[:2]
            if w != camera.width:
                size = (camera.width, max(1, round(h * camera.width / w)))
                picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
            yield time.time(), picture, cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
    finally:
        capture.release()


class _Sink:
    """Where messages go: the daemon's socket, or stdout as JSON lines."""

    def __init__(self, fd: int | None) -> None:
        self.sock = None if fd is None else socket.socket(fileno=fd)
        if self.sock is not None:
            self.sock.settimeout(SEND_TIMEOUT_S)

    def send(self, data: bytes, plain: dict[str, Any]) -> None:
        if self.sock is not None:
            self.sock.sendall(data)
        else:
            print(json.dumps(plain), flush=True)


def run_worker(camera: CameraConfig, fd: int | None) -> int:
    """Until the source fails (exit 3) or the daemon goes (exit 0)."""
    if fd is not None:
        from ..mdvr.process.child import die_with_parent  # the gateway's, not a second copy

        die_with_parent()
    # One thread: a camera's tracker never takes both cores of the appliance from the frame
    # clock's thread (and at 640 px one thread costs less CPU a frame than two).
    cv2.setNumThreads(1)
    sink = _Sink(fd)
    detector = BlobDetector(camera)
    tracker: CentroidTracker | None = None
    last_shot = -1e9
    try:
        frames = analysed_frames(camera)
        for seq, (at, picture, grey) in enumerate(frames):
            h, w = grey.shape
            if tracker is None:
                tracker = CentroidTracker(camera.max_jump, camera.max_missed, aspect=h / w)
                sink.send(
                    wire.encode_hello(camera.name, w, h, os.getpid()),
                    {"t": "hello", "camera": camera.name, "width": w, "height": h},
                )
            blobs = tracker.update(detector.detect(grey), at)
            sink.send(
                wire.encode_blobs(seq, at, blobs),
                {"t": "blobs", "seq": seq, "at": at, "blobs": [list(_row(b)) for b in blobs]},
            )
            if at - last_shot >= camera.snapshot_interval_s and sink.sock is not None:
                last_shot = at
                ok, jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 70])
                if ok:
                    sink.send(wire.encode_snapshot(at, w, h, jpeg.tobytes()), {})
    except OSError as exc:
        if sink.sock is not None and isinstance(exc, ConnectionError | TimeoutError):
            return 0  # the daemon closed its end or stopped reading: nothing to tell
        _report(sink, f"{camera.url}: {exc}")
        return EXIT_SOURCE
    _report(sink, f"{camera.url}: no more frames")
    return EXIT_SOURCE


def _row(b: wire.Blob) -> tuple[float, ...]:
    return (b.id, round(b.x, 4), round(b.y, 4), round(b.w, 4), round(b.h, 4), b.area, b.age_s)


def _report(sink: _Sink, text: str) -> None:
    try:
        sink.send(wire.encode_error(text), {"t": "error", "text": text})
    except OSError:
        pass
    print(f"blob-tracker: {text}", file=sys.stderr)
