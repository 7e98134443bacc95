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
- ``postgres_url`` / ``mysql_url`` / ``redis_url``: ``$RAINMAKER_TEST_POSTGRES_URL`` /
  ``$RAINMAKER_TEST_MYSQL_URL`` (MySQL or MariaDB) / ``$RAINMAKER_TEST_REDIS_URL`` (loopback
  defaults), after checking that the server answers: a missing server skips the test with
  the reason, and fails it under ``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit

import pytest

from rainmaker.testing.servers import require_server

if TYPE_CHECKING:
    import httpx

    from rainmaker.testing.harness import LoadedPattern, TestComposition

# pytest loads this plugin in every run where rainmaker is installed, so it imports only
# pytest and the standard library at start; the harness (and FastAPI, httpx, SQLAlchemy
# behind it) loads when a fixture runs. Without pytest-asyncio — the `testing` extra — the
# async fixtures skip with the install command instead of breaking pytest.
F = TypeVar("F", bound=Callable[..., Any])
TESTING_EXTRA = 'pip install "rainmaker-patterns[testing]"'


def _skipping_fixture(function: Any) -> Any:
    """Stands in for ``pytest_asyncio.fixture``: the fixture skips, naming the extra."""
    name = function.__name__

    @pytest.fixture(name=name)
    def missing_extra() -> None:
        pytest.skip(f"the {name!r} fixture needs pytest-asyncio: {TESTING_EXTRA}")

    missing_extra.__doc__ = function.__doc__
    return missing_extra


try:
    from pytest_asyncio import fixture as _asyncio_fixture
except ImportError:  # exercised by the fresh-venv test of the core install
    _asyncio_fixture = None  # type: ignore[assignment]


def async_fixture(function: F) -> F:
    """``pytest_asyncio.fixture`` when pytest-asyncio is installed, else a skipping one."""
    if _asyncio_fixture is None:
        return cast(F, _skipping_fixture(function))
    return cast(F, _asyncio_fixture(function))


def _harness() -> ModuleType:
    """The harness module, or a skip naming the extra when its libraries are missing."""
    try:
        from rainmaker.testing import harness
    except ImportError as error:
        pytest.skip(f"rainmaker's test harness needs {error.name}: {TESTING_EXTRA}")
    return harness


POSTGRES_URL_VARIABLE = "RAINMAKER_TEST_POSTGRES_URL"
MYSQL_URL_VARIABLE = "RAINMAKER_TEST_MYSQL_URL"
REDIS_URL_VARIABLE = "RAINMAKER_TEST_REDIS_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/test"
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
def mysql_url() -> str:
    """A MySQL/MariaDB URL whose server answers (``$RAINMAKER_TEST_MYSQL_URL``)."""
    return backend_url(MYSQL_URL_VARIABLE, DEFAULT_MYSQL_URL, "MySQL/MariaDB", 3306)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis URL whose server answers (``$RAINMAKER_TEST_REDIS_URL``)."""
    return backend_url(REDIS_URL_VARIABLE, DEFAULT_REDIS_URL, "Redis", 6379)


@async_fixture
async def pattern_loader(tmp_path: Path) -> AsyncIterator[Callable[..., LoadedPattern]]:
    """``load_pattern`` rooted in ``tmp_path``; what it loaded is stopped after the test."""
    loaded: list[LoadedPattern] = []

    load_pattern = _harness().load_pattern

    def load(pattern: Any, settings: Any = None, **options: Any) -> LoadedPattern:
        options.setdefault("root", tmp_path)
        result: LoadedPattern = load_pattern(pattern, settings, **options)
        loaded.append(result)
        return result

    yield load
    for item in reversed(loaded):
        await item.stop()


@async_fixture
async def compose(tmp_path: Path) -> AsyncIterator[Callable[..., TestComposition]]:
    """``compose_for_test`` rooted in ``tmp_path``; every app is stopped after the test."""
    composed: list[TestComposition] = []

    compose_for_test = _harness().compose_for_test

    def make(patterns: Any, **options: Any) -> TestComposition:
        options.setdefault("root", tmp_path)
        result: TestComposition = compose_for_test(patterns, **options)
        composed.append(result)
        return result

    yield make
    for item in reversed(composed):
        await item.app.stop()


@async_fixture
async def http_client() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """Makes ``httpx.AsyncClient`` objects bound to an app; all are closed after the test."""
    make_http_client = _harness().http_client
    from rainmaker.kernel.application import Application

    clients: list[httpx.AsyncClient] = []

    def make(app: Any, **options: Any) -> httpx.AsyncClient:
        """``app``: an Application, or what ``pattern_loader`` / ``compose`` returned."""
        target = app if isinstance(app, Application) else app.app
        client: httpx.AsyncClient = make_http_client(target, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
