"""Small patterns the development-kit tests compose: well-behaved and deliberately broken."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from pydantic import Field

from rainmaker.capabilities.database import Database
from rainmaker.kernel.health import Health
from rainmaker.kernel.module import Module
from rainmaker.kernel.pattern import Pattern, Settings


class EchoSettings(Settings):
    """Settings of the echo pattern."""

    word: str = Field("echo", description="What GET /say answers.")


class EchoModule(Module[EchoSettings]):
    """Answers GET /say with its word; uses the Database it requires."""

    running = False

    async def start(self) -> None:
        self.database = self.ctx.services.require(Database)
        self.running = True

    async def stop(self) -> None:
        self.running = False

    async def health(self) -> Health:
        return Health.up() if self.running else Health.down(reason="not started")

    def router(self) -> Any:
        from fastapi import APIRouter

        router = APIRouter()

        @router.get("/say")
        async def say() -> dict[str, str]:
            return {"word": self.settings.word, "database": self.database.backend}

        return router


echo = Pattern(
    id="echo",
    version="1.0.0",
    name="Echo",
    settings=EchoSettings,
    factory="tests.testing.patterns:EchoModule",
    requires=[Database],
    mount="/echo",
    examples=[{}, {"word": "hi"}],
)

# A module that breaks one lifecycle rule at a time, chosen by its settings.


class LeakySettings(Settings):
    """Which rule to break."""

    leak: str = Field("none", description="none, task, thread, file, memory, health, stop.")


_HOARD: list[bytes] = []


class LeakyModule(Module[LeakySettings]):
    """Leaks what its settings say on every start."""

    stopped = 0

    async def start(self) -> None:
        leak = self.settings.leak
        if leak == "task":
            _TASKS.append(
                asyncio.get_running_loop().create_task(asyncio.sleep(3600), name="leaked")
            )
        elif leak == "thread":
            release = threading.Event()
            _EVENTS.append(release)
            threading.Thread(target=release.wait, name="leaked-thread", daemon=True).start()
        elif leak == "file":
            _FILES.append(open(__file__, "rb"))
        elif leak == "memory":
            _HOARD.append(bytes(512 * 1024))

    async def stop(self) -> None:
        self.stopped += 1
        if self.settings.leak == "stop" and self.stopped > 1:
            raise RuntimeError("already stopped")

    async def health(self) -> Health:
        if self.settings.leak == "health":
            raise RuntimeError("not started yet")
        return Health.up()


_EVENTS: list[threading.Event] = []
_TASKS: list[asyncio.Task[None]] = []
_FILES: list[Any] = []


def release_leaks() -> None:
    """Undo what the leaky module left behind."""
    for task in _TASKS:
        task.cancel()
    _TASKS.clear()
    for event in _EVENTS:
        event.set()
    for file in _FILES:
        file.close()
    _EVENTS.clear()
    _FILES.clear()
    _HOARD.clear()


leaky = Pattern(
    id="leaky",
    version="1.0.0",
    name="Leaky",
    settings=LeakySettings,
    factory="tests.testing.patterns:LeakyModule",
    examples=[{}],
)


class UndocumentedSettings(Settings):
    """One field has no description."""

    size: int = 3


undocumented = Pattern(
    id="undocumented",
    version="1.0.0",
    name="Undocumented",
    settings=UndocumentedSettings,
    factory="tests.testing.patterns:LeakyModule",
    examples=[{"size": "large"}],
)
