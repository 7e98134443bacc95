"""storage-local beyond the contract: layout on disk, confinement, atomicity, signing."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from rainmaker.capabilities.storage import Storage
from rainmaker.kernel.errors import ForbiddenError, InvalidInputError, UnauthorizedError
from rainmaker.kernel.health import Status
from rainmaker.patterns.storage.local import LocalObjectStore
from rainmaker.patterns.storage.local_files import META_XATTR
from rainmaker.patterns.storage.signing import UrlSigner
from rainmaker.testing.contracts.storage import failing_stream, payload
from rainmaker.testing.harness import build_app

SECRET = "x" * 40


@contextlib.asynccontextmanager
async def local_store(app_root: Path, **settings: Any) -> AsyncIterator[LocalObjectStore]:
    app = build_app(
        {"files": {"use": "storage-local", "signing_secret": SECRET, **settings}}, root=app_root
    )
    async with app.running():
        store = app.services.require(Storage)
        assert isinstance(store, LocalObjectStore)
        yield store


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def altered(signature: str) -> str:
    """``signature`` with its first character changed."""
    return ("B" if signature[0] == "A" else "A") + signature[1:]


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def xattr_meta(path: Path) -> dict[str, Any]:
    return dict(json.loads(os.getxattr(path, META_XATTR)))


async def test_relative_root_is_resolved_against_the_app_folder(tmp_path: Path) -> None:
    async with local_store(tmp_path, root="data/objects") as store:
        await store.put("a/b.txt", b"hi")
    assert store.root == (tmp_path / "data" / "objects").resolve()
    # One file per object: its metadata rides in an extended attribute of the data file.
    assert files_under(tmp_path / "data" / "objects") == ["a/b.txt!data"]
    meta = xattr_meta(tmp_path / "data/objects/a/b.txt!data")
    assert meta == {"content_type": "text/plain", "etag": md5(b"hi")}


async def test_absolute_root(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    async with local_store(tmp_path / "app", root=str(target)) as store:
        await store.put("k", b"v")
    assert files_under(target) == ["k!data"]


async def test_small_chunks_stream_in_batches_with_the_right_etag(tmp_path: Path) -> None:
    data = payload(3_000_000)

    async def small_chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 65_536):
            yield data[start : start + 65_536]

    async with local_store(tmp_path) as store:
        info = await store.put("big.bin", small_chunks())
        assert (info.size, info.etag) == (len(data), md5(data))
        assert await (await store.get("big.bin")).read() == data
        assert (await store.head("big.bin")).etag == md5(data)


async def test_copy_keeps_bytes_type_and_etag_on_disk(tmp_path: Path) -> None:
    data = payload(2_500_000)
    async with local_store(tmp_path) as store:
        await store.put("src.bin", data, content_type="application/x-thing")
        copied = await store.copy("src.bin", "dst/copy.bin")
        assert (copied.size, copied.etag, copied.content_type) == (
            len(data),
            md5(data),
            "application/x-thing",
        )
    assert (tmp_path / "storage/dst/copy.bin!data").read_bytes() == data
    assert xattr_meta(tmp_path / "storage/dst/copy.bin!data")["etag"] == md5(data)


async def test_cancelled_stream_leaves_no_temporary_file(tmp_path: Path) -> None:
    arrived = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield payload(3 * 1024 * 1024)
        arrived.set()
        await asyncio.sleep(3600)
        yield b"never"

    async with local_store(tmp_path) as store:
        await store.put("doc.bin", b"old")
        task = asyncio.create_task(store.put("doc.bin", stalls()))
        await arrived.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await (await store.get("doc.bin")).read() == b"old"
    assert files_under(tmp_path / "storage") == ["doc.bin!data"]


async def test_an_older_sidecar_is_read_then_replaced_by_the_attribute(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    async with local_store(tmp_path) as store:
        await store.put("old.txt", b"before")
        # How storage-local laid objects out before metadata moved into the attribute.
        data = root / "old.txt!data"
        os.removexattr(data, META_XATTR)
        sidecar = root / "old.txt!meta.json"
        sidecar.write_text(json.dumps({"content_type": "text/x-old", "etag": "e" * 32}))
        head = await store.head("old.txt")
        assert (head.content_type, head.etag) == ("text/x-old", "e" * 32)
        reader = await store.get("old.txt")
        assert reader.info.content_type == "text/x-old"
        await reader.aclose()
        await store.put("old.txt", b"after")
        assert (await store.head("old.txt")).etag == md5(b"after")
    assert files_under(root) == ["old.txt!data"]


async def test_odd_but_valid_keys_stay_inside_the_root(tmp_path: Path) -> None:
    keys = ["%2e%2e/x", "...", "a!b/c", "sp ace/ünï.txt", "a", "a/b", "~/home"]
    async with local_store(tmp_path) as store:
        for key in keys:
            await store.put(key, key.encode())
        for key in keys:
            assert await (await store.get(key)).read() == key.encode()
        listed = [item.key for item in (await store.list()).items]
    assert listed == sorted(keys)  # storage-local lists in key order, like AWS S3
    root = (tmp_path / "storage").resolve()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert path.resolve().is_relative_to(root)


async def test_listing_is_in_key_order_across_folders(tmp_path: Path) -> None:
    keys = ["p/2024/a", "p/2024-x", "p/2024", "p/2025/b", "p/20", "p/3"]
    async with local_store(tmp_path) as store:
        for key in keys:
            await store.put(key, b"x")
        seen: list[str] = []
        cursor = None
        while True:
            page = await store.list("p/", cursor=cursor, limit=2)
            seen += [i.key for i in page.items]
            if (cursor := page.cursor) is None:
                break
        assert seen == sorted(keys)
        with pytest.raises(InvalidInputError, match="cursor"):
            await store.list(cursor="***not a cursor***")


async def test_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    async with local_store(tmp_path) as store:
        await store.put("doc.bin", b"old")
        with pytest.raises(ConnectionResetError):
            await store.put("doc.bin", failing_stream(payload(3_000_000), 1_000_000))
        assert await (await store.get("doc.bin")).read() == b"old"
        with pytest.raises(ConnectionResetError):
            await store.put("new/deep/doc.bin", failing_stream(payload(3_000_000), 1_000_000))
    assert files_under(tmp_path / "storage") == ["doc.bin!data"]
    assert not (tmp_path / "storage" / "new").exists()  # no empty folders left behind


async def test_delete_prunes_empty_folders(tmp_path: Path) -> None:
    async with local_store(tmp_path) as store:
        await store.put("deep/er/still/file.txt", b"x")
        await store.put("deep/sibling.txt", b"y")
        await store.delete("deep/er/still/file.txt")
    assert files_under(tmp_path / "storage") == ["deep/sibling.txt!data"]
    assert not (tmp_path / "storage" / "deep" / "er").exists()


async def test_lost_metadata_is_rebuilt_from_the_file(tmp_path: Path) -> None:
    async with local_store(tmp_path) as store:
        info = await store.put("photo.png", b"\x89PNG")
        # What a copy of the root without its extended attributes (cp -r) leaves.
        os.removexattr(tmp_path / "storage" / "photo.png!data", META_XATTR)
        head = await store.head("photo.png")
        assert (head.size, head.etag, head.content_type) == (4, info.etag, "image/png")


@pytest.fixture
def ramfs(tmp_path: Path) -> Iterator[Path]:
    """A real ramfs (no extended attributes at all) on a fresh folder; root only."""
    folder = tmp_path / "ramfs"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "ramfs", "ramfs", str(folder)], capture_output=True, text=True, timeout=10
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a ramfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=10)


async def test_without_extended_attributes_metadata_goes_to_a_sidecar(
    tmp_path: Path, ramfs: Path
) -> None:
    async with local_store(tmp_path, root=str(ramfs)) as store:
        await store.put("a/doc.txt", b"one")
        info = await store.put("a/doc.txt", b"two", content_type="text/x-two")
        assert (info.etag, info.content_type) == (md5(b"two"), "text/x-two")
        await store.copy("a/doc.txt", "b/copy.txt")
        reader = await store.get("b/copy.txt")
        assert (await reader.read(), reader.info.content_type) == (b"two", "text/x-two")
        assert [i.etag for i in (await store.list()).items] == [md5(b"two")] * 2
        assert files_under(ramfs) == [
            "a/doc.txt!data",
            "a/doc.txt!meta.json",
            "b/copy.txt!data",
            "b/copy.txt!meta.json",
        ]
        meta = json.loads((ramfs / "a/doc.txt!meta.json").read_text())
        assert meta == {"content_type": "text/x-two", "etag": md5(b"two")}
        await store.delete("a/doc.txt")
        with pytest.raises(ConnectionResetError):
            await store.put("b/copy.txt", failing_stream(payload(3_000_000), 1_000_000))
    assert files_under(ramfs) == ["b/copy.txt!data", "b/copy.txt!meta.json"]


async def test_overlong_segment_is_refused_with_the_reason(tmp_path: Path) -> None:
    async with local_store(tmp_path) as store:
        with pytest.raises(InvalidInputError) as caught:
            await store.put("s" * 300, b"x")
        assert "longer than 200 bytes once percent-encoded" in caught.value.message
        await store.put("/".join(["s" * 150] * 6), b"fine")  # 905 bytes, short segments


async def test_health_reports_a_missing_root(tmp_path: Path) -> None:
    app = build_app({"files": {"use": "storage-local", "root": "gone"}}, root=tmp_path)
    async with app.running():
        assert (await app.health()).instances[0].status is Status.UP
        (tmp_path / "gone").rmdir()
        report = await app.health()
        assert report.instances[0].status is Status.DOWN
        assert "missing or not writable" in report.instances[0].details["reason"]


async def test_signed_url_shape_uses_mount_and_public_url(tmp_path: Path) -> None:
    async with local_store(tmp_path, public_url="https://api.example.com") as store:
        url = await store.signed_url("a b/c.txt", expires_in=60)
    assert url.startswith("https://api.example.com/files/a%20b/c.txt?expires=")
    assert "&signature=" in url


class TestUrlSigner:
    signer = UrlSigner(b"k" * 32, pattern_id="files")

    def params(self, url: str) -> dict[str, str]:
        query = url.split("?", 1)[1]
        return dict(part.split("=", 1) for part in query.split("&"))

    def test_valid_signature_passes(self) -> None:
        url = self.signer.sign("/files", "a.txt", method="GET", expires_in=60)
        p = self.params(url)
        self.signer.verify("GET", "a.txt", expires=p["expires"], signature=p["signature"])

    def test_missing_parameters_are_unauthorized(self) -> None:
        with pytest.raises(UnauthorizedError) as caught:
            self.signer.verify("GET", "a.txt", expires=None, signature=None)
        assert "not signed" in caught.value.message
        with pytest.raises(UnauthorizedError, match="not a Unix time"):
            self.signer.verify("GET", "a.txt", expires="soon", signature="abc")

    def test_tampered_or_misapplied_signatures_are_forbidden(self) -> None:
        p = self.params(self.signer.sign("/files", "a.txt", method="GET", expires_in=60))
        cases = [
            ("GET", "b.txt", p["expires"], p["signature"]),  # another key
            ("PUT", "a.txt", p["expires"], p["signature"]),  # another method
            ("GET", "a.txt", str(int(p["expires"]) + 3600), p["signature"]),  # longer life
            ("GET", "a.txt", p["expires"], altered(p["signature"])),
        ]
        for method, key, expires, signature in cases:
            with pytest.raises(ForbiddenError) as caught:
                self.signer.verify(method, key, expires=expires, signature=signature)
            assert "signature does not match" in caught.value.message
        other = UrlSigner(b"o" * 32)
        with pytest.raises(ForbiddenError):
            other.verify("GET", "a.txt", expires=p["expires"], signature=p["signature"])

    def test_expired_signature_is_forbidden(self) -> None:
        url = self.signer.sign(
            "/files", "a.txt", method="GET", expires_in=60, now=time.time() - 120
        )
        p = self.params(url)
        with pytest.raises(ForbiddenError) as caught:
            self.signer.verify("GET", "a.txt", expires=p["expires"], signature=p["signature"])
        assert "expired" in caught.value.message

    def test_bound_content_type_is_part_of_the_signature(self) -> None:
        url = self.signer.sign(
            "/files", "a.png", method="PUT", expires_in=60, content_type="image/png"
        )
        p = self.params(url)
        self.signer.verify(
            "PUT", "a.png", expires=p["expires"], signature=p["signature"], content_type="image/png"
        )
        with pytest.raises(ForbiddenError):
            self.signer.verify(
                "PUT",
                "a.png",
                expires=p["expires"],
                signature=p["signature"],
                content_type="text/html",
            )
