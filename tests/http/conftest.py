"""Apps for the ``rainmaker.http`` tests: folders with a ``rainmaker.toml`` and the ``notes``
pattern (``tests/http/apps/notes_pattern.py``), loaded as `rainmaker run` loads them."""

from __future__ import annotations

import io
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

import rainmaker
from rainmaker.testing.harness import http_client

APPS = Path(__file__).parent / "apps"
SECRET = "test-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
CHEAP_HASHING = "{ time_cost = 1, memory_cost = 8, parallelism = 1 }"
PASSWORD = "correct horse battery staple"

AUTH = f"""
[patterns.auth]
use = "auth-jwt"
secret = "{SECRET}"
hashing = {CHEAP_HASHING}
"""


def write_app(folder: Path, body: str) -> Path:
    """``folder`` with the notes pattern (under a fresh module name) and ``body`` after
    ``[app]`` and ``[patterns.http]``."""
    module = f"notes_{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(APPS / "notes_pattern.py", folder / f"{module}.py")
    (folder / "rainmaker.toml").write_text(
        f'[app]\nname = "notesapp"\nlocal_patterns = ["{module}:pattern"]\n\n'
        '[patterns.http]\nuse = "framework-fastapi"\naccess_log = false\n\n' + body
    )
    return folder


def load_quietly(folder: Path) -> rainmaker.Application:
    """``rainmaker.load(folder)`` without its log lines on the test's stderr."""
    real_stderr, sys.stderr = sys.stderr, io.StringIO()
    try:
        return rainmaker.load(folder)
    finally:
        sys.stderr = real_stderr


Serve = Callable[[str], Awaitable[tuple[rainmaker.Application, httpx.AsyncClient]]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    """``await serve(toml_body)``: the app started, and a client on it."""
    started: list[tuple[rainmaker.Application, httpx.AsyncClient]] = []

    async def start(body: str) -> tuple[rainmaker.Application, httpx.AsyncClient]:
        app = load_quietly(write_app(tmp_path / uuid.uuid4().hex[:8], body))
        await app.start()
        client = http_client(app)
        started.append((app, client))
        return app, client

    yield start
    for app, client in reversed(started):
        await client.aclose()
        await app.stop()
    for name in [m for m in sys.modules if m.startswith("notes_")]:
        del sys.modules[name]
