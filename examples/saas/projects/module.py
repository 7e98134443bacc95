"""The running ``projects`` module: wires the service to the capabilities it requires.

At start it registers the welcome job with ``Jobs`` and hooks user creation in ``Auth``:
inside the signup transaction it creates the user's personal organization and enqueues
the welcome job, so both exist only when the user and the payment customer have
committed. It subscribes to subscription events in ``Payments`` (so an organization's
changed plan is forgotten from the cache at once; ``Payments`` itself keeps the seat count
in step with the members).
The service is registered as ``Projects``, which the module-level routes inject.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from projects import ProjectsSettings
from projects.api import Projects
from projects.service import WELCOME_JOB, ProjectsService
from rainmaker import Health, Module
from rainmaker.capabilities.auth import Auth, User
from rainmaker.capabilities.jobs import JobRegistry, RetryPolicy
from rainmaker.capabilities.organizations import Organizations
from rainmaker.capabilities.payments import (
    SUBSCRIPTION_ACTIVATED,
    SUBSCRIPTION_CANCELED,
    SUBSCRIPTION_UPDATED,
    PaymentEvent,
    Payments,
)


class ProjectsModule(Module[ProjectsSettings]):
    """Builds :class:`ProjectsService` at start and registers it as ``Projects``."""

    service: ProjectsService | None = None
    _unhook: Callable[[], None] | None = None

    async def start(self) -> None:
        services = self.ctx.services
        db, cache, jobs = self.ctx.database, self.ctx.cache, self.ctx.jobs
        assert db is not None and cache is not None and jobs is not None  # required
        from rainmaker.capabilities import Mailer, Storage

        payments = services.require(Payments)
        service = ProjectsService(
            self.settings,
            db=db,
            payments=payments,
            storage=services.require(Storage),
            mailer=services.require(Mailer),
            cache=cache,
            orgs=services.require(Organizations),
        )

        registry = JobRegistry()

        @registry.job(WELCOME_JOB, retry=RetryPolicy(max_attempts=5), timeout=60)
        async def send_welcome(user_id: str, email: str) -> None:
            await service.send_welcome(user_id, email)

        jobs.register(registry)

        async def on_user_created(user: User) -> None:
            # Inside the signup transaction: the organization and the job exist only if
            # the signup commits.
            await service.create_personal_org(user.id, user.email)
            await jobs.enqueue(
                WELCOME_JOB, user.id, user.email, idempotency_key=f"welcome:{user.id}"
            )

        async def on_subscription_changed(event: PaymentEvent) -> None:
            if event.owner.is_org:  # organizations pay; a user's own subscription is no plan
                await service.forget_plan(event.owner.id)

        for name in (SUBSCRIPTION_ACTIVATED, SUBSCRIPTION_UPDATED, SUBSCRIPTION_CANCELED):
            payments.subscribe(name, on_subscription_changed)
        self._unhook = services.require(Auth).on_user_created(on_user_created)
        services.register(Projects, service)
        self.service = service

    async def stop(self) -> None:
        if self._unhook is not None:
            self._unhook()
            self._unhook = None
        self.service = None

    async def health(self) -> Health:
        return Health.up() if self.service is not None else Health.down(reason="not started")

    def router(self) -> APIRouter:
        from projects.routes import router

        return router
