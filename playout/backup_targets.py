"""Where archives go: a local directory or S3-compatible storage (boto3, blocking: callers run
these from a worker thread). Each keeps an archive and its sidecar manifest side by side, so
listing for retention never downloads an archive.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .backup import ARCHIVE_RE, SIDECAR, BackupError, Made, Manifest

if TYPE_CHECKING:
    from trocadero.config.schema import BackupConfig


@dataclass(frozen=True, slots=True)
class Stored:
    """One archive found at a destination: its name and, if readable, its sidecar manifest."""

    name: str
    manifest: Manifest | None


class Target(Protocol):
    label: str

    def put(self, made: Made) -> None: ...
    def list(self) -> list[Stored]: ...
    def delete(self, name: str) -> None: ...


class LocalTarget:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.label = str(directory)

    def put(self, made: Made) -> None:
        if made.path.parent.resolve() != self.directory.resolve():
            raise BackupError(f"{made.path} was not made in {self.directory}")

    def list(self) -> list[Stored]:
        if not self.directory.is_dir():
            return []
        out = []
        for path in self.directory.iterdir():
            if ARCHIVE_RE.match(path.name):
                out.append(Stored(path.name, _sidecar(path.with_name(path.name + SIDECAR))))
        return out

    def delete(self, name: str) -> None:
        (self.directory / name).unlink(missing_ok=True)
        (self.directory / (name + SIDECAR)).unlink(missing_ok=True)


def _sidecar(path: Path) -> Manifest | None:
    try:
        return Manifest.from_json(path.read_bytes(), str(path))
    except (OSError, BackupError):
        return None


def parse_s3_url(url: str) -> tuple[str, str]:
    """s3://bucket/some/prefix → ("bucket", "some/prefix/") (the key prefix ends in /)."""
    if not url.startswith("s3://"):
        raise BackupError(f"not an s3:// URL: {url!r}")
    bucket, _, prefix = url[5:].partition("/")
    if not bucket:
        raise BackupError(f"no bucket in {url!r}")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def s3_credentials(credentials_file: str, env: dict[str, str]) -> tuple[str, str] | None:
    """Keys from the file (two lines: id, secret) or the environment; None: boto3's own chain
    (instance roles). Never from the config itself."""
    if credentials_file:
        try:
            lines = [ln.strip() for ln in Path(credentials_file).read_text().splitlines()]
        except OSError as exc:
            raise BackupError(f"backup.s3_credentials_file: {exc}") from exc
        lines = [ln for ln in lines if ln and not ln.startswith("#")]
        if len(lines) != 2:
            raise BackupError(
                f"backup.s3_credentials_file: {credentials_file} must hold two lines, the access"
                " key id and the secret key"
            )
        return lines[0], lines[1]
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    return (key, secret) if key and secret else None


def s3_client(endpoint_url: str, region: str, credentials: tuple[str, str] | None) -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    kw: dict[str, Any] = {"region_name": region}
    if endpoint_url:
        kw["endpoint_url"] = endpoint_url
    if credentials is not None:
        kw["aws_access_key_id"], kw["aws_secret_access_key"] = credentials
    # Path-style addressing: S3-compatible servers rarely have per-bucket host names.
    cfg = BotoConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 3})
    return boto3.client("s3", config=cfg, **kw)


class S3Target:
    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix
        self.label = f"s3://{bucket}/{prefix}"

    def put(self, made: Made) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        name = made.path.name
        try:
            # The sidecar last: a listing shows an archive as ours only once it is all there.
            self.client.upload_file(str(made.path), self.bucket, self.prefix + name)
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.prefix + name + SIDECAR,
                Body=made.manifest.to_json(),
                ContentType="application/json",
            )
        except (BotoCoreError, ClientError) as exc:
            raise BackupError(f"upload to {self.label}{name}: {exc}") from exc

    def list(self) -> list[Stored]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            keys: set[str] = set()
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            ):
                keys.update(obj["Key"][len(self.prefix) :] for obj in page.get("Contents", []))
            out = []
            for name in sorted(keys):
                if not ARCHIVE_RE.match(name):
                    continue
                manifest = None
                if name + SIDECAR in keys:
                    body = self.client.get_object(
                        Bucket=self.bucket, Key=self.prefix + name + SIDECAR
                    )["Body"].read()
                    try:
                        manifest = Manifest.from_json(body, self.label + name + SIDECAR)
                    except BackupError:
                        manifest = None
                out.append(Stored(name, manifest))
            return out
        except (BotoCoreError, ClientError) as exc:
            raise BackupError(f"listing {self.label}: {exc}") from exc

    def delete(self, name: str) -> None:
        for key in (name, name + SIDECAR):
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    def download(self, key: str, to: Path) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.download_file(self.bucket, key, str(to))
        except (BotoCoreError, ClientError) as exc:
            raise BackupError(f"download of s3://{self.bucket}/{key}: {exc}") from exc


def s3_target(cfg: BackupConfig, url: str | None = None) -> S3Target:
    bucket, prefix = parse_s3_url(url or cfg.s3_url)
    creds = s3_credentials(cfg.s3_credentials_file, dict(os.environ))
    return S3Target(s3_client(cfg.s3_endpoint_url, cfg.s3_region, creds), bucket, prefix)


def targets_of(cfg: BackupConfig) -> list[Target]:
    out: list[Target] = []
    if cfg.directory:
        out.append(LocalTarget(Path(cfg.directory)))
    if cfg.s3_url:
        out.append(s3_target(cfg))
    return out
