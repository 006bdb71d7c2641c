"""The image source: PyAV decoding, fit modes, 16-bit expansion, alpha, unreadable files.

Test pictures are encoded here with PyAV's PNG and MJPEG encoders (one frame each, written as
the encoder's packet bytes: a complete .png / .jpg file).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

from trocadero.playout.render.image import ImageError, read_image
from trocadero.playout.render.sources import CanvasContext, SourceError, build_source

FULL = 65535
BG = "#102030"
BG16 = (0x10 * 257, 0x20 * 257, 0x30 * 257)

# four vertical stripes, two pixels wide each: red, green, blue, white (an 8 x 4 picture)
STRIPES = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]], dtype=np.uint8)
R, G, B, W = ((v * 257 for v in c) for c in STRIPES.tolist())
RED, GREEN, BLUE, WHITE = (tuple(c) for c in (R, G, B, W))


def encode(path: Path, pixels: NDArray[np.generic], codec: str, pix_fmt: str, src_fmt: str) -> Path:
    frame = av.VideoFrame.from_ndarray(pixels, format=src_fmt)  # type: ignore[arg-type]
    ctx = av.CodecContext.create(codec, "w")
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width, ctx.height = pixels.shape[1], pixels.shape[0]
    ctx.pix_fmt = pix_fmt
    ctx.time_base = Fraction(1, 25)
    packets = [*ctx.encode(frame.reformat(format=pix_fmt)), *ctx.encode(None)]
    path.write_bytes(b"".join(bytes(p) for p in packets))
    return path


def stripes_png(tmp_path: Path) -> Path:
    pixels = np.repeat(STRIPES, 2, axis=0)[None].repeat(4, axis=0)  # (4, 8, 3)
    return encode(tmp_path / "stripes.png", pixels, "png", "rgb24", "rgb24")


def image(path: Path | str, width: int, height: int, **params: object) -> NDArray[np.uint16]:
    src = build_source(
        "image", {"path": str(path), **params}, CanvasContext.unpatched("c", width, height)
    )
    out = np.full((height, width, 3), 7, dtype=np.uint16)
    assert src.render(0.0, out) is True
    assert src.render(5.0, out) is False  # a still: drawn once
    return out


def row(out: NDArray[np.uint16], y: int) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in px) for px in out[y]]


def test_stretch(tmp_path: Path) -> None:
    out = image(stripes_png(tmp_path), 4, 6, fit="stretch")  # 8 x 4 -> 4 x 6: aspect ignored
    for y in range(6):
        assert row(out, y) == [RED, GREEN, BLUE, WHITE]


def test_contain_letterboxes_with_the_background(tmp_path: Path) -> None:
    out = image(stripes_png(tmp_path), 4, 4, fit="contain", background=BG)  # -> 4 x 2, centred
    assert row(out, 0) == [BG16] * 4
    assert row(out, 1) == row(out, 2) == [RED, GREEN, BLUE, WHITE]
    assert row(out, 3) == [BG16] * 4


def test_contain_pillarboxes(tmp_path: Path) -> None:
    out = image(stripes_png(tmp_path), 12, 2, fit="contain", background=BG)  # -> 4 x 2
    for y in range(2):
        assert row(out, y) == [BG16] * 4 + [RED, GREEN, BLUE, WHITE] + [BG16] * 4


def test_contain_is_the_default(tmp_path: Path) -> None:
    out = image(stripes_png(tmp_path), 4, 4)
    assert row(out, 0) == [(0, 0, 0)] * 4  # default background: black
    assert row(out, 1) == [RED, GREEN, BLUE, WHITE]


def test_cover_crops_the_overflow(tmp_path: Path) -> None:
    out = image(stripes_png(tmp_path), 4, 4, fit="cover")  # 8 x 4 fills 4 x 4: crop 2 each side
    for y in range(4):
        assert row(out, y) == [GREEN, GREEN, BLUE, BLUE]


def test_jpeg(tmp_path: Path) -> None:
    pixels = np.zeros((16, 32, 3), dtype=np.uint8)
    pixels[:, :16] = (200, 40, 40)
    pixels[:, 16:] = (30, 90, 220)
    path = encode(tmp_path / "two.jpg", pixels, "mjpeg", "yuvj420p", "rgb24")
    out = image(path, 4, 2, fit="stretch").astype(int)
    left = np.array((200, 40, 40)) * 257
    right = np.array((30, 90, 220)) * 257
    tolerance = 6 * 257  # JPEG is lossy
    assert (np.abs(out[:, :2] - left) <= tolerance).all()
    assert (np.abs(out[:, 2:] - right) <= tolerance).all()


def test_16_bit_png_keeps_its_precision(tmp_path: Path) -> None:
    pixels = np.full((2, 2, 3), (0x1234, 0x5678, 0x9ABC), dtype=np.uint16)
    path = encode(tmp_path / "deep.png", pixels, "png", "rgb48be", "rgb48le")
    out = image(path, 2, 2, fit="stretch")
    assert row(out, 0) == [(0x1234, 0x5678, 0x9ABC)] * 2


def test_transparency_over_the_background(tmp_path: Path) -> None:
    pixels = np.zeros((1, 3, 4), dtype=np.uint8)
    pixels[0, 0] = (255, 0, 0, 255)  # opaque red
    pixels[0, 1] = (255, 0, 0, 0)  # transparent
    pixels[0, 2] = (255, 255, 255, 51)  # white at 20 %
    path = encode(tmp_path / "alpha.png", pixels, "png", "rgba", "rgba")
    out = image(path, 3, 1, fit="stretch", background="#000000")
    assert row(out, 0) == [RED, (0, 0, 0), (13107, 13107, 13107)]  # 65535 * 51 / 255


def test_read_image_directly(tmp_path: Path) -> None:
    pixels = read_image(stripes_png(tmp_path), 4, 1, "stretch", (0, 0, 0))
    assert pixels.dtype == np.uint16
    assert pixels.shape == (1, 4, 3)
    assert pixels.flags.c_contiguous


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x89PNG\r\n\x1a\nthis is not really a png", "cannot decode"),
        (b"hello, I am text", "cannot decode"),
        (b"", "cannot decode"),
    ],
)
def test_corrupt_file_is_rejected_with_the_reason(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(SourceError) as info:
        image(path, 4, 4)
    message = str(info.value)
    assert message.startswith(f'image: param "path": {reason} "{path}": ')
    assert "Invalid data" in message or "End of file" in message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r'param "path": cannot open ".*nope\.png": no such file'):
        image(tmp_path / "nope.png", 4, 4)
    with pytest.raises(SourceError, match="it is a directory"):
        image(tmp_path, 4, 4)


def test_every_problem_at_once(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        build_source(
            "image",
            {"path": str(tmp_path / "nope.png"), "fit": "zoom", "background": "grey"},
            CanvasContext.unpatched("c", 4, 4),
        )
    problems = info.value.problems
    assert len(problems) == 3
    assert problems[0].startswith('image: param "fit": must be one of stretch, contain, cover')
    assert problems[1].startswith('image: param "background": must be a colour')
    assert problems[2].startswith('image: param "path": cannot open')


def test_image_error_is_a_value_error() -> None:
    assert issubclass(ImageError, ValueError)
