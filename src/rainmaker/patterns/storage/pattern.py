"""The two storage pattern declarations (light: no aioboto3 or FastAPI import)."""

from __future__ import annotations

from rainmaker import Pattern
from rainmaker.capabilities.storage import Storage
from rainmaker.capabilities.tracing import Tracing
from rainmaker.patterns.storage.settings import LocalStorageSettings, S3StorageSettings

MOUNT = "/files"

storage_local: Pattern[LocalStorageSettings] = Pattern(
    id="storage-local",
    version="1.0.0",
    name="Local folder storage",
    description="Objects as files in a folder: atomic durable writes, metadata in each file's "
    "extended attributes, streaming, "
    "HMAC-signed download and upload URLs served by the app; no server needed.",
    settings=LocalStorageSettings,
    factory="rainmaker.patterns.storage.module:LocalStorageModule",
    provides=[Storage],
    requires=[Tracing.optional()],
    mount=MOUNT,
    examples=[
        {"root": "storage"},
        {
            "root": "/var/lib/acme/files",
            "signing_secret": "${STORAGE_SIGNING_SECRET:-change-me-to-at-least-32-random-chars}",
            "public_url": "https://api.acme.example",
            "max_size": 10_485_760,
            "allowed_content_types": ["image/*", "application/pdf"],
            "routes": True,
        },
    ],
)

storage_s3: Pattern[S3StorageSettings] = Pattern(
    id="storage-s3",
    version="1.0.0",
    name="S3 storage",
    description="Objects in a bucket of AWS S3 or any S3-compatible server (SeaweedFS, MinIO, "
    "R2…) through aioboto3: streaming, multipart uploads, presigned URLs.",
    settings=S3StorageSettings,
    factory="rainmaker.patterns.storage.module:S3StorageModule",
    provides=[Storage],
    requires=[Tracing.optional()],
    mount=MOUNT,
    examples=[
        {"bucket": "acme-files", "region": "eu-west-1"},
        {
            "bucket": "acme-files",
            "endpoint_url": "http://127.0.0.1:8333",
            "access_key": "${S3_ACCESS_KEY}",
            "secret_key": "${S3_SECRET_KEY}",
            "path_style": True,
            "create_bucket": True,
            "part_size": 16_777_216,
            "routes": True,
        },
    ],
)
