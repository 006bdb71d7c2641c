"""Live video decoding off the Trio thread: Annex-B access units in, scaled frames out.

One worker thread per live session, fed through a bounded queue. PyAV (libavcodec) decodes
H.264 or H.265 (sniffed from the first NAL, since devices do not signal it) and libswscale
scales each picture straight to every size the feed's canvases want, as 16-bit RGB. When the
thread falls behind, access units are dropped until the next I-frame (a P-frame without its
references would only decode to garbage), and counted.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Final

import av

from trocadero.protocols.mdvr import sniff_video_codec

from .feeds import LiveFeed

QUEUE_FRAMES: Final = 64
_CODECS: Final = {"h264": "h264", "h265": "hevc"}


def codec_available(name: str) -> bool:
    return _CODECS.get(name, name) in av.codecs_available


class LiveDecoder:
    def __init__(self, feed: LiveFeed, *, name: str = "mdvr-decode") -> None:
        self.feed = feed
        self.decoded = 0
        self.dropped = 0
        self.errors = 0
        self._queue: queue.Queue[tuple[bytes, bool, float] | None] = queue.Queue(QUEUE_FRAMES)
        self._waiting_keyframe = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, data: bytes, keyframe: bool, received_at: float) -> None:
        """From the media connection (never blocks)."""
        if self._waiting_keyframe and not keyframe:
            self.dropped += 1
            return
        try:
            self._queue.put_nowait((data, keyframe, received_at))
            self._waiting_keyframe = False
        except queue.Full:
            self.dropped += 1
            self._waiting_keyframe = True

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread (blocking: call through trio.to_thread)."""
        while True:
            try:
                self._queue.put_nowait(None)
                break
            except queue.Full:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    pass
        self._thread.join(timeout)

    def _run(self) -> None:
        ctx: Any = None
        while True:
            item = self._queue.get()
            if item is None:
                return
            data, keyframe, received_at = item
            if ctx is None:
                codec = sniff_video_codec(data)
                if codec is None or not keyframe or not codec_available(codec):
                    self.dropped += 1
                    continue
                ctx = av.CodecContext.create(_CODECS[codec], "r")
                self.feed.codec = codec
            try:
                frames = ctx.decode(av.Packet(data))
            except av.error.FFmpegError:
                self.errors += 1
                continue
            for frame in frames:
                scaled = {
                    (w, h): frame.reformat(width=w, height=h, format="rgb48le").to_ndarray()
                    for w, h in self.feed.wanted()
                }
                self.decoded += 1
                self.feed.publish(
                    scaled, received_at=received_at, source=(frame.width, frame.height)
                )
