"""Font files for the content library: what a file is (its magic bytes, then loaded with
Pillow's ImageFont, the same FreeType the text layer draws with) and a JPEG thumbnail of a
sample set in it. Blocking: run these on a worker thread."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from PIL import Image, ImageDraw, ImageFont

__all__ = ["FontFileError", "FontInfo", "is_font_file", "make_font_thumbnail", "probe_font"]

# The first four bytes of each container, and the MIME type it is stored under. Web fonts
# are taken when this FreeType reads them (WOFF needs its zlib, WOFF2 its Brotli): loading
# the file decides, and a refusal then says what to upload instead.
_MAGIC: Final = {
    b"\x00\x01\x00\x00": ("truetype", "font/ttf"),
    b"true": ("truetype", "font/ttf"),
    b"OTTO": ("opentype", "font/otf"),
    b"ttcf": ("collection", "font/collection"),
    b"wOFF": ("woff", "font/woff"),
    b"wOF2": ("woff2", "font/woff2"),
}
_WEB: Final = frozenset({"woff", "woff2"})
SAMPLE: Final = "Aa Bb 0123"
_PROBE_SIZE: Final = 24


class FontFileError(ValueError):
    """Looks like a font file but is not one that can be drawn (the message says why)."""


@dataclass(frozen=True, slots=True)
class FontInfo:
    kind: str  # always "font": the library's third kind, beside "video" and "image"
    format: str  # truetype, opentype, collection, woff or woff2
    content_type: str
    family: str
    style: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(4)


def is_font_file(path: Path) -> bool:
    """Whether the file claims to be a font: then it is probed as one."""
    return _head(path) in _MAGIC


def probe_font(path: Path) -> FontInfo:
    """Load the font with FreeType and read its names; a truncated or damaged file (or a web
    font this FreeType cannot read) is refused with the reason."""
    head = _head(path)
    if head not in _MAGIC:
        raise FontFileError("not a TrueType, OpenType or WOFF font")
    fmt, content_type = _MAGIC[head]
    try:
        font = ImageFont.truetype(str(path), _PROBE_SIZE)
        family, style = font.getname()
        # Drawing proves the outlines load, not just the header: a cut-off file fails here.
        font.getmask(SAMPLE)
    except (OSError, ValueError) as exc:
        hint = " (upload the typeface's .ttf or .otf file instead)" if fmt in _WEB else ""
        raise FontFileError(f"not a loadable {fmt} font: {_reason(exc, path)}{hint}") from exc
    return FontInfo("font", fmt, content_type, family or "", style or "")


def _reason(exc: BaseException, path: Path) -> str:
    """FreeType's reason without the server's path (it goes back to a web client)."""
    return (str(exc) or type(exc).__name__).replace(str(path), "the file")


def make_font_thumbnail(
    source: Path, target: Path, *, width: int = 320, height: int = 96
) -> tuple[int, int]:
    """A JPEG of the sample, and the family name under it, in the font: light on dark like
    the LEDs. Written to a temporary name and renamed, like the other thumbnails."""
    image = Image.new("RGB", (width, height), (16, 16, 24))
    draw = ImageDraw.Draw(image)
    big = ImageFont.truetype(str(source), height // 2)
    small = ImageFont.truetype(str(source), height // 5)
    draw.text((8, 4), SAMPLE, font=big, fill=(255, 255, 255))
    name = " ".join(n for n in small.getname() if n)
    draw.text((8, height - height // 5 - 8), name, font=small, fill=(170, 170, 170))
    tmp = target.with_name(target.name + ".tmp")
    image.save(tmp, format="JPEG", quality=85)
    tmp.replace(target)
    return width, height
