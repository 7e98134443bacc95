"""Domain events of the payment patterns and the after-commit dispatch to subscribers.

Handlers run once the change that caused the event has committed: a handler that grants a
plan never sees a subscription that was rolled back. A failing handler is logged and does
not stop the others (the payment data is already committed); delivery is in-process and
at most once, so a handler that must not miss an event should enqueue a job (Jobs) rather
than do slow work inline.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.payments import EVENT_NAMES, EventHandler, PaymentEvent


class EventBus:
    """Subscribers by event name, and the emission that waits for the commit."""

    def __init__(self, db: SqlDatabase, *, log: Any) -> None:
        self.db = db
        self.log = log
        self._handlers: dict[str, list[EventHandler]] = {}

    def subscribe(self, event: str, handler: EventHandler) -> None:
        """Call ``handler(PaymentEvent)`` after each committed ``event``."""
        if event not in EVENT_NAMES:
            raise ValueError(
                f"unknown payments event {event!r}; choose one of {', '.join(sorted(EVENT_NAMES))}"
            )
        self._handlers.setdefault(event, []).append(handler)

    async def emit(self, event: PaymentEvent) -> None:
        """Dispatch ``event`` after the current transaction commits (now, outside one)."""
        self.log.info("payments.event", name=event.name, user_id=event.user_id)
        if not self._handlers.get(event.name):
            return
        if self.db.in_transaction:
            self.db.on_commit(partial(self._dispatch, event))
        else:
            await self._dispatch(event)

    async def _dispatch(self, event: PaymentEvent) -> None:
        for handler in list(self._handlers.get(event.name, ())):
            try:
                await handler(event)
            except Exception as error:
                self.log.error(
                    "payments.event_handler_failed",
                    name=event.name,
                    handler=getattr(handler, "__qualname__", repr(handler)),
                    error=repr(error),
                )
