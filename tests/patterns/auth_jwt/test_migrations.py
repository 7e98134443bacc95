"""The auth-jwt revisions of issue 19 upgrade a database holding data, on every backend.

``a7e1c0de0002`` adds ``auth_users.email_canonical`` (backfilled from the folded addresses
the first revision stored) and ``a7e1c0de0003`` adds ``auth_refresh_families``
(backfilled from existing refresh tokens). Both run on SQLite, PostgreSQL and
MySQL/MariaDB, downgrade, and upgrade again; after them an account made before the
upgrade still logs in and its old session still refreshes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from rainmaker.kernel.application import Application
from rainmaker.patterns.auth_jwt.refresh import token_hash
from rainmaker.patterns.database.migrator import Migrator
from rainmaker.patterns.database.module import DatabaseModule
from rainmaker.testing.harness import build_app
from tests.patterns.auth_jwt.conftest import PASSWORD, auth_settings
from tests.patterns.database.conftest import fresh_pg_database, pg_url, postgres_server  # noqa: F401
from tests.patterns.database.mysql_databases import fresh_mysql_database  # noqa: F401

FIRST = "a7e1c0de0001"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def empty_database(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings of instance ``db`` on an empty database of each backend, not migrated."""
    if request.param == "sqlite":
        return {"use": "database-sqlite", "path": "old.db", "auto_migrate": False}
    if request.param == "postgres":
        name = request.getfixturevalue("fresh_pg_database")
        return {"use": "database-postgres", "url": pg_url(name), "auto_migrate": False}
    url = request.getfixturevalue("fresh_mysql_database")
    return {"use": "database-mysql", "url": url, "auto_migrate": False}


def compose(db: dict[str, Any], root: Path) -> Application:
    return build_app(
        {
            "db": db,
            "auth": auth_settings(),
            "http": {"use": "framework-fastapi", "access_log": False},
        },
        root=root,
    )


@asynccontextmanager
async def migrator_of(app: Application) -> AsyncIterator[Migrator]:
    app.build()
    module = app.instances["db"].module
    assert isinstance(module, DatabaseModule)
    await module.connect()
    try:
        yield module.migrator()
    finally:
        await module.disconnect()


async def rows(migrator: Migrator, sql: str) -> list[Any]:
    async with migrator.database.engine.connect() as connection:
        return list((await connection.execute(text(sql))).all())


async def test_upgrade_keeps_accounts_and_sessions(
    empty_database: dict[str, Any], tmp_path: Path
) -> None:
    root = tmp_path / "app"
    root.mkdir()
    user_id, live_family, dead_family = (str(uuid.uuid4()) for _ in range(3))
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)

    # A database at the first revision, with what that revision's code wrote: a folded
    # address, one live session and one revoked one.
    app = compose(empty_database, root)
    async with migrator_of(app) as migrator:
        await migrator.upgrade(migrator.find(empty_database["use"]))
        auth = migrator.find("auth-jwt")
        await migrator.upgrade(auth, FIRST)
        from argon2 import PasswordHasher

        password_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
        async with migrator.database.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO auth_users (id, email, password_hash, roles, scopes, verified,"
                    " disabled, token_version, created_at, updated_at) VALUES (:id, :email,"
                    " :hash, :roles, :scopes, :f, :f, 0, :now, :now)"
                ),
                {
                    "id": user_id,
                    "email": "ada.old@example.com",
                    "hash": password_hash,
                    "roles": '["user"]',
                    "scopes": "[]",
                    "f": False,
                    "now": now,
                },
            )
            for token_id, family, revoked in (
                (str(uuid.uuid4()), live_family, None),
                (str(uuid.uuid4()), dead_family, now),
            ):
                await connection.execute(
                    text(
                        "INSERT INTO auth_refresh_tokens (id, family_id, user_id, token_hash,"
                        " created_at, expires_at, used_at, revoked_at) VALUES (:id, :family,"
                        " :user, :hash, :now, :expires, NULL, :revoked)"
                    ),
                    {
                        "id": token_id,
                        "family": family,
                        "user": user_id,
                        "hash": token_hash(token_id),
                        "now": now,
                        "expires": now + timedelta(days=30),
                        "revoked": revoked,
                    },
                )

        await migrator.upgrade(auth)
        assert await rows(migrator, "SELECT email, email_canonical FROM auth_users") == [
            ("ada.old@example.com", "ada.old@example.com")
        ]
        families = {
            row.id: row
            for row in await rows(
                migrator, "SELECT id, user_id, expires_at, revoked_at FROM auth_refresh_families"
            )
        }
        assert set(families) == {live_family, dead_family}
        assert families[live_family].revoked_at is None
        assert families[dead_family].revoked_at is not None
        # Raw SQL: SQLite hands the time back as text, the others as datetime.
        assert str(families[live_family].expires_at)[:19] == str(now + timedelta(days=30))

        # Down and up again: both revisions are reversible with data in the tables.
        await migrator.downgrade(auth, FIRST)
        assert await rows(migrator, "SELECT email FROM auth_users") == [("ada.old@example.com",)]
        await migrator.upgrade(auth)

    # The account made before the upgrade logs in (any spelling) and refreshes.
    app = compose(empty_database, root)
    await app.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            answer = await client.post(
                "/auth/login", json={"email": "Ada.Old@Example.com", "password": PASSWORD}
            )
            assert answer.status_code == 200, answer.text
            refreshed = await client.post(
                "/auth/refresh", json={"refresh_token": answer.json()["refresh_token"]}
            )
            assert refreshed.status_code == 200, refreshed.text
            taken = await client.post(
                "/auth/register", json={"email": "ADA.OLD@example.com", "password": PASSWORD}
            )
            assert taken.status_code == 409, taken.text
    finally:
        await app.stop()
