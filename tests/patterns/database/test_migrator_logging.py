"""Alembic's INFO narration is held back while a migrator runs, and only then.

Importing the migrator leaves the ``alembic`` logger alone; during a run its records below
WARNING are dropped unless a level was set on it explicitly; afterwards it is as before.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rainmaker.patterns.database.module import DatabaseModule
from rainmaker.testing.harness import build_app
from tests.patterns.database.dbtest_patterns import ledger


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def alembic_records() -> Iterator[Records]:
    logger = logging.getLogger("alembic")
    root = logging.getLogger()
    handler, level, root_level = Records(), logger.level, root.level
    logger.addHandler(handler)
    root.setLevel(logging.INFO)  # an app logging at INFO: Alembic's INFO would show
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        root.setLevel(root_level)


def test_importing_the_migrator_leaves_the_alembic_logger_alone() -> None:
    # A fresh interpreter: this one has imported the migrator already.
    check = (
        "import logging, rainmaker.patterns.database.migrator; "
        "assert logging.getLogger('alembic').level == logging.NOTSET"
    )
    subprocess.run([sys.executable, "-c", check], check=True)


async def upgrade_ledger(root: Path) -> None:
    app = build_app(
        {
            "db": {"use": "database-sqlite", "path": "quiet.db", "auto_migrate": False},
            "ledger": {"use": "ledger"},
        },
        root=root,
        extra_patterns=[ledger.pattern],
    )
    app.build()
    module = app.instances["db"].module
    assert isinstance(module, DatabaseModule)
    await module.connect()
    try:
        assert await module.migrator().upgrade()  # something moved: Alembic ran
    finally:
        await module.disconnect()


async def test_a_run_drops_alembic_info_and_restores_the_level(
    alembic_records: Records, tmp_path: Path
) -> None:
    logging.getLogger("alembic").setLevel(logging.NOTSET)
    await upgrade_ledger(tmp_path)
    assert not [r for r in alembic_records.records if r.levelno < logging.WARNING]
    assert logging.getLogger("alembic").level == logging.NOTSET


async def test_an_explicit_alembic_level_is_respected(
    alembic_records: Records, tmp_path: Path
) -> None:
    logging.getLogger("alembic").setLevel(logging.INFO)  # someone debugging migrations
    await upgrade_ledger(tmp_path)
    assert any("Running upgrade" in r.getMessage() for r in alembic_records.records)
    assert logging.getLogger("alembic").level == logging.INFO
