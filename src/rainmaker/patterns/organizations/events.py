"""The after-commit dispatch of organization events to their subscribers.

Handlers run once the change that caused the event has committed: a handler that sets up
a new organization's billing never sees one that was rolled back. A failing handler is
logged and does not stop the others (the change is already committed); delivery is
in-process and at most once, so a handler that must not miss an event should enqueue a
job rather than do slow work inline.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.organizations import EVENT_NAMES, OrgEvent, OrgEventHandler


class EventBus:
    """Subscribers by event name, and the emission that waits for the commit."""

    def __init__(self, db: SqlDatabase, *, log: Any) -> None:
        self.db = db
        self.log = log
        self._handlers: dict[str, list[OrgEventHandler]] = {}

    def subscribe(self, event: str, handler: OrgEventHandler) -> Any:
        """Call ``handler(OrgEvent)`` after each committed ``event``; the unsubscriber."""
        if event not in EVENT_NAMES:
            raise ValueError(
                f"unknown organizations event {event!r}; choose one of "
                f"{', '.join(sorted(EVENT_NAMES))}"
            )
        self._handlers.setdefault(event, []).append(handler)

        def unsubscribe() -> None:
            handlers = self._handlers.get(event, [])
            if handler in handlers:
                handlers.remove(handler)

        return unsubscribe

    def emit(self, event: OrgEvent) -> None:
        """Dispatch ``event`` after the current transaction commits (call it inside one)."""
        self.log.info("organizations.event", name=event.name, org_id=event.org_id)
        if self._handlers.get(event.name):
            self.db.on_commit(partial(self._dispatch, event))

    async def _dispatch(self, event: OrgEvent) -> None:
        for handler in list(self._handlers.get(event.name, ())):
            try:
                await handler(event)
            except Exception as error:
                self.log.error(
                    "organizations.event_handler_failed",
                    name=event.name,
                    handler=getattr(handler, "__qualname__", repr(handler)),
                    error=repr(error),
                )
