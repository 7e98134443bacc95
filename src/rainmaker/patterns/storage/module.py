"""The running storage modules: ``LocalStorageModule`` and ``S3StorageModule``.

Both build their :class:`~rainmaker.capabilities.storage.ObjectStore` in ``start``,
register it as ``Storage``, report health and contribute the routes of
:mod:`rainmaker.patterns.storage.routes`. aioboto3 and FastAPI are imported only when
needed, so declaring and listing the patterns stays light.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rainmaker import Health, Module, StartupError, UnavailableError
from rainmaker.capabilities.http import Http
from rainmaker.capabilities.storage import ObjectStore, Storage
from rainmaker.capabilities.tracing import Tracing
from rainmaker.patterns.storage.local import LocalObjectStore
from rainmaker.patterns.storage.policy import UploadPolicy
from rainmaker.patterns.storage.settings import (
    LocalStorageSettings,
    S3StorageSettings,
    StorageSettings,
)
from rainmaker.patterns.storage.signing import UrlSigner

if TYPE_CHECKING:
    from rainmaker import AppContext
    from rainmaker.patterns.storage.s3 import S3ObjectStore

HEALTH_TIMEOUT = 3.0


class _StorageModule(Module[Any]):
    """What both storage modules share: the upload policy, the service and its routes."""

    settings: StorageSettings

    def __init__(self, settings: StorageSettings, ctx: AppContext) -> None:
        super().__init__(settings, ctx)
        self.policy = UploadPolicy(
            max_size=settings.max_size,
            allowed_content_types=tuple(settings.allowed_content_types),
            pattern_id=ctx.instance,
        )
        self._store: ObjectStore | None = None
        self.signer: UrlSigner | None = None

    #: Whether the app itself serves this storage's signed URLs (a GET and a PUT route).
    serves_signed_urls: ClassVar[bool] = False

    @property
    def store(self) -> ObjectStore:
        """The running service; :class:`UnavailableError` before start or after stop."""
        if self._store is None:
            raise UnavailableError(
                f"storage {self.ctx.instance} is not running", pattern_id=self.ctx.instance
            )
        return self._store

    @property
    def prefix(self) -> str:
        """Where this instance's routes are mounted (``mount``, default ``/files``)."""
        return self.ctx.instances[self.ctx.instance].prefix

    def router(self) -> Any | None:
        """Signed-URL routes (``storage-local``) and, with ``routes = true``, upload and
        download routes."""
        from rainmaker.patterns.storage.routes import storage_router

        return storage_router(
            lambda: self.store,
            policy=self.policy,
            public=self.settings.routes,
            signer=self._running_signer if self.serves_signed_urls else None,
            pattern_id=self.ctx.instance,
        )

    def _register(self, store: ObjectStore, *, backend: str) -> None:
        """Serve and register ``store`` as ``Storage``; wrapped in spans when tracing is on."""
        tracer = self.ctx.services.get(Tracing)
        if tracer is not None and tracer.enabled:
            from rainmaker.patterns.storage.traced import TracedObjectStore

            store = TracedObjectStore(store, tracer, backend=backend)
        self._store = store
        self.ctx.services.register(Storage, store)

    def _running_signer(self) -> UrlSigner:
        if self.signer is None:
            raise UnavailableError(
                f"storage {self.ctx.instance} is not running", pattern_id=self.ctx.instance
            )
        return self.signer


class LocalStorageModule(_StorageModule):
    """``storage-local``: a folder on this machine, with its own signed-URL route."""

    settings: LocalStorageSettings
    serves_signed_urls = True

    def __init__(self, settings: LocalStorageSettings, ctx: AppContext) -> None:
        super().__init__(settings, ctx)
        root = Path(settings.root).expanduser()
        self.root = root if root.is_absolute() else Path(ctx.root) / root

    async def start(self) -> None:
        """Create the root folder, then register the store."""
        settings = self.settings
        try:
            await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        except OSError as error:
            raise StartupError(
                f"cannot create the storage folder {self.root}: {error.strerror or error}",
                pattern_id=self.ctx.instance,
                hint="choose a writable root, or fix the folder's permissions",
                cause=error,
            ) from error
        if settings.signing_secret is not None:
            secret = settings.signing_secret.get_secret_value().encode()
        else:
            secret = secrets.token_bytes(32)
            self.ctx.log.warning(
                "storage.signing_secret_missing",
                detail="signed URLs use a random key: they stop working on restart and are "
                "not shared between workers; set signing_secret",
            )
        if not any(
            Http in (p.capability for p in i.pattern.provisions)
            for i in self.ctx.instances.values()
        ):
            self.ctx.log.info(
                "storage.no_http",
                detail="no instance provides Http, so signed URLs have no route to serve them",
            )
        self.signer = UrlSigner(secret, pattern_id=self.ctx.instance)
        base = (settings.public_url or "").rstrip("/") + self.prefix
        store = LocalObjectStore(
            self.root.resolve(),
            instance=self.ctx.instance,
            policy=self.policy,
            signer=self.signer,
            url_base=base,
            url_expiry=settings.url_expiry,
            chunk_size=settings.chunk_size,
            fsync=settings.fsync,
        )
        self._register(store, backend="local")

    async def stop(self) -> None:
        self._store = None

    async def health(self) -> Health:
        """Up while the root folder exists and is writable and its disk has room: degraded
        below ``min_free_space`` (writes may soon answer 507), down when not writable."""
        root = self.root
        ok = await asyncio.to_thread(lambda: root.is_dir() and os.access(root, os.W_OK))
        if not ok:
            return Health.down(root=str(root), reason="the folder is missing or not writable")
        usage = await asyncio.to_thread(shutil.disk_usage, root)
        details = {
            "root": str(root),
            "free_bytes": usage.free,
            "total_bytes": usage.total,
            "min_free_space": self.settings.min_free_space,
        }
        if usage.free < self.settings.min_free_space:
            return Health.degraded(
                reason=f"{usage.free} bytes free on the file system holding {root}, below "
                f"min_free_space ({self.settings.min_free_space}): free space or move root",
                **details,
            )
        return Health.up(**details)


class S3StorageModule(_StorageModule):
    """``storage-s3``: a bucket on any S3-compatible server, through aioboto3."""

    settings: S3StorageSettings

    def __init__(self, settings: S3StorageSettings, ctx: AppContext) -> None:
        super().__init__(settings, ctx)
        self.endpoint = settings.endpoint_url or f"https://s3.{settings.region}.amazonaws.com"
        self._stack: contextlib.AsyncExitStack | None = None
        self._s3: S3ObjectStore | None = None  # the bare store, even when traced

    async def start(self) -> None:
        """Open the client, check (or create) the bucket, register the store."""
        import aioboto3
        from botocore.config import Config

        from rainmaker.patterns.storage.s3 import S3ObjectStore

        settings = self.settings
        config = Config(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            retries={"max_attempts": settings.max_attempts, "mode": "standard"},
            s3={"addressing_style": "path" if settings.path_style else "auto"},
            signature_version="s3v4",
            # Checksums only when S3 requires them: S3-compatible servers vary in support.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = _session(aioboto3)
        stack = contextlib.AsyncExitStack()
        try:
            client = await stack.enter_async_context(
                session.client(
                    "s3",
                    endpoint_url=settings.endpoint_url,
                    region_name=settings.region,
                    aws_access_key_id=_reveal(settings.access_key),
                    aws_secret_access_key=_reveal(settings.secret_key),
                    config=config,
                )
            )
            store = S3ObjectStore(
                client,
                bucket=settings.bucket,
                endpoint=self.endpoint,
                instance=self.ctx.instance,
                policy=self.policy,
                part_size=settings.part_size,
                upload_concurrency=settings.upload_concurrency,
                url_expiry=settings.url_expiry,
                chunk_size=settings.chunk_size,
            )
            await store.check_bucket(create=settings.create_bucket, region=settings.region)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self._s3 = store
        self._register(store, backend="s3")

    async def stop(self) -> None:
        """Close the client and its connection pool."""
        stack, self._stack = self._stack, None
        self._store = self._s3 = None
        if stack is not None:
            await stack.aclose()

    async def health(self) -> Health:
        """``HeadBucket`` within a few seconds: up, or down with the reason."""
        store = self._s3
        if store is None:
            return Health.down(reason="not started")
        try:
            await asyncio.wait_for(store.client.head_bucket(Bucket=store.bucket), HEALTH_TIMEOUT)
        except Exception as error:
            reason = store.translate(error, action="check the bucket")
            return Health.down(endpoint=self.endpoint, bucket=store.bucket, reason=str(reason))
        return Health.up(endpoint=self.endpoint, bucket=store.bucket)


_SESSIONS: dict[str, Any] = {}


def _session(aioboto3: Any) -> Any:
    """One aioboto3 session per process: making one loads botocore's service models
    (a tenth of a second or more); clients made from it stay independent."""
    session = _SESSIONS.get("default")
    if session is None:
        session = _SESSIONS["default"] = aioboto3.Session()
    return session


def _reveal(secret: Any) -> str | None:
    return None if secret is None else str(secret.get_secret_value())
