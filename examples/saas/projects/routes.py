"""HTTP routes of ``projects`` (mounted under ``/projects``); every one needs a user.

Every route acts in one organization: the one the ``X-Organization`` header names (its id
or slug; a user who is not a member gets 404 ``org_not_found``, as for an organization
that does not exist), else the one an organization's API key belongs to, else the
user's personal organization (their oldest membership: the one signup created).
Membership is read on every request, so a removed teammate is refused on their next one.

A plain module-level router: each handler declares what it needs by type (the active
organization, the signed-in user, the running service through ``Inject(Projects)``),
resolved for the instance that mounted the router, so this module uses ``from
__future__ import annotations`` like any other.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from projects.api import Projects, ProjectsApi
from projects.service import PlanLimitReachedError
from rainmaker.http import (
    CurrentOrgOrFirst,
    CurrentUser,
    Inject,
    UtcTimestamp,
    require_scopes,
    responses,
)

WRITE_SCOPE = "projects:write"
"""The scope creating a project or uploading its file needs: every signed-up user holds it
(auth-jwt's ``default_scopes``); an API key only when created with it."""

Service = Annotated[ProjectsApi, Inject(Projects)]


# The organization named in X-Organization (or the one an organization's API key acts
# for), else the user's first: their personal organization, made at signup.
Org = CurrentOrgOrFirst


class NewProject(BaseModel):
    """``POST /projects``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class ProjectFile(BaseModel):
    """The file a project holds."""

    name: str
    size: int
    content_type: str | None


class ProjectAnswer(BaseModel):
    """One project."""

    id: str
    name: str
    file: ProjectFile | None
    created_at: UtcTimestamp


class ProjectList(BaseModel):
    """The organization's projects, oldest first."""

    projects: list[ProjectAnswer]


class AccountAnswer(BaseModel):
    """The caller, the active organization, its plan and how much of it is used."""

    user_id: str
    email: str
    verified: bool
    org_id: str
    org_slug: str
    role: str
    plan: str
    limit: int
    used: int
    welcome_sent: bool


router = APIRouter(tags=["projects"])


@router.get(
    "/account",
    summary="The organization's plan, its limit, projects used",
    response_model=AccountAnswer,
)
async def account(org: Org, user: CurrentUser, service: Service) -> dict[str, Any]:
    """The caller and the active organization: its plan (from its own subscription), the
    plan's project limit and how many projects it has."""
    plan = await service.plan(org.id)
    return {
        "user_id": user.id,
        "email": user.email,
        "verified": user.verified,
        "org_id": org.id,
        "org_slug": org.organization.slug,
        "role": org.role,
        "plan": plan.name,
        "limit": plan.limit,
        "used": await service.count(org.id),
        "welcome_sent": await service.welcomed(user.id),
    }


@router.get("", summary="The organization's projects", response_model=ProjectList)
async def list_projects(org: Org, service: Service) -> dict[str, Any]:
    """The active organization's projects, oldest first."""
    found = await service.list_for(org.id)
    return {"projects": [project.as_dict() for project in found]}


@router.post(
    "",
    status_code=201,
    summary="Create a project (within the plan's limit)",
    response_model=ProjectAnswer,
    responses=responses(PlanLimitReachedError),
    dependencies=[require_scopes(WRITE_SCOPE)],
)
async def create(body: NewProject, org: Org, service: Service) -> dict[str, Any]:
    """Create a project in the active organization. 403 ``projects_plan_limit`` at the plan's
    limit, counted under a lock so concurrent creates never pass it. Needs the
    ``projects:write`` scope (every user; an API key only when made with it)."""
    return (await service.create(org.id, org.user_id, body.name)).as_dict()


@router.get(
    "/{project_id}", summary="One of the organization's projects", response_model=ProjectAnswer
)
async def get(project_id: str, org: Org, service: Service) -> dict[str, Any]:
    """One project of the active organization (404 for another organization's)."""
    return (await service.get(org.id, project_id)).as_dict()


@router.put(
    "/{project_id}/file",
    summary="Upload the project's file (multipart, 'file')",
    response_model=ProjectAnswer,
    dependencies=[require_scopes(WRITE_SCOPE)],
)
async def upload(project_id: str, file: UploadFile, org: Org, service: Service) -> dict[str, Any]:
    """Store the project's file (multipart field ``file``), replacing an earlier one;
    413 past the size limit. Needs the ``projects:write`` scope."""
    data = await file.read(service.settings.max_file_size + 1)
    project = await service.attach_file(
        org.id, project_id, file.filename or "file", file.content_type, data
    )
    return project.as_dict()


@router.get(
    "/{project_id}/file",
    summary="Download the project's file",
    response_class=StreamingResponse,
    # Raw bytes in the type they were uploaded with (a generated client reads bytes).
    responses={
        200: {
            "description": "The file's bytes.",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("application/octet-stream", "*/*")
            },
        }
    },
)
async def download(project_id: str, org: Org, service: Service) -> StreamingResponse:
    """The project's file, streamed with the type it was uploaded with."""
    project, reader = await service.read_file(org.id, project_id)
    name = quote(project.file_name or "file")
    return StreamingResponse(
        reader,
        media_type=project.file_content_type or "application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
            "Content-Length": str(reader.info.size),
        },
    )
