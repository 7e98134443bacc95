"""Fixtures for the HTTP pattern's tests: small compositions in temporary folders."""

from __future__ import annotations

import importlib
import io
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import rainmaker
from tests.patterns.http.testapp_source import SOURCE

MakeApp = Callable[..., Path]


@pytest.fixture
def make_app(tmp_path: Path) -> MakeApp:
    """Write an app folder: framework-fastapi as ``http`` plus the ``items`` test pattern.

    ``http`` and ``items`` are lines added to those instances' tables (``items=None``
    leaves the instance out), ``extra`` is appended to the file; the test pattern's module
    gets a unique name so tests never share an imported module.
    """

    def make(http: str = "", items: str | None = "", extra: str = "") -> Path:
        module = f"items_{uuid.uuid4().hex[:12]}"
        (tmp_path / f"{module}.py").write_text(SOURCE)
        text = f'[app]\nname = "httptest"\nlocal_patterns = ["{module}:pattern"]\n\n'
        text += f'[patterns.http]\nuse = "framework-fastapi"\n{http}\n\n'
        if items is not None:
            text += f'[patterns.items]\nuse = "items"\n{items}\n\n'
        (tmp_path / "rainmaker.toml").write_text(text + extra)
        return tmp_path

    return make


def events_of(app: rainmaker.Application) -> list[str]:
    """The EVENTS list of the app's test pattern module."""
    for name in app.composition.app.local_patterns:
        module = importlib.import_module(name.split(":")[0])
        events: list[str] = module.EVENTS
        return events
    raise AssertionError("no local pattern")


@pytest.fixture
async def serve(make_app: MakeApp) -> AsyncIterator[Callable[..., Any]]:
    """``client = await serve(**make_app_kwargs)``: a started app and an httpx client on it.

    The app is ``client.app``; everything it logs is in ``client.logs`` (a StringIO).
    """
    stack: list[Any] = []

    async def start(**kwargs: Any) -> httpx.AsyncClient:
        # load() configures logging to the stream sys.stderr is at that moment; give it
        # one that lives as long as the test (pytest's capture streams are swapped).
        logs = io.StringIO()
        real_stderr, sys.stderr = sys.stderr, logs
        try:
            app = rainmaker.load(make_app(**kwargs))
        finally:
            sys.stderr = real_stderr
        await app.start()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        client.app = app  # type: ignore[attr-defined]
        client.logs = logs  # type: ignore[attr-defined]
        stack.append((app, client))
        return client

    yield start
    for app, client in reversed(stack):
        await client.aclose()
        await app.stop()
    for name in [m for m in sys.modules if m.startswith("items_")]:
        del sys.modules[name]
