"""The content catalogue over REST on a real SQLite store: listing, approval by role,
rename, delete, audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from trocadero.config.schema import StorageConfig
from trocadero.core.commands import Actor
from trocadero.core.storage import Storage, open_storage
from trocadero.web.app import ControlPlane, create_app

Setup = tuple[httpx.AsyncClient, Storage, list[str]]


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with open_storage(StorageConfig(), tmp_path) as store:
        role = ["marketing"]

        def actor_of(request: Request) -> Actor:
            return Actor(role[0], role[0], "api")  # type: ignore[arg-type]

        app = create_app(ControlPlane(health=dict, store=store, actor_of=actor_of))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, store, role


async def test_catalogue_approval_by_role(setup: Setup) -> None:
    client, store, role = setup
    asset = await store.assets.create_asset(
        name="Intro", filename="intro.mp4", content_type="video/mp4", size=10,
        sha256="0" * 64, created_by="mia",
    )  # fmt: skip
    listed = (await client.get("/api/content?status=pending")).json()["items"]
    assert [a["name"] for a in listed] == ["Intro"]
    r = await client.post(f"/api/content/{asset.id}/approve")
    assert r.status_code == 403  # marketing uploads; it does not approve
    r = await client.patch(f"/api/content/{asset.id}", json={"name": "Intro 2027"})
    assert (r.status_code, r.json()["name"]) == (200, "Intro 2027")
    role[0] = "operator"
    r = await client.post(f"/api/content/{asset.id}/approve")
    assert (r.status_code, r.json()["status"]) == (200, "approved")
    assert (await client.patch(f"/api/content/{asset.id}", json={"name": "x"})).status_code == 403
    versions = (await client.get(f"/api/content/{asset.id}/versions")).json()["items"]
    assert [v["version"] for v in versions] == [1]
    assert (await client.get("/api/content?status=bogus")).status_code == 400
    assert (await client.get("/api/content/999")).status_code == 404
    assert (await client.get("/api/content/abc")).status_code == 400
    assert (await client.post(f"/api/content/{asset.id}/publish")).status_code == 400
    role[0] = "admin"
    assert (await client.delete(f"/api/content/{asset.id}")).status_code == 200
    assert (await client.get(f"/api/content/{asset.id}")).status_code == 404
    actions = [e.action for e in (await store.audit.list_audit(limit=10)).items]
    assert {"content.edit", "content.approve", "content.delete"} <= set(actions)
