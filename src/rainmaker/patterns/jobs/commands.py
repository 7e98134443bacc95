"""``rainmaker jobs failed|retry|stats``: dead letters and queue backlog.

The jobs patterns contribute this command group through the ``rainmaker.commands``
entry-point group, as any pattern package can: ``rainmaker --help`` lists it where a jobs
pattern is installed. It reads the queue through the public ``Jobs`` capability of the
composed app, so every jobs backend (built-in or not) serves it. Only the jobs backend and
what it requires (its database, say) start: not the HTTP app, storage or payments.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    import rainmaker
    from rainmaker.capabilities import JobQueue

# `rainmaker --help` imports this module to list the group: it imports only typer and
# rich at the top; the composition machinery loads when a command runs.

console = Console(highlight=False, soft_wrap=True)

jobs_app = typer.Typer(
    name="jobs",
    help="Background jobs: dead letters, retries and queue backlog.",
    no_args_is_help=True,
)

AppOption = Annotated[
    Path,
    typer.Option("--app", help="The app folder (or its rainmaker.toml).", show_default="."),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile", "-p", help="Profile to apply (default: $RAINMAKER_PROFILE or development)."
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one setting: instance.key=value (repeatable)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CURRENT_FOLDER = Path(".")


def load_app(app: Path, profile: str | None, overrides: list[str] | None) -> rainmaker.Application:
    """The composition at ``app``; only warnings and errors are logged (we print tables)."""
    import rainmaker

    application = rainmaker.load(
        app, profile=profile, overrides=overrides or (), configure_logs=False
    )
    application.configure_logging(level="warning")
    return application


async def _with_jobs(application: rainmaker.Application, action: Any) -> Any:
    from rainmaker.capabilities import Jobs

    async with application.running(needs=[Jobs]):
        service: JobQueue = application.services.require(Jobs)
        return await action(service)


@jobs_app.command("failed")
def failed(
    app_path: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    overrides: SetOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Dead-lettered jobs (retries exhausted), newest first."""
    application = load_app(app_path, profile, overrides)
    jobs = asyncio.run(_with_jobs(application, lambda s: s.failed(limit)))
    rows = [
        {
            "id": job.id,
            "name": job.name,
            "queue": job.queue,
            "args": list(job.args),
            "kwargs": dict(job.kwargs),
            "attempts": job.attempts,
            "error": job.error,
            "failed_at": job.failed_at.isoformat(),
        }
        for job in jobs
    ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    if not rows:
        console.print("no failed jobs")
        return
    table = Table("ID", "JOB", "QUEUE", "ATTEMPTS", "FAILED AT", "ERROR", box=None, pad_edge=False)
    for row in rows:
        table.add_row(
            row["id"],
            escape(row["name"]),
            row["queue"],
            str(row["attempts"]),
            row["failed_at"],
            escape(row["error"][:120]),
        )
    console.print(table)


@jobs_app.command("retry")
def retry(
    failed_id: Annotated[str, typer.Argument(help="The id `rainmaker jobs failed` shows.")],
    app_path: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    overrides: SetOption = None,
) -> None:
    """Enqueue a dead-lettered job again (its attempts start over)."""
    application = load_app(app_path, profile, overrides)
    job_id = asyncio.run(_with_jobs(application, lambda s: s.retry(failed_id)))
    console.print(f"enqueued again as job {job_id}")


@jobs_app.command("stats")
def stats(
    app_path: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    overrides: SetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Each queue's backlog (waiting, delayed, oldest waiting age), the dead letters and,
    where the backend tracks them, committed jobs not yet settled by a worker."""
    application = load_app(app_path, profile, overrides)

    async def gather(service: JobQueue) -> tuple[Any, int, dict[str, int] | None]:
        # ``tracked`` is not part of the Jobs capability: only backends that keep committed
        # jobs in the database until settled (jobs-redis on a database) have it.
        tracked = getattr(service, "tracked", None)
        counts = await tracked() if callable(tracked) else None
        return await service.stats(), len(await service.failed(10_000)), counts

    queues, dead, tracked = asyncio.run(_with_jobs(application, gather))
    rows = [
        {
            "queue": s.queue,
            "waiting": s.waiting,
            "delayed": s.delayed,
            "oldest_age_s": None if s.oldest_age is None else round(s.oldest_age, 3),
        }
        for s in queues
    ]
    if as_json:
        found: dict[str, Any] = {"queues": rows, "failed": dead}
        if tracked is not None:
            found["tracked"] = tracked
        console.print_json(json.dumps(found))
        return
    table = Table("QUEUE", "WAITING", "DELAYED", "OLDEST (s)", box=None, pad_edge=False)
    for row in rows:
        oldest = row["oldest_age_s"]
        table.add_row(
            row["queue"],
            str(row["waiting"]),
            str(row["delayed"]),
            "-" if oldest is None else str(oldest),
        )
    console.print(table)
    console.print(f"failed jobs: {dead}")
    if tracked is not None:
        console.print(
            f"tracked until settled (committed, kept in the database): {tracked['tracked']}, "
            f"sent again after the broker lost them: {tracked['resent']}"
        )
