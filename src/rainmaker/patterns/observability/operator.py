"""The operator surface: runtime management endpoints under ``operator.path``.

Spring Boot Actuator's ``/loggers``, ``/threaddump`` and ``/startup``, answered by pattern
instance: the effective log level of every logger (and ``PUT`` to change one), a stack dump
of every thread and asyncio task, the startup timeline, the effective configuration
(redacted, as ``rainmaker config show`` prints it), the installed pattern versions and, in
development, a profile of the running process by pattern
(:mod:`~rainmaker.patterns.observability.process_profile`).

Off by default. On, every request passes :meth:`OperatorGuard.__call__` first:

1. the client address must be allowed (``operator.allow_from``; by default loopback only
   in development, anywhere in other profiles) — else 403;
2. then a credential: ``Authorization: Bearer <operator.token>``, or, when a pattern
   provides ``Auth``, an access token whose identity holds ``operator.role`` — else 401
   (no or a wrong credential) or 403 (a valid identity without the role). In development
   with neither a token nor Auth composed, the loopback address is the credential.

Outside development, enabling the surface with neither a token nor Auth fails the start:
such a surface could never be reached, or would have to be open.
"""

from __future__ import annotations

import hmac
import ipaddress
import platform
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from rainmaker import (
    AppContext,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    StartupError,
    UnauthorizedError,
    display_setting,
    secret_values,
)
from rainmaker.capabilities.auth import Auth
from rainmaker.patterns.observability import log_levels
from rainmaker.patterns.observability.process_profile import MAX_SECONDS, ProcessProfiler
from rainmaker.patterns.observability.stacks import task_stacks, thread_stacks

if TYPE_CHECKING:
    from rainmaker.patterns.observability.settings import OperatorSettings

DEVELOPMENT = "development"
LOOPBACK_NETWORKS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
MASK = "***"


class LevelChange(BaseModel):
    """The body of ``PUT <path>/loggers/{name}``."""

    level: str | None = Field(
        description="One of debug, info, warning, error, critical; null to inherit."
    )


class OperatorGuard:
    """Address first, then credentials (see the module docstring)."""

    def __init__(self, settings: OperatorSettings, ctx: AppContext) -> None:
        self.settings = settings
        self.ctx = ctx
        development = ctx.env == DEVELOPMENT
        configured = settings.allow_from
        self.networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = (
            [ipaddress.ip_network(n, strict=False) for n in configured]
            if configured is not None
            else (LOOPBACK_NETWORKS if development else ())
        )
        self.any_address = configured is None and not development
        self.development = development

    def check_reachable(self) -> None:
        """At start: refuse a surface nobody could use outside development."""
        if self.development or self.settings.token is not None:
            return
        if self.ctx.services.get(Auth) is None:
            raise StartupError(
                "operator.enabled outside development needs a way in: operator.token, or a "
                "pattern that provides Auth (operators then need the role "
                f"{self.settings.role!r})",
                pattern_id=self.ctx.instance,
                hint="set operator.token = '${OPERATOR_TOKEN}' (at least 32 characters)",
            )

    async def __call__(self, request: Request) -> None:
        self._check_address(request)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        auth = self.ctx.services.get(Auth)
        expected = self.settings.token
        if not header:
            if expected is None and auth is None and self.development:
                return  # development, loopback: the address is the credential
            raise UnauthorizedError(
                "the operator endpoints need 'Authorization: Bearer <token>': the "
                "operator.token"
                + (f", or an access token with the role {self.settings.role!r}" if auth else ""),
                pattern_id=self.ctx.instance,
            )
        if scheme.lower() != "bearer" or not token:
            raise UnauthorizedError(
                "the Authorization header must be 'Bearer <token>'", pattern_id=self.ctx.instance
            )
        if expected is not None and hmac.compare_digest(
            token.encode(), expected.get_secret_value().encode()
        ):
            return
        if auth is None:
            raise UnauthorizedError("wrong operator token", pattern_id=self.ctx.instance)
        identity = await auth.verify_token(token)  # UnauthorizedError when it is not valid
        if not identity.has_role(self.settings.role):
            raise ForbiddenError(
                f"the operator endpoints require the role {self.settings.role!r}",
                pattern_id=self.ctx.instance,
            )

    def _check_address(self, request: Request) -> None:
        if self.any_address:
            return
        host = request.client.host if request.client is not None else ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is None or not any(address in network for network in self.networks):
            where = host or "an unknown address"
            allowed = ", ".join(str(n) for n in self.networks) or "nowhere"
            raise ForbiddenError(
                f"the operator endpoints do not answer requests from {where}; allowed: {allowed}",
                pattern_id=self.ctx.instance,
                hint="set operator.allow_from to the networks operators connect from",
            )


class OperatorSurface:
    """The routes; state it changes (log levels) is put back when the app stops."""

    def __init__(self, settings: OperatorSettings, ctx: AppContext) -> None:
        self.settings = settings
        self.ctx = ctx
        self.guard = OperatorGuard(settings, ctx)
        self.levels = log_levels.LevelChanges()
        self.profiler = ProcessProfiler(ctx)

    def instances(self) -> list[str]:
        return list(self.ctx.app.instances)

    def stop(self) -> None:
        self.levels.restore(self.instances())

    # -- answers ----------------------------------------------------------------------

    def loggers(self) -> dict[str, Any]:
        names = log_levels.logger_names(self.instances())
        return {
            "levels": list(log_levels.LEVELS),
            "loggers": {name: log_levels.describe(name) for name in names},
        }

    def set_level(self, name: str, change: LevelChange) -> dict[str, Any]:
        level = change.level.lower() if change.level is not None else None
        if level is not None and level not in log_levels.LEVELS:
            raise InvalidInputError(
                f"{change.level!r} is not a log level; use one of "
                f"{', '.join(log_levels.LEVELS)} (or null to inherit)",
                pattern_id=self.ctx.instance,
            )
        known = set(log_levels.logger_names(self.instances()))
        if name not in known:
            raise NotFoundError(
                f"no logger named {name!r}; GET {self.settings.path}/loggers lists them",
                pattern_id=self.ctx.instance,
            )
        described = self.levels.set(name, level, self.instances())
        self.ctx.log.info("operator.log_level_changed", logger=name, level=level)
        return {"logger": name, **described}

    def config(self) -> dict[str, Any]:
        """Every instance's effective settings with the layer that set each (redacted)."""
        secrets = sorted(
            (s for i in self.ctx.app.instances.values() for s in secret_values(i.settings)),
            key=len,
            reverse=True,
        )
        instances = {}
        for instance in self.ctx.app.instances.values():
            model = type(instance.settings)
            instances[instance.name] = {
                "pattern": instance.pattern.id,
                "settings": [
                    {
                        "key": key,
                        "value": _scrub(display_setting(model, key, value), secrets),
                        "source": source,
                    }
                    for key, value, source in instance.settings_with_sources()
                ],
            }
        return {"profile": self.ctx.env, "instances": instances}

    def versions(self) -> dict[str, Any]:
        from rainmaker import __version__

        return {
            "rainmaker": __version__,
            "python": platform.python_version(),
            "patterns": {
                instance.name: {"pattern": instance.pattern.id, "version": instance.pattern.version}
                for instance in self.ctx.app.instances.values()
            },
        }

    def router(self) -> APIRouter:
        router = APIRouter(
            prefix=self.settings.path,
            dependencies=[Depends(self.guard)],
            include_in_schema=False,
        )
        path = self.settings.path

        @router.get("")
        async def index() -> dict[str, Any]:
            return {
                "endpoints": {
                    "loggers": f"{path}/loggers",
                    "threads": f"{path}/threads",
                    "startup": f"{path}/startup",
                    "config": f"{path}/config",
                    "versions": f"{path}/versions",
                },
                "actions": {"profile": f"POST {path}/profile?seconds=10 (development only)"},
            }

        @router.get("/loggers")
        async def loggers() -> dict[str, Any]:
            return self.loggers()

        @router.put("/loggers/{name}")
        async def set_level(name: str, change: LevelChange) -> dict[str, Any]:
            return self.set_level(name, change)

        @router.get("/threads")
        async def threads() -> dict[str, Any]:
            return {"threads": thread_stacks(), "tasks": task_stacks()}

        @router.get("/startup")
        async def startup() -> dict[str, Any]:
            return self.ctx.app.timeline.as_dict()

        @router.get("/config")
        async def config() -> dict[str, Any]:
            return self.config()

        @router.get("/versions")
        async def versions() -> dict[str, Any]:
            return self.versions()

        @router.post("/profile")
        async def profile(
            seconds: float = Query(10.0, gt=0, le=MAX_SECONDS, description="How long to sample."),
        ) -> dict[str, Any]:
            finished = await self.profiler.run(seconds)
            return finished.as_dict(f"{path}/profile.html")

        @router.get("/profile.html", response_class=HTMLResponse)
        async def profile_html() -> HTMLResponse:
            if self.profiler.last is None:
                raise NotFoundError(
                    f"no profile yet: POST {path}/profile?seconds=10 takes one",
                    pattern_id=self.ctx.instance,
                )
            return HTMLResponse(self.profiler.last.html, headers={"Cache-Control": "no-store"})

        return router


def _scrub(text: str, secrets: Sequence[str]) -> str:
    """Mask any secret that a display of a nested table would still show."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
