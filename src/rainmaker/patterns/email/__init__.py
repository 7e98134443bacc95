"""The email patterns: ``email-console`` (embedded default) and ``email-smtp``.

Both provide the :data:`~rainmaker.capabilities.mailer.Mailer` capability: validated
messages with text and HTML parts, attachments, batch sends and Jinja2 templates that an
app overrides file by file. ``email-console`` logs one line per message and writes it as a
``.eml`` file into an outbox folder; ``email-smtp`` delivers through a real SMTP server
(aiosmtplib). Importing this package is light; Jinja2 and aiosmtplib load only when a
module is built.
"""

from rainmaker.patterns.email.pattern import email_console, email_smtp

__all__ = ["email_console", "email_smtp"]
