"""Still images for the ``image`` layer source: decode with PyAV, fit to the canvas, 16 bits.

``read_image`` is the whole job and does blocking file I/O and decoding, so the renderer can
move it to a worker thread without touching the source: it takes plain values and returns a
new (height, width, 3) uint16 array.

* Decoding: ``av.open`` on the file and the first picture of its first video stream (PNG, JPEG,
  BMP, TIFF, WebP, GIF… whatever the linked FFmpeg reads; an animated file gives its first
  frame). EXIF orientation is not applied.
* Scaling: libswscale through PyAV's reformatter, in the same call as the conversion to RGB;
  area averaging when shrinking, bicubic when enlarging.
* Fit: ``stretch`` fills the canvas ignoring the aspect ratio; ``contain`` keeps the aspect
  ratio and shows the whole image, centred, with the background colour in the bars;
  ``cover`` keeps the aspect ratio and fills the canvas, cropping the overflow equally on both
  sides.
* Depth: 8-bit pictures are expanded exactly (v * 257); pictures with more than 8 bits per
  component (16-bit PNG, 10/12-bit formats) are converted to 16-bit RGB directly.
* Transparency: a picture with alpha is composited over the background colour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import av
import av.error
import numpy as np
from av.video.frame import VideoFrame
from av.video.reformatter import Interpolation
from numpy.typing import NDArray

from .colour import Colour

Fit = Literal["stretch", "contain", "cover"]
FITS: tuple[Fit, ...] = ("stretch", "contain", "cover")


class ImageError(ValueError):
    """The file cannot be used as an image; the message names the path and the reason."""


def decode_first_picture(path: str | Path) -> VideoFrame:
    """The first decoded picture of the file's first video stream."""
    shown = f'"{path}"'
    p = Path(path)
    if not p.exists():
        raise ImageError(f"cannot open {shown}: no such file")
    if p.is_dir():
        raise ImageError(f"cannot open {shown}: it is a directory")
    try:
        with av.open(str(p)) as container:
            streams = container.streams.video
            if not streams:
                raise ImageError(f"cannot use {shown}: the file holds no picture")
            for frame in container.decode(streams[0]):
                return frame
    except av.error.FFmpegError as exc:
        reason = exc.strerror or str(exc)
        raise ImageError(f"cannot decode {shown}: {reason}") from exc
    except OSError as exc:
        raise ImageError(f"cannot read {shown}: {exc.strerror or exc}") from exc
    raise ImageError(f"cannot use {shown}: no picture could be decoded from it")


def _deep(frame: VideoFrame) -> bool:
    return any(c.bits > 8 for c in frame.format.components)


def _has_alpha(frame: VideoFrame) -> bool:
    return any(c.is_alpha for c in frame.format.components)


def scaled_rgb16(frame: VideoFrame, width: int, height: int) -> NDArray[np.uint16]:
    """The picture scaled to width x height as RGB or RGBA (alpha last), uint16 0..65535."""
    alpha = _has_alpha(frame)
    deep = _deep(frame)
    fmt = {(False, False): "rgb24", (False, True): "rgba", (True, False): "rgb48le"}.get(
        (deep, alpha), "rgba64le"
    )
    shrinking = width * height < frame.width * frame.height
    interpolation = Interpolation.AREA if shrinking else Interpolation.BICUBIC
    try:
        scaled = frame.reformat(width=width, height=height, format=fmt, interpolation=interpolation)
        pixels = scaled.to_ndarray()
    except (av.error.FFmpegError, ValueError) as exc:
        raise ImageError(f"cannot convert the picture to RGB: {exc}") from exc
    if deep:
        return np.ascontiguousarray(pixels, dtype=np.uint16)
    return pixels.astype(np.uint16) * np.uint16(257)


def _over(pixels: NDArray[np.uint16], background: Colour) -> NDArray[np.uint16]:
    """RGBA (alpha last) composited over the background colour, as RGB, rounded."""
    if pixels.shape[2] == 3:
        return pixels
    rgb = pixels[:, :, :3].astype(np.uint64)
    a = pixels[:, :, 3:4].astype(np.uint64)
    bg = np.asarray(background, dtype=np.uint64)
    mixed = (rgb * a + bg * (65535 - a) + 32767) // 65535
    return mixed.astype(np.uint16)


def fit_picture(
    frame: VideoFrame, width: int, height: int, fit: Fit, background: Colour
) -> NDArray[np.uint16]:
    """The picture fitted to a width x height canvas: (height, width, 3) uint16."""
    iw, ih = frame.width, frame.height
    if iw <= 0 or ih <= 0:
        raise ImageError("the picture has no pixels")
    out = np.empty((height, width, 3), dtype=np.uint16)
    if fit == "stretch":
        out[...] = _over(scaled_rgb16(frame, width, height), background)
        return out
    if fit == "contain":
        f = min(width / iw, height / ih)
        sw = max(1, min(width, round(iw * f)))
        sh = max(1, min(height, round(ih * f)))
        x0, y0 = (width - sw) // 2, (height - sh) // 2
        out[...] = np.asarray(background, dtype=np.uint16)
        out[y0 : y0 + sh, x0 : x0 + sw] = _over(scaled_rgb16(frame, sw, sh), background)
        return out
    # cover
    f = max(width / iw, height / ih)
    sw = max(width, round(iw * f))
    sh = max(height, round(ih * f))
    x0, y0 = (sw - width) // 2, (sh - height) // 2
    scaled = _over(scaled_rgb16(frame, sw, sh), background)
    out[...] = scaled[y0 : y0 + height, x0 : x0 + width]
    return out


def read_image(
    path: str | Path, width: int, height: int, fit: Fit, background: Colour
) -> NDArray[np.uint16]:
    """Decode the file and fit it to the canvas; ImageError names the path and the reason."""
    frame = decode_first_picture(path)
    try:
        return fit_picture(frame, width, height, fit, background)
    except ImageError as exc:
        raise ImageError(f'cannot use "{path}": {exc}') from exc
