"""The running ``auth-jwt`` module: builds the service at start and serves its routes.

Construction parses the key ring (no I/O), so ``rainmaker routes`` can list the routes,
the JWKS route included, without starting anything. ``start`` requires ``Database``
(whose migrations created the ``auth_*`` tables), picks up ``Mailer`` and ``Cache`` when
the app composes them, and registers the service as ``Auth``. With ``Jobs`` composed it
registers the account-email job (``<instance>.account_email``) so that verification, reset
and notice emails are enqueued in the account change's transaction and survive a crash.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from sqlalchemy import exc as sa_exc

from rainmaker import AppContext, Health, Module, StartupError, UnavailableError
from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.database import Database
from rainmaker.capabilities.jobs import JobRegistry, Jobs, JobSpec, RetryPolicy
from rainmaker.capabilities.mailer import Mailer
from rainmaker.capabilities.rate_limits import RateLimits
from rainmaker.patterns.auth_jwt.emails import AccountMailer
from rainmaker.patterns.auth_jwt.keys import KeyRing
from rainmaker.patterns.auth_jwt.passwords import (
    PasswordHasher,
    PasswordPolicyChecker,
    load_common_passwords,
)
from rainmaker.patterns.auth_jwt.policy_limiter import PolicyLimiter
from rainmaker.patterns.auth_jwt.rate_limit import AttemptCounter, AttemptLimiter
from rainmaker.patterns.auth_jwt.routes import auth_router
from rainmaker.patterns.auth_jwt.service import JwtAuth
from rainmaker.patterns.auth_jwt.settings import AuthSettings
from rainmaker.patterns.auth_jwt.tokens import TokenCodec
from rainmaker.patterns.auth_jwt.two_factor import TwoFactor
from rainmaker.patterns.auth_jwt.two_factor_routes import two_factor_router


def uniform_register_answer(settings: AuthSettings, env: str) -> bool:
    """Whether ``POST /register`` answers alike for taken and new addresses: as set, else
    in the production profile only (development keeps the helpful 409)."""
    if settings.uniform_register_answer is not None:
        return settings.uniform_register_answer
    return env == "production"


# Mail servers refuse for minutes at a time: retry for about an hour before dead-lettering.
EMAIL_RETRY = RetryPolicy(max_attempts=8, backoff=5.0, max_backoff=900.0)
EMAIL_TIMEOUT = 60.0


class AuthModule(Module[AuthSettings]):
    """``auth-jwt``: registers :class:`~rainmaker.patterns.auth_jwt.service.JwtAuth` as ``Auth``."""

    def __init__(self, settings: AuthSettings, ctx: AppContext) -> None:
        super().__init__(settings, ctx)
        self.ring = KeyRing.from_settings(settings)
        self.codec = TokenCodec(
            self.ring,
            issuer=settings.issuer,
            audience=settings.audience,
            leeway=settings.leeway.total_seconds(),
            pattern_id=ctx.instance,
        )
        self._service: JwtAuth | None = None
        self._hasher: PasswordHasher | None = None

    @property
    def service(self) -> JwtAuth:
        """The running service; 503 while the module is not started."""
        if self._service is None:
            raise UnavailableError(
                f"{self.ctx.instance} (auth-jwt) is not running", pattern_id=self.ctx.instance
            )
        return self._service

    def _resolve(self) -> JwtAuth:
        return self.service

    def router(self) -> APIRouter:
        """The account routes (see :mod:`rainmaker.patterns.auth_jwt.routes`), with the
        two-factor ones when ``two_factor.enabled``."""
        router = auth_router(self._resolve, self.ring)
        if self.settings.two_factor.enabled:
            router.include_router(two_factor_router(self._resolve))
        return router

    def _limiter(self) -> AttemptCounter:
        """Attempt limits through a composed ``RateLimits`` provider, else built in
        (counted in ``Cache`` when one runs, else in this process)."""
        enabled = self.settings.rate_limits.enabled
        shared = self.ctx.services.get(RateLimits)
        if shared is not None:
            return PolicyLimiter(
                shared, self.settings.rate_limits, enabled=enabled, pattern_id=self.ctx.instance
            )
        return AttemptLimiter(self.ctx.cache, enabled=enabled, pattern_id=self.ctx.instance)

    async def start(self) -> None:
        settings = self.settings
        ctx = self.ctx
        db = ctx.services.require(Database)
        extra = settings.password.common_passwords_file
        extra_path = (ctx.root / extra) if extra else None
        try:
            common = await asyncio.to_thread(load_common_passwords, extra_path)
        except OSError as error:
            raise StartupError(
                f"cannot read password.common_passwords_file {extra_path}: "
                f"{error.strerror or error}",
                pattern_id=ctx.instance,
                hint="give a readable file path relative to the app folder",
            ) from error
        hasher = PasswordHasher(settings.hashing)
        cache = ctx.cache
        service = JwtAuth(
            settings,
            db=db,
            codec=self.codec,
            hasher=hasher,
            policy=PasswordPolicyChecker(settings.password, common, pattern_id=ctx.instance),
            limiter=self._limiter(),
            mail=AccountMailer(
                ctx.services.get(Mailer),
                app_name=ctx.config.name,
                env=ctx.env,
                log=ctx.log,
                links={"verify": settings.verify_url, "reset": settings.reset_url},
                ttls={"verify": settings.verify_token_ttl, "reset": settings.reset_token_ttl},
            ),
            cache=cache,
            pattern_id=ctx.instance,
            log=ctx.log,
            uniform_register=uniform_register_answer(settings, ctx.env),
        )
        try:
            await service.start()
        except (sa_exc.OperationalError, sa_exc.ProgrammingError) as error:
            hasher.close()
            raise StartupError(
                f"{ctx.instance} (auth-jwt) cannot read its tables: {error.orig or error}",
                pattern_id=ctx.instance,
                hint="run `rainmaker db upgrade` (or set auto_migrate = true on the database)",
                cause=error,
            ) from error
        except BaseException:
            hasher.close()
            raise
        if settings.two_factor.enabled:
            service.two_factor = TwoFactor(service, issuer=ctx.config.name)
        self._hasher = hasher
        self._service = service
        jobs = ctx.services.get(Jobs)
        if jobs is not None:
            name = f"{ctx.instance}.account_email"
            jobs.register(
                JobRegistry([JobSpec(name, service.run_email_job, EMAIL_RETRY, EMAIL_TIMEOUT)])
            )
            service.use_jobs(jobs, name)
        else:
            ctx.log.warning(
                "auth.emails_best_effort",
                detail="no Jobs capability composed: verification and reset emails are sent "
                "by an in-process task after the commit, so a crash can drop them; compose "
                "a jobs pattern (jobs-local needs no server) to make them durable",
            )
        ctx.services.register(Auth, service)
        ctx.log.info(
            "auth.started",
            active_key=self.ring.active.kid,
            algorithm=self.ring.active.algorithm,
            rate_limits=service.limiter.backend,
            two_factor=settings.two_factor.enabled,
            mailer=service.mail.mailer is not None,
            emails="jobs" if service.jobs is not None else "best effort",
        )

    async def stop(self) -> None:
        service, self._service = self._service, None
        if service is not None:
            await service.stop()
        hasher, self._hasher = self._hasher, None
        if hasher is not None:
            await asyncio.to_thread(hasher.close)

    async def health(self) -> Health:
        """Up while started; details name the active key and where limits are counted."""
        service = self._service
        if service is None:
            return Health.down(reason="not started")
        details: dict[str, Any] = {
            "active_key": self.ring.active.kid,
            "algorithm": self.ring.active.algorithm,
            "rate_limits": service.limiter.backend,
            "mailer": service.mail.mailer is not None,
        }
        return Health.up(**details)
