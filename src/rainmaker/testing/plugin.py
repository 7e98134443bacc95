"""The Rainmaker pytest plugin: harness fixtures and the addresses of real backends.

Installed with rainmaker (entry point ``pytest11``), so a pattern package's tests can use:

- ``pattern_loader``: ``pattern_loader("greeter", {"greeting": "hi"})`` is
  :func:`~rainmaker.testing.harness.load_pattern` rooted in the test's ``tmp_path``; every
  pattern it loaded is stopped when the test ends;
- ``compose``: :func:`~rainmaker.testing.harness.compose_for_test` rooted in ``tmp_path``,
  with per-test ``settings=`` and ``services=`` overrides; every app it composed is stopped
  when the test ends, which undoes the overrides;
- ``http_client``: ``async with http_client(app) as http:`` an ``httpx.AsyncClient`` over
  ``ASGITransport``; clients still open are closed when the test ends;
- ``postgres_url`` / ``redis_url``: ``$RAINMAKER_TEST_POSTGRES_URL`` /
  ``$RAINMAKER_TEST_REDIS_URL`` (loopback defaults), after checking that the server
  answers: a missing server skips the test with the reason, and fails it under ``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from rainmaker.kernel.application import Application
from rainmaker.testing.harness import (
    LoadedPattern,
    TestComposition,
    compose_for_test,
    load_pattern,
)
from rainmaker.testing.harness import (
    http_client as make_http_client,
)
from rainmaker.testing.servers import require_server

POSTGRES_URL_VARIABLE = "RAINMAKER_TEST_POSTGRES_URL"
REDIS_URL_VARIABLE = "RAINMAKER_TEST_REDIS_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def backend_url(variable: str, default: str, name: str, default_port: int) -> str:
    """The URL in ``$variable`` (else ``default``), once its server answers.

    Skips the calling test when the server is not reachable (fails it under ``CI=true``).
    """
    url = os.environ.get(variable) or default
    parts = urlsplit(url)
    require_server(name, parts.hostname or "127.0.0.1", parts.port or default_port)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL URL whose server answers (``$RAINMAKER_TEST_POSTGRES_URL``)."""
    return backend_url(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL, "PostgreSQL", 5432)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis URL whose server answers (``$RAINMAKER_TEST_REDIS_URL``)."""
    return backend_url(REDIS_URL_VARIABLE, DEFAULT_REDIS_URL, "Redis", 6379)


@pytest_asyncio.fixture
async def pattern_loader(tmp_path: Path) -> AsyncIterator[Callable[..., LoadedPattern]]:
    """``load_pattern`` rooted in ``tmp_path``; what it loaded is stopped after the test."""
    loaded: list[LoadedPattern] = []

    def load(pattern: Any, settings: Any = None, **options: Any) -> LoadedPattern:
        options.setdefault("root", tmp_path)
        result = load_pattern(pattern, settings, **options)
        loaded.append(result)
        return result

    yield load
    for item in reversed(loaded):
        await item.stop()


@pytest_asyncio.fixture
async def compose(tmp_path: Path) -> AsyncIterator[Callable[..., TestComposition]]:
    """``compose_for_test`` rooted in ``tmp_path``; every app is stopped after the test."""
    composed: list[TestComposition] = []

    def make(patterns: Any, **options: Any) -> TestComposition:
        options.setdefault("root", tmp_path)
        result = compose_for_test(patterns, **options)
        composed.append(result)
        return result

    yield make
    for item in reversed(composed):
        await item.app.stop()


@pytest_asyncio.fixture
async def http_client() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """Makes ``httpx.AsyncClient`` objects bound to an app; all are closed after the test."""
    clients: list[httpx.AsyncClient] = []

    def make(
        app: Application | LoadedPattern | TestComposition, **options: Any
    ) -> httpx.AsyncClient:
        target = app if isinstance(app, Application) else app.app
        client = make_http_client(target, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
