"""An app with every source of metrics: HTTP, a database, a cache, jobs and observability.

The ``items`` pattern (a test pattern) serves ``GET /items/{item_id}``: one cache read,
one SQL statement on a miss, and ``POST /items/{item_id}/jobs`` enqueues a job that
succeeds or fails as asked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, HTTPException
from pydantic import Field
from sqlalchemy import text

from rainmaker import Module, Pattern, Settings
from rainmaker.capabilities.cache import Cache
from rainmaker.capabilities.database import Database
from rainmaker.capabilities.jobs import JobRegistry, Jobs, RetryPolicy
from rainmaker.kernel.application import Application
from rainmaker.testing.harness import build_app

SECRET = "s3cr3t-token-value-never-in-metrics"

jobs = JobRegistry()


@jobs.job("items.work", retry=RetryPolicy(max_attempts=1))
async def work(fail: bool) -> None:
    if fail:
        raise RuntimeError("asked to fail")


class ItemsSettings(Settings):
    api_token: str = Field("", json_schema_extra={"secret": True})  # secrets go by mark or type


class ItemsModule(Module[ItemsSettings]):
    async def start(self) -> None:
        queue = self.ctx.services.get(Jobs)
        if queue is not None:
            queue.register(jobs)

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/items/{item_id}")
        async def item(item_id: int) -> dict[str, Any]:
            cache = self.ctx.cache
            assert cache is not None
            cached = await cache.get(f"item:{item_id}")
            if cached is not None:
                return {"id": item_id, "cached": True}
            if item_id == 404:
                raise HTTPException(status_code=404)
            database = self.ctx.services.require(Database)
            async with database.session() as session:
                value = (await session.execute(text("SELECT :v + 1"), {"v": item_id})).scalar()
            self.ctx.log.info("items.loaded", item_id=item_id)
            await cache.set(f"item:{item_id}", value)
            return {"id": item_id, "value": value, "cached": False}

        @router.post("/items/{item_id}/jobs")
        async def enqueue(item_id: int, fail: bool = False) -> dict[str, str]:
            queue = self.ctx.services.require(Jobs)
            return {"job_id": await queue.enqueue("items.work", fail)}

        return router


items_pattern = Pattern(
    id="items",
    version="1.0.0",
    name="Items",
    settings=ItemsSettings,
    factory=ItemsModule,
    requires=[Database, Cache, Jobs.optional()],
    examples=[{}],
)


def composition(root: Path, **observability: Any) -> dict[str, dict[str, Any]]:
    return {
        "web": {"use": "framework-fastapi"},
        "db": {"use": "database-sqlite", "path": str(root / "app.db")},
        "cache": {"use": "cache-memory"},
        "jobs": {"use": "jobs-local", "poll_interval": 0.05},
        "items": {"use": "items", "api_token": SECRET},
        "obs": {"use": "observability", **observability},
    }


def make_app(root: Path, patterns: Mapping[str, Mapping[str, Any]]) -> Application:
    return build_app(patterns, root=root, name="obs", extra_patterns=[items_pattern])


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Application]:
    application = make_app(tmp_path, composition(tmp_path))
    async with application.running():
        yield application
