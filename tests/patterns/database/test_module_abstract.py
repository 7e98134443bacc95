"""A database backend that does not say how to build its engine fails at construction.

``DatabaseModule`` is an ABC, so the missing ``_engine`` override is reported when the kernel
builds the module (what ``rainmaker plan`` does), not at the first connection.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from rainmaker import Pattern, StartupError
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import parse_composition
from rainmaker.kernel.loading import assemble
from rainmaker.patterns.database.module import (
    DatabaseModule,
    MySQLDatabaseModule,
    PostgresDatabaseModule,
    SqliteDatabaseModule,
)
from rainmaker.patterns.database.settings import SqliteSettings


class EnginelessModule(DatabaseModule[SqliteSettings]):
    """Forgets ``_engine``."""


def test_a_backend_without_engine_cannot_be_constructed() -> None:
    with pytest.raises(TypeError, match="_engine"):
        EnginelessModule(SqliteSettings(), object())  # type: ignore[abstract, arg-type]


def test_the_built_in_backends_are_complete() -> None:
    for module in (SqliteDatabaseModule, PostgresDatabaseModule, MySQLDatabaseModule):
        assert not inspect.isabstract(module), module.__name__


def test_the_kernel_reports_the_missing_override_when_it_builds_the_app() -> None:
    pattern: Pattern[Any] = Pattern(
        id="database-engineless",
        version="1.0.0",
        name="Engineless database",
        settings=SqliteSettings,
        factory=EnginelessModule,
    )
    composition = parse_composition(
        '[app]\nname = "t"\n[patterns.db]\nuse = "database-engineless"\n',
        root=Path("."),
        environ={},
    )
    app = assemble(composition, Catalog([pattern]))
    built = r"db \(database-engineless\) could not be built.*_engine"
    with pytest.raises(StartupError, match=built):
        app.build()
