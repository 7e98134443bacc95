"""Per-pattern migrations on both backends: order, downgrade, the prefix guard, revisions."""

from __future__ import annotations

import ast
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from rainmaker import Pattern, Settings
from rainmaker.capabilities.database import Database
from rainmaker.kernel.application import Application
from rainmaker.kernel.module import Module
from rainmaker.patterns.database.errors import MigrationRefusedError
from rainmaker.patterns.database.migrator import Migrator, tables_touched
from rainmaker.patterns.database.module import DatabaseModule
from rainmaker.testing.harness import build_app
from tests.patterns.database.dbtest_patterns import audit, ledger, rogue
from tests.patterns.database.dbtest_patterns.ledger import Ledger

TEST_PATTERNS: list[Pattern[Any]] = [ledger.pattern, audit.pattern, rogue.pattern]


def compose(db: Mapping[str, Any], root: Path, *names: str, **extra: Pattern[Any]) -> Application:
    # audit is declared before ledger on purpose: order comes from dependencies
    instances: dict[str, Mapping[str, Any]] = {"db": db}
    for name in names:
        instances[name] = {"use": name}
    return build_app(instances, root=root, extra_patterns=[*TEST_PATTERNS, *extra.values()])


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


async def tables_and_columns(migrator: Migrator) -> dict[str, set[str]]:
    async with migrator.database.engine.connect() as connection:

        def read(sync: Any) -> dict[str, set[str]]:
            inspector = inspect(sync)
            return {
                t: {c["name"] for c in inspector.get_columns(t)}
                for t in inspector.get_table_names()
            }

        return await connection.run_sync(read)


async def test_dependent_patterns_upgrade_in_order_downgrade_and_upgrade_again(
    fresh_database: dict[str, Any], app_root: Path
) -> None:
    app = compose(fresh_database, app_root, "audit", "ledger")
    assert app.order == ["db", "ledger", "audit"]
    async with migrator_of(app) as migrator:
        db_pattern = fresh_database["use"]
        assert [b.pattern_id for b in migrator.branches] == [db_pattern, "ledger", "audit"]
        assert all(not s.current for s in await migrator.status())

        moved = await migrator.upgrade()
        assert [line.split(":")[0].split(" ")[0] for line in moved] == [
            db_pattern,
            "ledger",
            "audit",
        ]
        statuses = {s.branch.pattern_id: s for s in await migrator.status()}
        assert all(s.up_to_date for s in statuses.values())
        assert statuses["ledger"].current == ("l002",)
        tables = await tables_and_columns(migrator)
        assert "currency" in tables["ledger_accounts"]
        assert {"rainmaker_outbox", "audit_events", "ledger_alembic_version"} <= set(tables)

        await migrator.downgrade(migrator.find("audit"), "base")
        await migrator.downgrade(migrator.find("ledger"), "-1")
        tables = await tables_and_columns(migrator)
        assert "audit_events" not in tables
        assert "currency" not in tables["ledger_accounts"]
        statuses = {s.branch.pattern_id: s for s in await migrator.status()}
        assert statuses["ledger"].current == ("l001",) and statuses["audit"].current == ()

        await migrator.downgrade(migrator.find("ledger"), "base")
        assert "ledger_accounts" not in await tables_and_columns(migrator)

        moved = await migrator.upgrade()
        assert [line.split(":")[0].split(" ")[0] for line in moved] == ["ledger", "audit"]
        assert all(s.up_to_date for s in await migrator.status())
        assert await migrator.upgrade() == []  # idempotent


async def test_migration_touching_another_prefix_is_refused_and_rolled_back(
    fresh_database: dict[str, Any], app_root: Path
) -> None:
    app = compose(fresh_database, app_root, "ledger", "rogue")
    async with migrator_of(app) as migrator:
        await migrator.upgrade(migrator.find(fresh_database["use"]))
        await migrator.upgrade(migrator.find("ledger"))
        with pytest.raises(MigrationRefusedError) as caught:
            await migrator.upgrade(migrator.find("rogue"))
        assert "'ledger_accounts'" in caught.value.message
        assert "rogue_" in caught.value.message
        tables = await tables_and_columns(migrator)
        assert "rogue_things" not in tables  # the allowed part was rolled back too
        assert "stolen" not in tables["ledger_accounts"]
        assert await migrator.current(migrator.find("rogue")) == ()


def test_prefix_guard_reads_the_statements_that_touch_tables() -> None:
    assert tables_touched('CREATE TABLE IF NOT EXISTS "a_x" (id int)') == ["a_x"]
    assert tables_touched("ALTER TABLE public.b_y ADD COLUMN z int") == ["b_y"]
    assert tables_touched("INSERT INTO c (x) SELECT x FROM d") == ["c"]
    assert tables_touched("CREATE UNIQUE INDEX ix ON e (x)") == ["e"]
    assert tables_touched("CREATE TABLE f (g_id int REFERENCES g (id) ON UPDATE CASCADE)") == [
        "f",
        "g",
    ]
    assert tables_touched("UPDATE h SET note = 'UPDATE other SET x'") == ["h"]
    assert tables_touched("SELECT * FROM anything") == []


async def test_auto_migrate_at_start_then_two_patterns_share_transactions(
    backend: str, fresh_database: dict[str, Any], app_root: Path
) -> None:
    app = compose({**fresh_database, "auto_migrate": True}, app_root, "audit", "ledger")
    async with app.running():
        db = app.services.require(Database)
        accounts = app.services.require(Ledger)
        module = app.instances["audit"].module
        assert isinstance(module, audit.AuditModule)
        trail = module.service

        async with db.transaction():
            await accounts.open(1, "alice", 100)
            await trail.record("open", 1)
        with pytest.raises(ZeroDivisionError):
            async with db.transaction():
                await accounts.move(1, -50)
                await trail.record("withdraw", 1)
                1 / 0  # noqa: B018
        assert await accounts.balance(1) == 100
        assert await trail.count() == 1


def _scratch_package(root: Path) -> str:
    name = f"scratch_{uuid.uuid4().hex[:10]}"
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from sqlalchemy import Column, Integer, MetaData, String, Table

            target_metadata = MetaData()
            Table(
                "scratch_items",
                target_metadata,
                Column("id", Integer, primary_key=True),
                Column("label", String(40), nullable=False),
            )
            """
        )
    )
    return name


async def test_revision_writes_and_autogenerates_within_the_prefix(
    fresh_database: dict[str, Any], app_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    package = _scratch_package(tmp_path)

    class ScratchSettings(Settings):
        """No settings."""

    scratch: Pattern[ScratchSettings] = Pattern(
        id="scratch",
        version="1.0.0",
        name="Scratch",
        settings=ScratchSettings,
        factory=Module,
        requires=[Database],
        migrations=package,
    )
    app = compose(fresh_database, app_root, "ledger", "scratch", scratch=scratch)
    try:
        async with migrator_of(app) as migrator:
            await migrator.upgrade()  # ledger's tables exist: autogenerate must ignore them
            branch = migrator.find("scratch")
            first = await migrator.revision(branch, "create items", autogenerate=True)
            source = first.read_text()
            ast.parse(source)  # the generated file is valid Python
            assert "op.create_table('scratch_items'" in source
            assert "ledger_accounts" not in source
            second = await migrator.revision(branch, "nothing yet")
            assert "down_revision" in second.read_text()
            await migrator.upgrade(branch)
            status = {s.branch.pattern_id: s for s in await migrator.status()}["scratch"]
            assert status.up_to_date and len(status.current) == 1
            assert "scratch_items" in await tables_and_columns(migrator)
    finally:
        sys.modules.pop(package, None)
