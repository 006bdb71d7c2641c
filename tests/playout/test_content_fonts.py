"""Font files in the content library, on the real daemon: a DejaVu font (copied from the
system at test time) uploaded over REST, named and thumbnailed, approved by an operator, then
drawn by a text layer as "asset:ID"; a fake or truncated font refused with nothing stored."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from numpy.typing import NDArray

from tests.daemon_harness import AUTH_UNLIMITED, Daemon, running_daemon

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DEJAVU_BOLD = DEJAVU.with_name("DejaVuSans-Bold.ttf")
PASSWORD = "fonts-pw-1"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("fonts"), AUTH_UNLIMITED) as d:
        d.wait_healthy()
        for name, role in (("mia", "marketing"), ("otto", "operator")):
            r = d.post("/api/users", json={"name": name, "role": role, "password": PASSWORD})
            assert r.status_code == 201
        yield d


def as_user(d: Daemon, user: str) -> dict[str, str]:
    r = httpx.post(d.base + "/api/auth/login", json={"name": user, "password": PASSWORD})
    return {"Authorization": "Bearer " + r.json()["access_token"]}


def upload(d: Daemon, headers: dict[str, str], data: bytes, filename: str) -> httpx.Response:
    base = d.base + "/api/content/uploads"
    r = httpx.post(base, json={"filename": filename, "size": len(data)}, headers=headers)
    assert r.status_code == 201, r.text
    upload_id = r.json()["upload_id"]
    assert httpx.put(f"{base}/{upload_id}?offset=0", content=data, headers=headers).is_success
    return httpx.post(f"{base}/{upload_id}/complete", json={}, headers=headers, timeout=10)


def woff(ttf: bytes) -> bytes:
    """The TrueType font as WOFF 1.0 (each table zlib-compressed where that is smaller)."""
    flavour, count = struct.unpack(">IH", ttf[:6])
    entries, tables = b"", b""
    offset = 44 + 20 * count
    sfnt_size = 12 + 16 * count
    for i in range(count):
        tag, checksum, at, length = struct.unpack(">4sIII", ttf[12 + 16 * i : 28 + 16 * i])
        raw = ttf[at : at + length]
        packed = zlib.compress(raw)
        packed = packed if len(packed) < length else raw
        entries += struct.pack(">4sIIII", tag, offset, len(packed), length, checksum)
        padded = packed + bytes(-len(packed) % 4)
        tables += padded
        offset += len(padded)
        sfnt_size += (length + 3) // 4 * 4
    total = 44 + len(entries) + len(tables)
    header = struct.pack(
        ">4sIIHHIHHIIIII", b"wOFF", flavour, total, count, 0, sfnt_size, 1, 0, 0, 0, 0, 0, 0
    )
    return header + entries + tables


def text_look(font: str) -> dict[str, Any]:
    params = {"text": "Aa 0123", "font": font, "size_px": 40, "speed": 0}
    layer = {"source": "text-scroller", "params": params}
    return {"canvases": [{"canvas": "videowall", "layers": [layer]}]}


def preview(d: Daemon, look: dict[str, Any]) -> httpx.Response:
    return d.post("/api/looks/preview", json={"look": look}, timeout=10)


def lit(r: httpx.Response) -> NDArray[np.bool_]:
    assert r.status_code == 200, r.text
    (canvas,) = r.json()["canvases"]
    rgb = np.frombuffer(base64.b64decode(canvas["rgb"]), dtype=np.uint8)
    shaped = rgb.reshape(int(canvas["height"]), int(canvas["width"]), 3)
    on: NDArray[np.bool_] = shaped.max(axis=2) > 127
    return on


def test_an_uploaded_font_is_approved_and_draws_text(daemon: Daemon, tmp_path: Path) -> None:
    font = tmp_path / "Brand.ttf"
    font.write_bytes(DEJAVU.read_bytes())  # copied at test time: no font file in the repository
    mia, otto = as_user(daemon, "mia"), as_user(daemon, "otto")
    r = upload(daemon, mia, font.read_bytes(), "Brand.ttf")
    assert r.status_code == 201, r.text
    done = r.json()
    assert (done["kind"], done["family"], done["style"]) == ("font", "DejaVu Sans", "Book")
    asset = done["asset_id"]
    stored = daemon.get(f"/api/content/{asset}").json()
    assert stored["content_type"] == "font/ttf"
    assert stored["metadata"]["family"] == "DejaVu Sans"
    thumb = httpx.get(daemon.base + f"/api/content/{asset}/thumbnail", headers=mia)
    assert (thumb.status_code, thumb.content[:2]) == (200, b"\xff\xd8")
    # Pending: the text layer is refused on its font, saying why.
    r = preview(daemon, text_look(f"asset:{asset}"))
    assert r.status_code == 400
    assert 'param "font"' in r.json()["error"]
    assert f"content asset {asset} is pending" in r.json()["error"]
    assert httpx.post(daemon.base + f"/api/content/{asset}/approve", headers=otto).is_success
    # Approved: the text is drawn in that font, pixel for pixel as from the system's copy,
    # and not in the pixel font.
    from_asset = lit(preview(daemon, text_look(f"asset:{asset}")))
    assert 0 < from_asset.sum() < from_asset.size // 2
    assert (from_asset == lit(preview(daemon, text_look(str(DEJAVU))))).all()
    assert (from_asset != lit(preview(daemon, text_look("pixel")))).any()
    # A stored look uses it; the font cannot be deleted from under it.
    assert daemon.put("/api/looks/brand-text", json=text_look(f"asset:{asset}")).is_success
    r = daemon.delete(f"/api/content/{asset}")
    assert r.status_code == 409, r.text
    assert "brand-text" in r.text
    # A new version (the bold cut) draws only once approved; the approved one goes on till then.
    base = daemon.base + "/api/content/uploads"
    bold = DEJAVU_BOLD.read_bytes()
    doc = {"filename": "Brand-Bold.ttf", "size": len(bold), "asset_id": asset}
    upload_id = httpx.post(base, json=doc, headers=mia).json()["upload_id"]
    httpx.put(f"{base}/{upload_id}?offset=0", content=bold, headers=mia)
    r = httpx.post(f"{base}/{upload_id}/complete", json={}, headers=mia)
    assert (r.status_code, r.json()["version"], r.json()["style"]) == (201, 2, "Bold"), r.text
    assert (lit(preview(daemon, text_look(f"asset:{asset}"))) == from_asset).all()
    assert httpx.post(daemon.base + f"/api/content/{asset}/approve", headers=otto).is_success
    now = lit(preview(daemon, text_look(f"asset:{asset}")))
    assert (now == lit(preview(daemon, text_look(str(DEJAVU_BOLD))))).all()
    assert now.sum() > from_asset.sum()  # bolder strokes light more LEDs


def test_a_woff_web_font_is_taken_when_freetype_reads_it(daemon: Daemon) -> None:
    mia = as_user(daemon, "mia")
    r = upload(daemon, mia, woff(DEJAVU.read_bytes()), "Brand.woff")
    assert r.status_code == 201, r.text
    assert (r.json()["format"], r.json()["family"]) == ("woff", "DejaVu Sans")
    stored = daemon.get(f"/api/content/{r.json()['asset_id']}").json()
    assert stored["content_type"] == "font/woff"


@pytest.mark.parametrize(
    ("filename", "data", "reason"),
    [
        ("fake.ttf", b"\x00\x01\x00\x00" + b"not a font at all " * 300, "not a loadable truetype"),
        ("cut.ttf", DEJAVU.read_bytes()[:20000], "not a loadable truetype"),
        ("fake.otf", b"OTTO" + bytes(4000), "not a loadable opentype"),
        ("web.woff", b"wOFF" + bytes(4000), "upload the typeface's .ttf or .otf file instead"),
        ("cut.woff", woff(DEJAVU.read_bytes())[:30000], "not a loadable woff font"),
    ],
)
def test_a_fake_or_truncated_font_is_refused_and_nothing_stored(
    daemon: Daemon, filename: str, data: bytes, reason: str
) -> None:
    mia = as_user(daemon, "mia")
    before = daemon.get("/api/content?limit=200").json()["items"]
    r = upload(daemon, mia, data, filename)
    assert r.status_code == 400
    assert r.json()["error"].startswith(f"file: {filename!r}: ")
    assert reason in r.json()["error"]
    assert "/" not in r.json()["error"]  # never a server path
    assert daemon.get("/api/content?limit=200").json()["items"] == before
    state = Path(daemon.health()["socket"]["path"]).parent
    assert list((state / "content" / "uploads").iterdir()) == []
