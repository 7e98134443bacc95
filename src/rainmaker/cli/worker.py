"""``rainmaker worker``: the worker process role, with the same composition as the web app.

It loads the app, starts every module (nothing is served over HTTP) and runs every loop
the composed modules contribute to the ``"worker"`` role (``Module.process_roles()``: the
built-in jobs patterns contribute theirs that way, as any pattern can) until
SIGTERM/SIGINT. Then it asks each loop to stop (the jobs loop lets jobs in flight finish
within its ``drain_timeout`` and returns the rest to the queue), stops the modules in
reverse order and exits 0.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from rainmaker.cli.options import CURRENT_FOLDER, AppOption, ProfileOption, SetOption
from rainmaker.kernel.application import Application
from rainmaker.kernel.contributions import WORKER_ROLE, ProcessRole, RoleOptions
from rainmaker.kernel.errors import PatternError
from rainmaker.kernel.loading import load
from rainmaker.kernel.logging import bind_role
from rainmaker.kernel.secret_strength import enforce as enforce_secret_strength
from rainmaker.kernel.signals import install_shutdown_handlers

QueuesOption = Annotated[
    str | None,
    typer.Option("--queues", help="Comma-separated queues to consume (default: the setting)."),
]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option("--concurrency", min=1, help="Jobs run at once (default: the setting)."),
]


def register(app: typer.Typer) -> None:
    """Add ``worker`` to the ``rainmaker`` app."""
    app.command("worker")(worker)


def worker(
    app_path: AppOption = CURRENT_FOLDER,
    profile: ProfileOption = None,
    overrides: SetOption = None,
    queues: QueuesOption = None,
    concurrency: ConcurrencyOption = None,
) -> None:
    """Run the app's worker loops (its jobs) until SIGTERM/SIGINT, then drain and exit 0."""
    bind_role(WORKER_ROLE)
    application = load(app_path, profile=profile, overrides=overrides or ())
    roles = worker_roles(application)  # fail with a message before starting anything
    enforce_secret_strength(application, host=None)  # it binds nothing: the profile decides
    chosen = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    asyncio.run(_work(application, roles, RoleOptions(queues=chosen, concurrency=concurrency)))


def worker_roles(application: Application) -> dict[str, ProcessRole]:
    """Each instance's contribution to the worker role (built, not started)."""
    roles: dict[str, ProcessRole] = {}
    for name, module in application.modules().items():
        role = module.process_roles().get(WORKER_ROLE)
        if role is None:
            continue
        if not isinstance(role, ProcessRole):
            raise PatternError(
                f"{name}: its worker role is a {type(role).__name__}, not a ProcessRole",
                pattern_id=name,
                hint="return an object with async run(options) and stop() from process_roles()",
            )
        roles[name] = role
    if not roles:
        raise PatternError(
            "no pattern in this app contributes to the worker role, so there is nothing to run",
            hint='add [patterns.jobs] with use = "jobs-local" (or jobs-redis, jobs-rabbitmq)',
        )
    return roles


async def _work(
    application: Application, roles: dict[str, ProcessRole], options: RoleOptions
) -> None:
    def shut_down(_signal: int) -> None:
        application.log.info("worker.stopping")
        application.begin_shutdown()
        for role in roles.values():
            role.stop()  # also when the app was not running yet

    remove = install_shutdown_handlers(asyncio.get_running_loop(), shut_down)
    try:
        await application.start()
        try:
            await _run_all(roles, options)
        finally:
            application.begin_shutdown()
            await application.stop()
    finally:
        remove()


async def _run_all(roles: dict[str, ProcessRole], options: RoleOptions) -> None:
    """Run every loop at once; when one fails, stop the others (they drain) and re-raise."""
    tasks = [
        asyncio.create_task(role.run(options), name=f"rainmaker.worker.{name}")
        for name, role in roles.items()
    ]
    done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    failed = [task for task in done if task.exception() is not None]
    if failed:
        for role in roles.values():
            role.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    if failed:
        raise failed[0].exception()  # type: ignore[misc]
