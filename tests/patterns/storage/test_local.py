"""storage-local beyond the contract: layout on disk, confinement, atomicity, signing."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rainmaker.capabilities.storage import Storage
from rainmaker.kernel.errors import ForbiddenError, InvalidInputError, UnauthorizedError
from rainmaker.kernel.health import Status
from rainmaker.patterns.storage.local import LocalObjectStore
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


def altered(signature: str) -> str:
    """``signature`` with its first character changed."""
    return ("B" if signature[0] == "A" else "A") + signature[1:]


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_relative_root_is_resolved_against_the_app_folder(tmp_path: Path) -> None:
    async with local_store(tmp_path, root="data/objects") as store:
        await store.put("a/b.txt", b"hi")
    assert store.root == (tmp_path / "data" / "objects").resolve()
    assert files_under(tmp_path / "data" / "objects") == ["a/b.txt!data", "a/b.txt!meta.json"]
    meta = json.loads((tmp_path / "data/objects/a/b.txt!meta.json").read_text())
    assert meta == {"key": "a/b.txt", "content_type": "text/plain", "etag": meta["etag"], "size": 2}


async def test_absolute_root(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    async with local_store(tmp_path / "app", root=str(target)) as store:
        await store.put("k", b"v")
    assert files_under(target) == ["k!data", "k!meta.json"]


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
    assert files_under(tmp_path / "storage") == ["doc.bin!data", "doc.bin!meta.json"]
    assert not (tmp_path / "storage" / "new").exists()  # no empty folders left behind


async def test_delete_prunes_empty_folders(tmp_path: Path) -> None:
    async with local_store(tmp_path) as store:
        await store.put("deep/er/still/file.txt", b"x")
        await store.put("deep/sibling.txt", b"y")
        await store.delete("deep/er/still/file.txt")
    assert files_under(tmp_path / "storage") == [
        "deep/sibling.txt!data",
        "deep/sibling.txt!meta.json",
    ]
    assert not (tmp_path / "storage" / "deep" / "er").exists()


async def test_lost_sidecar_is_rebuilt_from_the_file(tmp_path: Path) -> None:
    async with local_store(tmp_path) as store:
        info = await store.put("photo.png", b"\x89PNG")
        (tmp_path / "storage" / "photo.png!meta.json").unlink()
        head = await store.head("photo.png")
        assert (head.size, head.etag, head.content_type) == (4, info.etag, "image/png")


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
