"""Account emails (verification, password reset, "account exists") through ``Mailer``.

Templates ship in this package's ``templates/email/`` (``auth_verify_email.*``,
``auth_password_reset.*``, ``auth_account_exists.*``, the last one sent instead of a
second account when registration answers uniformly); an app overrides any of them by
putting a file of the same name in its mailer's ``templates_dir``. Without a mailer the
message is logged in the ``development`` profile only (with the token, so a developer can
click through); in any other profile the token is never logged and the log says a mailer
is missing.

When the app composes ``Jobs``, every account email is sent by a job that auth-jwt
registers and enqueues in the same transaction as the account change (through the
database outbox where the broker cannot join it): a crash delays the email, never drops
it, and a failed send is retried. Without ``Jobs`` the email is sent by an in-process task
after the commit, and the start log warns that account emails are best effort.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from rainmaker.capabilities.mailer import MailSender

PACKAGE = "rainmaker.patterns.auth_jwt"
TEMPLATES = {
    "verify": "auth_verify_email",
    "reset": "auth_password_reset",
    "exists": "auth_account_exists",
}

Kind = Literal["verify", "reset", "exists"]
# What the account-email job is asked to send (its first argument): ``verify`` takes a user
# id, the others an address in its canonical form.
EmailJob = Literal["verify", "verify-address", "reset", "exists"]


def describe(ttl: timedelta) -> str:
    """``ttl`` in words (``"2 days"``, ``"1 hour"``, ``"15 minutes"``)."""
    seconds = int(ttl.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


class AccountMailer:
    """Sends the account emails, or logs them when the app has no ``Mailer``."""

    def __init__(
        self,
        mailer: MailSender | None,
        *,
        app_name: str,
        env: str,
        log: Any,
        links: dict[Kind, str | None],
        ttls: dict[Kind, timedelta],
    ) -> None:
        self.mailer = mailer
        self.app_name = app_name
        self.env = env
        self.log = log
        self.links = links
        self.ttls = ttls

    async def send(
        self, kind: Kind, email: str, token: str | None = None, *, raise_errors: bool = False
    ) -> None:
        """Send (or log) the ``kind`` email (with ``token``, if any) to ``email``.

        Raises only with ``raise_errors`` (from a job, which is then retried): otherwise
        the failure is logged, since the account change it follows has already happened.
        """
        template = self.links.get(kind)
        link = template.replace("{token}", token) if template and token else None
        ttl = self.ttls.get(kind)
        context = {
            "app_name": self.app_name,
            "email": email,
            "token": token,
            "link": link,
            "valid_for": describe(ttl) if ttl is not None else None,
        }
        if self.mailer is None:
            if self.env == "development":
                self.log.warning(
                    "auth.email_not_sent",
                    reason="no Mailer composed; shown here because the profile is development",
                    kind=kind,
                    to=email,
                    token=token,
                    link=link,
                )
            else:
                self.log.error(
                    "auth.email_not_sent",
                    reason="no Mailer composed: add email-smtp (or email-console) to the app",
                    kind=kind,
                )
            return
        try:
            await self.mailer.send_template(
                TEMPLATES[kind], to=email, context=context, package=PACKAGE
            )
        except Exception as error:  # logged; raised only for a job to retry it
            self.log.error("auth.email_failed", kind=kind, error=repr(error))
            if raise_errors:
                raise
