"""storage-local on a full and on a read-only disk (issue 22, finding 5).

The root is a real tiny tmpfs mounted for the test (``mount -t tmpfs -o size=…``; root
only, so the tests skip with the reason where mounting is not permitted), made read-only
with ``mount -o remount,ro`` (root ignores permission bits, a read-only mount it cannot).
A write that fails answers problem+json (507 full, 503 not writable), logs one line naming
the root and the errno without a traceback, leaves no temp file, and the old object stays.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import rainmaker
from rainmaker.capabilities.storage import Storage

COMPOSITION = """\
[app]
name = "disk-app"
log_format = "json"

[patterns.web]
use = "framework-fastapi"

[patterns.files]
use = "storage-local"
root = "{root}"
signing_secret = "{secret}"
routes = true
fsync = false
"""

pytestmark = pytest.mark.asyncio


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=10)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount a tmpfs of the given size (``64k``) on a fresh folder; unmounted after."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
        folder.mkdir()
        done = _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder))
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=10)


@asynccontextmanager
async def serve(app_dir: Path, root: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    (app_dir / "rainmaker.toml").write_text(COMPOSITION.format(root=root, secret="s" * 40))
    app = rainmaker.load(app_dir, configure_logs=True)
    async with app.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, app


def problem(answer: httpx.Response) -> dict[str, Any]:
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    body: dict[str, Any] = answer.json()
    return body


def log_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def leftovers(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if "!tmp-" in p.name]


async def files_health(app: Any) -> Any:
    report = await app.health()
    return {item.instance: item for item in report.instances}["files"]


async def test_full_disk_answers_507_and_keeps_the_old_object(
    tmpfs: Callable[[str], Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    root = tmpfs("64k")
    async with serve(tmp_path, root) as (client, app):
        storage = app.services.require(Storage)
        await storage.put("notes/a.txt", b"the old text", content_type="text/plain")
        capfd.readouterr()

        answer = await client.post(
            "/files",
            params={"key": "notes/a.txt"},
            files={"file": ("a.txt", b"x" * 200_000, "text/plain")},
        )
        assert answer.status_code == 507, answer.text
        body = problem(answer)
        assert body["code"] == "storage_full"
        assert body["title"] == "Insufficient storage"

        reader = await storage.get("notes/a.txt")
        assert b"".join([chunk async for chunk in reader]) == b"the old text"
        assert leftovers(root) == []

        health = await files_health(app)
        assert health.status.value == "degraded", health.details
        assert health.details["free_bytes"] < health.details["min_free_space"]
        assert str(root) in health.details["reason"]

    captured = capfd.readouterr()
    output = captured.out + captured.err
    assert "Traceback" not in output, output
    (line,) = [x for x in log_lines(output) if x.get("code") == "storage_full"]
    assert str(root) in line["error"] and "ENOSPC" in line["error"], line
    assert line["level"] == "warning"


async def test_read_only_root_answers_503_and_keeps_the_old_object(
    tmpfs: Callable[[str], Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    root = tmpfs("1m")
    async with serve(tmp_path, root) as (client, app):
        storage = app.services.require(Storage)
        await storage.put("notes/a.txt", b"the old text", content_type="text/plain")
        done = _mount("-o", "remount,ro", str(root))
        assert done.returncode == 0, done.stderr
        capfd.readouterr()

        answer = await client.post(
            "/files",
            params={"key": "notes/a.txt"},
            files={"file": ("a.txt", b"new text", "text/plain")},
        )
        assert answer.status_code == 503, answer.text
        assert problem(answer)["code"] == "storage_not_writable"
        with pytest.raises(rainmaker.UnavailableError) as caught:
            await storage.delete("notes/a.txt")
        assert caught.value.code == "storage_not_writable"
        assert "EROFS" in caught.value.message and str(root) in caught.value.message

        download = await client.get("/files/notes/a.txt")
        assert download.status_code == 200 and download.content == b"the old text"
        assert (await files_health(app)).status.value == "down"

    captured = capfd.readouterr()
    output = captured.out + captured.err
    assert "Traceback" not in output, output
    (line,) = [x for x in log_lines(output) if x.get("code") == "storage_not_writable"]
    assert str(root) in line["error"] and "EROFS" in line["error"], line
