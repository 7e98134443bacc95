"""The composed application: builds modules, starts and stops them, reports health.

:class:`Application` is what :func:`rainmaker.load` returns. It is also a plain ASGI app:
it runs the kernel's start and stop on the ASGI ``lifespan`` and hands every other scope to
the instance that provides ``Http``, so it serves under uvicorn, granian or gunicorn alike.

Lifecycle::

    created -> starting -> running -> draining -> stopping -> stopped
                       \\-> failed (what had started is stopped again, in reverse)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog

from rainmaker.capabilities.http import Http, HttpApp, Receive, Scope, Send
from rainmaker.kernel.app_view import AppView
from rainmaker.kernel.capability import Capability
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import Composition
from rainmaker.kernel.context import AppContext
from rainmaker.kernel.errors import CompositionError, PatternError, Problem, StartupError
from rainmaker.kernel.health import Health, HealthReport, InstanceHealth, Status
from rainmaker.kernel.install_hint import install_hint
from rainmaker.kernel.instance import Instance
from rainmaker.kernel.logging import configure_logging
from rainmaker.kernel.module import Module
from rainmaker.kernel.registry import ServiceRegistry, Services
from rainmaker.kernel.secrets import secret_values
from rainmaker.kernel.timeline import Timeline, TimelineRecorder

HEALTH_TIMEOUT = 5.0


class Application:
    """A validated, resolved composition and the running state of its modules."""

    def __init__(
        self,
        composition: Composition,
        catalog: Catalog,
        instances: Sequence[Instance],
        order: Sequence[str],
    ) -> None:
        by_name = {instance.name: instance for instance in instances}
        self.composition = composition
        self.catalog = catalog
        self.instances: dict[str, Instance] = {name: by_name[name] for name in order}
        self.registry = ServiceRegistry()
        self.services = Services(
            self.registry, asker="app", installed_providers=catalog.providers_of
        )
        # Initial values, not .bind(): binding would freeze the logging configuration of
        # this moment, and load() configures logging only after building the app.
        self.log = structlog.get_logger("rainmaker", app=composition.app.name)
        self.state = "created"
        self._started: list[Instance] = []
        self._lock = asyncio.Lock()
        self._shutdown_hooks: list[Callable[[], Any]] = []
        self._http: HttpApp | None = None
        self._timeline = TimelineRecorder()
        for instance in self.instances.values():
            self._timeline.add(instance.name, instance.pattern.id)

    @property
    def name(self) -> str:
        return self.composition.app.name

    @property
    def timeline(self) -> Timeline:
        """Each instance's import, build, start and stop time (see :mod:`.timeline`)."""
        return self._timeline.snapshot()

    def configure_logging(self, level: str | None = None) -> None:
        """Configure logs as ``[app]`` says (``level`` overrides), scrubbing every secret."""
        configure_logging(
            level=level or self.composition.app.log_level,
            fmt=self.composition.app.log_format,
            secrets=[s for i in self.instances.values() for s in secret_values(i.settings)],
        )

    @property
    def order(self) -> list[str]:
        """Instance names in start order."""
        return list(self.instances)

    # -- building --------------------------------------------------------------------------

    def build(self, only: Collection[str] | None = None) -> None:
        """Build every module (no I/O), or the instances named in ``only``. Idempotent;
        ``start`` calls it."""
        wanted = [i for i in self.instances.values() if only is None or i.name in only]
        if all(i.module is not None for i in wanted):
            return
        if not structlog.is_configured():
            # Built without load() (tests, embedding): still log like the app says, not with
            # structlog's development defaults, and still scrub secrets.
            self.configure_logging()
        view = AppView(self)
        for instance in wanted:
            if instance.module is not None:
                continue
            ctx = AppContext(
                env=self.composition.profile,
                instance=instance.name,
                services=Services(
                    self.registry,
                    asker=instance.name,
                    bindings=instance.bindings,
                    installed_providers=self.catalog.providers_of,
                ),
                # A lazy logger: it follows the logging configuration in force when it logs.
                log=structlog.get_logger(
                    "rainmaker", app=self.name, instance=instance.name, pattern=instance.pattern.id
                ),
                config=self.composition.app,
                app=view,
            )
            try:
                self._timeline.import_factory(instance.name, instance.pattern.factory)
                began = time.perf_counter()
                try:
                    instance.module = instance.pattern.build(instance.settings, ctx)
                finally:
                    self._timeline.record(instance.name, "build", began)
            except PatternError:
                raise
            except Exception as exc:
                raise StartupError(
                    f"{instance.name} ({instance.pattern.id}) could not be built: {exc}",
                    pattern_id=instance.name,
                    hint=self._missing_library_hint(instance.pattern.id, exc),
                    cause=exc,
                ) from exc

    def modules(self) -> dict[str, Module[Any]]:
        """Every instance's module, in start order (building them first, no I/O)."""
        self.build()
        return {
            name: instance.module
            for name, instance in self.instances.items()
            if instance.module is not None
        }

    def http_module(self) -> Module[Any]:
        """Build the modules and return the one providing ``Http``, composed.

        Raises :class:`CompositionError` when no instance provides ``Http`` or when the HTTP
        module's composition is invalid (mounts, duplicate routes, middleware order).
        """
        self.build()
        providers = [
            instance
            for instance in self.instances.values()
            if any(p.capability.name == Http.name for p in instance.pattern.provisions)
        ]
        if not providers or providers[0].module is None:
            raise CompositionError(
                [
                    Problem(
                        "no pattern instance provides Http, so there is nothing to serve",
                        fix='add [patterns.http] with use = "framework-fastapi" to rainmaker.toml',
                    )
                ]
            )
        module = providers[0].module
        compose = getattr(module, "compose", None)
        if compose is not None:
            compose()
        return module

    def _missing_library_hint(self, pattern_id: str, error: Exception) -> str | None:
        """For a library the pattern imports but nothing installed: the pip command."""
        if not isinstance(error, ModuleNotFoundError):
            return None
        distribution = self.catalog.distributions.get(pattern_id)
        return install_hint(distribution, error.name) or (
            f"install the package that provides the module {error.name!r}"
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, needs: Iterable[Capability[Any]] | None = None) -> None:
        """Start every module in dependency order, each within ``[app] start_timeout``.

        With ``needs``, only the instances providing those capabilities and what they
        require (transitively) are built and started: a command that reads the job queue
        starts the jobs backend and its database, not the whole app. If one fails, those
        already started are stopped in reverse and a :class:`StartupError` names the
        failing instance and why.
        """
        async with self._lock:
            if self.state == "running":
                return
            selected = None if needs is None else self.instances_needed_for(needs)
            self.build(selected)
            self.state = "starting"
            self._timeline.begin_start()
            timeout = self.composition.app.start_timeout
            for instance in self.instances.values():
                if selected is not None and instance.name not in selected:
                    continue
                assert instance.module is not None
                began = time.perf_counter()
                try:
                    try:
                        await asyncio.wait_for(instance.module.start(), timeout)
                    finally:
                        self._timeline.record(instance.name, "start", began)
                    self._check_provided(instance)
                except Exception as exc:
                    # The failing module may have registered services before raising.
                    self.registry.discard_instance(instance.name)
                    error = _startup_error(instance, exc, timeout)
                    self.log.error(
                        "pattern.start_failed", instance=instance.name, error=error.message
                    )
                    error.stopped = tuple(i.name for i in reversed(self._started))
                    await self._stop_started()
                    self.state = "failed"
                    raise error from exc
                self._started.append(instance)
                self.log.debug(
                    "pattern.started",
                    instance=instance.name,
                    ms=round((time.perf_counter() - began) * 1000, 2),
                )
            self.state = "running"
            self._timeline.ready()
            self._http = self.services.get(Http)  # looked up once, not per request
            self.log.info(
                "app.started",
                patterns=len(self._started),
                ready_ms=round(self._timeline.ready_ms or 0.0, 1),
                slowest=self._timeline.summary(3),
            )

    async def stop(self) -> None:
        """Stop every started module in the exact reverse of start order. Idempotent."""
        async with self._lock:
            if self.state in ("created", "stopped", "failed"):
                return
            self.state = "stopping"
            self._http = None
            await self._stop_started()
            self.state = "stopped"
            self.log.info("app.stopped")

    async def _stop_started(self) -> None:
        timeout = self.composition.app.stop_timeout
        while self._started:
            instance = self._started.pop()
            assert instance.module is not None
            try:
                began = time.perf_counter()
                try:
                    await asyncio.wait_for(instance.module.stop(), timeout)
                finally:
                    self._timeline.record(instance.name, "stop", began)
            except Exception as exc:  # keep stopping the others: a leak beats a hang
                self.log.error("pattern.stop_failed", instance=instance.name, error=repr(exc))
            finally:
                self.registry.discard_instance(instance.name)

    def begin_shutdown(self) -> None:
        """Mark the app as draining: readiness turns false; shutdown hooks run once."""
        if self.state != "running":
            return
        self.state = "draining"
        self.log.info("app.draining")
        for hook in self._shutdown_hooks:
            hook()

    def on_shutdown(self, hook: Callable[[], Any]) -> None:
        """Call ``hook()`` when shutdown begins (before anything stops)."""
        self._shutdown_hooks.append(hook)

    def instances_needed_for(self, needs: Iterable[Capability[Any]]) -> set[str]:
        """Names of the instances providing ``needs`` and of everything they require."""
        names = {c.name for c in needs}
        pending = [
            i.name
            for i in self.instances.values()
            if any(p.capability.name in names for p in i.pattern.provisions)
        ]
        needed: set[str] = set()
        while pending:
            name = pending.pop()
            if name not in needed:
                needed.add(name)
                pending.extend(self.instances[name].bindings.values())
        return needed

    @asynccontextmanager
    async def running(
        self, needs: Iterable[Capability[Any]] | None = None
    ) -> AsyncIterator[Application]:
        """``async with app.running():`` starts the app (or only what ``needs`` asks for,
        see :meth:`start`) and always stops it."""
        await self.start(needs)
        try:
            yield self
        finally:
            await self.stop()

    def _check_provided(self, instance: Instance) -> None:
        missing = [
            p.capability.name
            for p in instance.pattern.provisions
            if instance.name not in self.registry.providers(p.capability)
        ]
        if missing:
            raise StartupError(
                f"{instance.pattern.id} declares that it provides {', '.join(missing)} "
                "but did not register it in start()",
                pattern_id=instance.name,
                hint="call self.ctx.services.register(<Capability>, service) in start()",
            )

    # -- health ----------------------------------------------------------------------------

    async def health(self) -> HealthReport:
        """Every instance's health, checked concurrently, each with its latency."""
        checks = [self._instance_health(instance) for instance in self.instances.values()]
        return HealthReport(self.state, tuple(await asyncio.gather(*checks)))

    async def _instance_health(self, instance: Instance) -> InstanceHealth:
        began = time.perf_counter()
        if instance.module is None or instance not in self._started:
            health = Health.down(reason=f"not started (app is {self.state})")
        else:
            try:
                health = await asyncio.wait_for(instance.module.health(), HEALTH_TIMEOUT)
            except TimeoutError:
                health = Health.down(reason=f"health check took over {HEALTH_TIMEOUT:g}s")
            except Exception as exc:
                health = Health.down(reason=f"health check raised {type(exc).__name__}")
        latency = (time.perf_counter() - began) * 1000
        status = health.status if isinstance(health.status, Status) else Status(health.status)
        return InstanceHealth(instance.name, instance.pattern.id, status, health.details, latency)

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        http = self._http
        if http is None:
            detail = (
                f"The app is {self.state}."
                if self.state != "running"
                else "The app composes no pattern that provides Http (e.g. framework-fastapi)."
            )
            await _problem_response(send, 503, detail)
            return
        await http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.begin_shutdown()
                try:
                    await self.stop()
                except Exception as exc:
                    await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    def __repr__(self) -> str:
        return f"Application({self.name!r}, state={self.state!r}, instances={self.order})"


def _startup_error(instance: Instance, exc: BaseException, timeout: float) -> StartupError:
    label = f"{instance.name} ({instance.pattern.id})"
    if isinstance(exc, StartupError):
        return exc
    if isinstance(exc, TimeoutError):
        return StartupError(
            f"{label} did not start within {timeout:g}s",
            pattern_id=instance.name,
            hint="check the service it connects to, or raise [app] start_timeout",
            cause=exc,
        )
    if isinstance(exc, PatternError):
        return StartupError(
            f"{label} failed to start: {exc.message}",
            pattern_id=instance.name,
            hint=exc.hint,
            cause=exc,
        )
    # An unexpected exception carries no advice of its own: point at what usually causes it.
    return StartupError(
        f"{label} failed to start: {type(exc).__name__}: {exc}",
        pattern_id=instance.name,
        hint=f"check the settings of [patterns.{instance.name}] (rainmaker config show) and "
        f"the service {instance.pattern.id} uses",
        cause=exc,
    )


async def _problem_response(send: Send, status: int, detail: str) -> None:
    """An RFC 9457 body for the few answers the kernel gives before any Http pattern can."""
    body = json.dumps(
        {"type": "about:blank", "title": "Service unavailable", "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
