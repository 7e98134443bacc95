"""``rainmaker worker`` (run jobs) and ``rainmaker jobs failed|retry|stats``.

``worker`` is a process role with the same composition as the web app: it loads the app,
starts every module (nothing is served over HTTP) and runs the jobs instance's worker
until SIGTERM/SIGINT. Then it stops taking jobs, lets the jobs in flight finish within the
pattern's ``drain_timeout``, returns the rest to the queue, stops the modules in reverse
order and exits 0.

Run this module directly (``python -m rainmaker.cli.worker worker --app …``) to use these
commands before they are added to the ``rainmaker`` command.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rainmaker.capabilities.jobs import JobQueue, Jobs
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
from rainmaker.kernel.loading import load
from rainmaker.kernel.signals import install_shutdown_handlers

if TYPE_CHECKING:
    from rainmaker.patterns.jobs.module import JobsModule

console = Console(highlight=False, soft_wrap=True)

jobs_app = typer.Typer(
    name="jobs",
    help="Background jobs: dead letters, retries and queue backlog.",
    no_args_is_help=True,
)

QueuesOption = Annotated[
    str | None,
    typer.Option("--queues", help="Comma-separated queues to consume (default: the setting)."),
]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option("--concurrency", min=1, help="Jobs run at once (default: the setting)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def register(app: typer.Typer) -> None:
    """Add ``worker`` and the ``jobs`` command group to the ``rainmaker`` app."""
    app.command("worker")(worker)
    app.add_typer(jobs_app, name="jobs")


def worker(
    app_path: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    overrides: SetOption = None,
    queues: QueuesOption = None,
    concurrency: ConcurrencyOption = None,
) -> None:
    """Run jobs with the app's composition until SIGTERM/SIGINT, then drain and exit 0."""
    application = load(app_path, profile=profile, overrides=overrides or ())
    jobs_module(application)  # fail with exit 2 before starting anything
    chosen = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    asyncio.run(_work(application, chosen, concurrency))


async def _work(
    application: Application, queues: list[str] | None, concurrency: int | None
) -> None:
    await application.start()
    try:
        module = jobs_module(application)
        remove = install_shutdown_handlers(
            asyncio.get_running_loop(), lambda _sig: _shut_down(application, module)
        )
        try:
            await module.work(queues=queues, concurrency=concurrency)
        finally:
            remove()
    finally:
        application.begin_shutdown()
        await application.stop()


def _shut_down(application: Application, module: JobsModule[Any]) -> None:
    application.log.info("worker.stopping")
    application.begin_shutdown()
    module.stop_working()  # also when the app was not running (begin_shutdown is a no-op)


def jobs_module(application: Application) -> JobsModule[Any]:
    """The module of the app's jobs instance (built, not started)."""
    from rainmaker.patterns.jobs.module import JobsModule

    modules = built_modules(application, JobsModule)
    if not modules:
        raise PatternError(
            "this app composes no jobs instance, so there is nothing to run",
            hint='add [patterns.jobs] with use = "jobs-local" (or jobs-redis, jobs-rabbitmq)',
        )
    if len(modules) > 1:
        raise PatternError("this app composes several jobs instances; one worker runs one")
    return modules[0]


async def _with_jobs(application: Application, action: Any) -> Any:
    async with application.running():
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
    """Each queue's backlog (waiting, delayed, oldest waiting age) and the dead letters."""
    application = load_app(app_path, profile, overrides)

    async def gather(service: JobQueue) -> tuple[Any, int]:
        return await service.stats(), len(await service.failed(10_000))

    queues, dead = asyncio.run(_with_jobs(application, gather))
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
        console.print_json(json.dumps({"queues": rows, "failed": dead}))
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
