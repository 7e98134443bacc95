"""The ``Storage`` contract suite, for every provider of the ``Storage`` capability.

Use it from a test module by subclassing :class:`StorageContract` and supplying one fixture,
``storage_under_test``, that says how to compose the provider::

    from rainmaker.testing.contracts.storage import StorageContract, StorageUnderTest

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage_under_test(self, tmp_path):
            return StorageUnderTest(
                use="storage-acme",
                settings={"bucket": "contract", "endpoint_url": "http://127.0.0.1:9000"},
                root=tmp_path,
            )

The suite composes an app of ``framework-fastapi`` (instance ``web``; install
``rainmaker-patterns[http]``) and the provider
(instance ``files``, with ``routes = true`` and the limits below added to ``settings``),
starts it, and checks through the ``Storage`` service: streamed put and get, head,
exists, delete, paged listings, copy, key validation, the size limit (nothing stored when
it is crossed), the content-type allow-list, signed download and upload URLs (followed
with an HTTP client that sends relative URLs to the app and absolute ones over the
network), the upload and download routes, concurrency and health.

Each test starts by deleting every object the storage lists, so point ``settings`` at a
folder or bucket used for nothing else (a bucket may be shared by the whole session,
which keeps the suite fast). The provider must accept ``max_size``,
``allowed_content_types`` and ``routes`` settings, and must cut uploads in parts no
larger than 5 MiB if it uses parts at all, so the 11 MiB objects below cross part
boundaries.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rainmaker.capabilities.storage import ObjectStore, Storage
from rainmaker.kernel.application import Application
from rainmaker.kernel.errors import InvalidInputError, NotFoundError, PatternError
from rainmaker.kernel.health import Status
from rainmaker.testing.harness import build_app

MIB = 1024 * 1024
MAX_SIZE = 12 * MIB
ALLOWED_TYPES = ["text/*", "image/png", "application/octet-stream", "application/json"]
APP_URL = "http://testserver"

BAD_KEYS = [
    ("", "empty"),
    ("../escape.txt", "'..'"),
    ("a/../../escape.txt", "'..'"),
    ("/etc/passwd", "absolute"),
    ("nul\x00byte", "NUL"),
    ("bell\x07char", "control character"),
    ("line\nbreak", "control character"),
    ("a//b", "empty path segment"),
    ("back\\slash", "backslash"),
    ("k" * 1025, "over the limit of 1024 bytes"),
    ("é" * 513, "over the limit of 1024 bytes"),  # 1,026 bytes of UTF-8
]


@dataclass(frozen=True)
class StorageUnderTest:
    """How to compose the provider: its pattern id, its settings and the app folder."""

    use: str
    settings: Mapping[str, Any]
    root: Path


@dataclass
class StorageHarness:
    """A running app with the provider: the app, its ``Storage`` service and an HTTP
    client that reaches the app for relative URLs and the network for absolute ones."""

    app: Application
    storage: ObjectStore
    http: httpx.AsyncClient
    mount: str = "/files"


def payload(size: int, seed: int = 0) -> bytes:
    """``size`` deterministic, incompressible-looking bytes."""
    block = hashlib.sha256(f"rainmaker-{seed}".encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


async def chunked(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``data`` as an async iterator of ``size``-byte chunks."""
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0)


async def failing_stream(data: bytes, fail_after: int) -> AsyncIterator[bytes]:
    """Yields ``fail_after`` bytes of ``data``, then raises (a client that went away)."""
    sent = 0
    async for chunk in chunked(data):
        if sent >= fail_after:
            raise ConnectionResetError("the client went away")
        sent += len(chunk)
        yield chunk


def tamper(url: str) -> str:
    """``url`` with one character of its signature changed."""
    for marker in ("signature=", "X-Amz-Signature="):
        index = url.find(marker)
        if index >= 0:
            position = index + len(marker)
            replacement = "A" if url[position] != "A" else "B"
            return url[:position] + replacement + url[position + 1 :]
    raise AssertionError(f"no signature in {url}")


async def empty(storage: ObjectStore) -> None:
    """Delete every object ``storage`` lists."""
    while True:
        page = await storage.list(limit=1000)
        if not page.items:
            return
        await asyncio.gather(*(storage.delete(item.key) for item in page.items))


class StorageContract:
    """Behaviour every ``Storage`` provider must show. Subclass it and define the
    ``storage_under_test`` fixture (see the module docstring)."""

    @pytest.fixture
    async def harness(self, storage_under_test: StorageUnderTest) -> AsyncIterator[StorageHarness]:
        settings = {
            "max_size": MAX_SIZE,
            "allowed_content_types": ALLOWED_TYPES,
            "routes": True,
            **storage_under_test.settings,
        }
        app = build_app(
            {
                "web": {"use": "framework-fastapi", "max_body_size": 64 * MIB},
                "files": {"use": storage_under_test.use, **settings},
            },
            root=storage_under_test.root,
        )
        async with app.running():
            storage = app.services.require(Storage)
            await empty(storage)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                mounts={APP_URL: transport}, base_url=APP_URL, timeout=30
            ) as http:
                yield StorageHarness(app, storage, http)

    # -- put / get / head ------------------------------------------------------------------

    async def test_put_bytes_then_get_head_exists(self, harness: StorageHarness) -> None:
        storage = harness.storage
        data = b"hello, storage"
        info = await storage.put("docs/hello.txt", data)
        assert info.key == "docs/hello.txt"
        assert info.size == len(data)
        assert info.content_type.startswith("text/plain")
        assert info.etag == hashlib.md5(data, usedforsecurity=False).hexdigest()
        async with await storage.get("docs/hello.txt") as reader:
            assert reader.info.size == len(data)
            assert await reader.read() == data
        head = await storage.head("docs/hello.txt")
        assert (head.size, head.etag, head.content_type) == (
            info.size,
            info.etag,
            info.content_type,
        )
        assert head.last_modified is not None and head.last_modified.tzinfo is not None
        assert await storage.exists("docs/hello.txt")
        assert not await storage.exists("docs/other.txt")

    async def test_put_stream_crossing_parts_and_get_streams_in_chunks(
        self, harness: StorageHarness
    ) -> None:
        storage = harness.storage
        data = payload(11 * MIB + 123)
        info = await storage.put("big/object.bin", chunked(data))
        assert info.size == len(data)
        head = await storage.head("big/object.bin")
        assert head.size == len(data) and head.etag == info.etag
        digest = hashlib.sha256()
        chunks = 0
        async for chunk in await storage.get("big/object.bin", chunk_size=256 * 1024):
            assert len(chunk) <= 256 * 1024
            digest.update(chunk)
            chunks += 1
        assert digest.digest() == hashlib.sha256(data).digest()
        assert chunks > 1

    async def test_empty_object(self, harness: StorageHarness) -> None:
        info = await harness.storage.put("empty.bin", b"")
        assert info.size == 0
        assert await (await harness.storage.get("empty.bin")).read() == b""

    async def test_overwrite_replaces_content_and_etag(self, harness: StorageHarness) -> None:
        storage = harness.storage
        first = await storage.put("note.txt", b"first")
        second = await storage.put("note.txt", b"second version")
        assert first.etag != second.etag
        assert await (await storage.get("note.txt")).read() == b"second version"
        assert (await storage.head("note.txt")).size == len(b"second version")

    async def test_content_type_explicit_guessed_or_default(self, harness: StorageHarness) -> None:
        storage = harness.storage
        assert (await storage.put("a.json", b"{}")).content_type == "application/json"
        explicit = await storage.put("photo", b"\x89PNG", content_type="image/png")
        assert explicit.content_type == "image/png"
        assert (await storage.head("photo")).content_type == "image/png"
        assert (await storage.put("blob", b"\x00")).content_type == "application/octet-stream"

    async def test_closing_a_reader_early_releases_it(self, harness: StorageHarness) -> None:
        storage = harness.storage
        await storage.put("partial.bin", payload(2 * MIB))
        reader = await storage.get("partial.bin", chunk_size=64 * 1024)
        first = await reader.__anext__()
        assert len(first) > 0
        await reader.aclose()
        with pytest.raises(StopAsyncIteration):
            await reader.__anext__()
        assert await (await storage.get("partial.bin")).read() == payload(2 * MIB)

    # -- missing keys, delete, copy --------------------------------------------------------

    async def test_missing_key_is_not_found(self, harness: StorageHarness) -> None:
        storage = harness.storage
        for call in (storage.get("nope/missing.txt"), storage.head("nope/missing.txt")):
            with pytest.raises(NotFoundError) as caught:
                await call
            assert "nope/missing.txt" in str(caught.value)
            assert caught.value.status == 404
        with pytest.raises(NotFoundError):
            await storage.copy("nope/missing.txt", "copy.txt")
        assert not await storage.exists("copy.txt")

    async def test_delete_removes_and_is_idempotent(self, harness: StorageHarness) -> None:
        storage = harness.storage
        await storage.put("gone/soon.txt", b"x")
        await storage.delete("gone/soon.txt")
        assert not await storage.exists("gone/soon.txt")
        with pytest.raises(NotFoundError):
            await storage.get("gone/soon.txt")
        await storage.delete("gone/soon.txt")  # missing: no error, as in S3
        assert (await storage.list("gone/")).items == []

    async def test_copy_keeps_content_and_type(self, harness: StorageHarness) -> None:
        storage = harness.storage
        original = await storage.put("src/report.txt", b"quarterly", content_type="text/csv")
        copied = await storage.copy("src/report.txt", "dst/report-copy.txt")
        assert copied.key == "dst/report-copy.txt"
        assert copied.size == original.size and copied.etag == original.etag
        assert copied.content_type == "text/csv"
        assert await (await storage.get("dst/report-copy.txt")).read() == b"quarterly"
        assert await storage.exists("src/report.txt")

    # -- listing ---------------------------------------------------------------------------

    async def test_list_by_prefix_pages_through_every_key(self, harness: StorageHarness) -> None:
        storage = harness.storage
        keys = [
            "photos/2024/a.png",
            "photos/2024/b.png",
            "photos/2024-extra.png",
            "photos/2025/c.png",
            "photos/2025",  # an object and a "folder" of the same name
            "photos/z.png",
            "photos-not/x.png",
            "videos/v.mp4",
        ]
        for key in keys:
            await storage.put(key, key.encode(), content_type="application/octet-stream")
        expected = sorted(k for k in keys if k.startswith("photos/"))
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = await storage.list("photos/", cursor=cursor, limit=2)
            pages += 1
            assert len(page.items) <= 2
            seen.extend(item.key for item in page.items)
            cursor = page.cursor
            if cursor is None:
                break
            assert pages < 10, "listing does not end"
        # Every key exactly once. AWS S3 and storage-local list in key order; some
        # S3-compatible servers (SeaweedFS) go folder by folder, so order is not required.
        assert sorted(seen) == expected
        assert pages >= 3
        everything = await storage.list()
        assert sorted(item.key for item in everything.items) == sorted(keys)
        assert everything.cursor is None
        item = next(i for i in everything.items if i.key == "videos/v.mp4")
        assert item.size == len(b"videos/v.mp4")
        assert item.etag == hashlib.md5(b"videos/v.mp4", usedforsecurity=False).hexdigest()
        partial = await storage.list("photos/2024")
        assert sorted(i.key for i in partial.items) == [
            "photos/2024-extra.png",
            "photos/2024/a.png",
            "photos/2024/b.png",
        ]
        assert (await storage.list("nothing-here/")).items == []

    # -- bad input -------------------------------------------------------------------------

    @pytest.mark.parametrize(("key", "reason"), BAD_KEYS, ids=[r for _, r in BAD_KEYS])
    async def test_bad_keys_are_refused_with_the_reason(
        self, harness: StorageHarness, key: str, reason: str
    ) -> None:
        storage = harness.storage
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "put": lambda: storage.put(key, b"x"),
            "get": lambda: storage.get(key),
            "head": lambda: storage.head(key),
            "exists": lambda: storage.exists(key),
            "delete": lambda: storage.delete(key),
            "copy": lambda: storage.copy("fine.txt", key),
            "signed_url": lambda: storage.signed_url(key),
        }
        for name, call in calls.items():
            with pytest.raises(InvalidInputError) as caught:
                await call()
                pytest.fail(f"{name}({key!r}) was accepted")
            assert reason in caught.value.message
            assert "invalid storage key" in caught.value.message
            assert caught.value.status == 422

    async def test_oversized_bytes_are_refused(self, harness: StorageHarness) -> None:
        with pytest.raises(PatternError) as caught:
            await harness.storage.put("huge.bin", payload(MAX_SIZE + 1))
        assert caught.value.status == 413
        assert caught.value.code == "object_too_large"
        assert f"limit of {MAX_SIZE} bytes" in caught.value.message
        assert not await harness.storage.exists("huge.bin")

    async def test_oversized_stream_stores_nothing_and_keeps_the_old_object(
        self, harness: StorageHarness
    ) -> None:
        storage = harness.storage
        await storage.put("keep.bin", b"old content")
        with pytest.raises(PatternError) as caught:
            await storage.put("keep.bin", chunked(payload(MAX_SIZE + 2 * MIB)))
        assert caught.value.status == 413
        assert "nothing was stored" in caught.value.message
        assert await (await storage.get("keep.bin")).read() == b"old content"
        with pytest.raises(PatternError):
            await storage.put("new.bin", chunked(payload(MAX_SIZE + 2 * MIB)))
        assert not await storage.exists("new.bin")
        assert [i.key for i in (await storage.list()).items] == ["keep.bin"]

    async def test_failed_stream_stores_nothing(self, harness: StorageHarness) -> None:
        storage = harness.storage
        with pytest.raises(ConnectionResetError):
            await storage.put("torn.bin", failing_stream(payload(11 * MIB), 6 * MIB))
        assert not await storage.exists("torn.bin")
        assert (await storage.list()).items == []

    async def test_disallowed_content_type_is_refused(self, harness: StorageHarness) -> None:
        with pytest.raises(InvalidInputError) as caught:
            await harness.storage.put("page.html", b"<script>", content_type="application/x-sh")
        assert "'application/x-sh' is not allowed" in caught.value.message
        assert "image/png" in caught.value.message  # it lists what is allowed
        with pytest.raises(InvalidInputError) as guessed:
            await harness.storage.put("song.mp3", b"ID3")  # guessed audio/mpeg
        assert "'audio/mpeg' is not allowed" in guessed.value.message
        assert not await harness.storage.exists("page.html")

    # -- signed URLs -----------------------------------------------------------------------

    async def test_signed_download_url(self, harness: StorageHarness) -> None:
        await harness.storage.put("shared/report.txt", b"for your eyes")
        url = await harness.storage.signed_url("shared/report.txt", expires_in=300)
        answer = await harness.http.get(url)
        assert answer.status_code == 200, answer.text
        assert answer.content == b"for your eyes"
        tampered = await harness.http.get(tamper(url))
        assert tampered.status_code == 403, tampered.text
        other = url.replace("shared/report.txt", "shared/other.txt")
        assert (await harness.http.get(other)).status_code == 403

    async def test_signed_upload_url(self, harness: StorageHarness) -> None:
        url = await harness.storage.signed_url(
            "inbox/upload.png", method="PUT", expires_in=300, content_type="image/png"
        )
        answer = await harness.http.put(
            url, content=b"\x89PNG-bytes", headers={"Content-Type": "image/png"}
        )
        assert answer.status_code in (200, 201), answer.text
        head = await harness.storage.head("inbox/upload.png")
        assert head.content_type == "image/png"
        assert await (await harness.storage.get("inbox/upload.png")).read() == b"\x89PNG-bytes"
        refused = await harness.http.put(
            tamper(url), content=b"evil", headers={"Content-Type": "image/png"}
        )
        assert refused.status_code == 403
        assert await (await harness.storage.get("inbox/upload.png")).read() == b"\x89PNG-bytes"

    async def test_signed_url_expires(self, harness: StorageHarness) -> None:
        await harness.storage.put("brief.txt", b"short-lived")
        url = await harness.storage.signed_url("brief.txt", expires_in=1)
        await asyncio.sleep(2.2)  # S3 signs whole seconds: wait past the expiry
        answer = await harness.http.get(url)
        assert answer.status_code == 403, answer.text

    # -- routes ----------------------------------------------------------------------------

    async def test_upload_and_download_routes(self, harness: StorageHarness) -> None:
        data = payload(3 * MIB + 7, seed=3)
        answer = await harness.http.post(
            f"{harness.mount}?key=uploads/photo.png",
            files={"file": ("photo.png", data, "image/png")},
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["key"] == "uploads/photo.png"
        assert body["size"] == len(data)
        assert answer.headers["location"].endswith("/uploads/photo.png")
        download = await harness.http.get(f"{harness.mount}/uploads/photo.png")
        assert download.status_code == 200
        assert download.content == data
        assert download.headers["content-type"] == "image/png"
        assert download.headers["content-length"] == str(len(data))
        missing = await harness.http.get(f"{harness.mount}/uploads/missing.png")
        assert missing.status_code == 404
        assert "uploads/missing.png" in missing.json()["detail"]
        named = await harness.http.post(
            harness.mount, files={"file": ("notes.txt", b"plain", "text/plain")}
        )
        assert named.status_code == 201, named.text
        assert named.json()["key"].endswith("/notes.txt")

    # -- concurrency and health ------------------------------------------------------------

    async def test_concurrent_puts_and_gets(self, harness: StorageHarness) -> None:
        storage = harness.storage
        blobs = {f"many/{n:02d}.bin": os.urandom(1000 + n) for n in range(20)}
        await asyncio.gather(*(storage.put(k, v) for k, v in blobs.items()))
        readers = await asyncio.gather(*(storage.get(k) for k in blobs))
        contents = await asyncio.gather(*(r.read() for r in readers))
        assert dict(zip(blobs, contents, strict=True)) == blobs
        same = await asyncio.gather(*(storage.put("race.bin", bytes([n]) * 5000) for n in range(8)))
        final = await (await storage.get("race.bin")).read()
        assert final in {bytes([n]) * 5000 for n in range(8)}
        head = await storage.head("race.bin")
        assert head.etag == hashlib.md5(final, usedforsecurity=False).hexdigest()
        assert len(same) == 8

    async def test_health_is_up(self, harness: StorageHarness) -> None:
        report = await harness.app.health()
        files = next(i for i in report.instances if i.instance == "files")
        assert files.status is Status.UP, files.details
