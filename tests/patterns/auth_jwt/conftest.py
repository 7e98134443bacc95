"""Fixtures for the auth-jwt tests: real apps (database, auth, HTTP, console email) on
SQLite and on PostgreSQL, with argon2 made cheap so the suite stays fast.

PostgreSQL runs on 127.0.0.1:5432; the tests create one database for the session and drop
it at the end (each test uses fresh email addresses, so they never collide). Without the
server the PostgreSQL half skips locally and fails under ``CI=true``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rainmaker.kernel.application import Application
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import parse_composition
from rainmaker.kernel.loading import assemble
from rainmaker.kernel.pattern import Pattern
from rainmaker.patterns.auth_jwt.service import JwtAuth
from rainmaker.patterns.email.outbox import OutboxMessage, read_outbox
from rainmaker.testing.harness import build_app, composition_text
from tests.patterns.database.conftest import create_pg_database, drop_pg_database, pg_url

SECRET = "test-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
CHEAP_HASHING = {"time_cost": 1, "memory_cost": 8, "parallelism": 1, "threads": 2}
PASSWORD = "correct horse battery staple"
CLIENT_HEADERS = {"content-type": "application/json"}


def auth_settings(**overrides: Any) -> dict[str, Any]:
    """auth-jwt settings for tests: a known secret and cheap hashing."""
    settings = {"use": "auth-jwt", "secret": SECRET, "hashing": CHEAP_HASHING, **overrides}
    return {key: value for key, value in settings.items() if value is not None}


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


@dataclass
class AuthApp:
    """A started app: its auth service, an HTTP client on it, and the email outbox."""

    app: Application
    client: httpx.AsyncClient
    auth: JwtAuth
    outbox: Path

    def mails(self) -> list[OutboxMessage]:
        return read_outbox(self.outbox) if self.outbox.exists() else []

    async def register(self, email: str | None = None, password: str = PASSWORD) -> str:
        """Register through HTTP; the new user's email."""
        email = email or new_email()
        answer = await self.client.post(
            "/auth/register", json={"email": email, "password": password}
        )
        assert answer.status_code == 201, answer.text
        return email

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        answer = await self.client.post("/auth/login", json={"email": email, "password": password})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


MakeApp = Callable[..., Awaitable[AuthApp]]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    from rainmaker.testing.servers import require_server
    from tests.patterns.database.conftest import PG_HOST, PG_PORT

    require_server("PostgreSQL", PG_HOST, PG_PORT)
    name = create_pg_database()
    try:
        yield name
    finally:
        drop_pg_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``db`` instance's settings on each backend (migrations run at start)."""
    if request.param == "sqlite":
        return {"use": "database-sqlite", "path": "auth.db"}
    name = request.getfixturevalue("pg_database")
    return {"use": "database-postgres", "url": pg_url(name), "auto_migrate": True}


@pytest.fixture
async def make_app(database: dict[str, Any], tmp_path: Path) -> AsyncIterator[MakeApp]:
    """``await make_app(**auth_overrides, mail=True, cache=False, extra={...}, profile=None)``."""
    started: list[tuple[Application, httpx.AsyncClient]] = []

    async def make(
        *,
        mail: bool = True,
        cache: bool = False,
        extra: Mapping[str, Mapping[str, Any]] | None = None,
        extra_patterns: list[Pattern[Any]] | None = None,
        root: Path | None = None,
        profile: str | None = None,
        **overrides: Any,
    ) -> AuthApp:
        folder = root or tmp_path / uuid.uuid4().hex[:8]
        folder.mkdir(parents=True, exist_ok=True)
        patterns: dict[str, Mapping[str, Any]] = {
            "db": database,
            "auth": auth_settings(**overrides),
            "http": {"use": "framework-fastapi", "access_log": False},
        }
        if mail:
            patterns["mail"] = {
                "use": "email-console",
                "default_sender": "no-reply@example.com",
                "outbox": "outbox",
            }
        if cache:
            patterns["cache"] = {"use": "cache-memory"}
        patterns.update(extra or {})
        if profile is None:
            app = build_app(patterns, root=folder, extra_patterns=extra_patterns or [])
        else:
            # build_app always composes the development profile; ctx.env follows the profile.
            catalog = Catalog.installed()
            for pattern in extra_patterns or []:
                catalog.add(pattern, origin="test")
            # A profile exists only when the composition names it: repeat one setting.
            text = composition_text("test", patterns)
            text += f'\n[profiles.{profile}.patterns.auth]\nuse = "auth-jwt"\n'
            composition = parse_composition(text, root=folder, profile=profile, environ={})
            app = assemble(composition, catalog)
        await app.start()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        started.append((app, client))
        module = app.instances["auth"].module
        service = module.service  # type: ignore[union-attr]
        return AuthApp(app, client, service, folder / "outbox")

    yield make
    for app, client in reversed(started):
        await client.aclose()
        await app.stop()


@pytest.fixture
async def auth_app(make_app: MakeApp) -> AuthApp:
    """The default app: auth with console email, no cache."""
    return await make_app()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(answer: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """``answer`` is problem+json with ``status`` (and ``code``); its body."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.headers
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body
