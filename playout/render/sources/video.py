"""The video layer source: a file decoded by PyAV on a worker thread into a bounded ring of
frames already scaled to the canvas, shown frame-accurately against the frame clock.

The frame for frame time t is computed, never accumulated, so there is no drift over hours:
``n = floor((t - start) * speed * fps) + offset * fps``, then wrapped (loop), clamped (hold)
or ended (once: the background). A frame never waits on the decoder: when frame n is not
decoded yet the newest decoded frame before it is shown and the miss is counted. A decoder
error mid-file switches the layer to its fallback colour and is reported once through the
source context's ``alert`` (the daemon turns it into a ``system:alert``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Final

import av
import numpy as np
from numpy.typing import NDArray

from .base import LayerSource, ParamSpec, ignore_alert
from .fallback import FALLBACK_IMAGE, fallback_frame

RING: Final = 48  # frames kept decoded ahead (and just behind) the one shown
MODES: Final = ("loop", "once", "hold")


class VideoDecoder:
    """Decodes `path` in order on its own thread, frames scaled to (width, height) as uint16
    RGB, keeping at most `RING` of them; seeks back to the start when asked for an earlier
    frame than it holds (a loop). A decoding error is reported once to `alert`, from the
    decoding thread."""

    def __init__(
        self, path: Path, width: int, height: int, *, alert: Callable[[str], None] = ignore_alert
    ) -> None:
        self.path, self.width, self.height = path, width, height
        self.alert = alert
        with av.open(str(path)) as probe:
            stream = probe.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            self.fps = float(rate) if rate else 25.0
            frames = stream.frames or 0
            if not frames and probe.duration:
                frames = round(probe.duration / av.time_base * self.fps)
        self.total: int | None = frames or None
        self.frames: OrderedDict[int, NDArray[np.uint16]] = OrderedDict()
        self.error: str | None = None
        self.misses = 0
        self._wanted = 0
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"video {path.name}", daemon=True)
        self._thread.start()

    def want(self, index: int) -> None:
        with self._cond:
            self._wanted = index
            self._cond.notify()

    def get(self, index: int) -> tuple[int, NDArray[np.uint16]] | None:
        """Frame `index`, else the newest decoded one before it (a miss), else None."""
        with self._cond:
            frame = self.frames.get(index)
            if frame is not None:
                return index, frame
            older = [i for i in self.frames if i < index]
            self.misses += 1
            if older:
                best = max(older)
                return best, self.frames[best]
            return None

    def close(self, *, wait: bool = True) -> None:
        """Stop the decoding thread; without `wait` just tell it to (it ends within a frame)."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        if wait:
            self._thread.join(timeout=2)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stop:
                self._decode_pass()
        except Exception as exc:
            self.error = f"{self.path.name}: {exc}"
            self.alert(f"video layer: decoding failed ({self.error}); showing the fallback")

    def _wrapped(self, index: int) -> bool:
        """The consumer wants a frame far behind this one: it looped back to the start."""
        return self._wanted < index - RING

    def _decode_pass(self) -> None:
        index = -1
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                index += 1
                picture = frame.to_ndarray(
                    width=self.width, height=self.height, format="rgb24"
                ).astype(np.uint16)
                picture *= 257
                with self._cond:
                    # Decode ahead while the ring has room; then wait for the consumer.
                    while (
                        not self._stop
                        and index > self._wanted + RING // 2
                        and not self._wrapped(index)
                    ):
                        self._cond.wait(0.5)
                    if self._stop:
                        return
                    if self._wrapped(index):
                        self.frames.clear()
                        return  # start the next pass from the first frame
                    self.frames[index] = picture
                    while len(self.frames) > RING:
                        self.frames.popitem(last=False)
        with self._cond:
            self.total = index + 1
            if self.total <= RING:  # the whole clip is in the ring: nothing more to decode
                while not self._stop:
                    self._cond.wait(0.5)
            while not self._stop and not self._wrapped(index):
                self._cond.wait(0.5)
            self.frames.clear()


class Video(LayerSource):
    kind = "video"
    summary = (
        "A video file (or an image sequence) decoded on a worker thread, frame-accurate against"
        " the frame clock: loop, play once or hold the last frame, with a start offset and speed."
    )
    animated = True
    params: ClassVar[Mapping[str, ParamSpec]] = MappingProxyType(
        {
            "asset": ParamSpec(
                type="integer", minimum=1, doc="content library asset id (approved only)"
            ),
            "path": ParamSpec(
                type="path",
                doc="or a file outside the library: a video (MP4, MOV, …), an image, or an"
                " image sequence as a pattern (frames/%04d.png, played at 25 fps)",
            ),
            "mode": ParamSpec(
                type="choice", default="loop", choices=MODES, doc="at the end: loop, once, hold"
            ),
            "speed": ParamSpec(
                type="number", default=1.0, minimum=0.01, maximum=16.0, doc="playback speed"
            ),
            "offset_s": ParamSpec(
                type="number",
                default=0.0,
                minimum=0.0,
                maximum=86400.0,
                unit="s",
                doc="start this far into the file",
            ),
            "fallback": ParamSpec(
                type="colour", default="#000000", doc="shown before the first frame and on error"
            ),
            "fallback_image": FALLBACK_IMAGE,
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.decoder: VideoDecoder | None = None
        self.fallback = fallback_frame(self, values, problems)
        self.mode: str = values["mode"]
        self.speed: float = values["speed"]
        self.offset_s: float = values["offset_s"]
        self.start: float | None = None
        self.shown: int | None = None
        asset, path = values["asset"], values["path"]
        if (asset is None) == (path is None):
            problems.append(self.problem("asset", "give either asset (an id) or path"))
            return
        if asset is not None:
            try:
                path = str(self._asset_file(int(asset)))
            except ValueError as exc:
                problems.append(self.problem("asset", str(exc)))
                return
        try:
            self.decoder = VideoDecoder(
                Path(path), self.canvas.width, self.canvas.height, alert=self.context.alert
            )
        except (av.FFmpegError, OSError, IndexError) as exc:
            problems.append(self.problem("path", f"not a readable video: {exc}"))

    def _asset_file(self, asset_id: int) -> Path:
        assets = self.context.assets
        if assets is None:
            raise ValueError("no content library in this process")
        return assets.resolve(asset_id)

    def index_at(self, t: float) -> int | None:
        """The file's frame for frame time t (None: past the end of a play-once)."""
        assert self.decoder is not None
        if self.start is None:
            self.start = t
        n = math.floor(((t - self.start) * self.speed + self.offset_s) * self.decoder.fps + 1e-9)
        total = self.decoder.total
        if total:
            if self.mode == "loop":
                n %= total
            elif n >= total:
                return None if self.mode == "once" else total - 1
        return n

    def frame_key(self, t: float) -> Hashable:
        decoder = self.decoder
        self.shown = None
        if decoder is None or decoder.error is not None:
            return "fallback"
        n = self.index_at(t)
        if n is None:
            return "ended"
        decoder.want(n)
        got = decoder.get(n)
        self.shown = None if got is None else got[0]
        return self.shown

    def settle(self, t: float, timeout: float) -> None:
        # A fresh layer (a blind preview's) plays as if its look started at frame time 0, and
        # waits for its frame rather than showing the fallback before the first decode.
        decoder = self.decoder
        if decoder is None:
            return
        if self.start is None:
            self.start = 0.0
        n = self.index_at(t)
        if n is None:
            return
        decoder.want(n)
        deadline = time.monotonic() + timeout
        while decoder.error is None and n not in decoder.frames and time.monotonic() < deadline:
            time.sleep(0.005)

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        decoder = self.decoder
        got = None
        if decoder is not None and decoder.error is None and self.shown is not None:
            got = decoder.frames.get(self.shown)
        if got is None:
            np.copyto(out, self.fallback)
        else:
            np.copyto(out, got)

    def close(self) -> None:
        if self.decoder is not None:
            self.decoder.close(wait=False)  # called on the event loop: never wait a decode
