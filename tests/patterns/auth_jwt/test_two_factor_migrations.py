"""The 2FA revisions — auth-jwt ``a7e1c0de0004`` (``auth_two_factor``,
``auth_recovery_codes``) and organizations ``0a9c7e11d002``
(``orgs_organizations.require_two_factor``) — upgrade a database holding data, downgrade
and upgrade again, on SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from rainmaker.testing.harness import build_app
from tests.patterns.auth_jwt.conftest import auth_settings
from tests.patterns.auth_jwt.test_migrations import (  # noqa: F401
    empty_database,
    fresh_mysql_database,
    fresh_pg_database,
    migrator_of,
    postgres_server,
    rows,
)

ORGS_FIRST = "0a9c7e11d001"
AUTH_BEFORE = "a7e1c0de0003"


async def test_two_factor_revisions_round_trip(
    empty_database: dict[str, Any],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    app = build_app(
        {
            "db": empty_database,
            "auth": auth_settings(),
            "orgs": {"use": "organizations"},
            "mail": {"use": "email-console", "default_sender": "no-reply@example.com"},
            "http": {"use": "framework-fastapi", "access_log": False},
        },
        root=tmp_path,
    )
    async with migrator_of(app) as migrator:
        await migrator.upgrade(migrator.find(empty_database["use"]))
        auth = migrator.find("auth-jwt")
        orgs = migrator.find("organizations")
        await migrator.upgrade(auth, AUTH_BEFORE)
        await migrator.upgrade(orgs, ORGS_FIRST)
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        async with migrator.database.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO orgs_organizations (id, slug, name, created_at)"
                    " VALUES ('org-1', 'old-org', 'Old', :now)"
                ),
                {"now": now},
            )
        await migrator.upgrade(auth)
        await migrator.upgrade(orgs)
        [(flag,)] = await rows(
            migrator, "SELECT require_two_factor FROM orgs_organizations WHERE id = 'org-1'"
        )
        assert not flag  # existing organizations do not suddenly require 2FA
        assert await rows(migrator, "SELECT user_id FROM auth_two_factor") == []
        assert await rows(migrator, "SELECT id FROM auth_recovery_codes") == []

        await migrator.downgrade(orgs, ORGS_FIRST)
        await migrator.downgrade(auth, AUTH_BEFORE)
        assert await rows(migrator, "SELECT slug FROM orgs_organizations") == [("old-org",)]
        await migrator.upgrade(auth)
        await migrator.upgrade(orgs)
        [(flag,)] = await rows(migrator, "SELECT require_two_factor FROM orgs_organizations")
        assert not flag
