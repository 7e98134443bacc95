"""Fixtures for ``rate-limit``: a key prefix per test (cleaned from the real Redis after it)
and composed apps serving the ``limited`` pattern's rate-limited routes."""

from __future__ import annotations

import io
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

import rainmaker
from rainmaker.testing.harness import http_client


@pytest.fixture
def key_prefix() -> str:
    """A counter key prefix no other test (or app on this Redis) uses."""
    return f"rmtest-rl-{uuid.uuid4().hex[:12]}"


@pytest_asyncio.fixture
async def redis_prefix(redis_url: str, key_prefix: str) -> AsyncIterator[str]:
    """``key_prefix``; the keys written under it are deleted after the test (no FLUSHALL)."""
    yield key_prefix
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        doomed = [key async for key in client.scan_iter(match=f"{key_prefix}*", count=1000)]
        if doomed:
            await client.delete(*doomed)
    finally:
        await client.aclose()


# -- composed apps ---------------------------------------------------------------------------

APPS = Path(__file__).parent / "apps"
SECRET = "test-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
AUTH = f"""
[patterns.db]
use = "database-sqlite"
path = "app.db"
auto_migrate = true

[patterns.auth]
use = "auth-jwt"
secret = "{SECRET}"
hashing = {{ time_cost = 1, memory_cost = 8, parallelism = 1 }}
"""

Serve = Callable[[str], Awaitable[tuple[rainmaker.Application, httpx.AsyncClient]]]


def write_app(folder: Path, body: str) -> Path:
    """``folder`` with the ``limited`` pattern (fresh module name) and ``body``."""
    module = f"limited_{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(APPS / "limited_pattern.py", folder / f"{module}.py")
    (folder / "rainmaker.toml").write_text(
        f'[app]\nname = "limitedapp"\nlocal_patterns = ["{module}:pattern"]\n\n'
        '[patterns.http]\nuse = "framework-fastapi"\naccess_log = false\n\n'
        '[patterns.limited]\nuse = "limited"\n\n' + body
    )
    return folder


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    """``await serve(toml_body)``: the app started, and a client on it."""
    started: list[tuple[rainmaker.Application, httpx.AsyncClient]] = []

    async def start(body: str) -> tuple[rainmaker.Application, httpx.AsyncClient]:
        real_stderr, sys.stderr = sys.stderr, io.StringIO()
        try:
            app = rainmaker.load(write_app(tmp_path / uuid.uuid4().hex[:8], body))
        finally:
            sys.stderr = real_stderr
        await app.start()
        client = http_client(app)
        started.append((app, client))
        return app, client

    yield start
    for app, client in reversed(started):
        await client.aclose()
        await app.stop()
    for name in [m for m in sys.modules if m.startswith("limited_")]:
        del sys.modules[name]
