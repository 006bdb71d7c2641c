"""Media files with PyAV: what a file is (probe) and a JPEG thumbnail of it. Blocking: run
these on a worker thread. Used by the content library and the MDVR file downloads."""

from __future__ import annotations

import fractions
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av

__all__ = ["MediaError", "MediaInfo", "make_thumbnail", "probe"]

IMAGE_CODECS = frozenset({"png", "mjpeg", "jpeg", "bmp", "gif", "webp", "tiff"})


class MediaError(ValueError):
    """Not a media file PyAV can read (the message says why)."""


@dataclass(frozen=True, slots=True)
class MediaInfo:
    kind: str  # "video" or "image"
    container: str
    codec: str
    width: int
    height: int
    fps: float | None
    duration_s: float | None
    frames: int | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def probe(path: Path, *, demuxer: str | None = None) -> MediaInfo:
    """Open the file, read its first video stream's parameters and decode one frame (a file
    whose header parses but whose pictures do not is rejected too)."""
    try:
        with av.open(str(path), format=demuxer) as container:
            if not container.streams.video:
                raise MediaError("no video or image stream in the file")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            first = next(container.decode(stream), None)
            if first is None:
                raise MediaError(f"{codec}: no picture could be decoded")
            rate = stream.average_rate or stream.guessed_rate
            duration = None
            if container.duration:
                duration = container.duration / av.time_base
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            image = codec in IMAGE_CODECS and (stream.frames or 1) <= 1
            return MediaInfo(
                kind="image" if image else "video",
                container=container.format.name,
                codec=codec,
                width=first.width,
                height=first.height,
                fps=None if image or not rate else float(rate),
                duration_s=None if image else (round(duration, 3) if duration else None),
                frames=stream.frames or None,
            )
    except MediaError:
        raise
    except (av.FFmpegError, StopIteration, UnicodeDecodeError, ValueError, OSError) as exc:
        raise MediaError(f"not a readable video or image: {_reason(exc, path)}") from exc


def _reason(exc: BaseException, path: Path) -> str:
    """What went wrong, without where: FFmpeg's errors end in the file's path, and the reason
    goes back to a web client (and into alerts), which must not learn the server's layout."""
    strerror = getattr(exc, "strerror", None)
    text = strerror if isinstance(strerror, str) and strerror else str(exc) or type(exc).__name__
    return text.replace(str(path), "the file")


def make_thumbnail(
    source: Path, target: Path, *, max_width: int = 320, demuxer: str | None = None
) -> tuple[int, int]:
    """A JPEG of the first decodable picture, at most ``max_width`` wide, written to a
    temporary name and renamed."""
    with av.open(str(source), format=demuxer) as src:
        frame = next(src.decode(video=0))
    width = min(max_width, frame.width) // 2 * 2 or 2
    height = max(2, round(frame.height * width / frame.width) // 2 * 2)
    picture = frame.reformat(width=width, height=height, format="yuvj420p")
    enc: Any = av.CodecContext.create("mjpeg", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuvj420p"
    enc.time_base = fractions.Fraction(1, 25)
    data = b"".join(bytes(p) for p in [*enc.encode(picture), *enc.encode(None)])
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return width, height
