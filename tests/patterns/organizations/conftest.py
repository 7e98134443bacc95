"""Fixtures for the organizations tests: real apps (SQLite or PostgreSQL, auth-jwt with
cheap hashing, console email, HTTP) with the ``organizations`` pattern at the root.

PostgreSQL runs on 127.0.0.1:5432; the session creates one database and drops it at the
end (tests use fresh users and slugs, so they never collide). Without the server the
PostgreSQL half skips locally and fails under ``CI=true``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from rainmaker import utcnow
from rainmaker.capabilities.database import Database, SqlDatabase
from rainmaker.capabilities.organizations import OrganizationDirectory, Organizations
from rainmaker.kernel.application import Application
from rainmaker.kernel.pattern import Pattern
from rainmaker.patterns.email.outbox import read_outbox
from rainmaker.patterns.organizations.tables import invitations
from rainmaker.testing.harness import build_app
from tests.patterns.auth_jwt.conftest import auth_settings, pg_database  # noqa: F401

_TOKEN = re.compile(r"/invitations/([A-Za-z0-9_-]+)/accept")


@dataclass
class OrgsApp:
    """A started app: the HTTP client, the provider, the database and the email outbox."""

    app: Application
    client: httpx.AsyncClient
    directory: OrganizationDirectory
    db: SqlDatabase
    outbox: Path

    def invitation_token(self, email: str) -> str:
        """The token of the newest invitation email to ``email``."""
        for message in reversed(read_outbox(self.outbox)):
            if email.lower() in (r.lower() for r in message.recipients):
                found = _TOKEN.search(message.text or "")
                assert found is not None, message.text
                return found.group(1)
        raise AssertionError(f"no invitation email to {email}")

    async def expire_invitation(self, invitation_id: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                sa.update(invitations)
                .where(invitations.c.id == invitation_id)
                .values(expires_at=utcnow().replace(year=2000))
            )


MakeApp = Callable[..., Awaitable[OrgsApp]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``db`` instance's settings on each backend (migrations run at start)."""
    if request.param == "sqlite":
        return {"use": "database-sqlite", "path": "orgs.db"}
    from tests.patterns.database.conftest import pg_url

    name = request.getfixturevalue("pg_database")
    return {"use": "database-postgres", "url": pg_url(name), "auto_migrate": True}


@pytest.fixture
async def make_app(database: dict[str, Any], tmp_path: Path) -> AsyncIterator[MakeApp]:
    """``await make_app(orgs={...settings}, extra={...instances}, extra_patterns=[...])``."""
    started: list[tuple[Application, httpx.AsyncClient]] = []

    async def make(
        *,
        orgs: Mapping[str, Any] | None = None,
        extra: Mapping[str, Mapping[str, Any]] | None = None,
        extra_patterns: list[Pattern[Any]] | None = None,
    ) -> OrgsApp:
        folder = tmp_path / uuid.uuid4().hex[:8]
        folder.mkdir(parents=True)
        patterns: dict[str, Mapping[str, Any]] = {
            "db": database,
            "auth": auth_settings(),
            "mail": {
                "use": "email-console",
                "default_sender": "no-reply@example.com",
                "outbox": "outbox",
            },
            "http": {"use": "framework-fastapi", "access_log": False},
            "orgs": {"use": "organizations", **(orgs or {})},
            **(extra or {}),
        }
        app = build_app(patterns, root=folder, extra_patterns=extra_patterns or [])
        await app.start()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        started.append((app, client))
        directory = app.services.require(Organizations)
        db = app.services.require(Database)
        return OrgsApp(app, client, directory, db, folder / "outbox")

    yield make
    for app, client in reversed(started):
        await client.aclose()
        await app.stop()


@pytest.fixture
async def orgs_app(make_app: MakeApp) -> OrgsApp:
    """The default app."""
    return await make_app()
