"""The content library's files: chunked, resumable uploads that become asset versions.

    begin(name, filename, size[, asset_id]) → an upload id
    append(id, offset, bytes)      only at the current end (a retry after a lost reply
                                   learns the offset from `status` and carries on)
    complete(id[, sha256])         size and checksum checked, probed (fonts by their magic
                                   bytes, with FreeType; the rest with PyAV), thumbnailed,
                                   moved into place, recorded as a new asset or version

Files live under the content directory: ``uploads/<id>.part`` (+ ``.json``) while they
arrive, ``assets/<asset>/v<version>-<name>`` and ``….jpg`` once complete. Nothing
half-written is ever in ``assets/``: a file is fsynced and renamed into place, and a
rejected upload (corrupt, unsupported, wrong size or checksum) is deleted with the reason.
Progress goes to the bus as ``content:upload:progress``. Uploads survive a restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import trio

from trocadero.config.fields import FILENAME_MAX, NAME_MAX

from .commands import Actor, audit
from .font_files import FontFileError, is_font_file, make_font_thumbnail, probe_font
from .media import MediaError, make_thumbnail, probe
from .model import ContentAsset
from .permissions import require
from .storage import NotFound, Storage
from .validate import InvalidArgument, text_limit

__all__ = ["AssetIndex", "ContentLibrary", "UploadRefused"]


class AssetIndex:
    """Each content asset's status and live file (its newest approved version): kept by the
    content library, read by video layers. Made before either and handed to both at
    construction (the renderer builds its looks before the library exists)."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[str, Path | None]] = {}

    def note(self, asset_id: int, status: str, live: Path | None) -> None:
        self._entries[asset_id] = (status, live)

    def forget(self, asset_id: int) -> None:
        self._entries.pop(asset_id, None)

    def live_file(self, asset_id: int) -> Path | None:
        return self._entries.get(asset_id, ("", None))[1]

    def resolve(self, asset_id: int) -> Path:
        """The file of the asset's live version; ValueError says why there is none."""
        entry = self._entries.get(asset_id)
        if entry is None:
            raise ValueError(f"no content asset {asset_id}")
        status, path = entry
        if path is None:
            raise ValueError(f"content asset {asset_id} is {status}: only approved content plays")
        return path


MAX_CHUNK: Final = 16 << 20
_ID: Final = re.compile(r"^[0-9a-f]{24}$")
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")


class UploadRefused(InvalidArgument):
    """The upload cannot go on (wrong offset, over the size, corrupt file): the reason."""

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass
class _Upload:
    id: str
    name: str
    filename: str
    size: int
    by: str
    asset_id: int | None

    def doc(self) -> dict[str, Any]:
        return dict(vars(self))


def safe_name(filename: str) -> str:
    base = _UNSAFE.sub("_", Path(filename).name).strip("._") or "file"
    return base[:100]


class ContentLibrary:
    def __init__(
        self,
        store: Storage,
        directory: Path,
        publish: Callable[[str, Mapping[str, Any]], object],
        *,
        max_upload_bytes: int,
        assets: AssetIndex,
        rebuild_looks: Callable[[list[str]], None],
    ) -> None:
        """`assets` is kept up to date here (video layers read it); `rebuild_looks` is told
        the looks to rebuild when an asset's live version changes, so their video layers switch
        to the newly approved file (the daemon passes the renderer's, under the render lock)."""
        self.store = store
        self.dir = directory
        self.publish = publish
        self.max_upload_bytes = max_upload_bytes
        (self.dir / "uploads").mkdir(parents=True, exist_ok=True)
        (self.dir / "assets").mkdir(parents=True, exist_ok=True)
        self.assets = assets
        self.rebuild_looks = rebuild_looks

    async def load_index(self) -> None:
        """Every asset's status and current file, read once at start-up (then kept up to
        date by `note` and `forget` as assets change)."""
        cursor = None
        while True:
            page = await self.store.assets.list_assets(limit=500, cursor=cursor)
            for asset in page.items:
                self.note(asset)
            if page.next is None:
                return
            cursor = page.next

    async def looks_using(self, asset_id: int) -> list[str]:
        """The looks with a layer that plays this asset or draws in it as a font (deleting it
        is refused while any)."""
        found: list[str] = []
        cursor = None
        while True:
            page = await self.store.show.list_looks(limit=500, cursor=cursor)
            for look in page.items:
                layers = (layer for stack in look.canvases for layer in stack.layers)
                if any(_plays(layer.params, asset_id) for layer in layers):
                    found.append(look.name)
            if page.next is None:
                return found
            cursor = page.next

    def note(self, asset: ContentAsset) -> None:
        live = None
        if asset.live_version is not None:
            live = self.asset_file(asset.id, asset.live_version, asset.live_filename)
        self.assets.note(asset.id, asset.status, live)

    async def decided(self, asset: ContentAsset) -> None:
        """An asset was approved or rejected. On approval its layers switch to the new live
        version, and the version that played before is deleted: nothing refers to it now."""
        before = self.assets.live_file(asset.id)
        self.note(asset)
        if self.assets.live_file(asset.id) != before:
            self.rebuild_looks(await self.looks_using(asset.id))
        self.prune(asset)

    def prune(self, asset: ContentAsset) -> None:
        """Delete the files of versions that are neither the newest (maybe awaiting approval)
        nor the live one: a replaced version is kept exactly as long as it may play."""
        keep = {asset.version, asset.live_version}
        folder = self.dir / "assets" / str(asset.id)
        for path in folder.glob("v*-*"):
            number = path.name[1:].split("-", 1)[0]
            if number.isdigit() and int(number) not in keep:
                path.unlink(missing_ok=True)

    def forget(self, asset_id: int) -> None:
        """The asset was deleted: its files go too (every version and thumbnail)."""
        self.assets.forget(asset_id)
        shutil.rmtree(self.dir / "assets" / str(asset_id), ignore_errors=True)

    # --- paths ---

    def _part(self, upload_id: str) -> Path:
        if not _ID.match(upload_id):
            raise NotFound(f"no upload {upload_id[:40]!r}")
        return self.dir / "uploads" / f"{upload_id}.part"

    def _load(self, upload_id: str) -> _Upload:
        meta = self._part(upload_id).with_suffix(".json")
        try:
            return _Upload(**json.loads(meta.read_text()))
        except FileNotFoundError:
            raise NotFound(f"no upload {upload_id}") from None

    def asset_file(self, asset_id: int, version: int, filename: str) -> Path:
        return self.dir / "assets" / str(asset_id) / f"v{version}-{safe_name(filename)}"

    def thumbnail(self, asset_id: int, version: int, filename: str) -> Path:
        path = self.asset_file(asset_id, version, filename)
        return path.with_name(path.name + ".jpg")

    @property
    def max_chunk_bytes(self) -> int:
        """The largest chunk `append` takes: the web refuses a larger body before reading it."""
        return min(MAX_CHUNK, self.max_upload_bytes)

    @staticmethod
    def _allow(actor: Actor) -> None:
        require(actor, "content.edit", "upload content")

    # --- the upload ---

    async def begin(
        self, actor: Actor, *, name: str, filename: str, size: int, asset_id: int | None = None
    ) -> dict[str, Any]:
        self._allow(actor)
        if not name.strip():
            raise InvalidArgument("name: must not be empty")
        # Checked now, not when the store refuses them after the whole file has arrived.
        text_limit(name, "name", NAME_MAX)
        text_limit(filename, "filename", FILENAME_MAX)
        if not 0 < size <= self.max_upload_bytes:
            raise InvalidArgument(
                f"size: 1 to {self.max_upload_bytes} bytes ([content] max_upload_bytes; got {size})"
            )
        if asset_id is not None:
            await self.store.assets.get_asset(asset_id)  # NotFound for a version of nothing
        upload = _Upload(secrets.token_hex(12), name, filename, size, actor.name, asset_id)
        part = self._part(upload.id)
        part.touch()
        part.with_suffix(".json").write_text(json.dumps(upload.doc()))
        return {"upload_id": upload.id, "offset": 0, "size": size}

    def status(self, upload_id: str) -> dict[str, Any]:
        upload = self._load(upload_id)
        offset = self._part(upload_id).stat().st_size
        return {"upload_id": upload_id, "offset": offset, "size": upload.size}

    async def append(
        self, actor: Actor, upload_id: str, offset: int, data: bytes
    ) -> dict[str, Any]:
        self._allow(actor)
        upload = self._load(upload_id)
        part = self._part(upload_id)
        have = part.stat().st_size
        if offset != have:
            raise UploadRefused(
                f"offset: the upload is at {have} bytes (got {offset})", offset=have
            )
        if len(data) > MAX_CHUNK:
            raise InvalidArgument(f"chunk: at most {MAX_CHUNK} bytes (got {len(data)})")
        if have + len(data) > upload.size:
            raise InvalidArgument(
                f"chunk: {have + len(data)} bytes would pass the announced size {upload.size}"
            )

        def write() -> None:
            with open(part, "ab") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())

        await trio.to_thread.run_sync(write)
        received = have + len(data)
        self.publish(
            "content:upload:progress",
            {
                "upload_id": upload_id,
                "name": upload.name,
                "received": received,
                "size": upload.size,
                "progress": round(received / upload.size, 4),
                "by": actor.name,
            },
        )
        return {"upload_id": upload_id, "offset": received, "size": upload.size}

    async def cancel(self, actor: Actor, upload_id: str) -> None:
        self._allow(actor)
        self._load(upload_id)
        self._discard(upload_id)

    def _discard(self, upload_id: str) -> None:
        part = self._part(upload_id)
        part.unlink(missing_ok=True)
        part.with_suffix(".json").unlink(missing_ok=True)

    async def complete(
        self, actor: Actor, upload_id: str, sha256: str | None = None
    ) -> dict[str, Any]:
        self._allow(actor)
        upload = self._load(upload_id)
        part = self._part(upload_id)
        have = part.stat().st_size
        if have != upload.size:
            raise UploadRefused(f"size: {have} of {upload.size} bytes received", offset=have)
        digest = await trio.to_thread.run_sync(_sha256, part)
        if sha256 is not None and sha256.lower() != digest:
            self._discard(upload_id)
            raise UploadRefused(f"sha256: the file's is {digest}, not {sha256}")
        try:
            info, content_type = await trio.to_thread.run_sync(_identify, part)
        except (MediaError, FontFileError) as exc:
            self._discard(upload_id)
            self.publish(
                "system:alert",
                {"level": "warning", "text": f"upload {upload.filename!r} rejected: {exc}"},
            )
            named = f"{upload.filename!r}: " if isinstance(exc, FontFileError) else ""
            raise UploadRefused(f"file: {named}{exc}") from exc
        metadata = {**info, "uploaded_by": actor.name}
        if upload.asset_id is None:
            asset = await self.store.assets.create_asset(
                name=upload.name,
                filename=upload.filename,
                content_type=content_type,
                size=have,
                sha256=digest,
                created_by=actor.name,
                metadata=metadata,
            )
        else:
            asset = await self.store.assets.add_asset_version(
                upload.asset_id,
                filename=upload.filename,
                content_type=content_type,
                size=have,
                sha256=digest,
                created_by=actor.name,
            )
            asset = await self.store.assets.update_asset(asset.id, metadata=metadata)
        self.note(asset)
        self.prune(asset)  # a pending version this one replaces can never play now
        target = self.asset_file(asset.id, asset.version, upload.filename)
        target.parent.mkdir(parents=True, exist_ok=True)
        part.replace(target)  # same file system: atomic, and the bytes were fsynced
        part.with_suffix(".json").unlink(missing_ok=True)
        try:
            draw = make_font_thumbnail if info["kind"] == "font" else make_thumbnail
            await trio.to_thread.run_sync(
                draw, target, self.thumbnail(asset.id, asset.version, upload.filename)
            )
        except Exception as exc:
            # Stored, so the library can say why this version has no thumbnail.
            metadata["thumbnail_error"] = str(exc)
            asset = await self.store.assets.update_asset(asset.id, metadata=metadata)
            self.note(asset)
        await audit(
            self.store.audit,
            actor,
            "content.upload",
            str(asset.id),
            version=asset.version,
            sha256=digest,
            size=have,
        )
        self.publish(
            "content:upload:progress",
            {"upload_id": upload_id, "name": upload.name, "received": have, "size": have,
             "progress": 1.0, "asset_id": asset.id, "version": asset.version, "done": True},
        )  # fmt: skip
        return {"asset_id": asset.id, "version": asset.version, "sha256": digest, **info}


def _plays(params: Mapping[str, Any], asset_id: int) -> bool:
    """A video layer's `asset`, or a text layer's `font = "asset:ID"`."""
    return params.get("asset") == asset_id or params.get("font") == f"asset:{asset_id}"


def _identify(path: Path) -> tuple[dict[str, Any], str]:
    """What the upload is and its MIME type: a font by its magic bytes (loaded with FreeType),
    else a video or image as PyAV reads it. MediaError or FontFileError say why it is neither."""
    if is_font_file(path):
        font = probe_font(path)
        return font.as_json(), font.content_type
    info = probe(path)
    content_type = "image/" + info.codec if info.kind == "image" else f"video/{info.container}"
    return info.as_json(), content_type


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
