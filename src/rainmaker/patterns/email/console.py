"""The console mailer: a log line and a ``.eml`` file per message, no server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rainmaker import PatternError, UnavailableError
from rainmaker.capabilities.mailer import Receipt
from rainmaker.patterns.email.mailer import BaseMailer
from rainmaker.patterns.email.mime import Envelope
from rainmaker.patterns.email.outbox import Outbox
from rainmaker.patterns.email.templates import TemplateRenderer

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger


class ConsoleMailer(BaseMailer):
    """Delivers to an :class:`~rainmaker.patterns.email.outbox.Outbox` and logs a summary.

    Every recipient is accepted (nothing is really sent), so a developer sees in the log
    what would have gone out and finds the exact message in the outbox folder.
    """

    def __init__(
        self,
        *,
        outbox: Outbox,
        default_sender: str,
        templates: TemplateRenderer,
        log: FilteringBoundLogger,
        instance: str,
    ) -> None:
        super().__init__(default_sender=default_sender, templates=templates)
        self.outbox = outbox
        self._log = log
        self._instance = instance

    async def _transmit(self, envelopes: Sequence[Envelope]) -> list[Receipt | PatternError]:
        results: list[Receipt | PatternError] = []
        for envelope in envelopes:
            try:
                # Disk writes block; keep them off the event loop.
                path = await asyncio.to_thread(self.outbox.write, envelope)
            except OSError as error:
                results.append(
                    UnavailableError(
                        f"cannot write to the outbox {self.outbox.path}: {error.strerror or error}",
                        pattern_id=self._instance,
                        hint="check that the outbox folder exists and is writable",
                        cause=error,
                    )
                )
                continue
            self._log.info(
                "email.sent",
                to=", ".join(envelope.recipients),
                subject=envelope.email.subject,
                attachments=len(envelope.email.attachments),
                file=path.name,
            )
            results.append(Receipt(message_id=envelope.message_id, accepted=envelope.recipients))
        return results
