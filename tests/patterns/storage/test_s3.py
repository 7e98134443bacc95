"""storage-s3 beyond the contract: credentials, outages, multipart aborts, missing buckets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from rainmaker.capabilities.storage import Storage
from rainmaker.kernel.errors import StartupError, UnavailableError
from rainmaker.kernel.health import Status
from rainmaker.patterns.storage.s3 import S3ObjectStore
from rainmaker.testing.contracts.storage import chunked, failing_stream, payload
from rainmaker.testing.harness import build_app
from rainmaker.testing.proxy import TcpProxy
from rainmaker.testing.s3_server import S3Server, free_ports
from tests.patterns.storage.conftest import fresh_bucket, s3_settings

MIB = 1024 * 1024


def s3_app(root: Path, **settings: Any) -> Any:
    return build_app({"files": {"use": "storage-s3", **settings}}, root=root)


@contextlib.asynccontextmanager
async def running_store(root: Path, **settings: Any) -> AsyncIterator[S3ObjectStore]:
    app = s3_app(root, **settings)
    async with app.running():
        store = app.services.require(Storage)
        assert isinstance(store, S3ObjectStore)
        yield store


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


async def test_bad_credentials_are_refused_at_start(s3_server: S3Server, tmp_path: Path) -> None:
    app = s3_app(tmp_path, **s3_settings(s3_server, secret_key="not-the-secret"))
    with pytest.raises(StartupError) as caught:
        await app.start()
    message = str(caught.value)
    assert "refused our credentials" in message
    assert s3_server.endpoint_url in message
    assert "access_key and secret_key" in message  # the hint says what to fix
    assert app.state == "failed"


async def test_unknown_access_key_is_refused(s3_server: S3Server, tmp_path: Path) -> None:
    app = s3_app(tmp_path, **s3_settings(s3_server, access_key="nobody"))
    with pytest.raises(StartupError, match="refused our credentials"):
        await app.start()


async def test_unreachable_endpoint_at_start_names_it(tmp_path: Path) -> None:
    (port,) = free_ports(1)  # nothing listens there
    endpoint = f"http://127.0.0.1:{port}"
    settings = {
        "bucket": "nowhere",
        "endpoint_url": endpoint,
        "access_key": "a",
        "secret_key": "b",
        "path_style": True,
        "connect_timeout": 1,
        "max_attempts": 1,
    }
    app = s3_app(tmp_path, **settings)
    with pytest.raises(StartupError) as caught:
        await app.start()
    assert f"S3 at {endpoint}" in str(caught.value)
    assert "unreachable" in str(caught.value)


async def test_server_that_never_answers_fails_within_the_timeout(
    silent_server: int, tmp_path: Path
) -> None:
    endpoint = f"http://127.0.0.1:{silent_server}"
    app = s3_app(
        tmp_path,
        bucket="silent",
        endpoint_url=endpoint,
        access_key="a",
        secret_key="b",
        path_style=True,
        connect_timeout=1,
        read_timeout=1,
        max_attempts=1,
    )
    # The bound is the app's start_timeout (30 s by default): botocore's read timeout
    # must end the attempt first, with an error naming the endpoint.
    with pytest.raises(StartupError) as caught:
        await app.start()
    assert f"S3 at {endpoint}" in str(caught.value)
    assert "did not start within" not in str(caught.value)


async def test_missing_bucket_without_create_bucket(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = fresh_bucket()
    app = s3_app(tmp_path, **s3_settings(s3_server, bucket=bucket, create_bucket=False))
    with pytest.raises(StartupError) as caught:
        await app.start()
    assert f"bucket {bucket!r} does not exist" in str(caught.value)
    assert "create_bucket = true" in str(caught.value)


async def test_server_lost_during_operation_gives_a_clear_error(
    s3_server: S3Server, tmp_path: Path
) -> None:
    proxy = TcpProxy(s3_server.host, s3_server.port)
    await proxy.start()
    endpoint = f"http://127.0.0.1:{proxy.port}"
    settings = s3_settings(s3_server, max_attempts=1, connect_timeout=1, read_timeout=2)
    settings["endpoint_url"] = endpoint
    app = s3_app(tmp_path, **settings)
    try:
        async with app.running():
            store = app.services.require(Storage)
            await store.put("outage/before.txt", b"ok")
            await proxy.stop()
            for call in (
                lambda: store.put("outage/during.txt", b"lost"),
                lambda: store.get("outage/before.txt"),
                lambda: store.list("outage/"),
            ):
                with pytest.raises(UnavailableError) as caught:
                    await call()
                assert f"S3 at {endpoint}" in caught.value.message
                assert caught.value.status == 503
            report = await app.health()
            assert report.instances[0].status is Status.DOWN
            assert endpoint in str(report.instances[0].details["reason"])
            await proxy.start()
            assert await (await store.get("outage/before.txt")).read() == b"ok"
    finally:
        await proxy.stop()


async def test_large_objects_go_up_in_parts(s3_server: S3Server, tmp_path: Path) -> None:
    async with running_store(tmp_path, **s3_settings(s3_server)) as store:
        info = await store.put("parts/eleven.bin", chunked(payload(11 * MIB)))
        assert info.etag.endswith("-3")  # three parts of at most 5 MiB
        await store.delete("parts/eleven.bin")


async def test_failed_multipart_uploads_are_aborted(s3_server: S3Server, tmp_path: Path) -> None:
    settings = s3_settings(s3_server, bucket=fresh_bucket(), max_size=8 * MIB)
    async with running_store(tmp_path, **settings) as store:
        with pytest.raises(ConnectionResetError):
            await store.put("abort/torn.bin", failing_stream(payload(20 * MIB), 6 * MIB))
        with pytest.raises(Exception, match="larger than the limit"):
            await store.put("abort/huge.bin", chunked(payload(20 * MIB)))
        task = asyncio.create_task(store.put("abort/cancelled.bin", chunked(payload(7 * MIB))))
        await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        uploads = await store.client.list_multipart_uploads(Bucket=store.bucket)
        assert uploads.get("Uploads", []) == []
        assert (await store.list("abort/")).items == []
