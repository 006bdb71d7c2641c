"""The content-asset store: the catalogue of uploaded media and every version of each.

A new upload is version + 1 (one statement: concurrent uploads get distinct versions) and
goes back to pending; approving makes the newest version the one that plays.
"""

from __future__ import annotations

import dataclasses
import types
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..model import AssetStatus, AssetVersion, ContentAsset
from .base import DEFAULT_LIMIT, NotFound, Page, row_id
from .driver import Tx
from .sqlkit import SqlPart, Table, keyset_page, validated

__all__ = ["AssetStore", "SqlAssetStore"]

ASSETS = Table("content_assets", ContentAsset, generated=("id",))
ASSET_VERSIONS = Table("content_asset_versions", AssetVersion)


class AssetStore(ABC):
    @abstractmethod
    async def create_asset(
        self,
        *,
        name: str,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        created_by: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> ContentAsset:
        """A new asset at version 1, status pending."""

    @abstractmethod
    async def get_asset(self, asset_id: int) -> ContentAsset: ...

    @abstractmethod
    async def list_assets(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        status: AssetStatus | None = None,
    ) -> Page[ContentAsset]:
        """In id order (oldest first)."""

    @abstractmethod
    async def update_asset(
        self,
        asset_id: int,
        *,
        name: str | None = None,
        status: AssetStatus | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ContentAsset: ...

    @abstractmethod
    async def add_asset_version(
        self,
        asset_id: int,
        *,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        created_by: str,
    ) -> ContentAsset:
        """A new upload of the asset: version + 1, status back to pending."""

    @abstractmethod
    async def list_asset_versions(
        self, asset_id: int, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[AssetVersion]:
        """Newest first."""

    @abstractmethod
    async def delete_asset(self, asset_id: int) -> None: ...


class SqlAssetStore(SqlPart, AssetStore):
    async def _asset(self, tx: Tx, asset_id: int) -> ContentAsset:
        row = await tx.fetchrow(
            f"SELECT {ASSETS.columns} FROM content_assets WHERE id = ?",
            row_id(asset_id, "content asset"),
        )
        if row is None:
            raise NotFound(f"no content asset {asset_id}")
        return ASSETS.decode(row, self._d)

    async def create_asset(
        self,
        *,
        name: str,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        created_by: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> ContentAsset:
        now = datetime.now(UTC)
        asset = validated(
            ContentAsset(
                name=name,
                filename=filename,
                content_type=content_type,
                size=size,
                sha256=sha256,
                status="pending",
                version=1,
                metadata=types.MappingProxyType(dict(metadata or {})),
                created_at=now,
                created_by=created_by,
            )
        )
        d = self._d
        async with self._db.transaction(write=True) as tx:
            new_id = int(
                await tx.fetchval(ASSETS.insert_sql(returning="id"), *ASSETS.encode(asset, d))
            )
            version = AssetVersion(new_id, 1, filename, content_type, size, sha256, now, created_by)
            await tx.execute(ASSET_VERSIONS.insert_sql(), *ASSET_VERSIONS.encode(version, d))
            return await self._asset(tx, new_id)

    async def get_asset(self, asset_id: int) -> ContentAsset:
        async with self._read() as tx:
            return await self._asset(tx, asset_id)

    async def list_assets(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        status: AssetStatus | None = None,
    ) -> Page[ContentAsset]:
        where, args = ([], []) if status is None else (["status = ?"], [status])
        async with self._read() as tx:
            rows, nxt = await keyset_page(
                tx,
                select=f"SELECT {ASSETS.columns} FROM content_assets",
                key="id",
                kind="assets",
                cursor=cursor,
                limit=limit,
                where=where,
                args=args,
            )
        return Page(tuple(ASSETS.decode(r, self._d) for r in rows), nxt)

    async def update_asset(
        self,
        asset_id: int,
        *,
        name: str | None = None,
        status: AssetStatus | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ContentAsset:
        async with self._db.transaction(write=True) as tx:
            asset = await self._asset(tx, asset_id)
            changes: dict[str, Any] = {}
            if name is not None:
                changes["name"] = name
            if status is not None:
                changes["status"] = status
                if status == "approved":  # the newest version becomes the one that plays
                    changes["live_version"] = asset.version
                    changes["live_filename"] = asset.filename
            if metadata is not None:
                changes["metadata"] = types.MappingProxyType(dict(metadata))
            asset = validated(dataclasses.replace(asset, **changes))
            await tx.execute(ASSETS.update_sql("id = ?"), *ASSETS.encode(asset, self._d), asset.id)
            return await self._asset(tx, asset.id)

    async def add_asset_version(
        self,
        asset_id: int,
        *,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        created_by: str,
    ) -> ContentAsset:
        d = self._d
        now = datetime.now(UTC)
        async with self._db.transaction(write=True) as tx:
            await self._asset(tx, asset_id)
            # The increment and the read are one statement: concurrent uploads get distinct
            # versions (the row is locked until commit).
            version = await tx.fetchval(
                "UPDATE content_assets SET version = version + 1, filename = ?,"
                " content_type = ?, size = ?, sha256 = ?, status = 'pending' WHERE id = ?"
                " RETURNING version",
                filename,
                content_type,
                size,
                sha256,
                int(asset_id),
            )
            row = validated(
                AssetVersion(
                    int(asset_id),
                    int(version),
                    filename,
                    content_type,
                    size,
                    sha256,
                    now,
                    created_by,
                )
            )
            await tx.execute(ASSET_VERSIONS.insert_sql(), *ASSET_VERSIONS.encode(row, d))
            return await self._asset(tx, asset_id)

    async def list_asset_versions(
        self, asset_id: int, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[AssetVersion]:
        async with self._read() as tx:
            await self._asset(tx, asset_id)
            rows, nxt = await keyset_page(
                tx,
                select=f"SELECT {ASSET_VERSIONS.columns} FROM content_asset_versions",
                key="version",
                kind=f"asset_versions:{int(asset_id)}",
                cursor=cursor,
                limit=limit,
                where=["asset_id = ?"],
                args=[int(asset_id)],
                desc=True,
            )
        return Page(tuple(ASSET_VERSIONS.decode(r, self._d) for r in rows), nxt)

    async def delete_asset(self, asset_id: int) -> None:
        async with self._db.transaction(write=True) as tx:
            await self._asset(tx, asset_id)
            await tx.execute("DELETE FROM content_asset_versions WHERE asset_id = ?", int(asset_id))
            await tx.execute("DELETE FROM content_assets WHERE id = ?", int(asset_id))
