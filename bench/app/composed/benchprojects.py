"""The bench's ``projects`` routes as a local pattern: the shape of the demo's, self-contained.

Copied from the shape of ``examples/saas`` (not imported, so the bench stays stable while
the demo changes):

* ``GET /projects``: the verified token (``Identity``: JWT verify, no database), one cache
  read (the caller's plan, ``get_or_set``: a hit after the first request), one database
  read (the caller's newest projects), a JSON answer;
* ``POST /projects``: body validation (``NewProject``), one insert in a transaction, one job
  enqueued after the commit.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, DateTime, MetaData, String, Table, insert, select

import rainmaker
from rainmaker.capabilities import Auth, Cache, Database, Jobs
from rainmaker.capabilities.cache import CacheBackend
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.jobs import JobRegistry
from rainmaker.http import Identity, Inject

metadata = MetaData()
projects = Table(
    "benchapp_projects",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_id", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
WELCOME_JOB = "benchapp.project_created"
FREE_PLAN = {"name": "free", "limit": 1000}

Db = Annotated[SqlDatabase, Inject(Database)]
CacheView = Annotated[CacheBackend, Inject(Cache)]
Queue = Annotated[Any, Inject(Jobs)]


class NewProject(BaseModel):
    """``POST /projects``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


router = APIRouter()


@router.get("/projects")
async def list_projects(identity: Identity, db: Db, cache: CacheView) -> dict[str, Any]:
    async def free_plan() -> dict[str, Any]:
        return FREE_PLAN

    plan = await cache.get_or_set(f"plan:{identity.user_id}", free_plan, ttl=300)
    async with db.session() as session:
        rows = await session.execute(
            select(projects)
            .where(projects.c.owner_id == identity.user_id)
            .order_by(projects.c.created_at.desc())
            .limit(10)
        )
        found = [{"id": r.id, "name": r.name, "created_at": r.created_at.isoformat()} for r in rows]
    return {"plan": plan["name"], "limit": plan["limit"], "projects": found}


@router.post("/projects", status_code=201)
async def create_project(
    body: NewProject, identity: Identity, db: Db, jobs: Queue
) -> dict[str, Any]:
    project_id = uuid.uuid4().hex
    created = datetime.now(UTC)
    async with db.transaction() as session:
        await session.execute(
            insert(projects).values(
                id=project_id, owner_id=identity.user_id, name=body.name, created_at=created
            )
        )
    await jobs.enqueue(WELCOME_JOB, project_id)  # after the commit
    return {"id": project_id, "name": body.name, "created_at": created.isoformat()}


class BenchSettings(rainmaker.Settings):
    """No settings."""


class BenchModule(rainmaker.Module[BenchSettings]):
    """Creates the table at start (a bench, not a migration story) and registers the job."""

    async def start(self) -> None:
        db = self.ctx.services.require(Database)
        async with db.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        registry = JobRegistry()

        @registry.job(WELCOME_JOB)
        async def project_created(project_id: str) -> None:
            return None

        self.ctx.services.require(Jobs).register(registry)

    def router(self) -> APIRouter:
        return router


pattern = rainmaker.Pattern(
    id="bench-projects",
    version="1.0.0",
    name="Bench projects",
    settings=BenchSettings,
    factory=BenchModule,
    requires=[Auth, Database, Cache, Jobs],
)
