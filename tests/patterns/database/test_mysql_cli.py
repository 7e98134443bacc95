"""``rainmaker db upgrade|status|downgrade`` on MariaDB with every built-in pattern's
migrations: the database's outbox, auth-jwt, jobs-local and payments.

Each branch goes up, all the way down to base and up again, and ``status`` agrees at each
step — the proof that every built-in migration is portable to MySQL/MariaDB.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from rainmaker.cli.main import app as cli
from rainmaker.patterns.database.mysql import DRIVER
from tests.patterns.database.mysql_databases import fresh_mysql_database  # noqa: F401 (fixture)

pytestmark = pytest.mark.mysql

PATTERNS = ["database-mysql", "auth-jwt", "jobs-local", "payment-local"]


@pytest.fixture
def app_folder(tmp_path: Path, fresh_mysql_database: str) -> Path:  # noqa: F811
    (tmp_path / "rainmaker.toml").write_text(
        '[app]\nname = "acme"\n\n'
        f'[patterns.db]\nuse = "database-mysql"\nurl = "{fresh_mysql_database}"\n\n'
        '[patterns.http]\nuse = "framework-fastapi"\n\n'
        '[patterns.auth]\nuse = "auth-jwt"\n'
        'secret = "a-test-secret-that-is-long-enough-0123456789"\n\n'
        '[patterns.jobs]\nuse = "jobs-local"\n\n'
        '[patterns.payments]\nuse = "payment-local"\n'
        'webhook_secret = "whsec_test_only_0123456789abcdef"\n'
    )
    return tmp_path


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def statuses(output: str) -> dict[str, str]:
    """pattern id -> the rest of its table row (current, head, state)."""
    found = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if len(cells) >= 6 and cells[1] in PATTERNS:
            found[cells[1]] = " ".join(cells[3:])
    return found


def tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url.replace("mysql://", f"{DRIVER}://", 1))
        try:
            async with engine.connect() as connection:
                names = await connection.run_sync(lambda c: inspect(c).get_table_names())
                return set(names)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_every_builtin_migration_goes_up_down_and_up_again(
    app_folder: Path,
    fresh_mysql_database: str,  # noqa: F811
) -> None:
    app = str(app_folder)
    before = statuses(run("db", "status", "--app", app))
    assert set(before) == set(PATTERNS)
    assert all(row.startswith("base") and "behind" in row for row in before.values())

    run("db", "upgrade", "--app", app)
    after = statuses(run("db", "status", "--app", app))
    assert all(row.endswith("up to date") for row in after.values()), after
    created = tables(fresh_mysql_database)
    assert {"rainmaker_outbox", "auth_users", "jobs_queue", "payments_customers"} <= created

    for pattern in reversed(PATTERNS):
        run("db", "downgrade", "--pattern", pattern, "base", "--app", app)
    down = statuses(run("db", "status", "--app", app))
    assert all(row.startswith("base") and "behind" in row for row in down.values()), down
    left = tables(fresh_mysql_database)
    assert {t for t in left if not t.endswith("alembic_version")} == set()

    run("db", "upgrade", "--app", app)
    again = statuses(run("db", "status", "--app", app))
    assert all(row.endswith("up to date") for row in again.values()), again
    assert "up to date" in run("db", "upgrade", "--app", app)
