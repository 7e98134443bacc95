"""The running payment modules: build the provider and the service, serve the routes.

Construction does no I/O (``rainmaker routes`` lists the routes without starting). ``start``
requires ``Database`` (whose migrations created the ``payments_*`` tables), registers the
service as ``Payments`` and, when an ``Auth`` pattern is composed and
``create_customer_on_signup`` is on, registers the signup hook that creates each new user's
customer in the signup transaction. When an ``Organizations`` pattern is composed, it
subscribes to its ``member.added`` and ``member.removed`` events (delivered after their
commit) to report each organization's new member count as its subscription's seats.
``payment-stripe`` in the ``production`` profile refuses
to be built without its API key and webhook secret.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from fastapi import APIRouter
from sqlalchemy import exc as sa_exc

from rainmaker import (
    AppContext,
    Health,
    Module,
    PatternError,
    SettingsError,
    StartupError,
    UnavailableError,
)
from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.database import Database
from rainmaker.capabilities.organizations import MEMBER_ADDED, MEMBER_REMOVED, Organizations
from rainmaker.capabilities.payments import Payments
from rainmaker.http import auth_guards
from rainmaker.patterns.payments.pattern import MOUNT
from rainmaker.patterns.payments.provider import Provider
from rainmaker.patterns.payments.routes import payments_router
from rainmaker.patterns.payments.service import PaymentsService
from rainmaker.patterns.payments.settings import (
    LocalPaymentsSettings,
    PaymentsSettings,
    StripeSettings,
    missing_production_keys,
)

S = TypeVar("S", bound=PaymentsSettings)

HEALTH_TIMEOUT = 3.0


class PaymentsModule(Module[S], Generic[S]):
    """What both payment modules share; subclasses build their provider."""

    local_checkout = False

    def __init__(self, settings: S, ctx: AppContext) -> None:
        super().__init__(settings, ctx)
        self._service: PaymentsService | None = None
        self._unhook: Callable[[], None] | None = None
        self._unsubscribe: list[Callable[[], None]] = []

    @property
    def service(self) -> PaymentsService:
        """The running service; 503 while the module is not started."""
        if self._service is None:
            raise UnavailableError(
                f"{self.ctx.instance} (payments) is not running", pattern_id=self.ctx.instance
            )
        return self._service

    def build_provider(self) -> Provider:
        """The provider of this pattern (built at start)."""
        raise NotImplementedError

    def webhook_secret(self) -> str:
        """The secret webhooks must be signed with."""
        raise NotImplementedError

    def router(self) -> APIRouter:
        """See :mod:`rainmaker.patterns.payments.routes` and ``org_routes``."""
        from rainmaker.patterns.payments.org_routes import org_billing_router

        router = payments_router(
            lambda: self.service,
            auth_guards(self.ctx.services),
            webhook_secret=self.webhook_secret,
            tolerance=lambda: self.settings.webhook_tolerance.total_seconds(),
            local_checkout=self.local_checkout,
        )
        router.include_router(org_billing_router(lambda: self.service))
        return router

    async def start(self) -> None:
        ctx = self.ctx
        db = ctx.services.require(Database)
        provider = self.build_provider()
        directory = ctx.services.get(Organizations)
        service = PaymentsService(
            self.settings,
            db=db,
            provider=provider,
            log=ctx.log,
            pattern_id=ctx.instance,
            directory=directory,
        )
        try:
            await service.ledger.count_customers()
        except (sa_exc.OperationalError, sa_exc.ProgrammingError) as error:
            await provider.close()
            raise StartupError(
                f"{ctx.instance} cannot read its payments_* tables: {error.orig or error}",
                pattern_id=ctx.instance,
                hint="run `rainmaker db upgrade` (or set auto_migrate = true on the database)",
                cause=error,
            ) from error
        self._service = service
        ctx.services.register(Payments, service)
        auth = ctx.services.get(Auth)
        if auth is not None and self.settings.create_customer_on_signup:
            self._unhook = auth.on_user_created(service.on_user_created)
        elif self.settings.create_customer_on_signup:
            ctx.log.info("payments.no_signup_hook", reason="no Auth pattern is composed")
        if directory is not None:
            self._unsubscribe = [
                directory.subscribe(event, service.on_member_changed)
                for event in (MEMBER_ADDED, MEMBER_REMOVED)
            ]
        ctx.log.info(
            "payments.started",
            provider=provider.name,
            plans=sorted(self.settings.plans),
            signup_customers=self._unhook is not None,
            org_seats=directory is not None,
        )

    async def stop(self) -> None:
        unhook, self._unhook = self._unhook, None
        if unhook is not None:
            unhook()
        unsubscribe, self._unsubscribe = self._unsubscribe, []
        for undo in unsubscribe:
            undo()
        service, self._service = self._service, None
        if service is not None:
            await service.provider.close()

    async def health(self) -> Health:
        """Up when the provider answers; degraded (still serving the ledger) when not."""
        service = self._service
        if service is None:
            return Health.down(reason="not started")
        details: dict[str, Any] = {"provider": service.provider.name}
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await service.provider.ping()
        except TimeoutError:
            return Health.degraded(
                reason=f"provider did not answer in {HEALTH_TIMEOUT:g}s", **details
            )
        except PatternError as error:
            return Health.degraded(reason=error.message, **details)
        return Health.up(**details)


class LocalPaymentsModule(PaymentsModule[LocalPaymentsSettings]):
    """``payment-local``: the local ledger with a simulated checkout page."""

    local_checkout = True

    def build_provider(self) -> Provider:
        from rainmaker.patterns.payments.ledger import Ledger
        from rainmaker.patterns.payments.local import LocalProvider

        instance = self.ctx.instances.get(self.ctx.instance)
        mount = instance.prefix if instance is not None else MOUNT
        return LocalProvider(
            self.settings, Ledger(self.ctx.services.require(Database)), mount=mount
        )

    def webhook_secret(self) -> str:
        return self.settings.webhook_secret.get_secret_value()


class StripePaymentsModule(PaymentsModule[StripeSettings]):
    """``payment-stripe``: Stripe through the official SDK."""

    def __init__(self, settings: StripeSettings, ctx: AppContext) -> None:
        if ctx.env == "production":
            missing = missing_production_keys(settings)
            if missing:
                raise SettingsError(
                    f"payment-stripe needs {' and '.join(missing)} in the production profile",
                    pattern_id=ctx.instance,
                    hint="set "
                    + ", ".join(f"RAINMAKER__{ctx.instance.upper()}__{k.upper()}" for k in missing)
                    + " or the keys in [profiles.production.patterns."
                    + ctx.instance
                    + "]",
                )
        super().__init__(settings, ctx)

    def build_provider(self) -> Provider:
        from rainmaker.patterns.payments.stripe import StripeProvider

        return StripeProvider(self.settings, pattern_id=self.ctx.instance)

    def webhook_secret(self) -> str:
        secret = self.settings.webhook_secret
        if secret is None or not secret.get_secret_value():
            raise UnavailableError(
                "payment-stripe has no webhook_secret, so it cannot verify webhooks",
                pattern_id=self.ctx.instance,
                hint="set webhook_secret to the endpoint's signing secret (whsec_...)",
                public=True,  # written for the client: no host, no secret
            )
        return secret.get_secret_value()
