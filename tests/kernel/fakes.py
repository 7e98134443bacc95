"""Small real patterns for kernel tests: they record what the kernel does to them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr

from rainmaker import Capability, Health, Module, Pattern, Settings
from rainmaker.kernel.application import Application
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import parse_composition
from rainmaker.kernel.loading import assemble


class Store:
    """A toy service some fakes provide."""

    def __init__(self, owner: str) -> None:
        self.owner = owner


class Mail:
    """Another toy service."""


StoreCap: Capability[Store] = Capability("Store", Store, version="1.2")
MailCap: Capability[Mail] = Capability("Mail", Mail)

events: list[str] = []


class StoreSettings(Settings):
    path: str = Field("store.db", description="Where the store keeps data.")
    pool_size: int = Field(5, ge=1, description="Connections.")
    password: SecretStr = Field(SecretStr(""), description="Password.")
    fail_start: bool = Field(False, description="Raise in start (for tests).")
    start_delay: float = Field(0.0, description="Seconds start() sleeps (for tests).")
    registers: bool = Field(True, description="Register the service in start().")
    health_status: str = Field("up", description="What health() reports.")


class StoreModule(Module[StoreSettings]):
    async def start(self) -> None:
        events.append(f"start {self.ctx.instance}")
        if self.settings.start_delay:
            await asyncio.sleep(self.settings.start_delay)
        if self.settings.fail_start:
            raise RuntimeError(f"cannot open {self.settings.path}")
        if self.settings.registers:
            self.ctx.services.register(StoreCap, Store(self.ctx.instance))

    async def stop(self) -> None:
        events.append(f"stop {self.ctx.instance}")

    async def health(self) -> Health:
        return Health(self.settings.health_status, {"path": self.settings.path})  # type: ignore[arg-type]


class UserSettings(Settings):
    greeting: str = Field("hi", description="A greeting.")


class UserModule(Module[UserSettings]):
    async def start(self) -> None:
        events.append(f"start {self.ctx.instance}")
        self.store = self.ctx.services.require(StoreCap)

    async def stop(self) -> None:
        events.append(f"stop {self.ctx.instance}")


store_pattern: Pattern[StoreSettings] = Pattern(
    id="fake-store",
    version="1.0.0",
    name="Fake store",
    settings=StoreSettings,
    factory=StoreModule,
    provides=[StoreCap],
    examples=[{"path": "x.db"}],
)
other_store_pattern: Pattern[StoreSettings] = Pattern(
    id="fake-store-two",
    version="2.0.0",
    name="Other fake store",
    settings=StoreSettings,
    factory=StoreModule,
    provides=[StoreCap.at("2.0")],
)
user_pattern: Pattern[UserSettings] = Pattern(
    id="fake-user",
    version="1.0.0",
    name="Fake user",
    settings=UserSettings,
    factory=UserModule,
    requires=[StoreCap, MailCap.optional()],
)
new_user_pattern: Pattern[UserSettings] = Pattern(
    id="fake-user-v2",
    version="1.0.0",
    name="Fake user needing store 2",
    settings=UserSettings,
    factory=UserModule,
    requires=[StoreCap.within(">=2,<3")],
)

ALL = [store_pattern, other_store_pattern, user_pattern, new_user_pattern]


def catalog(*extra: Pattern[Any]) -> Catalog:
    return Catalog([*ALL, *extra])


def make_app(
    toml: str,
    *,
    environ: dict[str, str] | None = None,
    profile: str = "development",
    overrides: tuple[str, ...] = (),
    patterns: Catalog | None = None,
) -> Application:
    """Assemble an app from TOML text and the fakes (raises CompositionError)."""
    composition = parse_composition(
        toml, root=Path("."), environ=environ or {}, profile=profile, overrides=overrides
    )
    return assemble(composition, patterns or catalog())
