"""The running ``organizations`` module: builds the service at start and registers it.

Construction does no I/O (``rainmaker routes`` lists the routes without starting).
``start`` requires ``Database`` (whose migrations created the ``orgs_*`` tables), ``Auth``
and ``Mailer``, and registers the service as ``Organizations``. With a ``Jobs`` pattern
composed it registers the periodic purge of organizations past their deletion grace
period (``rainmaker worker`` runs it) and the invitation-email job (``<instance>.invitation_email``,
enqueued with each invitation, so a crash delays an invitation email but never drops it);
without one the purge runs at each start and the start log says invitation emails are
best effort.
"""

from __future__ import annotations

from typing import Any

from rainmaker import Health, Module, UnavailableError
from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.database import Database
from rainmaker.capabilities.jobs import JobRegistry, JobSpec, RetryPolicy
from rainmaker.capabilities.mailer import Mailer
from rainmaker.capabilities.organizations import Organizations
from rainmaker.patterns.organizations.service import OrganizationService
from rainmaker.patterns.organizations.settings import OrganizationsSettings

PURGE_JOB = "organizations.purge"
# A mail server down for a while: retried with backoff for about an hour, then dead-lettered.
EMAIL_RETRY = RetryPolicy(max_attempts=8, backoff=5.0, max_backoff=900.0)


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
            email_job = f"{self.ctx.instance}.invitation_email"
            jobs.register(
                JobRegistry([JobSpec(email_job, service.run_invitation_email, EMAIL_RETRY, 60.0)])
            )
            service.use_jobs(jobs, email_job)
        else:
            self.ctx.log.warning(
                "orgs.emails_best_effort",
                detail="no Jobs capability composed: invitation emails are sent after the "
                "commit from this process, so a crash can drop one; compose a jobs pattern "
                "(jobs-local needs no server) to make them durable",
            )
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
