"""A pooled PostgreSQL connection the server ended is replaced at checkout, not an error."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from sqlalchemy import text

from rainmaker.capabilities.database import Database
from rainmaker.testing.harness import build_app
from tests.patterns.database.conftest import PG_HOST, PG_PORT, PG_USER, pg_url


async def test_a_connection_the_server_ended_is_replaced(
    shared_pg_database: str, tmp_path: Path
) -> None:
    app = build_app(
        {
            "db": {
                "use": "database-postgres",
                "url": pg_url(shared_pg_database),
                "pool_size": 1,
                "max_overflow": 0,
            }
        },
        root=tmp_path,
    )
    async with app.running():
        db = app.services.require(Database)
        async with db.session() as session:
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
        admin = await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database=shared_pg_database
        )
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        await asyncio.sleep(0.5)  # the idle pooled connection reads the server's goodbye
        async with db.session() as session:
            assert await session.scalar(text("SELECT pg_backend_pid()")) != pid
