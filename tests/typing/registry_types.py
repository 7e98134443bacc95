"""Checked by mypy (``make typecheck``), not run: the registry returns the real types."""

from __future__ import annotations

from typing import assert_type

from rainmaker import AppContext, Capability
from rainmaker.capabilities import Cache, CacheBackend, Database, JobQueue, SqlDatabase
from rainmaker.kernel.registry import Services


class Mailer:
    def send(self, to: str) -> None: ...


MailerCap: Capability[Mailer] = Capability("Mailer", Mailer)


def registry_is_typed(services: Services, ctx: AppContext) -> None:
    assert_type(services.get(MailerCap), Mailer | None)
    assert_type(services.require(MailerCap), Mailer)
    assert_type(services.require(Database), SqlDatabase)
    assert_type(services.get(Cache), CacheBackend | None)
    assert_type(ctx.database, SqlDatabase | None)
    assert_type(ctx.jobs, JobQueue | None)
    services.require(MailerCap).send("a@example.com")
    services.register(MailerCap, Mailer())
    services.register(MailerCap, "not a mailer")  # type: ignore[misc]
