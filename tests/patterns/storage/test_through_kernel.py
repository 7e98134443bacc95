"""storage-local composed by ``rainmaker.load`` with framework-fastapi: routes over HTTP.

Every refusal is checked by its problem+json body, not only its status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

import rainmaker
from rainmaker.capabilities.storage import Storage

COMPOSITION = """\
[app]
name = "files-app"

[patterns.web]
use = "framework-fastapi"
max_body_size = 8388608

[patterns.files]
use = "storage-local"
root = "uploads"
signing_secret = "${{SIGNING_SECRET}}"
max_size = 1048576
allowed_content_types = ["image/*", "text/plain"]
{extra}
"""

Serve = Callable[..., Any]


@asynccontextmanager
async def serve(tmp_path: Path, extra: str = "routes = true") -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "rainmaker.toml").write_text(COMPOSITION.format(extra=extra))
    app = rainmaker.load(tmp_path, environ={"SIGNING_SECRET": "z" * 48}, configure_logs=False)
    async with app.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def problem(answer: httpx.Response) -> dict[str, Any]:
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_upload_then_download_through_the_routes(tmp_path: Path) -> None:
    async with serve(tmp_path) as client:
        picture = b"\x89PNG\r\n" + bytes(range(256)) * 100
        answer = await client.post(
            "/files",
            params={"key": "avatars/7.png"},
            files={"file": ("7.png", picture, "image/png")},
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["etag"]
        assert answer.headers["location"] == "/files/avatars/7.png"
        download = await client.get("/files/avatars/7.png")
        assert download.status_code == 200
        assert download.content == picture
        assert download.headers["content-type"] == "image/png"
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["etag"] == f'"{answer.json()["etag"]}"'
    assert (tmp_path / "uploads" / "avatars" / "7.png!data").read_bytes() == picture


async def test_route_refusals_explain_themselves(tmp_path: Path) -> None:
    async with serve(tmp_path) as client:
        big = await client.post(
            "/files",
            params={"key": "big.png"},
            files={"file": ("big.png", b"x" * 1_100_000, "image/png")},
        )
        assert big.status_code == 413
        body = problem(big)
        assert body["code"] == "object_too_large"
        assert "limit of 1048576 bytes" in body["detail"]

        script = await client.post(
            "/files",
            params={"key": "x.sh"},
            files={"file": ("x.sh", b"rm -rf", "application/x-sh")},
        )
        assert script.status_code == 422
        assert "'application/x-sh' is not allowed" in problem(script)["detail"]

        bad_key = await client.post(
            "/files", params={"key": "../../etc/passwd"}, files={"file": ("p", b"x", "text/plain")}
        )
        assert bad_key.status_code == 422
        assert "'..'" in problem(bad_key)["detail"]

        control = await client.get("/files/bad%01key")
        assert control.status_code == 422
        assert "control character" in problem(control)["detail"]

        not_form = await client.post(
            "/files", content=b"raw", headers={"content-type": "text/plain"}
        )
        assert not_form.status_code == 422
        assert "multipart/form-data" in problem(not_form)["detail"]

        missing = await client.get("/files/none.png")
        assert missing.status_code == 404
        assert "none.png" in problem(missing)["detail"]
    assert list((tmp_path / "uploads").rglob("*")) == []


async def test_local_signed_urls_through_the_app(tmp_path: Path) -> None:
    async with serve(tmp_path, extra="routes = false") as client:
        storage = client.app.services.require(Storage)  # type: ignore[attr-defined]
        # routes = false: no public upload or download, only signed URLs.
        post = await client.post("/files/", files={"file": ("a", b"a", "text/plain")})
        assert post.status_code == 405
        await storage.put("private/report.txt", b"numbers")
        unsigned = await client.get("/files/private/report.txt")
        assert unsigned.status_code == 401
        assert "not signed" in problem(unsigned)["detail"]

        url = await storage.signed_url("private/report.txt", expires_in=60)
        assert url.startswith("/files/private/report.txt?expires=")
        assert (await client.get(url)).content == b"numbers"

        tampered = await client.get(url.replace("signature=", "signature=A"))  # one more char
        assert tampered.status_code == 403
        assert "signature does not match" in problem(tampered)["detail"]

        expired = await storage.signed_url("private/report.txt", expires_in=-5)
        answer = await client.get(expired)
        assert answer.status_code == 403
        assert "expired" in problem(answer)["detail"]

        upload = await storage.signed_url(
            "inbox/scan.png", method="PUT", expires_in=60, content_type="image/png"
        )
        wrong_type = await client.put(
            upload, content=b"<html>", headers={"content-type": "text/html"}
        )
        assert wrong_type.status_code == 422
        assert "uploads 'image/png'" in problem(wrong_type)["detail"]
        put = await client.put(upload, content=b"\x89PNG", headers={"content-type": "image/png"})
        assert put.status_code == 200, put.text
        assert (await storage.head("inbox/scan.png")).content_type == "image/png"

        get_for_put = await client.get(upload)  # a PUT signature does not allow GET
        assert get_for_put.status_code == 403

        too_big = await storage.signed_url("inbox/big.png", method="PUT", expires_in=60)
        answer = await client.put(
            too_big, content=b"x" * 1_100_000, headers={"content-type": "image/png"}
        )
        assert answer.status_code == 413
        assert problem(answer)["code"] == "object_too_large"
        assert not await storage.exists("inbox/big.png")
