"""HTTP routes of ``projects`` (mounted under ``/projects``); every one needs a user.

A plain module-level router: each handler declares what it needs by type (the signed-in
user, the running service through ``Inject(Projects)``), resolved for the instance that
mounted the router, so this module uses ``from __future__ import annotations`` like any
other.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from projects.api import Projects, ProjectsApi
from rainmaker.http import CurrentUser, Inject

Service = Annotated[ProjectsApi, Inject(Projects)]


class NewProject(BaseModel):
    """``POST /projects``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


router = APIRouter(tags=["projects"])


@router.get("/account", summary="Your plan, its limit, projects used, welcome email")
async def account(user: CurrentUser, service: Service) -> dict[str, Any]:
    plan = await service.plan(user.id)
    return {
        "user_id": user.id,
        "email": user.email,
        "verified": user.verified,
        "plan": plan.name,
        "limit": plan.limit,
        "used": await service.count(user.id),
        "welcome_sent": await service.welcomed(user.id),
    }


@router.get("", summary="Your projects")
async def list_projects(user: CurrentUser, service: Service) -> dict[str, Any]:
    found = await service.list_for(user.id)
    return {"projects": [project.as_dict() for project in found]}


@router.post("", status_code=201, summary="Create a project (within your plan's limit)")
async def create(body: NewProject, user: CurrentUser, service: Service) -> dict[str, Any]:
    return (await service.create(user.id, body.name)).as_dict()


@router.get("/{project_id}", summary="One of your projects")
async def get(project_id: str, user: CurrentUser, service: Service) -> dict[str, Any]:
    return (await service.get(user.id, project_id)).as_dict()


@router.put("/{project_id}/file", summary="Upload the project's file (multipart, 'file')")
async def upload(
    project_id: str, file: UploadFile, user: CurrentUser, service: Service
) -> dict[str, Any]:
    data = await file.read(service.settings.max_file_size + 1)
    project = await service.attach_file(
        user.id, project_id, file.filename or "file", file.content_type, data
    )
    return project.as_dict()


@router.get("/{project_id}/file", summary="Download the project's file")
async def download(project_id: str, user: CurrentUser, service: Service) -> StreamingResponse:
    project, reader = await service.read_file(user.id, project_id)
    name = quote(project.file_name or "file")
    return StreamingResponse(
        reader,
        media_type=project.file_content_type or "application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
            "Content-Length": str(reader.info.size),
        },
    )
