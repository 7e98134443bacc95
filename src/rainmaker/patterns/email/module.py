"""The running email modules: build the mailer, check what it needs, register ``Mailer``.

``email-console`` creates its outbox folder at start. ``email-smtp`` connects and logs in
once at start (``verify_on_start``, on by default) so that a wrong host, port, security
mode or password fails the start naming ``host:port`` within ``timeout`` seconds, rather
than failing the first password-reset email in production. Turn it off for an app that
must start while its mail server is down; sends then fail with 503 until it is back.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from rainmaker import AppContext, Health, Module, PatternError, StartupError
from rainmaker.capabilities.mailer import Mailer
from rainmaker.patterns.email.console import ConsoleMailer
from rainmaker.patterns.email.outbox import Outbox
from rainmaker.patterns.email.settings import ConsoleSettings, MailerSettings, SmtpSettings
from rainmaker.patterns.email.templates import TemplateRenderer

S = TypeVar("S", bound=MailerSettings)


class MailerModule(Module[S]):
    """What both email modules share: the app folder and the template renderer."""

    def __init__(self, settings: S, ctx: AppContext) -> None:
        super().__init__(settings, ctx)
        self.root = Path(ctx.root)
        self.templates_dir = (
            self.root / settings.templates_dir if settings.templates_dir is not None else None
        )
        self.templates = TemplateRenderer(self.templates_dir, instance=ctx.instance)

    def _check_templates_dir(self) -> None:
        if self.templates_dir is not None and not self.templates_dir.is_dir():
            raise StartupError(
                f"templates_dir {self.templates_dir} is not a folder",
                pattern_id=self.ctx.instance,
                hint="create it, or fix or remove the templates_dir setting",
            )


class ConsoleMailerModule(MailerModule[ConsoleSettings]):
    """``email-console``: log and keep every message in the outbox folder."""

    def __init__(self, settings: ConsoleSettings, ctx: AppContext) -> None:
        super().__init__(settings, ctx)
        self.mailer = ConsoleMailer(
            outbox=Outbox(self.root / settings.outbox),
            default_sender=settings.default_sender,
            templates=self.templates,
            log=ctx.log,
            instance=ctx.instance,
        )

    async def start(self) -> None:
        self._check_templates_dir()
        try:
            self.mailer.outbox.ensure()
        except OSError as error:
            raise StartupError(
                f"cannot create the outbox folder {self.mailer.outbox.path}: "
                f"{error.strerror or error}",
                pattern_id=self.ctx.instance,
                cause=error,
            ) from error
        self.ctx.services.register(Mailer, self.mailer)
        self.ctx.log.info("email.outbox", path=str(self.mailer.outbox.path))

    async def health(self) -> Health:
        path = self.mailer.outbox.path
        if not path.is_dir():
            return Health.down(reason=f"outbox folder {path} is missing", outbox=str(path))
        return Health.up(outbox=str(path))


class SmtpMailerModule(MailerModule[SmtpSettings]):
    """``email-smtp``: deliver through an SMTP server."""

    def __init__(self, settings: SmtpSettings, ctx: AppContext) -> None:
        super().__init__(settings, ctx)
        # Imported here so that email-console never needs aiosmtplib installed.
        from rainmaker.patterns.email.smtp import SmtpMailer

        self.mailer = SmtpMailer(
            settings, templates=self.templates, log=ctx.log, instance=ctx.instance, root=self.root
        )
        self._started = False  # health() answers down, without probing, until started

    async def start(self) -> None:
        self._check_templates_dir()
        if self.settings.verify_on_start:
            await self.mailer.verify()  # raises UnavailableError / SmtpLoginError naming host:port
        self.ctx.services.register(Mailer, self.mailer)
        self._started = True

    async def stop(self) -> None:
        self._started = False

    async def health(self) -> Health:
        if not self._started:
            return Health.down(server=self.mailer.endpoint, reason="not started")
        try:
            latency = await self.mailer.ping()
        except PatternError as error:
            return Health.down(server=self.mailer.endpoint, reason=error.message)
        return Health.up(server=self.mailer.endpoint, latency_ms=round(latency, 3))
