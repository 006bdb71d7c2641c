"""Content catalogue operations: list and read assets and their versions, approve or reject
(operators and admins), rename and delete (marketing and admins; an asset a look or schedule
still uses is not deleted). Every change is in the audit log. Uploading files, thumbnails and
file downloads are the content library's, served by hand-written routes (web/assets_api.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from trocadero.config.fields import PAGE_MAX

from ..codec import to_plain
from ..errors import ConflictError, InvalidArgument
from ..permissions import Actor
from .args import Arg, Choice, Integer, Name, Object, Text
from .show import PAGE
from .spec import Operation, Rest, Services

__all__ = ["OPERATIONS", "STATUSES"]

STATUSES: Final = ("pending", "approved", "rejected")
_ID: Final = Arg("id", Integer(0), required=True, doc="asset id")
_PAGING: Final = (
    Arg("limit", Integer(1, PAGE_MAX), default=100),
    Arg("cursor", Text(), doc="the previous page's next"),
)
_READ: Final = "read the content library"


async def _audit(s: Services, actor: Actor, action: str, asset_id: int, **detail: Any) -> None:
    from ..commands import audit  # the command layer only when something changes

    await audit(s.store_audit(), actor, action, str(asset_id), **detail)


async def _list(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    page = await s.store_assets().list_assets(
        limit=a["limit"], cursor=a["cursor"], status=a["status"]
    )
    return {"items": [to_plain(x) for x in page.items], "next": page.next}


async def _get(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return to_plain(await s.store_assets().get_asset(a["id"]))


async def _edit(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    if a["name"] is not None and not a["name"].strip():
        raise InvalidArgument(f"name: a non-empty string (got {a['name']!r})")
    asset = await s.store_assets().update_asset(a["id"], name=a["name"], metadata=a["metadata"])
    fields = sorted(k for k in ("name", "metadata") if a[k] is not None)
    await _audit(s, actor, "content.edit", a["id"], fields=fields)
    return to_plain(asset)


async def _delete(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    asset_id: int = a["id"]
    library = s.content
    users = [] if library is None else await library.looks_using(asset_id)
    if users:
        raise ConflictError(f"content {asset_id} is used by looks: {', '.join(users)}")
    await s.store_assets().delete_asset(asset_id)  # a conflict (409) while something uses it
    if library is not None:
        library.forget(asset_id)
    await _audit(s, actor, "content.delete", asset_id)
    return {"deleted": asset_id}


async def _versions(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    page = await s.store_assets().list_asset_versions(a["id"], limit=a["limit"], cursor=a["cursor"])
    return {"items": [to_plain(v) for v in page.items], "next": page.next}


def _decision(verb: str, status: str, summary: str) -> Operation:
    async def run(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
        asset = await s.store_assets().update_asset(a["id"], status=status)  # type: ignore[arg-type]
        if s.content is not None:
            await s.content.decided(asset)  # the index video layers play from
        await _audit(s, actor, f"content.{verb}", a["id"], version=asset.version)
        return to_plain(asset)

    return Operation(
        f"content.{verb}",
        summary,
        "content.approve",
        (_ID,),
        run,
        _ASSET,
        Rest("POST", f"/api/content/{{id}}/{verb}"),
        needs=_NEEDS,
        action="approve or reject content",
    )


_ASSET: Final = {"type": "object", "description": "a content asset (docs/content.md)"}
_NEEDS: Final = ("assets", "audit")

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "content.list",
        "the content catalogue, a page at a time",
        "read",
        (Arg("status", Choice(STATUSES), doc="only the assets in this state"), *_PAGING),
        _list,
        PAGE,
        Rest("GET", "/api/content"),
        needs=_NEEDS,
        action=_READ,
    ),
    Operation(
        "content.get",
        "one asset (its current version)",
        "read",
        (_ID,),
        _get,
        _ASSET,
        Rest("GET", "/api/content/{id}"),
        needs=_NEEDS,
        action=_READ,
    ),
    Operation(
        "content.edit",
        "rename an asset or replace its metadata",
        "content.edit",
        (_ID, Arg("name", Name()), Arg("metadata", Object())),
        _edit,
        _ASSET,
        Rest("PATCH", "/api/content/{id}"),
        needs=_NEEDS,
        action="edit content",
    ),
    Operation(
        "content.delete",
        "delete an asset (refused while a look or schedule uses it)",
        "content.edit",
        (_ID,),
        _delete,
        {"type": "object", "properties": {"deleted": {"type": "integer"}}},
        Rest("DELETE", "/api/content/{id}"),
        needs=_NEEDS,
        action="delete content",
    ),
    Operation(
        "content.versions",
        "an asset's versions, newest first",
        "read",
        (_ID, *_PAGING),
        _versions,
        PAGE,
        Rest("GET", "/api/content/{id}/versions"),
        needs=_NEEDS,
        action=_READ,
    ),
    _decision("approve", "approved", "approve an asset's current version (layers may play it)"),
    _decision("reject", "rejected", "reject an asset's current version"),
)
