"""Fixtures for the database tests: both backends, and throwaway PostgreSQL databases.

PostgreSQL tests run against the real server on 127.0.0.1:5432; each database they create
is dropped again. Without the server they skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rainmaker.testing.servers import require_server

PG_HOST = os.environ.get("RAINMAKER_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("RAINMAKER_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("RAINMAKER_TEST_PG_USER", "postgres")
BACKENDS = ["sqlite", "postgres"]


def pg_url(database: str, *, host: str = PG_HOST, port: int = PG_PORT) -> str:
    return f"postgresql://{PG_USER}@{host}:{port}/{database}"


async def _admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def create_pg_database() -> str:
    name = f"rm_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    return name


def drop_pg_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_server() -> None:
    require_server("PostgreSQL", PG_HOST, PG_PORT)


@pytest.fixture(scope="session")
def shared_pg_database(postgres_server: None) -> Iterator[str]:
    """One database for the whole session (tests create and drop their own tables)."""
    name = create_pg_database()
    try:
        yield name
    finally:
        drop_pg_database(name)


@pytest.fixture
def fresh_pg_database(postgres_server: None) -> Iterator[str]:
    """An empty database for one test (migration tests need a clean slate)."""
    name = create_pg_database()
    try:
        yield name
    finally:
        drop_pg_database(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings of instance ``db`` on an empty database of ``backend``."""
    if backend == "sqlite":
        return {"use": "database-sqlite", "path": "fresh.db", "auto_migrate": False}
    name = request.getfixturevalue("fresh_pg_database")
    return {"use": "database-postgres", "url": pg_url(name), "auto_migrate": False}


@pytest.fixture
def app_root(tmp_path: Path) -> Path:
    return tmp_path

