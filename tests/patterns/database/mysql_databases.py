"""Throwaway databases on the MySQL/MariaDB server of the ``mysql_url`` fixture.

Each test database is created with a random name and dropped again, so tests never see
each other's tables and the server's own ``test`` database stays as it was.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url


def mysql_database_url(server_url: str, database: str) -> str:
    """``server_url`` pointing at ``database`` instead (password kept, for connecting)."""
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


async def _admin(server_url: str, statement: str) -> None:
    import asyncmy

    url = make_url(server_url)
    connection = await asyncmy.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        connect_timeout=5,
    )
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(statement)
    finally:
        await connection.ensure_closed()


def create_mysql_database(server_url: str) -> str:
    """A new empty database (utf8mb4) on the server; its name."""
    name = f"rm_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server_url, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    return name


def drop_mysql_database(server_url: str, name: str) -> None:
    asyncio.run(_admin(server_url, f"DROP DATABASE IF EXISTS `{name}`"))


@pytest.fixture(scope="session")
def shared_mysql_database(mysql_url: str) -> Iterator[str]:
    """The URL of one database for the whole session (tests make their own tables)."""
    name = create_mysql_database(mysql_url)
    try:
        yield mysql_database_url(mysql_url, name)
    finally:
        drop_mysql_database(mysql_url, name)


@pytest.fixture
def fresh_mysql_database(mysql_url: str) -> Iterator[str]:
    """The URL of an empty database for one test (migration tests need a clean slate)."""
    name = create_mysql_database(mysql_url)
    try:
        yield mysql_database_url(mysql_url, name)
    finally:
        drop_mysql_database(mysql_url, name)
