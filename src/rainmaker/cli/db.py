"""``rainmaker db``: each pattern's migrations (one Alembic branch per pattern).

``upgrade`` runs every branch (or one) in the app's dependency order, ``downgrade`` moves one
pattern back, ``status`` shows each pattern's current and head revision, ``revision``
writes a new revision into a pattern's migrations package. Only the database instances are
connected; no other pattern starts. SQLAlchemy is imported only when a command runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rainmaker.cli.options import (
    CURRENT_FOLDER,
    AppOption,
    ProfileOption,
    SetOption,
    load_app,
)
from rainmaker.kernel.application import Application
from rainmaker.kernel.contributions import MigrationRunner, MigrationState
from rainmaker.kernel.errors import PatternError

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
async def connected_runners(application: Application) -> AsyncIterator[list[MigrationRunner]]:
    """The :class:`MigrationRunner` of every module that offers one, connected, in start
    order: the app is built, not started, so only the databases are reached."""
    application.build()
    offered = [
        (name, offer)
        for name, module in application.modules().items()
        if (offer := module.migration_runner()) is not None
    ]
    if not offered:
        raise PatternError(
            "this app composes no database instance that runs migrations",
            hint='add one, e.g. [patterns.db] with use = "database-sqlite"',
        )
    async with AsyncExitStack() as stack:
        runners: list[MigrationRunner] = []
        for name, context in offered:
            runner = await stack.enter_async_context(context)
            if not isinstance(runner, MigrationRunner):
                raise PatternError(
                    f"{name}: migration_runner() gave {type(runner).__name__}, which is not "
                    "a MigrationRunner",
                    pattern_id=name,
                    hint="return an async context manager yielding a rainmaker.MigrationRunner",
                )
            runners.append(runner)
        yield runners


def _run(
    app: Path,
    profile: str | None,
    overrides: list[str] | None,
    work: Callable[[list[MigrationRunner]], Awaitable[T]],
) -> T:
    application = load_app(app, profile, overrides)

    async def main() -> T:
        async with connected_runners(application) as runners:
            return await work(runners)

    return asyncio.run(main())


def _find(runners: list[MigrationRunner], name: str) -> MigrationRunner:
    for runner in runners:
        if runner.handles(name):
            return runner
    known = sorted({pattern_id for runner in runners for pattern_id in runner.pattern_ids()})
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

    async def work(runners: list[MigrationRunner]) -> list[str]:
        if pattern is not None:
            return list(await _find(runners, pattern).upgrade(pattern))
        moved: list[str] = []
        for runner in runners:
            moved.extend(await runner.upgrade())
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

    async def work(runners: list[MigrationRunner]) -> str:
        return await _find(runners, pattern).downgrade(pattern, revision)

    console.print(f"[green]✓[/] {escape(_run(app, profile, set_, work))}")


@db_app.command("status")
def status(
    app: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    set_: SetOption = None,
) -> None:
    """Show each pattern's current and head revision."""

    async def work(runners: list[MigrationRunner]) -> list[MigrationState]:
        return [state for runner in runners for state in await runner.status()]

    table = Table("database", "pattern", "instances", "current", "head", "state")
    for column in table.columns:
        column.no_wrap = True  # revision ids are copied from here: never cut them
    behind = False
    for item in _run(app, profile, set_, work):
        state = "[green]up to date[/]" if item.up_to_date else "[yellow]behind[/]"
        behind = behind or not item.up_to_date
        table.add_row(
            item.database,
            item.pattern_id,
            ", ".join(item.instances),
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

    async def work(runners: list[MigrationRunner]) -> Path:
        runner = _find(runners, pattern)
        return await runner.revision(pattern, message, autogenerate=autogenerate)

    path = _run(app, profile, set_, work)
    console.print(f"[green]✓[/] wrote {escape(str(path))}")
