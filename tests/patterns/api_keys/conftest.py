"""Fixtures for ``api-keys``: the database on each backend, and composed apps."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rainmaker.capabilities.auth import Auth, Authenticator
from rainmaker.kernel.application import Application
from rainmaker.testing.harness import build_app, http_client
from tests.patterns.auth_jwt.conftest import auth_settings, pg_database  # noqa: F401
from tests.patterns.database.conftest import pg_url
from tests.patterns.database.mysql_databases import shared_mysql_database  # noqa: F401

SCOPES = {"projects:read": "read projects", "projects:write": "create projects"}
PASSWORD = "correct horse battery staple"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def database(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``db`` instance's settings on each backend (migrations run at start)."""
    if request.param == "sqlite":
        return {"use": "database-sqlite", "path": "keys.db"}
    if request.param == "postgres":
        name = request.getfixturevalue("pg_database")
        return {"use": "database-postgres", "url": pg_url(name), "auto_migrate": True}
    url = request.getfixturevalue("shared_mysql_database")
    return {"use": "database-mysql", "url": url, "auto_migrate": True}


@dataclass
class KeysApp:
    """A started app with ``api-keys``, its client, and helpers to sign users in."""

    app: Application
    client: httpx.AsyncClient

    @property
    def auth(self) -> Authenticator:
        return self.app.services.require(Auth)

    async def token(self, email: str | None = None, **options: Any) -> dict[str, str]:
        """Bearer headers of a new user's access token."""
        user = await self.auth.create_user(
            email or f"{uuid.uuid4().hex[:10]}@example.com", PASSWORD, **options
        )
        pair = await self.auth.issue_tokens(user)
        return {"Authorization": f"Bearer {pair.access_token}"}

    async def new_key(self, headers: Mapping[str, str], **body: Any) -> dict[str, Any]:
        answer = await self.client.post("/api-keys", json={"name": "ci", **body}, headers=headers)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created


MakeApp = Callable[..., Awaitable[KeysApp]]


@pytest.fixture
async def make_app(database: dict[str, Any], tmp_path: Path) -> AsyncIterator[MakeApp]:
    """``await make_app(keys={...settings}, extra={...instances}, local=[patterns])``."""
    started: list[KeysApp] = []

    async def make(
        *,
        keys: Mapping[str, Any] | None = None,
        extra: Mapping[str, Mapping[str, Any]] | None = None,
        local: list[Any] | None = None,
    ) -> KeysApp:
        folder = tmp_path / uuid.uuid4().hex[:8]
        folder.mkdir(parents=True)
        patterns: dict[str, Mapping[str, Any]] = {
            "db": database,
            "auth": auth_settings(),
            "http": {"use": "framework-fastapi", "access_log": False},
            "keys": {"use": "api-keys", "scopes": SCOPES, **(keys or {})},
            **(extra or {}),
        }
        app = build_app(patterns, root=folder, name="keys", extra_patterns=local or [])
        await app.start()
        running = KeysApp(app, http_client(app))
        started.append(running)
        return running

    yield make
    for running in reversed(started):
        await running.client.aclose()
        await running.app.stop()
