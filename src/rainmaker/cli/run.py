"""``rainmaker run`` (serve the app on uvicorn) and ``rainmaker routes`` (list its routes).

Graceful shutdown under ``run``: the first SIGTERM/SIGINT marks the app as draining, so
``/health/ready`` answers 503 while the server still accepts connections for
``shutdown.delay`` seconds (the load balancer notices and stops sending traffic); then the
socket closes, in-flight requests get ``shutdown.timeout`` seconds to finish, and the
modules stop in reverse start order. The exit code is 0. A second signal skips the delay,
and a second Ctrl-C (SIGINT) also stops waiting for open requests: a person pressing it
twice wants the process gone. In the development profile there is no load balancer to
warn, so Ctrl-C skips the delay from the first press (SIGTERM, from an orchestrator or a
compose file, still waits it).

``--reload`` restarts on edits of the app's ``.py`` files, its composition file and its
``.env``.

With ``--workers N`` or ``--reload`` uvicorn runs the app in child processes, which need
an import string: :func:`create_app` rebuilds the app there from environment variables.
In that mode the readiness delay does not apply (uvicorn's supervisor signals its
workers directly); the drain bound still does.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, Protocol

import typer
from rich.console import Console
from rich.table import Table

from rainmaker.cli.options import AppOption, ProfileOption, SetOption, load_app
from rainmaker.cli.startup_gc import PausedCollection
from rainmaker.kernel.application import Application
from rainmaker.kernel.composition import DEFAULT_PROFILE, DOTENV, find_composition
from rainmaker.kernel.errors import CompositionError, Problem, StartupError
from rainmaker.kernel.loading import load
from rainmaker.kernel.logging import WEB_ROLE, bind_role
from rainmaker.kernel.secret_strength import enforce as enforce_secret_strength

ENV_APP = "RAINMAKER_RUN_APP"
ENV_PROFILE = "RAINMAKER_RUN_PROFILE"
ENV_SET = "RAINMAKER_RUN_SET"

DEFAULT_DELAY = 5.0
DEFAULT_TIMEOUT = 30.0


class _RouteRow(Protocol):
    methods: tuple[str, ...]
    path: str
    instance: str
    pattern: str
    auth: str

    def as_dict(self) -> dict[str, Any]: ...


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``routes`` to the ``rainmaker`` app."""
    app.command("run")(run)
    app.command("routes")(routes)


def run(
    app_path: AppOption = Path("."),
    profile: ProfileOption = None,
    overrides: SetOption = None,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    reload: Annotated[
        bool, typer.Option("--reload", help="Restart when the app's files change (development).")
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Worker processes (each runs the whole app).")
    ] = 1,
) -> None:
    """Serve the app on uvicorn until SIGTERM/SIGINT, then shut down gracefully."""
    bind_role(WEB_ROLE)
    # No cyclic collection until every module has started (see rainmaker.cli.startup_gc).
    with PausedCollection() as collection:
        application = load(app_path, profile=profile, overrides=overrides or ())
        module = http_module(application)  # composes: an invalid one exits 2 before binding
        enforce_secret_strength(application, host=host)  # published secrets: exit 2 if exposed
        delay, timeout = _shutdown_settings(module)
        # shutdown.delay lets a load balancer notice; a developer's Ctrl-C has none to wait for.
        interrupt_delay = 0.0 if application.composition.profile == DEFAULT_PROFILE else delay
        if reload or workers > 1:
            collection.resume()  # the supervisor runs for good; its workers build their own app
            _run_supervised(
                app_path, profile, overrides or [], host, port, reload, workers, timeout
            )
            return
        sock = _bind(host, port, application)
        config = _server_config(application, timeout, module)
        # uvicorn's loop choice (uvloop when installed), as `uvicorn app:app` would use.
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(_serve(application, config, sock, delay, interrupt_delay, collection.resume))


def routes(
    app_path: AppOption = Path("."),
    profile: ProfileOption = None,
    overrides: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every mounted route: method, path, owning instance (pattern) and authentication.

    AUTH is "yes" when the route's dependencies include a fastapi.security scheme
    (OAuth2PasswordBearer, HTTPBearer, APIKeyHeader…), "optional" when every such scheme
    is built with auto_error=False, "no" otherwise.
    """
    application = load_app(app_path, profile, overrides)
    module = http_module(application)
    listing = getattr(module, "routes", None)
    if listing is None:
        raise CompositionError(
            [Problem(f"{type(module).__name__} cannot list its routes", key="routes")]
        )
    rows: list[_RouteRow] = listing()
    console = Console(highlight=False, soft_wrap=True)
    if as_json:
        console.print_json(json.dumps([row.as_dict() for row in rows]))
        return
    table = Table("METHOD", "PATH", "PATTERN", "AUTH", box=None, pad_edge=False)
    for row in rows:
        table.add_row(",".join(row.methods), row.path, f"{row.instance} ({row.pattern})", row.auth)
    console.print(table)


def http_module(application: Application) -> Any:
    """The app's module providing ``Http``, composed (see :meth:`Application.http_module`)."""
    return application.http_module()


def create_app() -> Application:
    """The app factory uvicorn imports in worker and reload processes (reads ``ENV_*``)."""
    bind_role(WEB_ROLE)
    return load(
        os.environ.get(ENV_APP, "."),
        profile=os.environ.get(ENV_PROFILE) or None,
        overrides=json.loads(os.environ.get(ENV_SET, "[]")),
    )


class GracefulServer:
    """Factory for a ``uvicorn.Server`` whose signal handling drains before it stops.

    uvicorn is imported lazily (inside :meth:`create`) so that ``rainmaker --help`` stays
    fast.
    """

    @staticmethod
    def create(
        config: Any, application: Application, delay: float, interrupt_delay: float | None = None
    ) -> Any:
        """The server; ``interrupt_delay`` replaces ``delay`` when the first signal is
        SIGINT (Ctrl-C)."""
        import uvicorn

        class _Server(uvicorn.Server):
            drain_deadline: float | None = None

            def handle_exit(self, sig: int, frame: FrameType | None) -> None:
                # Not recorded in _captured_signals on purpose: uvicorn would re-raise the
                # signal after serving and the process would die by it instead of exit 0.
                if self.drain_deadline is None and not self.should_exit:
                    wait = delay
                    if sig == signal.SIGINT and interrupt_delay is not None:
                        wait = interrupt_delay
                    self.drain_deadline = time.monotonic() + wait
                    application.begin_shutdown()
                    application.log.info("server.draining", delay_s=wait, signal=sig)
                elif self.should_exit:
                    self.force_exit = True
                else:
                    self.should_exit = True
                    # Ctrl-C twice: stop now, without waiting for open requests.
                    self.force_exit = sig == signal.SIGINT
                    application.log.info(
                        "server.stopping", signal=sig, waits_for_requests=not self.force_exit
                    )

            async def on_tick(self, counter: int) -> bool:
                if self.drain_deadline is not None and time.monotonic() >= self.drain_deadline:
                    self.should_exit = True
                result: bool = await super().on_tick(counter)
                return result

        return _Server(config)


def _server_config(application: Application, timeout: float, module: Any) -> Any:
    import uvicorn

    from rainmaker.cli.http_protocol import guarded_protocol

    limits = getattr(getattr(module, "settings", None), "server", None)
    return uvicorn.Config(
        application,
        lifespan="off",  # we start and stop the app around the server, to report failures
        log_config=None,  # our structlog configuration renders uvicorn's records too
        access_log=False,  # the edge middleware writes the access log
        timeout_graceful_shutdown=math.ceil(timeout),  # uvicorn takes whole seconds
        http=guarded_protocol(limits.head_timeout, limits.max_head_size, limits.body_timeout)
        if limits is not None
        else "httptools",
    )


async def _serve(
    application: Application,
    config: Any,
    sock: socket.socket,
    delay: float,
    interrupt_delay: float | None = None,
    started: Callable[[], None] = lambda: None,
) -> None:
    """Start the app, serve it on ``sock`` until a signal, then stop it; ``started`` is
    called once every module runs, before the server takes its first request."""
    server = GracefulServer.create(config, application, delay, interrupt_delay)
    try:
        await application.start()
        started()
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        timeline = application.timeline
        application.log.info(
            "server.listening",
            url=f"http://{shown}:{port}",
            ready_ms=round(timeline.ready_ms or 0.0, 1),
            slowest=timeline.summary(3),  # which patterns made the start slow
        )
        try:
            await server.serve(sockets=[sock])
        finally:
            application.begin_shutdown()
            await application.stop()
    finally:
        sock.close()
    if not server.started:
        raise StartupError("the server did not start; see the log above")


def _bind(host: str, port: int, application: Application) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and accepted connections inherit it. Without it, Nagle's algorithm and delayed ACKs
    # hold every two-write response ~40 ms (measured: 700 instead of 9,000 req/s).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            pattern_id=application.name,
            hint="choose another --port, or stop the process that uses this one",
        ) from exc
    # Listening now, not when uvicorn gets to it: `server.listening` is logged before
    # serve() starts, and a client acting on that line must be queued, not refused (uvicorn
    # 0.36 takes long enough to get there that it was). 2048 is uvicorn's default backlog.
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _shutdown_settings(module: Any) -> tuple[float, float]:
    shutdown = getattr(getattr(module, "settings", None), "shutdown", None)
    if shutdown is None:  # an Http provider other than framework-fastapi
        return DEFAULT_DELAY, DEFAULT_TIMEOUT
    return float(shutdown.delay), float(shutdown.timeout)


def _run_supervised(
    app_path: Path,
    profile: str | None,
    overrides: list[str],
    host: str,
    port: int,
    reload: bool,
    workers: int,
    timeout: float,
) -> None:
    import uvicorn

    os.environ[ENV_APP] = str(app_path.resolve())
    os.environ[ENV_PROFILE] = profile or ""
    os.environ[ENV_SET] = json.dumps(overrides)
    folder = app_path if app_path.is_dir() else app_path.parent
    uvicorn.run(
        f"{__name__}:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        reload_dirs=[str(folder.resolve())] if reload else None,
        # The composition is the app too: an edited rainmaker.toml restarts it like a .py.
        reload_includes=["*.py", find_composition(app_path).name, DOTENV] if reload else None,
        workers=None if reload else workers,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=math.ceil(timeout),  # uvicorn takes whole seconds
    )
