"""Errors only the SMTP mailer raises (the capability's own live in
:mod:`rainmaker.capabilities.mailer`)."""

from __future__ import annotations

from typing import ClassVar

from rainmaker import PatternError


class SmtpLoginError(PatternError):
    """The SMTP server refused the configured username and password.

    Not retryable: the settings must change. Never carries the password.
    """

    code: ClassVar[str] = "smtp_login_refused"
    status: ClassVar[int] = 503
    title: ClassVar[str] = "Mail server login refused"
