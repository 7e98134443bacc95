"""The running ``organizations`` module: builds the service at start and registers it.

Construction does no I/O (``rainmaker routes`` lists the routes without starting).
``start`` requires ``Database`` (whose migrations created the ``orgs_*`` tables), ``Auth``
and ``Mailer``, and registers the service as ``Organizations``. With a ``Jobs`` pattern
composed it registers the periodic purge of organizations past their deletion grace
period (``rainmaker worker`` runs it); without one the purge runs at each start.
"""

from __future__ import annotations

from typing import Any

from rainmaker import Health, Module, UnavailableError
from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.database import Database
from rainmaker.capabilities.jobs import JobRegistry
from rainmaker.capabilities.mailer import Mailer
from rainmaker.capabilities.organizations import Organizations
from rainmaker.patterns.organizations.service import OrganizationService
from rainmaker.patterns.organizations.settings import OrganizationsSettings

PURGE_JOB = "organizations.purge"


class OrganizationsModule(Module[OrganizationsSettings]):
    """Built by the kernel with validated settings and this instance's context."""

    service: OrganizationService | None = None

    async def start(self) -> None:
        services = self.ctx.services
        service = OrganizationService(
            self.settings,
            db=services.require(Database),
            auth=services.require(Auth),
            mailer=services.require(Mailer),
            log=self.ctx.log,
            pattern_id=self.ctx.instance,
            app_name=self.ctx.app.name,
        )
        jobs = self.ctx.jobs  # optional: None when the app composes no Jobs pattern
        if jobs is not None:
            jobs.register(purge_registry(service, self.settings.purge_cron))
        else:
            await service.purge()
        services.register(Organizations, service)
        self.service = service

    async def stop(self) -> None:
        self.service = None  # nothing to close: the database pattern owns the pool

    async def health(self) -> Health:
        if self.service is None:
            return Health.down(reason="not started")
        return Health.up(roles=list(self.service.roles))

    def running(self) -> OrganizationService:
        """The service, or 503 while the module is stopped."""
        if self.service is None:
            raise UnavailableError("organizations is not running", pattern_id=self.ctx.instance)
        return self.service

    def router(self) -> Any:
        from rainmaker.patterns.organizations.routes import router  # FastAPI loads here

        return router


def purge_registry(service: OrganizationService, cron: str) -> JobRegistry:
    """The periodic purge, bound to the running service (runs once per tick)."""
    registry = JobRegistry()

    @registry.periodic(PURGE_JOB, cron=cron, timeout=300)
    async def purge() -> None:
        await service.purge()

    return registry
