"""The running ``proofkit`` module: its jobs and its two routes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import insert

from proofkit import ProofkitSettings
from proofkit.tables import notes, runs
from rainmaker import Health, Module
from rainmaker.capabilities.jobs import JobRegistry, current_job

RECORD_JOB = "proofkit.record"
TICK_JOB = "proofkit.tick"


class Batch(BaseModel):
    """``POST /proofkit/batch``: enqueue ``count`` jobs keyed ``<tag>:<n>``."""

    tag: str = Field(min_length=1, max_length=50, pattern=r"^[\w.-]+$")
    count: int = Field(ge=1, le=500)


class ProofkitModule(Module[ProofkitSettings]):
    """Registers the jobs; the routes enqueue them."""

    async def start(self) -> None:
        db, jobs = self.ctx.database, self.ctx.jobs
        assert db is not None and jobs is not None  # required

        async def record(kind: str, key: str) -> None:
            async with db.transaction() as session:
                await session.execute(
                    insert(runs).values(kind=kind, key=key, ran_at=datetime.now(UTC))
                )

        registry = JobRegistry()

        @registry.job(RECORD_JOB)
        async def record_job(key: str) -> None:
            await record("job", key)

        @registry.periodic(TICK_JOB, cron=self.settings.tick_cron)
        async def tick() -> None:
            await record("tick", current_job().idempotency_key or "?")

        jobs.register(registry)

    async def health(self) -> Health:
        return Health.up()

    def router(self) -> Any:
        from fastapi import APIRouter

        router = APIRouter(tags=["proofkit"])
        ctx = self.ctx

        @router.post("/notes", status_code=201, summary="Commit a note and enqueue its job")
        async def create_note() -> dict[str, str]:
            db, jobs = ctx.database, ctx.jobs
            assert db is not None and jobs is not None
            note_id = uuid.uuid4().hex
            async with db.transaction() as session:
                await session.execute(
                    insert(notes).values(id=note_id, created_at=datetime.now(UTC))
                )
                await jobs.enqueue(RECORD_JOB, f"note:{note_id}")
            return {"id": note_id}

        @router.post("/batch", status_code=202, summary="Enqueue count jobs")
        async def batch(body: Batch) -> dict[str, int]:
            jobs = ctx.jobs
            assert jobs is not None
            for number in range(body.count):
                await jobs.enqueue(RECORD_JOB, f"{body.tag}:{number}")
            return {"enqueued": body.count}

        return router
