"""Font files in the content library, on the real daemon: a DejaVu font (copied from the
system at test time) uploaded over REST, named and thumbnailed, approved by an operator, then
drawn by a text layer as "asset:ID"; a fake or truncated font refused with nothing stored."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from numpy.typing import NDArray

from tests.daemon_harness import AUTH_UNLIMITED, Daemon, running_daemon

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
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


@pytest.mark.parametrize(
    ("filename", "data", "reason"),
    [
        ("fake.ttf", b"\x00\x01\x00\x00" + b"not a font at all " * 300, "not a loadable truetype"),
        ("cut.ttf", DEJAVU.read_bytes()[:20000], "not a loadable truetype"),
        ("fake.otf", b"OTTO" + bytes(4000), "not a loadable opentype"),
        ("web.woff", b"wOFF" + bytes(4000), "WOFF web fonts are not taken"),
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
