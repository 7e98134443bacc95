"""An app-local pattern, ``projects``, whose data is per organization: what any app or
pattern writes on the public surface (``CurrentOrg``, ``require_org_role``, ``scoped``).

Its routes find the organization in the ``X-Organization`` header (``/projects…``) or in
the path (``/orgs/{org}/projects``); every query goes through :func:`scoped`. The tests
compose it next to ``organizations`` and try to read across tenants through each route.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel

from rainmaker import Module, NotFoundError, Pattern, Settings
from rainmaker.capabilities.database import Database, SqlDatabase
from rainmaker.capabilities.organizations import ActiveOrganization, Organizations, scoped
from rainmaker.http import CurrentOrg, CurrentOrgOrFirst, Inject, require_org_role

metadata = sa.MetaData()
projects = sa.Table(
    "projects_projects",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("org_id", sa.String(36), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
)
tasks = sa.Table(
    "projects_tasks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("org_id", sa.String(36), nullable=False),
    sa.Column("project_id", sa.String(36), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
)

Db = Annotated[SqlDatabase, Inject(Database)]
Member = Annotated[ActiveOrganization, require_org_role("member")]
Admin = Annotated[ActiveOrganization, require_org_role("admin")]


class NewProject(BaseModel):
    name: str


router = APIRouter()


async def _one(db: SqlDatabase, org_id: str, project_id: str) -> dict[str, Any]:
    async with db.session() as session:
        row = (
            (
                await session.execute(
                    scoped(sa.select(projects).where(projects.c.id == project_id), org_id)
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise NotFoundError(f"no project {project_id!r} in this organization")
    return dict(row)


@router.get("/where")
async def where(org: CurrentOrgOrFirst) -> Any:
    return {"org": org.organization.slug, "role": org.role}


@router.get("/projects")
async def list_projects(org: CurrentOrg, db: Db) -> Any:
    async with db.session() as session:
        rows = (await session.execute(scoped(sa.select(projects), org.id))).mappings().all()
    return {"org": org.organization.slug, "role": org.role, "projects": [dict(r) for r in rows]}


@router.post("/projects", status_code=201)
async def create_project(body: NewProject, org: Member, db: Db) -> Any:
    project = {"id": str(uuid.uuid4()), "org_id": org.id, "name": body.name}
    async with db.transaction() as session:
        await session.execute(sa.insert(projects).values(**project))
    return project


@router.get("/projects/{project_id}")
async def read_project(project_id: str, org: CurrentOrg, db: Db) -> Any:
    return await _one(db, org.id, project_id)


@router.delete("/projects/{project_id}", status_code=204)
async def delete_project(project_id: str, org: Admin, db: Db) -> Response:
    async with db.transaction() as session:
        result = await session.execute(
            scoped(sa.delete(projects).where(projects.c.id == project_id), org.id)
        )
    if not getattr(result, "rowcount", 0):
        raise NotFoundError(f"no project {project_id!r} in this organization")
    return Response(status_code=204)


@router.get("/orgs/{org}/projects")
async def org_projects(org: CurrentOrg, db: Db) -> Any:
    async with db.session() as session:
        rows = (await session.execute(scoped(sa.select(projects), org.id))).mappings().all()
    return {"projects": [dict(r) for r in rows]}


class ProjectsSettings(Settings):
    """No settings."""


class ProjectsModule(Module[ProjectsSettings]):
    """Creates its tables at start (a test app: no migrations branch)."""

    async def start(self) -> None:
        db = self.ctx.services.require(Database)
        async with db.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    def router(self) -> APIRouter:
        return router


projects_pattern: Pattern[ProjectsSettings] = Pattern(
    id="test-projects",
    version="0.1.0",
    name="Projects per organization (test)",
    settings=ProjectsSettings,
    factory=ProjectsModule,
    requires=[Database, Organizations],
)
