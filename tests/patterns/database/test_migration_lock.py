"""The migration lock, at the seam: concurrent ``rainmaker db upgrade`` processes.

Three installed ``rainmaker`` processes upgrade one fresh database at once (PostgreSQL,
MariaDB, SQLite): all exit 0 and the schema is at head. Before the lock, one of two crashed
on PostgreSQL every time (``UniqueViolation`` on ``pg_type_typname_nsp_index`` while
creating the same version table) with a hint blaming the revision. A held lock makes an
upgrade wait; past ``migration_lock_timeout`` it fails naming the holder, never the revision.
Health stays down (so ``/health/ready`` is 503) while the schema is behind the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rainmaker.kernel.health import Status
from rainmaker.patterns.database.migration_lock import PG_CLASS_ID, PG_OBJECT_ID, mysql_lock_name
from rainmaker.testing.harness import build_app
from tests.patterns.database.conftest import PG_HOST, PG_PORT, PG_USER, pg_url
from tests.patterns.database.dbtest_patterns import audit, ledger
from tests.patterns.database.mysql_databases import fresh_mysql_database  # noqa: F401

RAINMAKER = str(Path(sys.executable).with_name("rainmaker"))
REPO = Path(__file__).resolve().parents[3]
LOCAL = (
    '["tests.patterns.database.dbtest_patterns.ledger:pattern", '
    '"tests.patterns.database.dbtest_patterns.audit:pattern"]'
)
RACERS = 3
BOUND = 120.0  # seconds any one subprocess may take; never a performance claim


def app_folder(root: Path, db_toml: str) -> Path:
    (root / "rainmaker.toml").write_text(
        f'[app]\nname = "racer"\nlocal_patterns = {LOCAL}\n\n'
        f"[patterns.db]\n{db_toml}\n\n"
        '[patterns.audit]\nuse = "audit"\n\n'
        '[patterns.ledger]\nuse = "ledger"\n'
    )
    return root


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", "NO_COLOR": "1"}
    env.update(extra)
    return env


def race(folder: Path, *args: str, env: dict[str, str] | None = None) -> list[Any]:
    """Start RACERS ``rainmaker db upgrade`` at once; their completed processes."""
    command = [RAINMAKER, "db", "upgrade", "--app", str(folder), *args]
    processes = [
        subprocess.Popen(
            command,
            cwd=REPO,
            env=env or environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(RACERS)
    ]
    results = []
    for process in processes:
        output, _ = process.communicate(timeout=BOUND)
        results.append((process.returncode, output))
    return results


def status(folder: Path) -> str:
    done = subprocess.run(
        [RAINMAKER, "db", "status", "--app", str(folder)],
        cwd=REPO,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=BOUND,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def assert_all_upgraded(folder: Path, results: list[Any]) -> None:
    for code, output in results:
        assert code == 0, output
        assert "fix the revision" not in output, output
    shown = status(folder)
    assert "behind" not in shown, shown
    for pattern in ("ledger", "audit"):
        assert pattern in shown, shown


def test_three_upgrades_race_on_a_fresh_postgres_database(
    fresh_pg_database: str, tmp_path: Path
) -> None:
    folder = app_folder(tmp_path, f'use = "database-postgres"\nurl = "{pg_url(fresh_pg_database)}"')
    assert_all_upgraded(folder, race(folder))


def test_three_upgrades_race_on_a_fresh_mariadb_database(
    fresh_mysql_database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    folder = app_folder(tmp_path, f'use = "database-mysql"\nurl = "{fresh_mysql_database}"')
    assert_all_upgraded(folder, race(folder))


def test_three_upgrades_race_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    folder = app_folder(tmp_path, 'use = "database-sqlite"\npath = "race.db"')
    assert_all_upgraded(folder, race(folder))


async def _hold_pg_lock(database: str, seconds: float, held: asyncio.Event) -> None:
    import asyncpg

    connection = await asyncpg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        database=database,
        server_settings={"application_name": "stuck-migrator"},
    )
    try:
        await connection.execute(f"SELECT pg_advisory_lock({PG_CLASS_ID}, {PG_OBJECT_ID})")
        held.set()
        await asyncio.sleep(seconds)
    finally:
        await connection.close()


async def _upgrade_while_held(folder: Path, database: str, *, hold: float, timeout: str) -> Any:
    held = asyncio.Event()
    holder = asyncio.create_task(_hold_pg_lock(database, hold, held))
    await held.wait()
    began = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        RAINMAKER,
        "db",
        "upgrade",
        "--app",
        str(folder),
        cwd=REPO,
        env=environment(RAINMAKER__DB__MIGRATION_LOCK_TIMEOUT=timeout),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), BOUND)
    took = time.monotonic() - began
    still_held = not holder.done()
    holder.cancel()  # the lock is released as its connection closes
    with contextlib.suppress(asyncio.CancelledError):
        await holder
    return process.returncode, output.decode(), took, still_held


async def test_a_held_lock_times_out_naming_the_holder(
    fresh_pg_database: str, tmp_path: Path
) -> None:
    folder = app_folder(tmp_path, f'use = "database-postgres"\nurl = "{pg_url(fresh_pg_database)}"')
    code, output, _, still_held = await _upgrade_while_held(
        folder, fresh_pg_database, hold=120.0, timeout="1.5"
    )
    assert code != 0, output
    assert "migration lock" in output and "stuck-migrator" in output, output
    assert "pid" in output and "migration_lock_timeout" in output, output
    assert "fix the revision" not in output, output
    assert still_held, output  # it gave up at its bound, not when the holder left


async def test_an_upgrade_waits_for_the_holder_then_migrates(
    fresh_pg_database: str, tmp_path: Path
) -> None:
    folder = app_folder(tmp_path, f'use = "database-postgres"\nurl = "{pg_url(fresh_pg_database)}"')
    code, output, took, _ = await _upgrade_while_held(
        folder, fresh_pg_database, hold=2.0, timeout="60"
    )
    assert code == 0, output
    assert took >= 1.5, (took, output)  # it waited for the lock
    assert "behind" not in status(folder)


async def test_a_held_mariadb_lock_times_out_naming_the_connection(
    fresh_mysql_database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    import asyncmy
    from sqlalchemy.engine import make_url

    url = make_url(fresh_mysql_database)
    folder = app_folder(tmp_path, f'use = "database-mysql"\nurl = "{fresh_mysql_database}"')
    connection = await asyncmy.connect(
        host=url.host, port=url.port or 3306, user=url.username, password=url.password or ""
    )
    try:
        async with connection.cursor() as cursor:
            await cursor.execute("SELECT GET_LOCK(%s, 0)", (mysql_lock_name(str(url.database)),))
            await cursor.execute("SELECT CONNECTION_ID()")
            (connection_id,) = await cursor.fetchone()
        done = await asyncio.to_thread(
            subprocess.run,
            [RAINMAKER, "db", "upgrade", "--app", str(folder)],
            cwd=REPO,
            env=environment(RAINMAKER__DB__MIGRATION_LOCK_TIMEOUT="1"),
            capture_output=True,
            text=True,
            timeout=BOUND,
        )
    finally:
        await connection.ensure_closed()
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert f"connection id {connection_id}" in output, output
    assert "fix the revision" not in output, output


async def test_health_is_down_while_the_schema_is_behind(
    fresh_pg_database: str, tmp_path: Path
) -> None:
    app = build_app(
        {
            "db": {"use": "database-postgres", "url": pg_url(fresh_pg_database)},
            "ledger": {"use": "ledger"},
        },
        root=tmp_path,
        extra_patterns=[ledger.pattern, audit.pattern],
    )
    async with app.running():
        report = await app.health()
        (db,) = [item for item in report.instances if item.instance == "db"]
        assert db.status is Status.DOWN
        assert "schema is behind" in db.details["reason"]
        assert "ledger" in db.details["reason"]
        assert not report.ready
        module: Any = app.instances["db"].module
        await module.migrator().upgrade()
        report = await app.health()
        assert report.ready, report
