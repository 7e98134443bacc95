"""``rainmaker db``: each pattern's migrations (one Alembic branch per pattern).

``upgrade`` runs every branch (or one) in the app's dependency order, ``downgrade`` moves one
pattern back, ``status`` shows each pattern's current and head revision, ``revision``
writes a new revision into a pattern's migrations package. Only the database instances are
connected; no other pattern starts. SQLAlchemy is imported only when a command runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rainmaker.cli.options import (
    CURRENT_FOLDER,
    AppOption,
    ProfileOption,
    SetOption,
    built_modules,
    load_app,
)
from rainmaker.kernel.application import Application
from rainmaker.kernel.errors import PatternError

if TYPE_CHECKING:
    from rainmaker.patterns.database.migrator import Branch, BranchStatus, Migrator

T = TypeVar("T")

console = Console(highlight=False)

db_app = typer.Typer(
    name="db",
    help="Database migrations: every pattern owns its tables and its Alembic branch.",
    no_args_is_help=True,
)

PatternOption = Annotated[
    str | None,
    typer.Option("--pattern", help="Pattern id (or instance name) whose migrations to run."),
]
RequiredPattern = Annotated[
    str,
    typer.Option("--pattern", help="Pattern id (or instance name) whose migrations to use."),
]


def register(app: typer.Typer) -> None:
    """Add the ``db`` command group to the ``rainmaker`` app."""
    app.add_typer(db_app, name="db")


@asynccontextmanager
async def connected_migrators(application: Application) -> AsyncIterator[list[Migrator]]:
    """One :class:`Migrator` per database instance of ``application``, connected.

    Instances whose pattern provides ``Database`` without being a Rainmaker database
    module are skipped (they manage their own schema).
    """
    from rainmaker.patterns.database.module import DatabaseModule

    modules = built_modules(application, DatabaseModule)
    if not modules:
        raise PatternError(
            "this app composes no database instance",
            hint='add one, e.g. [patterns.db] with use = "database-sqlite"',
        )
    opened: list[DatabaseModule[Any]] = []
    try:
        migrators = []
        for module in modules:
            await module.connect()
            opened.append(module)
            migrators.append(module.migrator())
        yield migrators
    finally:
        for module in opened:
            await module.disconnect()


def _run(
    app: Path,
    profile: str | None,
    overrides: list[str] | None,
    work: Callable[[list[Migrator]], Awaitable[T]],
) -> T:
    application = load_app(app, profile, overrides)

    async def main() -> T:
        async with connected_migrators(application) as migrators:
            return await work(migrators)

    return asyncio.run(main())


def _find(migrators: list[Migrator], name: str) -> tuple[Migrator, Branch]:
    for migrator in migrators:
        for branch in migrator.branches:
            if branch.matches(name):
                return migrator, branch
    known = sorted({b.pattern_id for m in migrators for b in m.branches})
    raise PatternError(
        f"no pattern {name!r} with migrations in this app",
        hint=f"patterns with migrations: {', '.join(known) or 'none'}",
    )


@db_app.command("upgrade")
def upgrade(
    pattern: PatternOption = None,
    app: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    set_: SetOption = None,
) -> None:
    """Upgrade every pattern's tables (or one pattern's) to its newest revision, in
    dependency order."""

    async def work(migrators: list[Migrator]) -> list[str]:
        if pattern is not None:
            migrator, branch = _find(migrators, pattern)
            return await migrator.upgrade(branch)
        moved = []
        for migrator in migrators:
            moved.extend(await migrator.upgrade())
        return moved

    moved = _run(app, profile, set_, work)
    for line in moved:
        console.print(f"[green]✓[/] {escape(line)}")
    if not moved:
        console.print("[green]✓[/] everything is up to date")


# ignore_unknown_options: "-1" is a revision, not an option.
@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, '-1' or 'base'.")],
    pattern: RequiredPattern,
    app: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    set_: SetOption = None,
) -> None:
    """Move one pattern's tables back to REVISION."""

    async def work(migrators: list[Migrator]) -> str:
        migrator, branch = _find(migrators, pattern)
        return await migrator.downgrade(branch, revision)

    console.print(f"[green]✓[/] {escape(_run(app, profile, set_, work))}")


@db_app.command("status")
def status(
    app: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    set_: SetOption = None,
) -> None:
    """Show each pattern's current and head revision."""

    async def work(migrators: list[Migrator]) -> list[tuple[str, list[BranchStatus]]]:
        return [(m.database.instance, list(await m.status())) for m in migrators]

    table = Table("database", "pattern", "instances", "current", "head", "state")
    for column in table.columns:
        column.no_wrap = True  # revision ids are copied from here: never cut them
    behind = False
    for database, statuses in _run(app, profile, set_, work):
        for item in statuses:
            state = "[green]up to date[/]" if item.up_to_date else "[yellow]behind[/]"
            behind = behind or not item.up_to_date
            table.add_row(
                database,
                item.branch.pattern_id,
                ", ".join(item.branch.instances),
                ", ".join(item.current) or "base",
                ", ".join(item.heads) or "base",
                state,
            )
    console.print(table)
    if behind:
        console.print("run [bold]rainmaker db upgrade[/] to apply the missing revisions")


@db_app.command("revision")
def revision(
    pattern: RequiredPattern,
    message: Annotated[str, typer.Option("--message", "-m", help="What the revision does.")],
    autogenerate: Annotated[
        bool,
        typer.Option(
            "--autogenerate", help="Compare the pattern's target_metadata with the database."
        ),
    ] = False,
    app: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    set_: SetOption = None,
) -> None:
    """Write a new revision file into a pattern's migrations package."""

    async def work(migrators: list[Migrator]) -> Path:
        migrator, branch = _find(migrators, pattern)
        return await migrator.revision(branch, message, autogenerate=autogenerate)

    path = _run(app, profile, set_, work)
    console.print(f"[green]✓[/] wrote {escape(str(path))}")
